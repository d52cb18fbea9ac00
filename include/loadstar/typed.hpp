// loadstar/typed.hpp - typed views of a query's results: the load plan is part of the view's
// type, so that reading a relationship (or a deferred column) the query did not load is a
// compile error instead of a lazy load or a raise_load_error at run time.
//
// ```cpp
// auto authors = s.query<Author>()
//                    .options(ls::selectinload<&Author::books>.then(ls::joinedload<&Book::publisher>))
//                    .typed()
//                    .all();
// for (auto a : authors)
//     for (auto b : a.get<&Author::books>())              // in the plan: compiles
//         std::cout << b.get<&Book::publisher>()->name;    // in the plan: compiles
// // a.get<&Author::profile>();   // does not compile: not loaded by this query's plan
// ```
//
// A view is one pointer (to the ls::ptr<T> that holds the object: in the result, in a loaded
// collection) or, for a to-one target, that ls::ptr<T> itself; it adds no statement and no
// allocation, and `object()` / the conversion give back the plain ls::ptr<T>: the same objects,
// at the same addresses, as the untyped query returns.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/deferred.hpp>
#include <loadstar/fwd.hpp>
#include <loadstar/loader/plan.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/query.hpp>
#include <loadstar/relationship.hpp>

#include <cstddef>
#include <compare>
#include <iterator>
#include <type_traits>
#include <utility>
#include <vector>

