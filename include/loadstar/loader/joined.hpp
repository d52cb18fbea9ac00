// loadstar/loader/joined.hpp - the joined strategy (and contains_eager): the children come in
// the parents' own statement, through a LEFT OUTER JOIN (or the query's own join), so they add
// columns and joins to it; their follow-up loads hang off the same statement.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <string>

namespace loadstar::detail {

/// The joined (or contains-eager) load of relationship I of the plan's entity.
template <class Plan, std::size_t I>
struct joined_load {
    using E = typename Plan::entity;
    using RP = rel_plan<Plan, I>;
    using K = rel_keys<E, I>;
    using CL = loader<typename RP::child_plan>;

    /// Adds the children's columns and joins to a statement whose parent rows are `alias`;
    /// `counter` numbers the aliases of the statement's joins.
    static void sql(std::string& cols, std::string& joins, int& counter, const std::string& alias) {
        if constexpr (RP::kind == load_kind::joined) {
            const int n = ++counter;
            const std::string c = quote_ident(std::string(K::tmeta::table_name()) + "_" + std::to_string(n));
            std::string s;
            if constexpr (K::kind == relation::many_to_many) s = quote_ident(std::string(K::key.table) + "_" + std::to_string(n));
            joins += K::join_sql("LEFT OUTER JOIN", c, s, K::parent_key_sql(alias));
            CL::build_sql(cols, joins, counter, c);
        } else {
            // contains_eager: the columns come from the query's explicit join of the target's table.
            CL::build_sql(cols, joins, counter, quote_ident(K::tmeta::table_name()));
        }
    }

    /// The follow-up loads of the children this statement hydrated (`cn`), given the tail of
    /// the parents' rows when a subquery load below needs it.
    static void followups(load_context& ctx, typename CL::node& cn, const tail* t) {
        if constexpr (needs_tail<typename RP::child_plan>()) {
            tail ct = child_tail<E, I>(*t);
            CL::post_load(ctx, cn, &ct);
        } else {
            (void)t;
            CL::post_load(ctx, cn, nullptr);
        }
    }
};

}  // namespace loadstar::detail
