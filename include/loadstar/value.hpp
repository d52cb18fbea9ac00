// loadstar/value.hpp - the values that travel between loadstar and a driver.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loadstar {

/// A BLOB column's C++ type.
using blob = std::vector<std::byte>;

/// One bound parameter: NULL, integer, real, text, blob, or an integer array (PostgreSQL
/// `= ANY($1)`). Values are always bound, never spliced into SQL text.
///
/// A tagged union with the alternatives, and the index() numbering, of
/// `std::variant<std::monostate, std::int64_t, double, std::string, blob,
/// std::vector<std::int64_t>>`, read with `get<T>(v)`, `get<I>(v)` and `get_if<T>(&v)` (found
/// by argument-dependent lookup, as std::get is for a variant). It is not a std::variant
/// because every translation unit binds values: GCC 12 spends about 20 MB and a third of a
/// second instantiating a six-alternative variant's machinery in each one (issue 10's
/// compile-time figures), and this class instantiates nothing.
class value {
public:
    value() noexcept {}
    value(std::int64_t i) noexcept : kind_(1) { i_ = i; }
    /// Any other integer (not bool, not a character type) is an integer value.
    template <std::integral I>
        requires(!std::is_same_v<I, bool> && !std::is_same_v<I, std::int64_t>)
    value(I i) noexcept : value(static_cast<std::int64_t>(i)) {}
    value(double d) noexcept : kind_(2) { d_ = d; }
    value(std::string s) noexcept : kind_(3) { new (&s_) std::string(std::move(s)); }
    value(const char* s) : value(std::string(s)) {}
    value(blob b) noexcept : kind_(4) { new (&b_) blob(std::move(b)); }
    value(std::vector<std::int64_t> a) noexcept : kind_(5) { new (&a_) std::vector<std::int64_t>(std::move(a)); }

    value(const value& o) : kind_(0) { copy_from(o); }
    value(value&& o) noexcept : kind_(0) { move_from(o); }
    value& operator=(const value& o) {
        if (this != &o) {
            value copy(o);
            reset();
            move_from(copy);
        }
        return *this;
    }
    value& operator=(value&& o) noexcept {
        if (this != &o) {
            reset();
            move_from(o);
        }
        return *this;
    }
    ~value() { reset(); }

    /// 0 NULL, 1 integer, 2 real, 3 text, 4 blob, 5 integer array (std::variant's numbering).
    std::size_t index() const noexcept { return kind_; }
    bool is_null() const noexcept { return kind_ == 0; }

    friend bool operator==(const value& a, const value& b) noexcept {
        if (a.kind_ != b.kind_) return false;
        switch (a.kind_) {
        case 1: return a.i_ == b.i_;
        case 2: return a.d_ == b.d_;
        case 3: return a.s_ == b.s_;
        case 4: return a.b_ == b.b_;
        case 5: return a.a_ == b.a_;
        default: return true;
        }
    }

    /// std::variant's order: by index, then by the alternatives' own `<` (keys sorted and
    /// deduplicated, std::map<value, ...>).
    friend bool operator<(const value& a, const value& b) noexcept {
        if (a.kind_ != b.kind_) return a.kind_ < b.kind_;
        switch (a.kind_) {
        case 1: return a.i_ < b.i_;
        case 2: return a.d_ < b.d_;
        case 3: return a.s_ < b.s_;
        case 4: return a.b_ < b.b_;
        case 5: return a.a_ < b.a_;
        default: return false;
        }
    }

