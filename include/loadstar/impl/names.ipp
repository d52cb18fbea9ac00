// loadstar/impl/names.ipp - identifier quoting.
// Included by detail/names.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/names.hpp>

#include <mutex>

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

LOADSTAR_DECL const std::string& build_slot(name_slot& slot) {
    static std::mutex lock;  // guards the first build of every slot
    std::lock_guard<std::mutex> hold(lock);
    if (const std::string* v = slot.value.load(std::memory_order_relaxed)) return *v;
    const std::string* v = new std::string(slot.build(slot.a, slot.b));
    slot.value.store(v, std::memory_order_release);
    return *v;
}

LOADSTAR_DECL std::string member_name_of(std::string_view raw, std::string_view) {
    return dotted_member_name(raw);
}

LOADSTAR_DECL std::string type_name_of(std::string_view raw, std::string_view) {
    return short_type_name(raw);
}

LOADSTAR_DECL std::string quoted_name_of(std::string_view id, std::string_view) {
    return quote_ident(id);
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
