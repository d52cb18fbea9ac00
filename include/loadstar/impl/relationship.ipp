// loadstar/impl/relationship.ipp - touching an unloaded holder (relationship.hpp): the same
// code for every holder type, so compiled once (src.hpp) when compiled separately.
// Included by relationship.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/relationship.hpp>

#include <memory>
#include <source_location>
#include <string>

namespace loadstar::detail {

LOADSTAR_DECL void touch(holder_link& link, const std::source_location& where, const char* via) {
    if (link.mode == holder_mode::raise)
        throw raise_load_error("loadstar: " + (link.vt ? link.vt->name() : std::string("relationship")) +
                               " is not loaded and its loader strategy is raise (touched " +
                               (via ? std::string("through ") + via +
                                          ", which cannot report its caller's line: touch it with "
                                          "get() or at() to have the line reported)"
                                    : std::string("at ") + where.file_name() + ":" +
                                          std::to_string(where.line()) + ")"));
    if (!link.core || !link.vt) {
        throw detached_error("loadstar: " + (link.vt ? link.vt->name() : std::string("a relationship")) +
                             " is not loaded and its object is not attached to an open session");
    }
    link.vt->lazy_load(*link.core, *link.vt, link.owner, where);
}

LOADSTAR_DECL std::shared_ptr<void> one_state::target_via(const std::source_location& w, const char* via) const {
    if (link_.needs_load()) [[unlikely]]
        touch(link_, w, via);
    if (!weak_mode_) return strong_;
    std::shared_ptr<void> p = weak_.lock();
    if (!p && has_target_) [[unlikely]]
        throw detached_error("loadstar: " + (link_.vt ? link_.vt->name() : std::string("a relationship")) +
                             ": the related object is no longer alive (the session that held it is closed "
                             "and nothing else holds it); keep a ptr to it or query it again");
    return p;
}

LOADSTAR_DECL void one_state::copy_from(const one_state& o) {
    strong_ = o.value();
    has_target_ = strong_ != nullptr;
    link_.state = o.link_.state == holder_state::loaded ? holder_state::loaded : holder_state::unloaded;
}

LOADSTAR_DECL void one_state::move_from(one_state& o) noexcept {
    strong_ = o.value();
    has_target_ = strong_ != nullptr;
    link_.state = o.link_.state == holder_state::loaded ? holder_state::loaded : holder_state::unloaded;
    if (!o.link_.core) {
        registered_.take(o.registered_, &o, this);  // no allocation for the registry
        o.set(nullptr);
    }
}

LOADSTAR_DECL void one_state::assign(std::shared_ptr<void> p) {
    if (link_.core) {
        if (link_.state != holder_state::loaded) (void)target_via(std::source_location::current(), nullptr);  // the original, for the flush
        const std::shared_ptr<void> old = value();
        if (!link_.recorded) record_change(link_, this, std::make_shared<std::shared_ptr<void>>(old));
        if (old && old != p) note_linked(link_, old, false);
    } else if (weak_mode_) {
        // Not bound to an open session (never bound, expunged, or its session closed):
        // nothing else owns what is assigned now, so the holder owns it again.
        weak_mode_ = false;
        weak_.reset();
    }
    // `p` keeps the target alive until back_populates ran: a weak holder does not, and a
    // new target becomes pending there (the session owns it from then on).
    set(p);
    link_.state = holder_state::loaded;
    if (link_.core && p) note_linked(link_, p, true);
    if (link_.core) untrack();  // the caller tracks an unbound holder (debug builds)
}

LOADSTAR_DECL void one_state::move_assign(one_state& o) {
    if (!link_.core && !o.link_.core) registered_.take(o.registered_, &o, this);  // no allocation for the registry
    assign(o.value());
    if (!o.link_.core) o.set(nullptr);
}

LOADSTAR_DECL void one_state::set(std::shared_ptr<void> p) noexcept {
    if (!p) untrack();
    has_target_ = p != nullptr;
    if (weak_mode_) {
        weak_ = p;
        strong_.reset();
    } else {
        strong_ = std::move(p);
    }
}

LOADSTAR_DECL void one_state::make_strong() noexcept {
    if (!weak_mode_) return;
    strong_ = weak_.lock();
    weak_.reset();
    weak_mode_ = false;
}

LOADSTAR_DECL void one_state::make_weak() noexcept {
    if (weak_mode_) return;
    untrack();
    weak_mode_ = true;
    weak_ = strong_;
    strong_.reset();
}

}  // namespace loadstar::detail
