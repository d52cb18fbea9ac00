// loadstar/expr.hpp - typed column references, predicates, orderings and aggregates.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/convert.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/value.hpp>

#include <concepts>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace loadstar {

namespace detail {
struct expr_tag {};
template <class T>
concept expression = std::is_base_of_v<expr_tag, std::remove_cvref_t<T>>;

template <class T>
inline constexpr bool is_int_like_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

/// The value type of col<M> for an M that is not a mapped column: column_member_check has
/// reported it, and this type compares with anything, so no second error follows.
struct not_a_column {};

/// Is Member a mapped column of a mapped entity? (Never instantiates entity_meta of an
/// unmapped class.)
template <auto Member>
constexpr bool is_mapped_column() {
    if constexpr (!std::is_member_object_pointer_v<decltype(Member)>) return false;
    else if constexpr (!mapped_entity<member_class_t<Member>>) return false;
    else return entity_meta<member_class_t<Member>>::template column_of<Member>() != npos;
}
template <auto Member>
using column_value_t =
    std::conditional_t<is_mapped_column<Member>(), unwrap_deferred_t<member_type_t<Member>>, not_a_column>;

/// May a column (or expression) of type C be compared with a value or expression of type V?
template <class C, class V>
constexpr bool comparable() {
    using c = unwrap_optional_t<unwrap_deferred_t<std::remove_cvref_t<C>>>;
    using v = unwrap_optional_t<std::decay_t<V>>;
    if constexpr (std::is_same_v<c, not_a_column> || std::is_same_v<v, not_a_column>) return true;
    else if constexpr (std::is_same_v<c, bool>) return std::is_same_v<v, bool>;
    else if constexpr (is_int_like_v<c>) return is_int_like_v<v>;
    else if constexpr (std::is_floating_point_v<c>) return is_int_like_v<v> || std::is_floating_point_v<v>;
    else if constexpr (std::is_same_v<c, std::string>)
        return std::is_convertible_v<v, std::string_view> && !std::is_same_v<v, std::nullptr_t>;
    else return std::is_same_v<c, v>;
}

template <class C, class V>
struct comparison_check {
    static_assert(comparable<C, V>(),
                  "loadstar: a column is compared with a value (or column) of another type; see "
                  "comparison_check<column type, value type> below");
    static constexpr bool ok = true;
};

template <auto Member, class Meta = entity_meta<member_class_t<Member>>>
inline constinit name_slot qualified_column_slot{
    &qualified_name, Meta::table_name(), Meta::template column_name<Meta::template column_of<Member>()>()};
/// Renders `table.column` for a mapped member.
template <auto Member>
const std::string& qualified_column() {
    return slot_name(qualified_column_slot<Member>);
}

/// The text of expression e: a reference to text rendered once per expression type where the
/// text does not depend on the values (static_text), else the text rendered now.
template <class E>
decltype(auto) expr_text(const E& e) {
    if constexpr (std::remove_cvref_t<E>::static_text) {
        static const std::string text = [&] {
            std::string s;
            e.render(s);
            return s;
        }();
        return (text);
    } else {
        std::string s;
        e.render(s);
        return s;
    }
}

}  // namespace detail

template <class T>
struct bound_value : detail::expr_tag {
    using value_type = T;
    static constexpr bool static_text = true;
    value v;
    void render(std::string& out) const { out += '?'; }
    void collect(std::vector<value>& p) const { detail::append_value(p, v); }
};

template <class Op, class L, class R>
struct binary_expr : detail::expr_tag {
    using value_type = bool;
    static constexpr bool static_text = L::static_text && R::static_text;
    L l;
    R r;
    void render(std::string& out) const {
        if constexpr (Op::logical) out += '(';
        l.render(out);
        out += Op::sql;
        r.render(out);
        if constexpr (Op::logical) out += ')';
    }
    void collect(std::vector<value>& p) const {
        l.collect(p);
        r.collect(p);
    }
};

