// loadstar/impl/joined.ipp - a plan's statement columns and the joined strategy's joins and
// follow-ups. Included by loader/joined.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/joined.hpp>

namespace loadstar::detail {

LOADSTAR_DECL void build_sql(const plan_desc& p, std::string& cols, std::string& joins, int& counter,
                              const std::string& alias) {
    for (std::size_t i = 0; i < p.columns.size(); ++i) {
        if (p.any_deferred && p.sel[i] < 0) continue;
        if (!cols.empty()) cols += ", ";
        cols += alias + "." + quote_ident(p.columns[i]);
    }
    for (const rel_desc& r : p.rels)
        if (r.joined) joined_sql(r, cols, joins, counter, alias);
}

LOADSTAR_DECL void joined_sql(const rel_desc& rd, std::string& cols, std::string& joins, int& counter,
                              const std::string& alias) {
    const plan_desc& cp = *rd.child;
    const rel_names& r = *rd.names;
    if (rd.kind == load_kind::joined) {
        const int n = ++counter;
        const std::string c = quote_ident(std::string(r.target) + "_" + std::to_string(n));
        std::string s;
        if (r.kind == relation::many_to_many) s = quote_ident(std::string(r.secondary) + "_" + std::to_string(n));
        joins += join_sql(r, "LEFT OUTER JOIN", c, s, parent_key_sql(r, alias));
        build_sql(cp, cols, joins, counter, c);
    } else {
        // contains_eager: the columns come from the query's explicit join of the target's table.
        build_sql(cp, cols, joins, counter, quote_ident(r.target));
    }
}

LOADSTAR_DECL void joined_followups(load_context& ctx, const rel_desc& rd, load_node& cn, const tail* t) {
    if (rd.child->uses_tail) {
        tail ct = child_tail(*rd.names, *t);
        post_load(ctx, *rd.child, cn, &ct);
    } else {
        post_load(ctx, *rd.child, cn, nullptr);
    }
}

}  // namespace loadstar::detail
