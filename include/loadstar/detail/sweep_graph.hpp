// loadstar/detail/sweep_graph.hpp - the counting behind both cycle checks: the session's sweep
// at close() / expunge_all() (session_core.hpp) and the debug report of cycles built by hand
// (debug.hpp). The counting is CPython's cycle collector's: a node whose use_count() exceeds
// the references the graph itself accounts for is held by the program (a root); what the
// roots reach through strong holders is kept, the rest is garbage.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/dense_map.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace loadstar::detail {

/// The objects, the strong holder references between them, and which of them the program
/// reaches.
struct sweep_graph {
    struct node {
        long uses;   // use_count() of the pointer the caller holds the object by
        long inner;  // references accounted for: the caller's own one, and other nodes' holders
        bool reached = false;
    };
    dense_map<const void*, std::size_t> index;  // an object's node (no allocation per object)
    std::vector<node> nodes;
    std::vector<std::pair<std::size_t, std::size_t>> edges;

    /// Adds `obj` (once; `uses` counts the caller's own reference) and returns its node and
    /// whether it is new.
    std::pair<std::size_t, bool> add_node(const void* obj, long uses) {
        const auto [it, fresh] = index.emplace(obj, nodes.size());
        if (fresh) nodes.push_back({uses, 1});
        return {it->second, fresh};
    }
    /// A strong reference from `from`'s holders to `to` (ignored unless both are nodes).
    void add_edge(const void* from, const void* to) {
        auto f = index.find(from);
        auto t = index.find(to);
        if (f == index.end() || t == index.end()) return;
        ++nodes[t->second].inner;
        edges.emplace_back(f->second, t->second);
    }
    /// Roots: nodes referenced from outside the graph (the program holds them). Marks
    /// everything the roots reach through strong holders.
    void mark();
    /// Reached, or not a node (nothing the sweep may touch).
    bool reached(const void* obj) const {
        auto it = index.find(obj);
        return it == index.end() || nodes[it->second].reached;
    }
    /// A node the roots reach.
    bool reached_node(const void* obj) const {
        auto it = index.find(obj);
        return it != index.end() && nodes[it->second].reached;
    }
};

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/sweep_graph.ipp>
#endif