namespace op {
struct eq { static constexpr const char* sql = " = "; static constexpr bool logical = false; };
struct ne { static constexpr const char* sql = " != "; static constexpr bool logical = false; };
struct lt { static constexpr const char* sql = " < "; static constexpr bool logical = false; };
struct le { static constexpr const char* sql = " <= "; static constexpr bool logical = false; };
struct gt { static constexpr const char* sql = " > "; static constexpr bool logical = false; };
struct ge { static constexpr const char* sql = " >= "; static constexpr bool logical = false; };
struct and_ { static constexpr const char* sql = " AND "; static constexpr bool logical = true; };
struct or_ { static constexpr const char* sql = " OR "; static constexpr bool logical = true; };
struct like { static constexpr const char* sql = " LIKE "; static constexpr bool logical = false; };
}  // namespace op

template <class E>
struct not_expr : detail::expr_tag {
    using value_type = bool;
    static constexpr bool static_text = E::static_text;
    E e;
    void render(std::string& out) const {
        out += "NOT (";
        e.render(out);
        out += ')';
    }
    void collect(std::vector<value>& p) const { e.collect(p); }
};

template <class E>
struct null_test : detail::expr_tag {
    using value_type = bool;
    // Not cacheable per type: IS NULL and IS NOT NULL differ only in `negate`.
    static constexpr bool static_text = false;
    E e;
    bool negate = false;
    void render(std::string& out) const {
        e.render(out);
        out += negate ? " IS NOT NULL" : " IS NULL";
    }
    void collect(std::vector<value>& p) const { e.collect(p); }
};

template <class E>
struct in_expr : detail::expr_tag {
    using value_type = bool;
    static constexpr bool static_text = false;  // the number of placeholders varies
    E e;
    std::vector<value> values;
    void render(std::string& out) const {
        if (values.empty()) {  // an empty IN is false, as in SQLAlchemy
            out += "1 != 1";
            return;
        }
        e.render(out);
        out += " IN (";
        for (std::size_t i = 0, n = placeholders(); i < n; ++i) out += i ? ", ?" : "?";
        out += ')';
    }
    void collect(std::vector<value>& p) const {
        e.collect(p);
        p.insert(p.end(), values.begin(), values.end());
        if (!values.empty()) p.insert(p.end(), placeholders() - values.size(), values.back());
    }
    /// Up to 8 values, one placeholder each; up to 512, the next power of two, padded with the
    /// last value (an IN matches the same rows): a statement cache then sees a few texts, not
    /// one per length. Longer lists are written as they are (within every bind limit).
    std::size_t placeholders() const noexcept {
        const std::size_t n = values.size();
        if (n <= 8 || n > 512) return n;
        std::size_t b = 16;
        while (b < n) b *= 2;
        return b;
    }
};

template <class E>
struct between_expr : detail::expr_tag {
    using value_type = bool;
    static constexpr bool static_text = E::static_text;
    E e;
    value lo, hi;
    void render(std::string& out) const {
        e.render(out);
        out += " BETWEEN ? AND ?";
    }
    void collect(std::vector<value>& p) const {
        e.collect(p);
        detail::append_value(p, lo);
        detail::append_value(p, hi);
    }
};

template <class E, bool Ascending>
struct ordering {
    E e;
    void render(std::string& out) const {
        e.render(out);
        if constexpr (!Ascending) out += " DESC";
    }
};

/// Common operations of anything that has a SQL value (columns, aggregates).
template <class Derived, class T>
struct value_expr : detail::expr_tag {
    using value_type = T;
    /// ORDER BY ... DESC
    constexpr ordering<Derived, false> desc() const { return {self()}; }
    /// ORDER BY ... ASC
    constexpr ordering<Derived, true> asc() const { return {self()}; }
    null_test<Derived> is_null() const { return {{}, self(), false}; }
    null_test<Derived> is_not_null() const { return {{}, self(), true}; }

