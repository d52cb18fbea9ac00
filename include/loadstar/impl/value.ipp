// loadstar/impl/value.ipp - printing a value (echo, diagnostics).
// Included by value.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/value.hpp>

namespace loadstar {

LOADSTAR_DECL void detail::append_value(std::vector<value>& out, const value& v) { out.push_back(v); }

LOADSTAR_DECL std::string to_display(const value& v) {
    struct visitor {
        std::string operator()(std::monostate) const { return "NULL"; }
        std::string operator()(std::int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const { return std::to_string(d); }
        std::string operator()(const std::string& s) const {
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
        std::string operator()(const blob& b) const { return "<blob " + std::to_string(b.size()) + " bytes>"; }
        std::string operator()(const std::vector<std::int64_t>& a) const {
            std::string out = "{";
            for (std::size_t i = 0; i < a.size() && i < 10; ++i) out += (i ? "," : "") + std::to_string(a[i]);
            if (a.size() > 10) out += ",...(" + std::to_string(a.size()) + ")";
            return out + "}";
        }
    };
    return std::visit(visitor{}, v);
}

}  // namespace loadstar