namespace loadstar {

/// For `typed(...)`: these relationships (or deferred columns) may load on first touch through
/// a typed view, at any depth; the program accepts the statement each touch costs.
template <auto... Members>
struct allow_lazy_t {};
template <auto... Members>
inline constexpr allow_lazy_t<Members...> allow_lazy{};

/// For `typed(...)`: two joined to-many relationships at one level of the plan are wanted even
/// though each parent row then comes back once per pair of their children.
struct allow_cartesian_t {};
inline constexpr allow_cartesian_t allow_cartesian{};

namespace detail {

/// The relationships a view was reached through, for error messages (`Author.books.tags`
/// reads `member_path<&Author::books, &Book::tags>` in the compiler's output).
template <auto... Members>
struct member_path {};
template <class Path, auto M>
struct path_push;
template <auto... Ms, auto M>
struct path_push<member_path<Ms...>, M> {
    using type = member_path<Ms..., M>;
};

/// A relationship loaded after the query by session::load<&T::member>(views).
template <auto Member>
struct loaded_after {};
template <class T>
struct is_loaded_after : std::false_type {};
template <auto M>
struct is_loaded_after<loaded_after<M>> : std::true_type {};

/// The arguments a child view inherits: the program's allowances hold at every depth; what
/// session::load loaded holds at its own level only.
template <class List>
struct without_loaded;
template <>
struct without_loaded<type_list<>> {
    using type = type_list<>;
};
template <class A, class... As>
struct without_loaded<type_list<A, As...>> {
    using rest = typename without_loaded<type_list<As...>>::type;
    using type = std::conditional_t<is_loaded_after<A>::value, rest, typename type_list_cat<type_list<A>, rest>::type>;
};

template <class T>
struct typed_arg {
    static constexpr bool valid = false;
};
template <auto... Ms>
struct typed_arg<allow_lazy_t<Ms...>> {
    static constexpr bool valid = true;
    template <auto M>
    static constexpr bool names() { return (same_member<Ms, M>() || ... || false); }
};
template <>
struct typed_arg<allow_cartesian_t> {
    static constexpr bool valid = true;
    template <auto>
    static constexpr bool names() { return false; }
};
template <auto M0>
struct typed_arg<loaded_after<M0>> {
    static constexpr bool valid = true;
    template <auto M>
    static constexpr bool names() { return same_member<M0, M>(); }
};

template <auto M, class List>
struct names_member;
template <auto M, class... As>
struct names_member<M, type_list<As...>> {
    static constexpr bool value = (typed_arg<As>::template names<M>() || ... || false);
};

template <class... As>
inline constexpr bool allows_cartesian = (std::is_same_v<As, allow_cartesian_t> || ... || false);

/// What get<>() returns after one of the errors below: it takes any further use quietly
/// (iteration, ->, get<>), so that the static_assert is the one message.
struct not_loaded {
    template <auto>
    not_loaded get() const { return {}; }
    const not_loaded* operator->() const { return this; }
    const not_loaded& operator*() const { return *this; }
    const not_loaded* begin() const { return this; }
    const not_loaded* end() const { return this; }
    std::size_t size() const { return 0; }
    bool empty() const { return true; }
    explicit operator bool() const { return false; }
};

// ---- the errors: one static_assert each, naming the path through the template arguments ------

template <class Path, auto Member>
struct relationship_not_loaded_by_plan {
    static_assert(sizeof(Path) == 0,
                  "loadstar: typed view: this relationship is not loaded by the query's plan (the path "
                  "and the member are the template arguments of relationship_not_loaded_by_plan in the instantiation line above); "
                  "load it in options() with joinedload, selectinload or subqueryload (under its parent "
                  "with .then(...)), or accept its lazy load with ls::allow_lazy<&T::member> in typed(...)");
    using type = not_loaded;
};
template <class Path, auto Member>
struct column_not_loaded_by_plan {
    static_assert(sizeof(Path) == 0,
                  "loadstar: typed view: load_only / defer leave this deferred column out of the query "
                  "(the path and the member are the template arguments of column_not_loaded_by_plan "
                  "in the instantiation line above); drop it from defer, add it to load_only, or accept its lazy load with "
                  "ls::allow_lazy<&T::member> in typed(...)");
    using type = not_loaded;
};
template <class Entity, auto Member>
struct not_a_member_of_view {
    static_assert(sizeof(Entity) == 0,
                  "loadstar: typed view: get<&T::member>() names a member that is not a mapped column or "
                  "relationship of the view's entity (see not_a_member_of_view<Entity, &Member> in the instantiation line above)");
    using type = not_loaded;
};
template <class Entity, auto First, auto Second>
struct joined_collections_multiply_rows {
    static_assert(sizeof(Entity) == 0,
                  "loadstar: typed(): two to-many relationships are joined at one level of the plan (the "
                  "template arguments of joined_collections_multiply_rows in the instantiation line above): every parent row comes "
                  "back once per pair of their children (a cartesian product). Load one with "
                  "selectinload, or acknowledge it with ls::allow_cartesian in typed(...)");
    static constexpr bool ok = true;  // the static_assert above is the one message
};
template <class Arg>
struct typed_argument_check {
    static_assert(typed_arg<Arg>::valid,
                  "loadstar: typed(...) takes ls::allow_lazy<&T::member...> and ls::allow_cartesian "
                  "(see typed_argument_check<Arg> in the instantiation line above)");
    static constexpr bool ok = true;  // the static_assert above is the one message
};

// ---- static plan checks ------------------------------------------------------------------------

/// Indices of the joined (or contains_eager) to-many relationships of plan P's level.
template <class P, std::size_t... I>
constexpr auto joined_many_indices(std::index_sequence<I...>) {
    struct result {
        std::size_t count = 0;
        std::size_t at[2] = {npos, npos};
    } r;
    auto visit = [&](std::size_t i, bool joined_many) {
        if (!joined_many) return;
        if (r.count < 2) r.at[r.count] = i;
        ++r.count;
    };
    (void)visit;
    (visit(I, (rel_plan<P, I>::kind == load_kind::joined || rel_plan<P, I>::kind == load_kind::contains) &&
                  rel_plan<P, I>::R::to_many),
     ...);
    return r;
}

template <class P, bool AllowCartesian>
struct plan_check;
template <class P, bool AllowCartesian, std::size_t I>
constexpr bool child_plan_ok() {
    if constexpr (is_eager(rel_plan<P, I>::kind)) return plan_check<typename rel_plan<P, I>::child_plan, AllowCartesian>::ok;
    else return true;
}
template <class P, bool AllowCartesian, std::size_t... I>
constexpr bool plan_ok(std::index_sequence<I...> seq) {
    constexpr auto joined = joined_many_indices<P>(seq);
    if constexpr (joined.count >= 2 && !AllowCartesian) {
        using meta = entity_meta<typename P::entity>;
        return joined_collections_multiply_rows<typename P::entity,
                                                meta::template relationship_t<joined.at[0]>::member,
                                                meta::template relationship_t<joined.at[1]>::member>::ok;
    } else {
        return (child_plan_ok<P, AllowCartesian, I>() && ... && true);
    }
}
/// The whole plan tree (every eager child, at every depth) has no cartesian product.
template <class P, bool AllowCartesian>
struct plan_check {
    static constexpr bool ok =
        plan_ok<P, AllowCartesian>(std::make_index_sequence<entity_meta<typename P::entity>::relationship_count>{});
};

// ---- storage: a view borrows the ls::ptr<T> that holds its object, or owns a copy -------------

template <class E>
struct borrowed {
    const ptr<E>* p = nullptr;
    const ptr<E>& get() const noexcept { return *p; }
};
template <class E>
struct owned {
    ptr<E> p;
    const ptr<E>& get() const noexcept { return p; }
};

}  // namespace detail

template <class P, class Args, class Path, template <class> class Storage>
class typed_view;

/// The objects of a loaded collection, as typed views (a range over the collection's own
/// ls::ptr<T> elements: nothing is copied).
template <class View>
class typed_range {
public:
    using element = typename View::entity;
    class iterator {
    public:
        using value_type = View;
        using difference_type = std::ptrdiff_t;
        using iterator_category = std::random_access_iterator_tag;
        iterator() = default;
        explicit iterator(const ptr<element>* p) : p_(p) {}
        View operator*() const { return View(p_); }
        View operator[](difference_type n) const { return View(p_ + n); }
        iterator& operator++() { ++p_; return *this; }
        iterator operator++(int) { auto t = *this; ++p_; return t; }
        iterator& operator--() { --p_; return *this; }
        iterator& operator+=(difference_type n) { p_ += n; return *this; }
        friend iterator operator+(iterator i, difference_type n) { return iterator(i.p_ + n); }
        friend difference_type operator-(iterator a, iterator b) { return a.p_ - b.p_; }
        friend bool operator==(iterator a, iterator b) { return a.p_ == b.p_; }
        friend auto operator<=>(iterator a, iterator b) { return a.p_ <=> b.p_; }

