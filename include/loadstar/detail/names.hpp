// loadstar/detail/names.hpp - readable names for entities and members, for error messages.
// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace loadstar::detail {

// The compilers spell the template argument in __PRETTY_FUNCTION__ ("[with auto M = &Author::books]"
// on gcc, "[M = &Author::books]" on clang); that is the only portable-enough reflection of a
// member's name before C++26.
template <auto M>
constexpr std::string_view raw_member_name() {
    std::string_view f = __PRETTY_FUNCTION__;
    auto start = f.find("M = ");
    if (start == std::string_view::npos) return "?";
    start += 4;
    auto end = f.find_first_of(";]", start);
    auto s = f.substr(start, end - start);
    if (!s.empty() && s.front() == '&') s.remove_prefix(1);
    return s;
}

/// "Author.books" for `&Author::books` (namespaces dropped).
template <auto M>
const std::string& member_name() {
    static const std::string name = [] {
        std::string_view s = raw_member_name<M>();
        const auto last = s.rfind("::");
        if (last == std::string_view::npos) return std::string(s);
        const auto prev = s.rfind("::", last == 0 ? 0 : last - 1);
        std::string_view cls = prev == std::string_view::npos || prev >= last ? s.substr(0, last) : s.substr(prev + 2, last - prev - 2);
        return std::string(cls) + "." + std::string(s.substr(last + 2));
    }();
    return name;
}

template <class T>
constexpr std::string_view raw_type_name() {
    std::string_view f = __PRETTY_FUNCTION__;
    auto start = f.find("T = ");
    if (start == std::string_view::npos) return "?";
    start += 4;
    auto end = f.find_first_of(";]", start);
    return f.substr(start, end - start);
}

template <class T>
const std::string& type_name() {
    static const std::string name = [] {
        std::string_view s = raw_type_name<T>();
        const auto last = s.rfind("::");
        return std::string(last == std::string_view::npos ? s : s.substr(last + 2));
    }();
    return name;
}

/// Quotes an identifier only when it needs it (not lower-case, or a reserved word).
inline std::string quote_ident(std::string_view id) {
    static constexpr std::string_view reserved[] = {
        "all", "and", "as", "asc", "between", "by", "case", "check", "column", "constraint", "create",
        "cross", "default", "delete", "desc", "distinct", "drop", "else", "end", "exists", "from",
        "full", "group", "having", "in", "index", "inner", "insert", "into", "is", "join", "key",
        "left", "like", "limit", "not", "null", "offset", "on", "or", "order", "outer", "primary",
        "references", "right", "select", "set", "table", "then", "to", "union", "unique", "update",
        "user", "using", "values", "when", "where", "with"};
    bool plain = !id.empty() && !(id[0] >= '0' && id[0] <= '9');
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) plain = false;
    if (plain)
        for (auto r : reserved)
            if (r == id) plain = false;
    if (plain) return std::string(id);
    std::string out = "\"";
    for (char c : id) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

}  // namespace loadstar::detail
