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
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace loadstar::detail {

/// What the refresh of one entity's objects needs (built once per entity: refresh_slot_of<E>).
struct refresh_info {
    const table_info* table;
    const plan_desc* plan;    // the entity's default plan
    const entity_ops* ops;    // runs its statements
    std::string prefix;       // SELECT columns FROM table [default joins] WHERE table.pk
    bool with_tail = false;   // the default plan has subquery loads: each batch sends its keys
};
LOADSTAR_DECL refresh_info make_refresh_info(const table_info& t, const plan_desc& p, const entity_ops& ops);
/// The statements of a refresh, one per batch (`r.ops->run` hydrates one over the objects of
/// the map; a tail over the batch's keys goes with it where the default plan has subquery
/// loads), adding each object read to `seen`.
LOADSTAR_DECL void run_refresh(load_context& ctx, const refresh_info& r, const std::vector<batch>& batches,
                               std::unordered_set<const void*>& seen);

/// Every object of map `m` read again (populate_existing hydrates into the object the map holds
/// for the row's key); the objects whose rows are gone leave the map and the session. Ordinary
/// code per key type (the 64-bit one compiled once, in src.hpp, when compiled separately).
template <class K>
void refresh_map(session_core& s, keyed_map<K>& m, const refresh_info& r) {
    if (m.objects.empty()) return;
    std::vector<K> keys;
    keys.reserve(m.objects.size());
    for (auto& [k, e] : m.objects) keys.push_back(k);
    load_context ctx{s, /*tracked*/ true, /*dedupe*/ true, /*populate_existing*/ true, {}, {}};
    std::vector<batch> batches;
    selectin_batches(ctx, std::move(keys), r.prefix, 500, batches);
    std::unordered_set<const void*> seen;
    run_refresh(ctx, r, batches, seen);
    for (auto it = m.objects.begin(); it != m.objects.end();) {
        map_entry& e = it->second;
        if (seen.count(e.obj.get())) {
            ++it;
            continue;
        }
        m.detach(e.obj.get());
        s.forget_changes_of(e.obj.get());
        m.replace_snapshot(e, nullptr);  // its space is dead (compact reclaims it)
        it = m.objects.erase(it);
    }
}
#if defined(LOADSTAR_SEPARATE_COMPILATION)
extern template void refresh_map<std::int64_t>(session_core&, keyed_map<std::int64_t>&, const refresh_info&);
#endif

/// Where an entity's refresh_info lives (refresh_slot_of<E>): constant data per entity, the
/// info built at first use (refresh_info_of, under the once_flag) and kept for the program's
/// life (reachable from the slot: no leak).
struct refresh_slot {
    desc_slot* plan;        // the entity's default plan
    const entity_ops* ops;  // its table and its statements
    std::once_flag once{};
    const refresh_info* info = nullptr;
};
LOADSTAR_DECL const refresh_info& refresh_info_of(refresh_slot& slot);

template <class E>
struct entity_ops_for;  // loader.hpp
template <class E>
inline constinit refresh_slot refresh_slot_of{&desc_slot_of<default_plan<E>>, &entity_ops_for<E>::table};

/// After a rollback (identity_map<E>::refresh_all): per entity only its slot.
template <class E>
struct refresher {
    static void refresh_all(session_core& s, identity_map<E>& m) {
        // A mapping no INSERT order can satisfy was reported once (insert_cycle_check): the
        // loads below would only report it again for every entity they reach.
        if constexpr (insertable<E>) refresh_map(s, m, refresh_info_of(refresh_slot_of<E>));
        else (void)s, (void)m;
    }
};

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/refresh.ipp>
#endif
