// loadstar/loader/plan.hpp - the loader plan: which strategy loads each relationship, fixed at
// compile time from a query's option types and the mappings' default loaders.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/names.hpp>
#include <loadstar/detail/type_list.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/options.hpp>

#include <string>
#include <type_traits>

namespace loadstar::detail {

enum class load_kind { lazy, joined, selectin, subquery, raise, contains };

constexpr load_kind to_kind(strategy s) {
    switch (s) {
    case strategy::joined: return load_kind::joined;
    case strategy::selectin: return load_kind::selectin;
    case strategy::subquery: return load_kind::subquery;
    case strategy::raise: return load_kind::raise;
    default: return load_kind::lazy;
    }
}
constexpr bool is_eager(load_kind k) {
    return k == load_kind::joined || k == load_kind::selectin || k == load_kind::subquery ||
           k == load_kind::contains;
}

template <class O>
struct opt_traits {
    static constexpr bool names_member = false;
    static constexpr load_kind kind = load_kind::lazy;
    static constexpr std::size_t batch = default_batch_size;
    using children = type_list<>;
};
template <strategy S, auto M, std::size_t B, class... C>
struct opt_traits<load_option<S, M, B, C...>> {
    static constexpr bool names_member = true;
    static constexpr auto member = M;
    static constexpr load_kind kind = to_kind(S);
    static constexpr std::size_t batch = B;
    using children = type_list<C...>;
};
template <auto M>
struct opt_traits<contains_eager_t<M>> {
    static constexpr bool names_member = true;
    static constexpr auto member = M;
    static constexpr load_kind kind = load_kind::contains;
    static constexpr std::size_t batch = default_batch_size;
    using children = type_list<>;
};

template <class O, auto M>
constexpr bool option_names() {
    if constexpr (opt_traits<O>::names_member) return same_member<opt_traits<O>::member, M>();
    else return false;
}

template <auto M, class List>
struct find_option {
    using type = void;
    static constexpr std::size_t count = 0;
};
template <auto M, class O, class... Os>
struct find_option<M, type_list<O, Os...>> {
    using rest = find_option<M, type_list<Os...>>;
    using type = std::conditional_t<option_names<O, M>(), O, typename rest::type>;
    static constexpr std::size_t count = (option_names<O, M>() ? 1 : 0) + rest::count;
};

template <class Entity, auto Member>
struct option_path_check {
    static_assert(entity_meta<Entity>::template relationship_of<Member>() != npos,
                  "loadstar: a loader option names a member that is not a relationship of the entity "
                  "at its place in the path (see option_path_check<Entity, &Member> below)");
    static constexpr bool ok = true;
};
template <class Entity, auto Member, std::size_t Count>
struct option_unique_check {
    static_assert(Count <= 1,
                  "loadstar: two loader options name the same relationship; a relationship is loaded "
                  "by one strategy only (see option_unique_check<Entity, &Member, N> below)");
    static constexpr bool ok = true;
};

template <class O>
struct column_opt {
    static constexpr bool is_column_option = false;
    template <auto M>
    static constexpr bool defers(bool) { return false; }
};
template <auto... Ms>
struct column_opt<load_only_t<Ms...>> {
    static constexpr bool is_column_option = true;
    template <auto M>
    static constexpr bool defers(bool is_pk) { return !is_pk && !(same_member<Ms, M>() || ...); }
};
template <auto D>
struct column_opt<defer_t<D>> {
    static constexpr bool is_column_option = true;
    template <auto M>
    static constexpr bool defers(bool) { return same_member<D, M>(); }
};

template <class Entity, auto Member>
struct column_option_check {
    static_assert(entity_meta<Entity>::template column_of<Member>() != npos,
                  "loadstar: load_only / defer name a member that is not a column of the entity at "
                  "their place in the path (see column_option_check<Entity, &Member> below)");
    static constexpr bool ok = true;
};
template <class Entity, auto Member>
struct deferred_type_check {
    static_assert(is_deferred_v<member_type_t<Member>>,
                  "loadstar: load_only / defer leave this column unloaded, so it must be declared "
                  "loadstar::deferred<T> (a plain member cannot load itself when touched; see "
                  "deferred_type_check<Entity, &Member> below)");
    static constexpr bool ok = true;
};

/// A column that load_only / defer leave out must be a deferred<T> (reported here, where the
/// option is written, before the loader is instantiated).
template <class E, std::size_t I, auto... Kept>
constexpr bool left_out_column_ok() {
    using C = typename entity_meta<E>::template column_t<I>;
    if constexpr (C::is_primary_key || (same_member<Kept, C::member>() || ...)) return true;
    else return deferred_type_check<E, C::member>::ok;
}
template <class E, auto... Kept, std::size_t... I>
constexpr bool load_only_ok(std::index_sequence<I...>) {
    return (left_out_column_ok<E, I, Kept...>() && ...);
}
template <class E, auto D>
constexpr bool deferred_ok() {
    if constexpr (entity_meta<E>::template column_of<D>() == npos) return true;  // reported above
    else return deferred_type_check<E, D>::ok;
}
template <class O, class E>
struct column_option_checks {
    static constexpr bool ok = true;
};
template <auto... Ms, class E>
struct column_option_checks<load_only_t<Ms...>, E> {
    static constexpr bool named_ok = (column_option_check<E, Ms>::ok && ...);
    static constexpr bool ok =
        named_ok && load_only_ok<E, Ms...>(std::make_index_sequence<entity_meta<E>::column_count>{});
};
template <auto D, class E>
struct column_option_checks<defer_t<D>, E> {
    static constexpr bool ok = column_option_check<E, D>::ok && deferred_ok<E, D>();
};

template <class E, class O, class Opts>
constexpr bool check_option() {
    static_assert(column_option_checks<O, E>::ok);
    if constexpr (opt_traits<O>::names_member) {
        static_assert(option_path_check<E, opt_traits<O>::member>::ok);
        static_assert(option_unique_check<E, opt_traits<O>::member,
                                          find_option<opt_traits<O>::member, Opts>::count>::ok);
    }
    return true;
}
template <class E, class Opts>
struct check_options;
template <class E, class... Os>
struct check_options<E, type_list<Os...>> {
    static constexpr bool ok = (check_option<E, Os, type_list<Os...>>() && ... && true);
};

/// The whole option tree of a query on E, checked where options() is written: each option
/// against the entity at its place in the path, then its then(...) children against the
/// relationship's target (a plan checks only its own level, and a child plan is instantiated
/// only when the loader reaches it).
template <class E, class Opts>
struct check_option_tree;
template <class E, class O>
constexpr bool check_option_children() {
    if constexpr (opt_traits<O>::names_member) {
        constexpr std::size_t i = entity_meta<E>::template relationship_of<opt_traits<O>::member>();
        if constexpr (i == npos) return true;  // option_path_check reports it
        else return check_option_tree<typename entity_meta<E>::template relationship_t<i>::target,
                                      typename opt_traits<O>::children>::ok;
    } else {
        return true;
    }
}
template <class E, class... Os>
struct check_option_tree<E, type_list<Os...>> {
    static constexpr bool ok = check_options<E, type_list<Os...>>::ok && (check_option_children<E, Os>() && ... && true);
};

/// The plan for loading entity E: the options that apply at this level, whether every
/// unnamed relationship raises, and the entities above it in this load (to stop default
/// eager loaders from cycling, as SQLAlchemy's join_depth does).
template <class E, class Opts, bool RaiseAll, class Path>
struct plan {
    using entity = E;
    using options = Opts;
    using path = Path;
    static constexpr bool raise_all = RaiseAll;
    static_assert(check_options<E, Opts>::ok);
};

template <class E, std::size_t... I>
constexpr bool eager_default_in(std::index_sequence<I...>) {
    return (is_eager(to_kind(entity_meta<E>::template relationship_t<I>::default_strategy)) || ... || false);
}
/// Does some relationship of E load eagerly unless told otherwise (default_loader<joined>...)?
template <class E>
inline constexpr bool has_eager_default =
    eager_default_in<E>(std::make_index_sequence<entity_meta<E>::relationship_count>{});

// The entities reachable from E through relationships (E included), by a depth-first walk that
// threads the set of entities seen so far (each entity is visited once, cycles end there).
template <class Seen, class E, bool Done = contains<E, Seen>::value>
struct reach_visit {
    using type = Seen;
};
template <class Seen, class E, std::size_t I, std::size_t N>
struct reach_rels {
    using next = typename reach_visit<Seen, typename entity_meta<E>::template relationship_t<I>::target>::type;
    using type = typename reach_rels<next, E, I + 1, N>::type;
};
template <class Seen, class E, std::size_t N>
struct reach_rels<Seen, E, N, N> {
    using type = Seen;
};
template <class Seen, class E>
struct reach_visit<Seen, E, false> {
    using type = typename reach_rels<typename push_back<Seen, E>::type, E, 0, entity_meta<E>::relationship_count>::type;
};
template <class List>
struct any_eager_default;
template <class... Ts>
struct any_eager_default<type_list<Ts...>> : std::bool_constant<(has_eager_default<Ts> || ... || false)> {};

/// Does some entity reachable from E (E included) load a relationship eagerly by default? Only
/// then can the path of a plan on E change what loads.
template <class E>
inline constexpr bool path_matters = any_eager_default<typename reach_visit<type_list<>, E>::type>::value;

/// The plan of E in the one form that every plan loading the same way shares, so that the
/// loader of a plan is instantiated once, not once per path that reaches it: the path only
/// decides whether a default eager loader would cycle, so it is dropped when no entity this
/// plan can reach has a default eager loader (with or without options: a named option never
/// reads the path), and raise-all means nothing to an entity without relationships.
template <class E, class Opts, bool RaiseAll, class Path>
using plan_of = plan<E, Opts, RaiseAll && (entity_meta<E>::relationship_count != 0),
                     std::conditional_t<(std::is_same_v<Opts, type_list<>> && !has_eager_default<E>) || !path_matters<E>,
                                        type_list<>, Path>>;

template <class C, class Opts>
struct column_deferred_by;
template <class C, class... Os>
struct column_deferred_by<C, type_list<Os...>> {
    static constexpr bool value = (column_opt<Os>::template defers<C::member>(C::is_primary_key) || ... || false);
};

/// Is column I of the plan's entity left out of its statements (load_only / defer)?
template <class P, std::size_t I>
constexpr bool column_deferred() {
    using C = typename entity_meta<typename P::entity>::template column_t<I>;
    constexpr bool d = column_deferred_by<C, typename P::options>::value;
    if constexpr (d) static_assert(deferred_type_check<typename P::entity, C::member>::ok);
    return d;
}

template <class P, std::size_t I>
struct rel_plan {
    using E = typename P::entity;
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using opt = typename find_option<R::member, typename P::options>::type;
    static constexpr bool named = !std::is_void_v<opt>;
    using here = typename push_back<typename P::path, E>::type;
    static constexpr load_kind kind =
        named          ? opt_traits<opt>::kind
        : P::raise_all ? load_kind::raise
        : (is_eager(to_kind(R::default_strategy)) && contains<T, here>::value)
            ? load_kind::lazy
            : to_kind(R::default_strategy);
    using child_opts = typename opt_traits<std::conditional_t<named, opt, int>>::children;
    using child_plan = plan_of<T, child_opts, P::raise_all, here>;
    /// A lazy load is a statement of its own: the path starts afresh.
    using lazy_plan = plan_of<T, child_opts, P::raise_all, type_list<>>;
    static constexpr std::size_t batch = opt_traits<std::conditional_t<named, opt, int>>::batch;
};

template <class P, class Seq = std::make_index_sequence<entity_meta<typename P::entity>::relationship_count>>
struct plan_traits;

// Plain index-sequence folds: GCC 12 crashes on the generic-lambda form of these recursions.
template <class P, std::size_t I>
constexpr bool joined_many_at() {
    using RP = rel_plan<P, I>;
    if constexpr (RP::kind == load_kind::joined || RP::kind == load_kind::contains)
        return RP::R::to_many || plan_traits<typename RP::child_plan>::joined_many;
    else
        return false;
}
template <class P, std::size_t I>
constexpr bool tail_at() {
    using RP = rel_plan<P, I>;
    if constexpr (RP::kind == load_kind::subquery) return true;
    else if constexpr (RP::kind == load_kind::joined || RP::kind == load_kind::contains)
        return plan_traits<typename RP::child_plan>::tail;
    else
        return false;
}

template <class P, std::size_t... I>
struct plan_traits<P, std::index_sequence<I...>> {
    /// A joined (or contains-eager) to-many somewhere in this statement: parents repeat.
    static constexpr bool joined_many = (joined_many_at<P, I>() || ... || false);
    /// A subquery load hangs off this node (directly or through joined children).
    static constexpr bool tail = (tail_at<P, I>() || ... || false);
    /// Some relationship is loaded eagerly.
    static constexpr bool eager = (is_eager(rel_plan<P, I>::kind) || ... || false);
    /// Follow-up loads (selectin, subquery) of this node; subquery loads; joined children.
    static constexpr std::size_t followups =
        ((rel_plan<P, I>::kind == load_kind::selectin || rel_plan<P, I>::kind == load_kind::subquery ? 1 : 0) + ... + 0);
    static constexpr std::size_t subqueries = ((rel_plan<P, I>::kind == load_kind::subquery ? 1 : 0) + ... + 0);
    static constexpr bool joined = ((rel_plan<P, I>::kind == load_kind::joined || rel_plan<P, I>::kind == load_kind::contains) || ... || false);
};

template <class P>
constexpr int plan_width();
template <class P, std::size_t I>
constexpr int joined_width_at() {
    using RP = rel_plan<P, I>;
    if constexpr (RP::kind == load_kind::joined || RP::kind == load_kind::contains)
        return plan_width<typename RP::child_plan>();
    else
        return 0;
}
template <class P, std::size_t... C, std::size_t... R>
constexpr int plan_width_of(std::index_sequence<C...>, std::index_sequence<R...>) {
    return ((column_deferred<P, C>() ? 0 : 1) + ... + 0) + (joined_width_at<P, R>() + ... + 0);
}
/// The number of columns a statement of plan P reads for its entity and its joined children
/// (instantiating it checks the deferred columns of the whole joined tree where options() is
/// written). Plain index-sequence folds, like plan_traits.
template <class P>
constexpr int plan_width() {
    using meta = entity_meta<typename P::entity>;
    return plan_width_of<P>(std::make_index_sequence<meta::column_count>{},
                            std::make_index_sequence<meta::relationship_count>{});
}

template <class P>
constexpr bool has_joined_many() {
    return plan_traits<P>::joined_many;
}
template <class P>
constexpr bool needs_tail() {
    return plan_traits<P>::tail;
}
template <class P>
constexpr bool has_eager() {
    return plan_traits<P>::eager;
}

}  // namespace loadstar::detail