    private:
        const ptr<element>* p_ = nullptr;
    };
    typed_range(const ptr<element>* first, std::size_t n) : first_(first), n_(n) {}
    iterator begin() const { return iterator(first_); }
    iterator end() const { return iterator(first_ + n_); }
    std::size_t size() const noexcept { return n_; }
    bool empty() const noexcept { return n_ == 0; }
    View operator[](std::size_t i) const { return View(first_ + i); }

private:
    const ptr<element>* first_;
    std::size_t n_;
};

/// One object seen through the plan that loaded it. `get<&T::member>()` reads a column, a
/// deferred column the plan loaded, or a relationship the plan loaded (a typed_range of views
/// for a collection, a nullable view for a to-one); anything else does not compile. `->` and
/// `*` reach the object itself (plain C++: relationships read that way are not checked).
template <class P, class Args, class Path, template <class> class Storage>
class typed_view {
public:
    using entity = typename P::entity;
    using plan = P;
    /// The same view once session::load<&entity::Member> has loaded Member.
    template <auto Member>
    using with_loaded = typed_view<P, typename detail::type_list_cat<Args, detail::type_list<detail::loaded_after<Member>>>::type,
                                   Path, Storage>;

    typed_view() = default;
    explicit typed_view(const ptr<entity>* p) requires std::is_same_v<Storage<entity>, detail::borrowed<entity>>
        : s_{p} {}
    explicit typed_view(ptr<entity> p) requires std::is_same_v<Storage<entity>, detail::owned<entity>>
        : s_{std::move(p)} {}

    entity* operator->() const noexcept { return s_.get().get(); }
    entity& operator*() const noexcept { return *s_.get(); }
    /// The plain pointer (shared ownership of the same object).
    const ptr<entity>& object() const noexcept { return s_.get(); }
    operator ptr<entity>() const { return s_.get(); }  // NOLINT: a view is its object
    explicit operator bool() const noexcept { return s_.get() != nullptr; }

    /// A column, a deferred column the plan loads, or a relationship the plan loads.
    template <auto Member>
    decltype(auto) get() const {
        using meta = entity_meta<entity>;
        constexpr std::size_t c = meta::template column_of<Member>();
        constexpr std::size_t r = meta::template relationship_of<Member>();
        if constexpr (c != detail::npos) {
            using C = typename meta::template column_t<c>;
            if constexpr (C::is_deferred) {
                constexpr bool ok = !detail::column_deferred<P, c>() || detail::names_member<Member, Args>::value;
                if constexpr (ok) return static_cast<const typename C::stored_type&>((*s_.get()).*Member);
                else return typename detail::column_not_loaded_by_plan<Path, Member>::type{};
            } else {
                return static_cast<const std::remove_cvref_t<decltype((*s_.get()).*Member)>&>((*s_.get()).*Member);
            }
        } else if constexpr (r != detail::npos) {
            using RP = detail::rel_plan<P, r>;
            constexpr bool by_plan = detail::is_eager(RP::kind);
            constexpr bool by_program = detail::names_member<Member, Args>::value;
            if constexpr (by_plan || by_program) {
                // What a lazy load (allow_lazy, session::load) loads is the relationship's lazy
                // plan; an eager load's children follow the child plan.
                using child_plan = std::conditional_t<by_plan, typename RP::child_plan, typename RP::lazy_plan>;
                using child_args = typename detail::without_loaded<Args>::type;
                using child_path = typename detail::path_push<Path, Member>::type;
                const auto& holder = (*s_.get()).*Member;
                if constexpr (RP::R::to_many) {
                    using V = typed_view<child_plan, child_args, child_path, detail::borrowed>;
                    (void)holder.size();  // loads it here if the program allowed a lazy load
                    const auto& items = detail::holder_access<typename RP::R::holder>::items(
                        const_cast<typename RP::R::holder&>(holder));
                    return typed_range<V>(items.data(), items.size());
                } else {
                    using V = typed_view<child_plan, child_args, child_path, detail::owned>;
                    return V(holder.get());
                }
            } else {
                return typename detail::relationship_not_loaded_by_plan<Path, Member>::type{};
            }
        } else {
            return typename detail::not_a_member_of_view<entity, Member>::type{};
        }
    }

private:
    Storage<entity> s_{};
};

/// The objects a typed query returned, as typed views. It owns the ls::ptr<T> of each (the
/// same objects, in the same order, as the untyped all()); `objects()` hands them over plain.
template <class View>
class typed_results {
public:
    using entity = typename View::entity;
    using view = View;
    using iterator = typename typed_range<View>::iterator;