    /// The alternative T (one of the five), or null if the value holds another.
    template <class T>
    const T* if_holds() const noexcept {
        if (kind_ != kind_of<T>()) return nullptr;
        return static_cast<const T*>(storage());
    }
    template <class T>
    T* if_holds() noexcept {
        if (kind_ != kind_of<T>()) return nullptr;
        return static_cast<T*>(const_cast<void*>(storage()));
    }

private:
    template <class T>
    static constexpr unsigned char kind_of() noexcept {
        if constexpr (std::is_same_v<T, std::int64_t>) return 1;
        else if constexpr (std::is_same_v<T, double>) return 2;
        else if constexpr (std::is_same_v<T, std::string>) return 3;
        else if constexpr (std::is_same_v<T, blob>) return 4;
        else {
            static_assert(std::is_same_v<T, std::vector<std::int64_t>>,
                          "loadstar::value holds std::int64_t, double, std::string, blob or std::vector<std::int64_t>");
            return 5;
        }
    }
    const void* storage() const noexcept {
        switch (kind_) {
        case 1: return &i_;
        case 2: return &d_;
        case 3: return &s_;
        case 4: return &b_;
        default: return &a_;
        }
    }
    void reset() noexcept {
        switch (kind_) {
        case 3: s_.~basic_string(); break;
        case 4: b_.~vector(); break;
        case 5: a_.~vector(); break;
        default: break;
        }
        kind_ = 0;
    }
    // Both assume *this holds nothing (kind_ 0).
    void copy_from(const value& o) {
        switch (o.kind_) {
        case 1: i_ = o.i_; break;
        case 2: d_ = o.d_; break;
        case 3: new (&s_) std::string(o.s_); break;
        case 4: new (&b_) blob(o.b_); break;
        case 5: new (&a_) std::vector<std::int64_t>(o.a_); break;
        default: break;
        }
        kind_ = o.kind_;
    }
    void move_from(value& o) noexcept {
        switch (o.kind_) {
        case 1: i_ = o.i_; break;
        case 2: d_ = o.d_; break;
        case 3: new (&s_) std::string(std::move(o.s_)); break;
        case 4: new (&b_) blob(std::move(o.b_)); break;
        case 5: new (&a_) std::vector<std::int64_t>(std::move(o.a_)); break;
        default: break;
        }
        kind_ = o.kind_;
    }

    unsigned char kind_ = 0;
    union {
        std::int64_t i_;
        double d_;
        std::string s_;
        blob b_;
        std::vector<std::int64_t> a_;
    };
};

/// The alternative T of `v` (std::get_if's shape), or null.
template <class T>
const T* get_if(const value* v) noexcept {
    return v ? v->if_holds<T>() : nullptr;
}
template <class T>
T* get_if(value* v) noexcept {
    return v ? v->if_holds<T>() : nullptr;
}

namespace detail {
/// get<>() of an alternative the value does not hold.
[[noreturn]] LOADSTAR_DECL void bad_value_access(std::size_t held);
template <std::size_t I>
using value_alternative = std::conditional_t<
    I == 1, std::int64_t,
    std::conditional_t<I == 2, double,
                       std::conditional_t<I == 3, std::string, std::conditional_t<I == 4, blob, std::vector<std::int64_t>>>>>;
}  // namespace detail

/// The alternative T of `v`; a loadstar::error if it holds another (std::get's shape).
template <class T>
const T& get(const value& v) {
    if (const T* p = v.if_holds<T>()) return *p;
    detail::bad_value_access(v.index());
}
/// The alternative at index I (1 to 5) of `v`.
template <std::size_t I>
    requires(I >= 1 && I <= 5)
const detail::value_alternative<I>& get(const value& v) {
    using T = detail::value_alternative<I>;
    if (const T* p = v.if_holds<T>()) return *p;
    detail::bad_value_access(v.index());
}

/// A short, printable rendering of a value for echo and diagnostics (long text is shortened).
LOADSTAR_DECL std::string to_display(const value& v);

namespace detail {
/// Appends a copy of v to a statement's values (out of line: the copy and the vector's growth
/// are compiled once, not in every expression that binds a value).
LOADSTAR_DECL void append_value(std::vector<value>& out, const value& v);
}  // namespace detail

}  // namespace loadstar

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/value.ipp>
#endif
