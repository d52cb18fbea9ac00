// loadstar/unit/refresh.hpp - after a rollback: every object of the identity map read again
// (its columns and the default loads of its relationships), and the ones whose rows are gone
// forgotten. Runs the loader's statements itself: the write path does not go back through the
// query builder.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/selectin.hpp>
#include <loadstar/unit/common.hpp>
#include <loadstar/unit/rows.hpp>

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

namespace loadstar::detail {

/// "SELECT columns FROM table [default joins] WHERE table.pk": the statement of a refresh up
/// to its key condition (the batches add `IN (?, ...)` or `= ANY(?)`).
LOADSTAR_DECL std::string refresh_prefix(const table_info& t, const plan_desc& p);
/// The statements of a refresh, one per batch (`run` hydrates one; a tail over the batch's
/// keys goes with it where the default plan has subquery loads), adding each object read
/// to `seen`.
LOADSTAR_DECL void run_refresh(load_context& ctx, const table_info& t, const std::vector<batch>& batches, bool with_tail,
                               void (*run)(load_context&, const batch&, const tail*, std::unordered_set<const void*>&),
                               std::unordered_set<const void*>& seen);

template <class E>
struct refresher {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    using L = entity_loader<E>;

    static const std::string& prefix() {
        static const std::string text = refresh_prefix(table_of<E>(), desc_of<default_plan<E>>());
        return text;
    }

    static void refresh_all(session_core& s, identity_map<E>& m) {
        // A mapping no INSERT order can satisfy was reported once (insert_cycle_check): the
        // loads below would only report it again for every entity they reach.
        if constexpr (insertable<E>) refresh(s, m);
        else (void)s, (void)m;
    }

private:
    /// One statement of the refresh: the rows of `b` hydrated over the objects of the map.
    static void run_batch(load_context& ctx, const batch& b, const tail* t, std::unordered_set<const void*>& seen) {
        const plan_desc& p = desc_of<default_plan<E>>();
        load_node<E> n(p);
        L::run(ctx, b.sql, b.params, 0, p, n, t, [&](statement&, const ptr<E>& obj) {
            if (obj) seen.insert(obj.get());
        });
    }

    static void refresh(session_core& s, identity_map<E>& m) {
        if (m.objects.empty()) return;
        std::vector<pk_type> keys;
        keys.reserve(m.objects.size());
        for (auto& [k, e] : m.objects) keys.push_back(k);
        load_context ctx{s, /*tracked*/ true, /*dedupe*/ true, /*populate_existing*/ true, {}, {}};
        std::vector<batch> batches;
        selectin_batches(ctx, keys, prefix(), 500, batches);
        // The rows read: the objects of the map found again (populate_existing hydrates into
        // the object the map holds for the row's key).
        std::unordered_set<const void*> seen;
        run_refresh(ctx, table_of<E>(), batches, needs_tail<default_plan<E>>(), &run_batch, seen);
        for (auto it = m.objects.begin(); it != m.objects.end();) {
            if (seen.count(it->second.obj.get())) {
                ++it;
                continue;
            }
            detach_holders(m.object(it->second));
            s.forget_changes_of(it->second.obj.get());
            it = m.objects.erase(it);
        }
    }
};

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/refresh.ipp>
#endif