    typed_results() = default;
    explicit typed_results(std::vector<ptr<entity>> objs) : objs_(std::move(objs)) {}

    iterator begin() const { return iterator(objs_.data()); }
    iterator end() const { return iterator(objs_.data() + objs_.size()); }
    std::size_t size() const noexcept { return objs_.size(); }
    bool empty() const noexcept { return objs_.empty(); }
    View operator[](std::size_t i) const { return View(objs_.data() + i); }
    const std::vector<ptr<entity>>& objects() const& noexcept { return objs_; }
    std::vector<ptr<entity>> objects() && noexcept { return std::move(objs_); }

private:
    std::vector<ptr<entity>> objs_;
};

/// yield_per(n) of a typed query: typed views, batch by batch (a view is valid until the
/// iteration moves past its batch; keep `object()` to hold on to one).
template <class E, class Plan, class View>
class typed_stream {
public:
    /// `make()` returns the stream (a prvalue: streams do not move, and need not).
    template <class Make>
    explicit typed_stream(Make make) : s_(make()) {}
    class iterator {
    public:
        using value_type = View;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(typename stream<E, Plan>::iterator it) : it_(std::move(it)) {}
        View operator*() const { return View(&*it_); }
        iterator& operator++() {
            ++it_;
            return *this;
        }
        void operator++(int) { ++it_; }
        bool operator==(std::default_sentinel_t s) const { return it_ == s; }

    private:
        typename stream<E, Plan>::iterator it_;
    };
    iterator begin() { return iterator(s_.begin()); }
    std::default_sentinel_t end() { return {}; }

private:
    stream<E, Plan> s_;
};

/// A query whose results come as typed views of its plan (query::typed()).
template <class E, class Plan, class Args>
class typed_query;
template <class E, class Plan, class... Args>
class typed_query<E, Plan, detail::type_list<Args...>> {
    // Checked where typed(...) is written: its arguments, and the whole plan tree.
    static_assert((detail::typed_argument_check<Args>::ok && ...));
    static_assert(detail::plan_check<Plan, detail::allows_cartesian<Args...>>::ok);
    using Arglist = detail::type_list<Args...>;

public:
    using view = typed_view<Plan, Arglist, detail::member_path<>, detail::borrowed>;
    using single = typed_view<Plan, Arglist, detail::member_path<>, detail::owned>;

    explicit typed_query(query<E, Plan> q) : q_(std::move(q)) {}

    /// Every matching object, as views.
    typed_results<view> all() const { return typed_results<view>(q_.all()); }
    /// The first object (LIMIT 1), or an empty view (false).
    single first() const { return single(q_.first()); }
    /// Exactly one object; no_result_error or multiple_results_error otherwise.
    single one() const { return single(q_.one()); }
    /// The object with this primary key, loaded by this query's plan (always a statement: an
    /// object already in the identity map may lack what the plan loads), or an empty view.
    template <class K>
    single get(const K& key) const {
        auto q = q_;
        q.where(col<entity_meta<E>::pk_member> == key);
        return single(q.first());
    }
    /// Streams the results in batches of `n` rows, as views.
    typed_stream<E, Plan, view> yield_per(std::size_t n) const {
        return typed_stream<E, Plan, view>([&] { return q_.yield_per(n); });
    }

private:
    query<E, Plan> q_;
};

}  // namespace loadstar
