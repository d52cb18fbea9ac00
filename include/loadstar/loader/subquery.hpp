// loadstar/loader/subquery.hpp - the subquery strategy: a second statement selects the children
// joined to the parents' own statement as a subquery of their keys ("tail"), so it needs
// nothing from the parents' rows (and can share their round trip where the driver pipelines).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <string>
#include <unordered_map>
#include <vector>

namespace loadstar::detail {

/// The subquery load of relationship I of the plan's entity.
template <class Plan, std::size_t I>
struct subquery_load {
    using E = typename Plan::entity;
    using RP = rel_plan<Plan, I>;
    using R = typename RP::R;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    using CL = loader<typename RP::child_plan>;
    using key_type = typename K::key_type;

    /// Between claiming the holders and running the statement.
    struct job {
        std::vector<E*> owners;
        tail ct;
        std::string sql;
        bool may_repeat = true;  // the statement can deliver one (owner, child) pair twice
    };

    /// The statement, given the child tail: "FROM (SELECT <parent key> AS k FROM ...) AS anon_d
    /// JOIN child ON ...", selecting the key, the child's columns and its eager joins.
    static std::string sql(const tail& ct) {
        return "SELECT anon_" + std::to_string(ct.depth) + ".k, " + CL::sql().cols + " " + ct.sql + CL::sql().joins;
    }

    /// Claims the holders this load fills (among `objs`, whose rows `t` selects).
    static void begin(const std::vector<ptr<E>>& objs, const tail& t, job& job) {
        job.owners = claim<E, I>(objs);
        if (job.owners.empty()) return;
        job.ct = child_tail<E, I>(t);
        job.sql = sql(job.ct);
        job.may_repeat = t.may_repeat || children_may_repeat<K, typename RP::child_plan>();
    }

    /// Runs the statement; each row's child goes straight into its owners' holders.
    static void end(load_context& ctx, job& job) {
        if (job.owners.empty()) return;
        typename CL::node cn;
        cn.keep_objs = has_eager<typename RP::child_plan>();  // see lazy.hpp
        // The owners by key (a many-to-one's owners share keys).
        std::unordered_multimap<key_type, E*> by_key;
        by_key.reserve(job.owners.size());
        for (E* o : job.owners) {
            key_type k{};
            if (K::parent_key(*o, k)) by_key.emplace(k, o);
            else holder_access<typename R::holder>::clear(o->*(R::member));
        }
        const tail* next = needs_tail<typename RP::child_plan>() ? &job.ct : nullptr;
        CL::run(ctx, job.sql, job.ct.params, 1, cn, next, [&](statement& st, const ptr<T>& child) {
            if (!child) return;
            key_type k{};
            read_column(st, 0, k, "relationship key");
            for (auto [it, end] = by_key.equal_range(k); it != end; ++it)
                attach<R>(it->second->*(R::member), child, job.may_repeat);
        });
        mark_loaded<E, I>(job.owners);
    }
};

}  // namespace loadstar::detail
