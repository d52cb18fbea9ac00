// loadstar/impl/names.ipp - identifier quoting.
// Included by detail/names.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/names.hpp>

namespace loadstar::detail {

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

}  // namespace loadstar::detail
