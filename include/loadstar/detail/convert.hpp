// loadstar/detail/convert.hpp - C++ column types <-> bound values and typed, checked reads.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/deferred.hpp>
#include <loadstar/detail/type_list.hpp>
#include <loadstar/driver.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/value.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace loadstar::detail {

using time_point = std::chrono::system_clock::time_point;

enum class sql_type { smallint, integer, bigint, boolean, real, double_, text, blob, timestamp };

/// The C++ types a column may have (optional<T> of each is the nullable form).
template <class T>
inline constexpr bool is_scalar_column_v =
    std::is_same_v<T, bool> || (std::is_integral_v<T> && !std::is_same_v<T, char> &&
                                !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char8_t> &&
                                !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>) ||
    std::is_floating_point_v<T> || std::is_same_v<T, std::string> || std::is_same_v<T, blob> ||
    std::is_same_v<T, time_point>;

template <class T>
inline constexpr bool is_column_type_v = is_scalar_column_v<unwrap_optional_t<unwrap_deferred_t<T>>>;

template <class T>
constexpr sql_type sql_type_of() {
    using V = unwrap_optional_t<unwrap_deferred_t<T>>;
    if constexpr (std::is_same_v<V, bool>) return sql_type::boolean;
    else if constexpr (std::is_integral_v<V>) {
        // The narrowest type holding every value: uint16 (to 65535) does not fit SMALLINT.
        if constexpr (sizeof(V) == 1 || (sizeof(V) == 2 && std::is_signed_v<V>)) return sql_type::smallint;
        else if constexpr (sizeof(V) == 2 || (sizeof(V) == 4 && std::is_signed_v<V>)) return sql_type::integer;
        else return sql_type::bigint;
    } else if constexpr (std::is_same_v<V, float>) return sql_type::real;
    else if constexpr (std::is_floating_point_v<V>) return sql_type::double_;
    else if constexpr (std::is_same_v<V, std::string>) return sql_type::text;
    else if constexpr (std::is_same_v<V, blob>) return sql_type::blob;
    else return sql_type::timestamp;
}

inline const std::string& type_name(const dialect& d, sql_type t) {
    switch (t) {
    case sql_type::smallint: return d.type_smallint;
    case sql_type::integer: return d.type_integer;
    case sql_type::bigint: return d.type_bigint;
    case sql_type::boolean: return d.type_boolean;
    case sql_type::real: return d.type_real;
    case sql_type::double_: return d.type_double;
    case sql_type::text: return d.type_text;
    case sql_type::blob: return d.type_blob;
    default: return d.type_timestamp;
    }
}

// ---- time points: ISO-8601 text in UTC with microseconds, "YYYY-MM-DD HH:MM:SS.ffffff" -----

LOADSTAR_DECL std::string format_time(time_point tp);

LOADSTAR_DECL bool parse_time(std::string_view s, time_point& out);

// ---- C++ value -> bound value ---------------------------------------------------------------

template <class T>
value to_value(const T& v) {
    if constexpr (is_deferred_v<T>) {
        return to_value(v.get());
    } else if constexpr (is_optional_v<T>) {
        if (!v) return value{};
        return to_value(*v);
    } else if constexpr (std::is_same_v<T, bool>) {
        return value{std::int64_t{v ? 1 : 0}};
    } else if constexpr (std::is_integral_v<T>) {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
            if (v > static_cast<T>(std::numeric_limits<std::int64_t>::max()))
                throw conversion_error("loadstar: unsigned value " + std::to_string(v) +
                                       " does not fit a 64-bit signed SQL integer");
        }
        return value{static_cast<std::int64_t>(v)};
    } else if constexpr (std::is_floating_point_v<T>) {
        return value{static_cast<double>(v)};
    } else if constexpr (std::is_same_v<T, time_point>) {
        return value{format_time(v)};
    } else if constexpr (std::is_same_v<T, blob>) {
        return value{v};
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        return value{std::string(std::string_view(v))};
    } else {
        static_assert(dependent_false<T>, "loadstar: this type cannot be bound as a SQL value");
    }
}

