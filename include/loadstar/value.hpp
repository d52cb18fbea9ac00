// loadstar/value.hpp - the values that travel between loadstar and a driver.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace loadstar {

/// A BLOB column's C++ type.
using blob = std::vector<std::byte>;

/// One bound parameter: NULL, integer, real, text, blob, or an integer array (PostgreSQL
/// `= ANY($1)`). Values are always bound, never spliced into SQL text.
using value = std::variant<std::monostate, std::int64_t, double, std::string, blob,
                           std::vector<std::int64_t>>;

/// A short, printable rendering of a value for echo and diagnostics (long text is shortened).
LOADSTAR_DECL std::string to_display(const value& v);

namespace detail {
/// Appends a copy of v to a statement's values (out of line: the variant's copy and the
/// vector's growth are compiled once, not in every expression that binds a value).
LOADSTAR_DECL void append_value(std::vector<value>& out, const value& v);
}  // namespace detail

}  // namespace loadstar

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/value.ipp>
#endif
