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

#include <loadstar/detail/config.hpp>

#include <cstdlib>
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
    bool report_armed = false;  // report_cycles_at_exit is registered with std::atexit

    static cycle_registry& get() {
        static cycle_registry* r = new cycle_registry;  // reachable from here: not a leak
        return *r;
    }
};
/// The report of the cycles left at exit, defined in debug.hpp (a template, so that a header
/// that includes only this one declares it without defining it; every translation unit whose
/// holders register includes debug.hpp through mapping.hpp).
template <class = void>
void report_cycles_at_exit() noexcept;
/// False if it could not register (out of memory): a cycle missed by the report, nothing else.
/// The first registration arms the report at exit.
LOADSTAR_DECL bool cycle_register(const void* holder, cycle_probe_fn probe) noexcept;
/// A registered holder moved to `to`: the registration moves with it, without allocating (the
/// map's node is reused; holder moves never allocate). False if `from` was not registered.
LOADSTAR_DECL bool cycle_rekey(const void* from, const void* to) noexcept;
/// Called by holders that registered (whatever LOADSTAR_CHECK_CYCLES says here: a holder
/// registered in a translation unit with checks may be destroyed in one without).
LOADSTAR_DECL void cycle_unregister(const void* holder) noexcept;

}  // namespace loadstar::detail

namespace loadstar::detail {

/// A holder's place in the registry: one flag (a holder has the same size with checks on or
/// off), and what one<T> and many<T> do with it. The holder decides when it owns something
/// outside a session and passes itself and its probe.
class cycle_registration {
public:
    bool registered() const noexcept { return on_; }
    /// Registers `holder` once (holders call it in debug builds only).
    void track(const void* holder, cycle_probe_fn probe) noexcept {
        if (!on_) on_ = cycle_register(holder, probe);
    }
    void untrack(const void* holder) noexcept {
        if (on_) {
            cycle_unregister(holder);
            on_ = false;
        }
    }
    /// A move from the holder at `from` to the one at `to` (this is `to`'s registration): the
    /// entry moves here, without allocating.
    void take(cycle_registration& from_reg, const void* from, const void* to) noexcept {
        if (from_reg.on_ && !on_) {
            on_ = cycle_rekey(from, to);
            from_reg.on_ = false;
        }
    }

private:
    bool on_ = false;
};

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/cycle_registry.ipp>
#endif