// ---- typed, checked reads -------------------------------------------------------------------

inline const char* kind_name(column_kind k) {
    switch (k) {
    case column_kind::null: return "NULL";
    case column_kind::integer: return "INTEGER";
    case column_kind::real: return "REAL";
    case column_kind::text: return "TEXT";
    default: return "BLOB";
    }
}

[[noreturn]] LOADSTAR_DECL void bad_read(std::string_view where, column_kind k, std::string_view into,
                                         std::string_view detail = {});

template <class T>
constexpr std::string_view cpp_name() {
    if constexpr (std::is_same_v<T, bool>) return "bool";
    else if constexpr (std::is_integral_v<T>) {
        if constexpr (std::is_signed_v<T>) {
            if constexpr (sizeof(T) == 1) return "int8_t";
            else if constexpr (sizeof(T) == 2) return "int16_t";
            else if constexpr (sizeof(T) == 4) return "int32_t";
            else return "int64_t";
        } else {
            if constexpr (sizeof(T) == 1) return "uint8_t";
            else if constexpr (sizeof(T) == 2) return "uint16_t";
            else if constexpr (sizeof(T) == 4) return "uint32_t";
            else return "uint64_t";
        }
    } else if constexpr (std::is_same_v<T, float>) return "float";
    else if constexpr (std::is_floating_point_v<T>) return "double";
    else if constexpr (std::is_same_v<T, std::string>) return "std::string";
    else if constexpr (std::is_same_v<T, blob>) return "blob";
    else return "time_point";
}

// ---- bound value -> C++ value ----------------------------------------------------------------

/// A value of another column (a key copied from a parent, a generated key, NULL) stored into
/// a member: what the flush's ordinary code writes through table_info::set. Only what
/// to_value gives back converts; anything else is a conversion_error naming the type.
[[noreturn]] LOADSTAR_DECL void bad_assign(std::string_view into, const value& v);

template <class T>
void assign_value(T& out, const value& v) {
    if constexpr (is_deferred_v<T>) {
        assign_value(holder_access<T>::items(out), v);
        holder_access<T>::link(out).state = holder_state::loaded;
    } else if constexpr (is_optional_v<T>) {
        if (v.index() == 0) {
            out.reset();
        } else {
            typename T::value_type x{};
            assign_value(x, v);
            out = std::move(x);
        }
    } else if constexpr (std::is_integral_v<T>) {
        const auto* i = get_if<std::int64_t>(&v);
        if (!i) bad_assign(cpp_name<T>(), v);
        if constexpr (std::is_same_v<T, bool>) {
            out = *i != 0;
        } else {
            if (!std::in_range<T>(*i)) bad_assign(cpp_name<T>(), v);
            out = static_cast<T>(*i);
        }
    } else if constexpr (std::is_floating_point_v<T>) {
        if (const auto* d = get_if<double>(&v)) out = static_cast<T>(*d);
        else if (const auto* i = get_if<std::int64_t>(&v)) out = static_cast<T>(*i);
        else bad_assign(cpp_name<T>(), v);
    } else if constexpr (std::is_same_v<T, time_point>) {
        const auto* s = get_if<std::string>(&v);
        if (!s || !parse_time(*s, out)) bad_assign("time_point", v);
    } else if constexpr (std::is_same_v<T, blob>) {
        const auto* b = get_if<blob>(&v);
        if (!b) bad_assign("blob", v);
        out = *b;
    } else {
        const auto* s = get_if<std::string>(&v);
        if (!s) bad_assign("std::string", v);
        out = *s;
    }
}

template <class T>
void read_value(statement& st, int c, T& out, std::string_view where);

