// loadstar/impl/cycle_registry.ipp - the debug registry's entries: register, move, unregister.
// Included by detail/cycle_registry.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/cycle_registry.hpp>

namespace loadstar::detail {

LOADSTAR_DECL bool cycle_register(const void* holder, cycle_probe_fn probe) noexcept {
    try {
        auto& r = cycle_registry::get();
        std::lock_guard<std::mutex> lock(r.mutex);
        r.holders.insert_or_assign(holder, probe);
        if (!r.report_armed) r.report_armed = std::atexit(&report_cycles_at_exit<>) == 0;
        return true;
    } catch (...) {
        return false;
    }
}

LOADSTAR_DECL bool cycle_rekey(const void* from, const void* to) noexcept {
    auto& r = cycle_registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto node = r.holders.extract(from);
    if (node.empty()) return false;
    node.key() = to;
    r.holders.insert(std::move(node));  // the size it had: no rehash
    return true;
}

// std::mutex::lock throws only on a broken system; an entry left behind would dangle, so that
// ends the program, as noexcept does.
LOADSTAR_DECL void cycle_unregister(const void* holder) noexcept {
    auto& r = cycle_registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.holders.erase(holder);
}

}  // namespace loadstar::detail
