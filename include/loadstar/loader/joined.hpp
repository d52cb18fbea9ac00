// loadstar/loader/joined.hpp - the joined strategy (and contains_eager): the children come in
// the parents' own statement, through a LEFT OUTER JOIN (or the query's own join), so they add
// columns and joins to it; their follow-up loads hang off the same statement.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <string>

namespace loadstar::detail {

/// The joined (or contains-eager) load of relationship I of E; the child plan is `rd.child`.
template <class E, std::size_t I>
struct joined_load {
    using K = rel_keys<E, I>;

    /// Adds the children's columns and joins to a statement whose parent rows are `alias`;
    /// `counter` numbers the aliases of the statement's joins.
    static void sql(const rel_desc& rd, std::string& cols, std::string& joins, int& counter, const std::string& alias) {
        const plan_desc& cp = *rd.child;
        if (rd.kind == load_kind::joined) {
            const int n = ++counter;
            const std::string c = quote_ident(std::string(K::tmeta::table_name()) + "_" + std::to_string(n));
            std::string s;
            if constexpr (K::kind == relation::many_to_many) s = quote_ident(std::string(K::key.table) + "_" + std::to_string(n));
            joins += K::join_sql("LEFT OUTER JOIN", c, s, K::parent_key_sql(alias));
            cp.build_sql(cp, cols, joins, counter, c);
        } else {
            // contains_eager: the columns come from the query's explicit join of the target's table.
            cp.build_sql(cp, cols, joins, counter, quote_ident(K::tmeta::table_name()));
        }
    }

    /// The follow-up loads of the children this statement hydrated (`cn`), given the tail of
    /// the parents' rows when a subquery load below needs it.
    static void followups(load_context& ctx, const rel_desc& rd, node_base& cn, const tail* t) {
        if (rd.child->uses_tail) {
            tail ct = child_tail<E, I>(*t);
            post_load(ctx, *rd.child, cn, &ct);
        } else {
            post_load(ctx, *rd.child, cn, nullptr);
        }
    }
};

}  // namespace loadstar::detail