    /// `col.in(range)`: membership in a list of values, each bound.
    template <class R>
        requires requires(const R& r) { std::begin(r) != std::end(r); }
    in_expr<Derived> in(const R& values) const {
        // (std::begin/end, not <ranges>: that header costs every TU a third of a second)
        static_assert(detail::comparison_check<T, std::remove_cvref_t<decltype(*std::begin(values))>>::ok);
        in_expr<Derived> e{{}, self(), {}};
        for (const auto& v : values) e.values.push_back(detail::to_value(v));
        return e;
    }
    template <class V>
    in_expr<Derived> in(std::initializer_list<V> values) const {
        return in(std::vector<V>(values));
    }
    template <class A, class B>
    between_expr<Derived> between(const A& lo, const B& hi) const {
        static_assert(detail::comparison_check<T, A>::ok && detail::comparison_check<T, B>::ok);
        return {{}, self(), detail::to_value(lo), detail::to_value(hi)};
    }
    /// `col.like("J%")`: text columns only.
    template <class S>
    binary_expr<op::like, Derived, bound_value<std::string>> like(const S& pattern) const {
        static_assert(std::is_same_v<detail::unwrap_optional_t<T>, std::string>,
                      "loadstar: like() needs a text (std::string) column; this column is not text");
        static_assert(std::is_convertible_v<const S&, std::string_view>, "loadstar: like() takes a text pattern");
        return {{}, self(), {{}, value{std::string(std::string_view(pattern))}}};
    }

private:
    constexpr const Derived& self() const { return static_cast<const Derived&>(*this); }
};

/// A mapped column: `ls::col<&Author::name>`.
template <auto Member>
struct column_ref : value_expr<column_ref<Member>, detail::column_value_t<Member>> {
    using entity = detail::member_class_t<Member>;
    using type = detail::member_type_t<Member>;
    static constexpr auto member = Member;
    static constexpr bool static_text = true;
    void render(std::string& out) const {
        if constexpr (detail::is_mapped_column<Member>()) out += detail::qualified_column<Member>();
    }
    void collect(std::vector<value>&) const {}
};

namespace detail {
template <auto Member>
struct column_member_check {
    static_assert(std::is_member_object_pointer_v<decltype(Member)>, "loadstar: col<> takes a data member pointer");
    static_assert(!std::is_member_object_pointer_v<decltype(Member)> || mapped_entity<member_class_t<Member>>,
                  "loadstar: col<> names a member of an entity that is not mapped: specialize "
                  "loadstar::mapping<Entity> (see column_member_check<&Entity::member> below)");
    static_assert(!std::is_member_object_pointer_v<decltype(Member)> || !mapped_entity<member_class_t<Member>> ||
                      is_mapped_column<Member>(),
                  "loadstar: this member is not a mapped column of its entity (see "
                  "column_member_check<&Entity::member> below)");
    static constexpr bool ok = true;
};
}  // namespace detail

/// A typed reference to a mapped column, for where / order_by / columns / set.
template <auto Member>
    requires(detail::column_member_check<Member>::ok)
inline constexpr column_ref<Member> col{};

// ---- aggregates -----------------------------------------------------------------------------

template <class T>
struct aggregate : value_expr<aggregate<T>, T> {
    // Not cacheable per type: count(*) and max(books.id) are both aggregate<int64_t>.
    static constexpr bool static_text = false;
    const char* fn;
    std::string arg;  // rendered column, or "*"
    aggregate(const char* f, std::string a) : fn(f), arg(std::move(a)) {}
    void render(std::string& out) const {
        out += fn;
        out += '(';
        out += arg;
        out += ')';
    }
    void collect(std::vector<value>&) const {}
};

/// `count(*)`
inline aggregate<std::int64_t> count() { return {"count", "*"}; }
/// `count(col)`: non-NULL values
template <auto M>
aggregate<std::int64_t> count(column_ref<M>) { return {"count", detail::qualified_column<M>()}; }
/// `sum(col)`: NULL over no rows, so the result is optional.
template <auto M>
auto sum(column_ref<M>) {
    using V = detail::unwrap_optional_t<detail::member_type_t<M>>;
    static_assert(std::is_arithmetic_v<V> && !std::is_same_v<V, bool>, "loadstar: sum() needs a numeric column");
    using R = std::conditional_t<std::is_floating_point_v<V>, double, std::int64_t>;
    return aggregate<std::optional<R>>{"sum", detail::qualified_column<M>()};
}
/// `avg(col)`: a double, NULL over no rows.
template <auto M>
aggregate<std::optional<double>> avg(column_ref<M>) {
    using V = detail::unwrap_optional_t<detail::member_type_t<M>>;
    static_assert(std::is_arithmetic_v<V> && !std::is_same_v<V, bool>, "loadstar: avg() needs a numeric column");
    return {"avg", detail::qualified_column<M>()};
}
/// `min(col)` / `max(col)`: the column's type (NULL only if the column is nullable or no rows).
template <auto M>
aggregate<detail::unwrap_deferred_t<detail::member_type_t<M>>> min(column_ref<M>) { return {"min", detail::qualified_column<M>()}; }
template <auto M>
aggregate<detail::unwrap_deferred_t<detail::member_type_t<M>>> max(column_ref<M>) { return {"max", detail::qualified_column<M>()}; }

