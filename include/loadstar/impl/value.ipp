// loadstar/impl/value.ipp - printing a value (echo, diagnostics).
// Included by value.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/errors.hpp>
#include <loadstar/value.hpp>

#include <string>

namespace loadstar {

LOADSTAR_DECL void detail::append_value(std::vector<value>& out, const value& v) { out.push_back(v); }

LOADSTAR_DECL void detail::bad_value_access(std::size_t held) {
    static constexpr const char* names[] = {"NULL", "an integer", "a real", "text", "a blob", "an integer array"};
    throw error(std::string("loadstar: get<>() of a value that holds ") + names[held < 6 ? held : 0] +
                ", not the alternative asked for");
}

LOADSTAR_DECL std::string to_display(const value& v) {
    switch (v.index()) {
    case 1: return std::to_string(get<1>(v));
    case 2: return std::to_string(get<2>(v));
    case 3: {
        const std::string& s = get<3>(v);
        std::string out = "'";
        const std::size_t limit = 60;
        for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
            const char c = s[i];
            if (c == '\'') out += "''";
            else if (static_cast<unsigned char>(c) < 0x20) out += "\\x" + std::to_string(static_cast<int>(c));
            else out += c;
        }
        if (s.size() > limit) out += "...(" + std::to_string(s.size()) + " bytes)";
        return out + "'";
    }
    case 4: return "<blob " + std::to_string(get<4>(v).size()) + " bytes>";
    case 5: {
        const auto& a = get<5>(v);
        std::string out = "{";
        for (std::size_t i = 0; i < a.size() && i < 10; ++i) out += (i ? "," : "") + std::to_string(a[i]);
        if (a.size() > 10) out += ",...(" + std::to_string(a.size()) + ")";
        return out + "}";
    }
    default: return "NULL";
    }
}

}  // namespace loadstar
