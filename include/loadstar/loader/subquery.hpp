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

/// The subquery load of relationship I of E; the child plan is `rd.child`.
template <class E, std::size_t I>
struct subquery_load {
    using R = typename entity_meta<E>::template relationship_t<I>;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    using key_type = typename K::key_type;

    /// Between claiming the holders and running the statement.
    struct job final : followup_job {
        const rel_desc* rd = nullptr;
        std::vector<E*> owners;
        tail ct;
        std::string sql;
        bool may_repeat = true;  // the statement can deliver one (owner, child) pair twice
        void requests(std::vector<prefetch_request>& out) const override {
            if (!owners.empty()) out.push_back({sql, ct.params});
        }
        void end(load_context& ctx) override { run(ctx, *this); }
    };

    /// The statement, given the child tail: "FROM (SELECT <parent key> AS k FROM ...) AS anon_d
    /// JOIN child ON ...", selecting the key, the child's columns and its eager joins.
    static std::string sql(const plan_desc& cp, const tail& ct) {
        return "SELECT anon_" + std::to_string(ct.depth) + ".k, " + cp.cols + " " + ct.sql + cp.joins;
    }
    /// The key source and the statement, from the parents' tail (what begin computes, before
    /// the parents' rows are read).
    static void prefetch(const rel_desc& rd, const tail& t, tail& ct, std::string& text) {
        ct = child_tail<E, I>(t);
        text = sql(*rd.child, ct);
    }

    /// Claims the holders this load fills (among `objs`, whose rows `t` selects).
    static std::unique_ptr<followup_job> begin(load_context&, const rel_desc& rd, const void* objs, const tail* t) {
        auto j = std::make_unique<job>();
        j->rd = &rd;
        j->owners = claim<E, I>(*static_cast<const std::vector<ptr<E>>*>(objs));
        if (j->owners.empty()) return j;
        prefetch(rd, *t, j->ct, j->sql);
        j->may_repeat = t->may_repeat || rd.may_repeat;
        return j;
    }

    /// Runs the statement; each row's child goes straight into its owners' holders.
    static void run(load_context& ctx, job& job) {
        if (job.owners.empty()) return;
        const plan_desc& cp = *job.rd->child;
        load_node<T> cn(cp, cp.eager);  // see lazy.hpp
        // The owners by key (a many-to-one's owners share keys).
        std::unordered_multimap<key_type, E*> by_key;
        by_key.reserve(job.owners.size());
        for (E* o : job.owners) {
            key_type k{};
            if (K::parent_key(*o, k)) by_key.emplace(k, o);
            else holder_access<typename R::holder>::clear(o->*(R::member));
        }
        const tail* next = cp.uses_tail ? &job.ct : nullptr;
        entity_loader<T>::run(ctx, job.sql, job.ct.params, 1, cp, cn, next, [&](statement& st, const ptr<T>& child) {
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
