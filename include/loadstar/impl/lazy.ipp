// loadstar/impl/lazy.ipp - the lazy strategy, ordinary code over a relationship's rel_ops.
// Included by loader/lazy.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/impl/loader_keys.ipp>
#include <loadstar/loader/lazy.hpp>

#include <iterator>
#include <mutex>
#include <optional>
#include <set>

namespace loadstar::detail {

LOADSTAR_DECL lazy_plan_info lazy_info(const rel_ops& r, const plan_desc& lp) {
    lazy_plan_info i{&r, &lp, lazy_sql(*r.names, lp), {}};
    if (lp.uses_tail) i.tail_sql = lazy_tail_sql(*r.names);
    return i;
}

template <class Key>
void lazy_load_keyed(session_core& s, void* owner, const std::source_location& where, bool note,
                     const lazy_plan_info& info) {
    const rel_ops& r = *info.rel;
    const plan_desc& lp = *info.plan;
    const relation kind = r.names->kind;
    holder_link& link = r.holder->link(owner);
    Key k{};
    if (!owner_key(r, owner, k)) {  // a NULL foreign key: nothing to load
        r.holder->clear(owner);
        link.state = holder_state::loaded;
        return;
    }
    if (kind == relation::belongs_to) {
        if (auto* hit = find_key(*r.target, r.target->session_map(s), k)) {  // identity map first: no SQL
            r.set(owner, hit->obj);
            link.state = holder_state::loaded;
            return;
        }
    }
    if (note) s.note_lazy_load(r.name(), r.to_many, where);
    const value params[] = {value{std::move(k)}};
    tail ct;
    if (lp.uses_tail) {
        ct.sql = info.tail_sql;
        ct.params.assign(std::begin(params), std::end(params));
        ct.may_repeat = kind == relation::many_to_many;
    }
    load_context ctx{s};
    r.holder->clear(owner);
    link.state = holder_state::loading;
    // Whether one key's statement can deliver the same child twice: a link table may list a
    // pair twice, and a child's own joined to-many repeats its row once per grandchild.
    const bool may_repeat = kind == relation::many_to_many || lp.joined_many;
    auto on_row = [&](statement&, const void* child) {
        if (child) r.attach(owner, child, may_repeat);
    };
    r.target->run(ctx, info.sql, std::span<const value>(params), 0, lp, &ct, on_row);
    link.state = holder_state::loaded;
}

/// Loads one unloaded holder with the plan of `info`. `note`: count it for N+1 detection (an
/// implicit load on touch, not an explicit session::load).
template <class = void>
void lazy_load_one(session_core& s, void* owner, const std::source_location& where, bool note,
                   const lazy_plan_info& info) {
    if (info.rel->int_keys) lazy_load_keyed<std::int64_t>(s, owner, where, note, info);
    else lazy_load_keyed<value>(s, owner, where, note, info);
}

LOADSTAR_DECL const lazy_plan_info& lazy_slot_info(lazy_slot& slot) {
    std::call_once(slot.once, [&] { slot.info = new lazy_plan_info(lazy_info(*slot.rel, desc(*slot.plan))); });
    return *slot.info;
}

template <class>
void lazy_touch(session_core& s, const rel_vtable& vt, void* owner, const std::source_location& where) {
    lazy_load_one(s, owner, where, true, lazy_slot_info(*static_cast<lazy_slot*>(vt.data)));
}

template <class>
void lazy_touch_many(session_core& s, const rel_vtable& vt, std::span<void* const> owners,
                     const std::source_location& where) {
    const lazy_plan_info& info = lazy_slot_info(*static_cast<lazy_slot*>(vt.data));
    const rel_ops& r = *info.rel;
    std::vector<value> keys;  // one statement per distinct key not already mapped
    if (s.eng->sql_dialect().pipelining && owners.size() > 1) {
        std::set<value> seen;
        keys.reserve(owners.size());
        identity_map_base* tmap = r.names->kind == relation::belongs_to ? &r.target->session_map(s) : nullptr;
        for (void* owner : owners) {
            value k;
            if (!r.key_value(owner, k)) continue;
            if (tmap && r.target->find_value(*tmap, k)) continue;
            if (seen.insert(k).second) keys.push_back(std::move(k));
        }
    }
    std::vector<prefetch_request> requests;
    requests.reserve(keys.size());
    for (auto& k : keys) requests.push_back({info.sql, std::span<const value>(&k, 1)});
    std::optional<prefetch_scope> scope;
    if (requests.size() > 1) scope.emplace(*s.eng, s.connection(), requests);
    for (void* owner : owners)
        if (r.holder->link(owner).state == holder_state::unloaded) lazy_load_one(s, owner, where, false, info);
}

#if defined(LOADSTAR_SEPARATE_COMPILATION)
template void lazy_touch<>(session_core&, const rel_vtable&, void*, const std::source_location&);
template void lazy_touch_many<>(session_core&, const rel_vtable&, std::span<void* const>, const std::source_location&);
#endif

}  // namespace loadstar::detail
