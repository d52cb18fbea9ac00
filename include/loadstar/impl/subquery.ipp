// loadstar/impl/subquery.ipp - the subquery strategy, ordinary code over a relationship's
// rel_ops. Included by loader/subquery.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/impl/loader_keys.ipp>
#include <loadstar/loader/subquery.hpp>

namespace loadstar::detail {

/// A subquery load between claiming its holders and running its statement; Key: the kind of
/// the relationship's keys (64-bit integer, or value).
template <class Key>
struct subquery_job final : followup_job {
    const rel_desc* rd = nullptr;
    std::vector<void*> owners;
    tail ct;
    std::string sql;
    bool may_repeat = true;  // the statement can deliver one (owner, child) pair twice

    void requests(std::vector<prefetch_request>& out) const override {
        if (!owners.empty()) out.push_back({sql, ct.params});
    }
    /// Runs the statement; each row's child goes straight into its owners' holders.
    void end(load_context& ctx) override {
        if (owners.empty()) return;
        const rel_ops& r = *rd->ops;
        const plan_desc& cp = *rd->child;
        // The owners by key (a many-to-one's owners share keys).
        key_multimap<Key, void*> by_key;
        reserve_keys(by_key, owners.size());
        for (void* o : owners) {
            Key k{};
            if (owner_key(r, o, k)) by_key.emplace(std::move(k), o);
            else r.holder->clear(o);
        }
        const tail* next = cp.uses_tail ? &ct : nullptr;
        auto on_row = [&](statement& st, const void* child) {
            if (!child) return;
            Key k{};
            read_rel_key(r, st, 0, k);
            for (auto [it, end] = by_key.equal_range(k); it != end; ++it) r.attach(it->second, child, may_repeat);
        };
        r.target->run(ctx, sql, ct.params, 1, cp, next, on_row);
        mark_loaded(r, owners);
    }
};

LOADSTAR_DECL void subquery_prefetch(const rel_desc& rd, const tail& t, tail& ct, std::string& sql) {
    ct = child_tail(*rd.names, t);
    sql = "SELECT anon_" + std::to_string(ct.depth) + ".k, " + rd.child->cols + " " + ct.sql + rd.child->joins;
}

template <class Key>
std::unique_ptr<followup_job> subquery_start(const rel_desc& rd, const object_list& objs, const tail* t) {
    auto j = std::make_unique<subquery_job<Key>>();
    j->rd = &rd;
    j->owners = rd.ops->claim(objs);
    if (j->owners.empty()) return j;
    subquery_prefetch(rd, *t, j->ct, j->sql);
    j->may_repeat = t->may_repeat || rd.may_repeat;
    return j;
}

template <class>
std::unique_ptr<followup_job> subquery_begin(load_context&, const rel_desc& rd, const object_list& objs, const tail* t) {
    if (rd.ops->int_keys) return subquery_start<std::int64_t>(rd, objs, t);
    return subquery_start<value>(rd, objs, t);
}
#if defined(LOADSTAR_SEPARATE_COMPILATION)
template std::unique_ptr<followup_job> subquery_begin<>(load_context&, const rel_desc&, const object_list&, const tail*);
#endif

}  // namespace loadstar::detail
