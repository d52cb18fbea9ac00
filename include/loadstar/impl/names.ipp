// loadstar/impl/names.ipp - identifier quoting.
// Included by detail/names.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/names.hpp>

namespace loadstar::detail {

LOADSTAR_DECL std::string dotted_member_name(std::string_view s) {
    const auto last = s.rfind("::");
    if (last == std::string_view::npos) return std::string(s);
    const auto prev = s.rfind("::", last == 0 ? 0 : last - 1);
    std::string_view cls = prev == std::string_view::npos || prev >= last ? s.substr(0, last) : s.substr(prev + 2, last - prev - 2);
    return std::string(cls) + "." + std::string(s.substr(last + 2));
}

LOADSTAR_DECL std::string short_type_name(std::string_view s) {
    const auto last = s.rfind("::");
    return std::string(last == std::string_view::npos ? s : s.substr(last + 2));
}

LOADSTAR_DECL std::string quote_ident(std::string_view id) {
    bool plain = !id.empty() && !(id[0] >= '0' && id[0] <= '9');
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) plain = false;
    if (plain && is_sql_keyword(id)) plain = false;
    if (plain) return std::string(id);
    std::string out = "\"";
    for (char c : id) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

LOADSTAR_DECL std::string dotted_name(std::string_view a, std::string_view b) {
    std::string s;
    s.reserve(a.size() + 1 + b.size());
    s.append(a).append(1, '.').append(b);
    return s;
}

LOADSTAR_DECL std::string qualified_name(std::string_view table, std::string_view column) {
    return quote_ident(table) + "." + quote_ident(column);
}

}  // namespace loadstar::detail
