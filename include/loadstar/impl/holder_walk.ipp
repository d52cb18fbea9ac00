// loadstar/impl/holder_walk.ipp - the walks over an entity's holders (detail/holder_tables.hpp).
// Included by detail/holder_tables.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/holder_tables.hpp>
#include <loadstar/detail/sweep_graph.hpp>
#include <loadstar/relationship.hpp>

namespace loadstar::detail {

LOADSTAR_DECL void unbind_link(holder_link& link) noexcept {
    link.core = nullptr;
    if (link.mode == holder_mode::lazy) link.mode = holder_mode::unbound;
}

LOADSTAR_DECL void detach_holders(const holder_hooks& h, void* obj) noexcept {
    for (auto link : h.deferred) unbind_link(link(obj));
    for (const holder_walk& w : h.rels) unbind_link(w.kind->link(w.at(obj)));
    // An object the program keeps across close() whose mapping can cycle (Ada's courses hold
    // Ada): the program must break such a cycle before letting go; debug builds report it.
    if (h.may_cycle) track_holders(h, obj);
}

LOADSTAR_DECL void strong_edges(const holder_hooks& h, const void* obj, sweep_graph& g) {
    struct edge_to {
        sweep_graph& g;
        const void* from;
    } ctx{g, obj};
    for (const holder_walk& w : h.rels)
        w.kind->strong_addresses(w.at(const_cast<void*>(obj)), [](void* c, const void* to) {
            auto& e = *static_cast<edge_to*>(c);
            e.g.add_edge(e.from, to);
        }, &ctx);
}

LOADSTAR_DECL void clear_holders(const holder_hooks& h, void* obj) noexcept {
    for (const holder_walk& w : h.rels) w.kind->drop_all(w.at(obj));
}

LOADSTAR_DECL void track_holders([[maybe_unused]] const holder_hooks& h, [[maybe_unused]] void* obj) noexcept {
#if LOADSTAR_CHECK_CYCLES
    for (const holder_walk& w : h.rels) w.kind->track(w.at(obj));
#endif
}

LOADSTAR_DECL bool inverse_holds(const holder_walk& w, void* target, const void* obj) noexcept {
    const holder_hooks& t = w.target_hooks();
    struct probe {
        const void* obj;
        bool found;
    } ctx{obj, false};
    for (std::size_t j = 0; j < t.rels.size(); ++j) {
        if (!(w.inverse >> j & 1)) continue;
        const holder_walk& back = t.rels[j];
        back.kind->strong_addresses(back.at(target), [](void* c, const void* item) {
            auto& p = *static_cast<probe*>(c);
            if (item == p.obj) p.found = true;
        }, &ctx);
    }
    return ctx.found;
}

LOADSTAR_DECL void settle_untracked(const holder_hooks& h, void* obj, const sweep_graph& g) noexcept {
    for (const holder_walk& w : h.rels) {
        if (!w.weak) continue;
        void* holder = w.at(obj);
        if (!w.kind->is_weak(holder)) continue;
        const std::shared_ptr<void> target = w.kind->target(holder);
        const bool back = target && inverse_holds(w, target.get(), obj);
        if (!back || !g.reached_node(target.get())) {
            w.kind->make_strong(holder);
            // Reached only through this object (books loaded with their authors and the
            // authors' books): a cycle no session will break. Debug builds report it if the
            // program lets go without breaking it (see debug.hpp).
            if (back) w.kind->track(holder);
        }
    }
    // Debug builds: holders of a mapping that can cycle (a many-to-many mapped on both sides)
    // own their objects outside any session from now on.
    if (h.may_cycle) track_holders(h, obj);
}

LOADSTAR_DECL bool holds_weak_target(const holder_hooks& h, const void* obj) noexcept {
    for (const holder_walk& w : h.rels) {
        if (!w.weak) continue;
        const void* holder = w.at(const_cast<void*>(obj));
        if (w.kind->is_weak(holder) && w.kind->target(holder)) return true;
    }
    return false;
}

// ---- one<T>'s erased entries (detail/holder_walk.hpp) -------------------------------------------

// The holder's address is its one_state's: one<T> is standard-layout (checked where its table
// is built), so the two are pointer-interconvertible.
inline one_state& one_at(void* h) noexcept { return *static_cast<one_state*>(h); }
inline const one_state& one_at(const void* h) noexcept { return *static_cast<const one_state*>(h); }

LOADSTAR_DECL holder_link& one_link(void* h) noexcept { return one_at(h).link_; }
LOADSTAR_DECL void one_clear(void* h) noexcept { one_at(h).set(nullptr); }
LOADSTAR_DECL void one_set(void* h, const std::shared_ptr<void>& child) { one_at(h).set(child); }
LOADSTAR_DECL void one_items(const void* h, std::vector<std::shared_ptr<void>>& out) {
    if (std::shared_ptr<void> p = one_at(h).value()) out.push_back(std::move(p));
}
LOADSTAR_DECL void one_original_items(const std::shared_ptr<void>& original, std::vector<std::shared_ptr<void>>& out) {
    // change_record::original of a to-one: the target it held (one_state::assign).
    if (const auto& p = *static_cast<const std::shared_ptr<void>*>(original.get())) out.push_back(p);
}
LOADSTAR_DECL void one_strong_addresses(const void* h, void (*fn)(void*, const void*), void* ctx) {
    const one_state& o = one_at(h);
    if (!o.weak_mode_ && o.strong_) fn(ctx, o.strong_.get());
}
LOADSTAR_DECL void one_strong_items(const void* h, std::vector<std::shared_ptr<void>>& out) {
    const one_state& o = one_at(h);
    if (!o.weak_mode_ && o.strong_) out.push_back(o.strong_);
}
LOADSTAR_DECL bool one_is_weak(const void* h) noexcept { return one_at(h).weak_mode_; }
LOADSTAR_DECL std::shared_ptr<void> one_target(const void* h) noexcept { return one_at(h).value(); }
LOADSTAR_DECL void one_make_strong(void* h) noexcept { one_at(h).make_strong(); }
LOADSTAR_DECL void one_make_weak(void* h) { one_at(h).make_weak(); }
LOADSTAR_DECL bool one_holds(const void* h, const void* item) {
    const one_state& o = one_at(h);
    return !o.weak_mode_ && o.strong_ && o.strong_.get() == item;
}
LOADSTAR_DECL void one_relink(void* h, const std::shared_ptr<void>& item, bool added) {
    one_state& o = one_at(h);
    if (added) o.set(item);
    else if (o.value() == item) o.set(nullptr);
}

}  // namespace loadstar::detail
