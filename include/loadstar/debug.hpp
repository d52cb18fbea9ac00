// loadstar/debug.hpp - finding shared_ptr cycles the program built by hand and let go of.
//
// Holders own what is assigned to them outside a session (`c->post = p` on new objects), so
// `p->comments.push_back(c); c->post = p;` is a shared_ptr cycle until a session adds the two
// (the flush binds them and turns `c->post` weak). A graph never added leaks. Debug builds
// (LOADSTAR_CHECK_CYCLES, on unless NDEBUG) register every holder that owns something outside
// a session, and can name the cycles no pointer of the program reaches any more:
//
//     loadstar::debug::unreachable_cycles()  // {"Comment.post <-> Post.comments"}
//     loadstar::debug::collect_cycles()      // breaks them: the objects are freed
//
// and, at exit, a cycle still unreachable is reported on stderr. The counting is CPython's
// cycle collector's: an object whose use_count() exceeds the references from the other
// candidates' holders is held by the program (a root); what the roots reach is kept.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/cycle_registry.hpp>
#include <loadstar/detail/holder_tables.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/detail/sweep_graph.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/relationship.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loadstar::detail {

/// The candidates of one scan: the registered holders' owners and targets that hold each
/// other, and the strong holder references among them, counted by the session's sweep graph
/// (sweep_graph.hpp): the scan's own reference to each candidate is the one a node starts with.
struct cycle_scan {
    struct node {
        std::shared_ptr<const void> obj;  // keeps it alive while the scan runs
        const holder_hooks* hooks;        // its strong holder references (edges), emptying them (clear)
    };
    struct pair {
        std::size_t a, b;
        std::string text;  // "Comment.post <-> Post.comments"
    };
    std::vector<node> nodes;  // in the order of graph.nodes
    sweep_graph graph;
    std::vector<pair> pairs;

    /// The candidate `p` (an object of the entity `h` describes): its node.
    LOADSTAR_DECL std::size_t add(const std::shared_ptr<void>& p, const holder_hooks& h);
    /// Nodes a and b (a == b: an object holding itself) are such a pair.
    LOADSTAR_DECL void found_pair(std::size_t a, std::size_t b, const std::string& owner_rel,
                                  const std::string& target_rel);
    /// Adds every candidate's strong holder references, then marks what the program reaches.
    void mark();
    bool reached(std::size_t i) const { return graph.nodes[i].reached; }
    /// One line per relationship pair whose objects nothing outside the cycles reaches, sorted.
    std::vector<std::string> unreachable() const;
};

/// Probes the holder at `holder` (of kind `kind`, whose targets `target` describes): each
/// target's related objects whose member it is and that it holds back are a pair of the scan.
LOADSTAR_DECL void probe_holder(const void* holder, const holder_kind& kind, const holder_hooks& target,
                                cycle_scan& scan);

/// (A translation unit that does not see T's mapping instantiates a probe that finds nothing;
/// the report then misses that holder's cycles: include the mappings with the holders.)
template <class H>
void cycle_probe(const void* holder, cycle_scan& scan) {
    using T = typename H::element_type;
    if constexpr (mapped_entity<T>) probe_holder(holder, holder_kind_of<H>::table, holder_hooks_of<T>::table, scan);
    else (void)holder, (void)scan;
}

/// Probes every registered holder (under the registry's lock) and marks what the program
/// reaches. The scan keeps its candidates alive: let it go outside any lock.
LOADSTAR_DECL cycle_scan scan_cycles();

}  // namespace loadstar::detail

namespace loadstar::debug {

/// The relationship pairs ("Comment.post <-> Post.comments", sorted, each once) of the
/// shared_ptr cycles among objects no pointer of the program reaches: cycles built by hand
/// outside any session (or kept by holders after their session closed) and then let go of.
/// Empty when LOADSTAR_CHECK_CYCLES is 0. Reads the holders of those objects: call it while
/// no other thread changes relationship holders.
LOADSTAR_DECL std::vector<std::string> unreachable_cycles();

/// Breaks the cycles unreachable_cycles() names (empties the holders of every object in them,
/// so they are freed); returns how many objects that frees. Same threading rule.
LOADSTAR_DECL std::size_t collect_cycles();

}  // namespace loadstar::debug

namespace loadstar::detail {
/// At exit: reports on stderr the cycles the program let go of. Armed (std::atexit) by the
/// first holder that registers (cycle_registry.hpp), so a translation unit that includes the
/// headers compiles no exit code of its own.
template <class>
void report_cycles_at_exit() noexcept {
    try {
        const auto cycles = debug::unreachable_cycles();
        if (cycles.empty()) return;
        std::string msg = "loadstar: objects leaked by shared_ptr cycles no pointer of the program reaches, through:";
        for (const auto& c : cycles) msg += "\n  " + c;
        msg += "\n(built by hand outside a session, or held across the session's close: break one side, e.g. "
               "clear() the collection or assign nullptr, before letting go; see the README's Ownership)\n";
        std::fputs(msg.c_str(), stderr);
    } catch (...) {
    }
}
}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/debug.ipp>
#endif