/// Reads column `c` of the current row into `out`, or throws conversion_error naming `where`.
/// Never a silent 0, clamp or truncation: SQLite would give all three.
template <class T>
void read_column(statement& st, int c, T& out, std::string_view where) {
    if constexpr (is_deferred_v<T>) {
        read_column(st, c, holder_access<T>::items(out), where);
        holder_access<T>::link(out).state = holder_state::loaded;
    } else {
        read_value(st, c, out, where);
    }
}

/// Reads a non-optional value into `out`; false (out untouched) if the column is NULL.
/// Integer and text columns ask the driver for kind and value in one call.
template <class T>
bool read_present(statement& st, int c, T& out, std::string_view where) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        std::int64_t v = 0;
        const column_kind k = st.read_int(c, v);
        if (k == column_kind::null) return false;
        if (k != column_kind::integer) bad_read(where, k, cpp_name<T>());
        if constexpr (std::is_signed_v<T>) {
            if constexpr (!std::is_same_v<T, std::int64_t>)
                if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
                    bad_read(where, k, cpp_name<T>(), std::to_string(v) + " (out of range)");
        } else {
            if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max())
                bad_read(where, k, cpp_name<T>(), std::to_string(v) + " (out of range)");
        }
        out = static_cast<T>(v);
        return true;
    } else if constexpr (std::is_same_v<T, std::string>) {
        std::string_view v;
        const column_kind k = st.read_text(c, v);
        if (k == column_kind::null) return false;
        if (k != column_kind::text) bad_read(where, k, "std::string");
        out.assign(v);
        return true;
    } else {
        const column_kind k = st.kind(c);
        if (k == column_kind::null) return false;
        if constexpr (std::is_same_v<T, bool>) {
            if (k != column_kind::integer) bad_read(where, k, "bool");
            const auto v = st.get_int(c);
            if (v != 0 && v != 1) bad_read(where, k, "bool", std::to_string(v));
            out = v == 1;
        } else if constexpr (std::is_floating_point_v<T>) {
            double d;
            if (k == column_kind::real) d = st.get_real(c);
            else if (k == column_kind::integer) {
                const std::int64_t v = st.get_int(c);
                d = static_cast<double>(v);
                // Only integers the type holds exactly (|v| <= 2^24 for float, 2^53 for double).
                constexpr std::int64_t exact = std::int64_t{1} << std::numeric_limits<T>::digits;
                if (v > exact || v < -exact)
                    bad_read(where, k, cpp_name<T>(), std::to_string(v) + " (not exact)");
            } else bad_read(where, k, cpp_name<T>());
            if constexpr (std::is_same_v<T, float>) {
                if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max())
                    bad_read(where, k, "float", "(out of range)");
                if (d != 0 && static_cast<float>(d) == 0) bad_read(where, k, "float", "(underflows to 0)");
            }
            out = static_cast<T>(d);
        } else if constexpr (std::is_same_v<T, blob>) {
            if (k != column_kind::blob) bad_read(where, k, "blob");
            const auto b = st.get_blob(c);
            out.assign(b.begin(), b.end());
        } else if constexpr (std::is_same_v<T, time_point>) {
            if (k != column_kind::text) bad_read(where, k, "time_point");
            if (!parse_time(st.get_text(c), out)) bad_read(where, k, "time_point", "(not an ISO-8601 time)");
        } else {
            static_assert(dependent_false<T>, "loadstar: unsupported column type");
        }
        return true;
    }
}

/// read_column for a plain (non-deferred) member: NULL only into a std::optional.
template <class T>
void read_value(statement& st, int c, T& out, std::string_view where) {
    if constexpr (is_optional_v<T>) {
        typename T::value_type v{};
        if (read_present(st, c, v, where)) out = std::move(v);
        else out.reset();
    } else {
        if (!read_present(st, c, out, where))
            bad_read(where, column_kind::null, cpp_name<T>(), "(use std::optional for a nullable column)");
    }
}

/// Reads a key column for grouping (no optional; NULL gives false).
template <class K>
bool read_key(statement& st, int c, K& out, std::string_view where) {
    return read_present(st, c, out, where);
}

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/convert.ipp>
#endif