// ---- operators ------------------------------------------------------------------------------

namespace detail {
template <class V>
auto as_expr(const V& v) {
    if constexpr (expression<V>) return v;
    else return bound_value<std::decay_t<V>>{{}, to_value(v)};
}
template <class E>
using value_type_of = typename std::remove_cvref_t<E>::value_type;
template <class V>
using operand_type = std::conditional_t<expression<V>, value_type_of<std::conditional_t<expression<V>, V, bound_value<int>>>, V>;

template <class Op, class L, class R>
auto compare(const L& l, const R& r) {
    static_assert(comparison_check<operand_type<L>, operand_type<R>>::ok);
    using LE = decltype(as_expr(l));
    using RE = decltype(as_expr(r));
    return binary_expr<Op, LE, RE>{{}, as_expr(l), as_expr(r)};
}
template <class L, class R>
concept comparable_operands = (expression<L> || expression<R>) &&
                              !std::is_same_v<std::remove_cvref_t<L>, std::nullptr_t> &&
                              !std::is_same_v<std::remove_cvref_t<R>, std::nullptr_t>;
template <class E>
concept predicate = expression<E> && std::is_same_v<value_type_of<E>, bool>;
}  // namespace detail

template <class L, class R> requires detail::comparable_operands<L, R>
auto operator==(const L& l, const R& r) { return detail::compare<op::eq>(l, r); }
template <class L, class R> requires detail::comparable_operands<L, R>
auto operator!=(const L& l, const R& r) { return detail::compare<op::ne>(l, r); }
template <class L, class R> requires detail::comparable_operands<L, R>
auto operator<(const L& l, const R& r) { return detail::compare<op::lt>(l, r); }
template <class L, class R> requires detail::comparable_operands<L, R>
auto operator<=(const L& l, const R& r) { return detail::compare<op::le>(l, r); }
template <class L, class R> requires detail::comparable_operands<L, R>
auto operator>(const L& l, const R& r) { return detail::compare<op::gt>(l, r); }
template <class L, class R> requires detail::comparable_operands<L, R>
auto operator>=(const L& l, const R& r) { return detail::compare<op::ge>(l, r); }

template <detail::predicate L, detail::predicate R>
binary_expr<op::and_, L, R> operator&&(const L& l, const R& r) { return {{}, l, r}; }
template <detail::predicate L, detail::predicate R>
binary_expr<op::or_, L, R> operator||(const L& l, const R& r) { return {{}, l, r}; }
template <detail::predicate E>
not_expr<E> operator!(const E& e) { return {{}, e}; }

// ---- assignments for bulk update ------------------------------------------------------------

template <auto Member>
struct assignment {
    value v;
};
/// `ls::set<&Book::title>("x")` for query.update(...).
template <auto Member, class V>
assignment<Member> set(const V& v) {
    using T = detail::unwrap_deferred_t<detail::member_type_t<Member>>;
    if constexpr (!detail::is_mapped_column<Member>()) {  // column_member_check's one message
        static_assert(detail::column_member_check<Member>::ok);
        return {value{}};
    } else if constexpr (std::is_same_v<std::decay_t<V>, std::nullopt_t>) {
        static_assert(detail::is_optional_v<T>, "loadstar: only a nullable (std::optional) column can be set to NULL");
        return {value{}};
    } else {
        static_assert(detail::comparison_check<T, V>::ok);
        return {detail::to_value(v)};
    }
}

}  // namespace loadstar
