// loadstar/detail/cycle_registry.hpp - the debug registry of holders that own their targets
// outside any session (see loadstar/debug.hpp). Debug builds only: with NDEBUG (or
// LOADSTAR_CHECK_CYCLES=0) nothing registers and this header costs a declaration or two.
// SPDX-License-Identifier: MIT
#pragma once

/// 1 (the default without NDEBUG): holders that own a target outside any session register
/// here, so that loadstar::debug::unreachable_cycles() and the report at exit can name the
/// relationships of a cycle the program built by hand and let go of. 0 (the default with
/// NDEBUG): nothing registers. Holders have the same layout either way, so translation units
/// built with different settings can be linked together.
#ifndef LOADSTAR_CHECK_CYCLES
#ifdef NDEBUG
#define LOADSTAR_CHECK_CYCLES 0
#else
#define LOADSTAR_CHECK_CYCLES 1
#endif
#endif

#include <mutex>
#include <unordered_map>
#include <utility>

namespace loadstar::detail {

struct cycle_scan;  // debug.hpp
/// Instantiated for a holder type H (one<T> / many<T>): finds, through the mapping of T, the
/// object whose member the holder at `holder` is and whose target holds it back (debug.hpp).
template <class H>
void cycle_probe(const void* holder, cycle_scan& scan);
using cycle_probe_fn = void (*)(const void*, cycle_scan&);

/// Holder address -> its probe. Guarded by `mutex` (no mutable static without a lock). Never
/// destroyed: holders of static objects unregister during static destruction.
struct cycle_registry {
    std::mutex mutex;
    std::unordered_map<const void*, cycle_probe_fn> holders;

    static cycle_registry& get() {
        static cycle_registry* r = new cycle_registry;  // reachable from here: not a leak
        return *r;
    }
};
/// False if it could not register (out of memory): a cycle missed by the report, nothing else.
inline bool cycle_register(const void* holder, cycle_probe_fn probe) noexcept {
    try {
        auto& r = cycle_registry::get();
        std::lock_guard<std::mutex> lock(r.mutex);
        r.holders.insert_or_assign(holder, probe);
        return true;
    } catch (...) {
        return false;
    }
}
/// A registered holder moved to `to`: the registration moves with it, without allocating (the
/// map's node is reused; holder moves never allocate). False if `from` was not registered.
inline bool cycle_rekey(const void* from, const void* to) noexcept {
    auto& r = cycle_registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto node = r.holders.extract(from);
    if (node.empty()) return false;
    node.key() = to;
    r.holders.insert(std::move(node));  // the size it had: no rehash
    return true;
}
/// Called by holders that registered (whatever LOADSTAR_CHECK_CYCLES says here: a holder
/// registered in a translation unit with checks may be destroyed in one without).
/// (std::mutex::lock throws only on a broken system; an entry left behind would dangle, so
/// that ends the program, as noexcept does.)
inline void cycle_unregister(const void* holder) noexcept {
    auto& r = cycle_registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.holders.erase(holder);
}

}  // namespace loadstar::detail
