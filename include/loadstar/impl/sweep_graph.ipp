// loadstar/impl/sweep_graph.ipp - the sweep's marking (what the program's roots reach).
// Included by detail/sweep_graph.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/sweep_graph.hpp>

namespace loadstar::detail {

LOADSTAR_DECL void sweep_graph::mark() {
    // The edges grouped by source (counting sort): two allocations, not one per node.
    std::vector<std::size_t> first(nodes.size() + 1, 0);
    for (auto [f, t] : edges) ++first[f + 1];
    for (std::size_t i = 0; i < nodes.size(); ++i) first[i + 1] += first[i];
    std::vector<std::size_t> to(edges.size());
    {
        std::vector<std::size_t> fill(first.begin(), first.end() - 1);
        for (auto [f, t] : edges) to[fill[f]++] = t;
    }
    std::vector<std::size_t> stack;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].uses > nodes[i].inner) {
            nodes[i].reached = true;
            stack.push_back(i);
        }
    while (!stack.empty()) {
        const std::size_t i = stack.back();
        stack.pop_back();
        for (std::size_t k = first[i]; k < first[i + 1]; ++k)
            if (const std::size_t t = to[k]; !nodes[t].reached) {
                nodes[t].reached = true;
                stack.push_back(t);
            }
    }
}

}  // namespace loadstar::detail
