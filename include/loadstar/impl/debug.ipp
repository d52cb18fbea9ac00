// loadstar/impl/debug.ipp - the cycle report: scanning the registered holders.
// Included by debug.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/debug.hpp>

namespace loadstar::detail {

LOADSTAR_DECL void cycle_scan::mark() {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        strong_edges(*nodes[i].hooks, nodes[i].obj.get(), graph);
        graph.nodes[i].uses = nodes[i].obj.use_count();  // the scan's own copy included
    }
    graph.mark();
}

LOADSTAR_DECL std::size_t cycle_scan::add(const std::shared_ptr<void>& p, const holder_hooks& h) {
    // Its use_count() is read in mark(), when the probes' temporaries are gone.
    const auto [i, fresh] = graph.add_node(p.get(), 0);
    if (fresh) nodes.push_back({std::shared_ptr<const void>(p), &h});
    return i;
}

LOADSTAR_DECL void probe_holder(const void* holder, const holder_kind& kind, const holder_hooks& target,
                                cycle_scan& scan) {
    if (kind.link(const_cast<void*>(holder)).core) return;  // bound: the session owns and sweeps it
    std::vector<std::shared_ptr<void>> targets;
    kind.strong_items(holder, targets);
    std::vector<std::shared_ptr<void>> owners;
    for (const auto& t : targets) {
        // Which of the target's related objects has `holder` as a member?
        for (const holder_walk& back : target.rels) {
            const holder_hooks& owner_hooks = back.target_hooks();
            owners.clear();
            back.kind->strong_items(back.at(t.get()), owners);
            for (const auto& owner : owners)
                for (const holder_walk& w : owner_hooks.rels)
                    if (w.at(owner.get()) == holder) {
                        const std::size_t a = scan.add(owner, owner_hooks);
                        scan.found_pair(a, scan.add(t, target), w.name(), back.name());
                    }
        }
    }
}

LOADSTAR_DECL void cycle_scan::found_pair(std::size_t a, std::size_t b, const std::string& owner_rel,
                                          const std::string& target_rel) {
    if (a == b) pairs.push_back({a, b, owner_rel + " (an object holding itself)"});
    else
        pairs.push_back({a, b, owner_rel < target_rel ? owner_rel + " <-> " + target_rel
                                                      : target_rel + " <-> " + owner_rel});
}

LOADSTAR_DECL std::vector<std::string> cycle_scan::unreachable() const {
    std::vector<std::string> out;
    for (const auto& p : pairs)
        if (!reached(p.a) && !reached(p.b)) out.push_back(p.text);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

LOADSTAR_DECL cycle_scan scan_cycles() {
    cycle_scan scan;
    auto& r = cycle_registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    for (const auto& [holder, probe] : r.holders) probe(holder, scan);
    scan.mark();
    return scan;
}

}  // namespace loadstar::detail

namespace loadstar::debug {

LOADSTAR_DECL std::vector<std::string> unreachable_cycles() {
    std::vector<std::string> out;
    {
        auto scan = detail::scan_cycles();
        out = scan.unreachable();
    }  // the scan's references go outside the registry's lock (a last one unregisters)
    return out;
}

LOADSTAR_DECL std::size_t collect_cycles() {
    auto scan = detail::scan_cycles();
    std::size_t n = 0;
    for (std::size_t i = 0; i < scan.nodes.size(); ++i)
        if (!scan.reached(i)) {
            detail::clear_holders(*scan.nodes[i].hooks, const_cast<void*>(scan.nodes[i].obj.get()));
            ++n;
        }
    return n;
}

}  // namespace loadstar::debug
