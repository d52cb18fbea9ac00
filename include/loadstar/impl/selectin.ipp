// loadstar/impl/selectin.ipp - the statements of a selectin load (and of a refresh) over a set
// of keys. Included by loader/selectin.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/selectin.hpp>

#include <algorithm>

namespace loadstar::detail {

/// `IN (?, ...)` batches of the n keys key(0) .. key(n - 1).
template <class KeyAt>
void in_list_batches(const dialect& d, std::size_t n, KeyAt key, const std::string& head, std::size_t batch_size,
                     std::vector<batch>& out) {
    const std::size_t size = std::max<std::size_t>(1, std::min(batch_size, d.max_bind_parameters));
    for (std::size_t b = 0; b < n; b += size) {
        const std::size_t e = std::min(n, b + size);
        const std::size_t len = in_list_length(e - b, size);
        batch bt;
        bt.keys_sql.reserve(6 + 3 * len);
        bt.keys_sql += " IN (";
        bt.params.reserve(len);
        for (std::size_t j = 0; j < len; ++j) {
            bt.keys_sql += j == 0 ? "?" : ", ?";
            bt.params.push_back(key(std::min(b + j, e - 1)));
        }
        bt.keys_sql += ')';
        bt.sql = head + bt.keys_sql;
        out.push_back(std::move(bt));
    }
}

LOADSTAR_DECL void selectin_batches(load_context& ctx, std::vector<std::int64_t> keys, const std::string& head,
                                    std::size_t batch_size, std::vector<batch>& out) {
    if (keys.empty()) return;
    const dialect& d = ctx.s.eng->sql_dialect();
    if (d.supports_arrays) {
        out.push_back({head + " = ANY(?)", {value{std::move(keys)}}, " = ANY(?)"});
        return;
    }
    in_list_batches(d, keys.size(), [&](std::size_t i) { return value{keys[i]}; }, head, batch_size, out);
}

LOADSTAR_DECL void selectin_batches(load_context& ctx, const std::vector<value>& keys, const std::string& head,
                                    std::size_t batch_size, std::vector<batch>& out) {
    if (keys.empty()) return;
    in_list_batches(ctx.s.eng->sql_dialect(), keys.size(), [&](std::size_t i) { return keys[i]; }, head, batch_size,
                    out);
}

LOADSTAR_DECL std::string selectin_prefix(const rel_names& r, const plan_desc& cp) {
    const std::string t = quote_ident(r.target);
    const std::string s = secondary_name(r);
    if (r.kind == relation::belongs_to) return "SELECT " + cp.cols + " FROM " + t + cp.joins + " WHERE " + child_key_sql(r, t, s);
    return "SELECT " + child_key_sql(r, t, s) + ", " + cp.cols + " FROM " + from_child(r, t, s) + cp.joins + " WHERE " +
           child_key_sql(r, t, s);
}

LOADSTAR_DECL tail selectin_tail(const rel_names& r, const batch& b) {
    const std::string t = quote_ident(r.target);
    const std::string s = secondary_name(r);
    const std::string from = r.kind == relation::belongs_to ? t : from_child(r, t, s);
    tail ct;
    ct.sql = "FROM " + from + " WHERE " + child_key_sql(r, t, s) + b.keys_sql;
    ct.params = b.params;
    ct.may_repeat = r.kind == relation::many_to_many;
    return ct;
}

}  // namespace loadstar::detail
