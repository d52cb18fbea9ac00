// loadstar/detail/holder_tables.hpp - an entity's relationship holders as constant data, and
// the walks over them that every session and the debug cycle report share: unbinding at
// close, the strong references the close-time sweep counts, emptying the holders of garbage,
// settling the weak many-to-ones of an untracked load, and probing a hand-built cycle. The
// loader and the flush reach holders through the same entries (holder_ops, loader/keys.hpp).
//
// The walks are ordinary code (impl/holder_walk.ipp), compiled once. What stays a template is
// data (detail/holder_walk.hpp): per holder type (many<T>, one<T>) a holder_kind table of small
// functions, per relationship a holder_walk entry (where the holder sits in its owner, its
// kind, whether it is weak, which of the target's relationships are its inverse) and per
// entity a holder_hooks table. Before, each walk was a fold over the relationships
// instantiated per entity, the cycle probe a fold over two entities' relationships per holder
// type, and each relationship had a table of holder functions of its own.
//
// No mapping needed here: debug.hpp, which mapping.hpp includes, uses these.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/sweep_graph.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace loadstar::detail {

struct holder_link;  // relationship.hpp

// ---- the tables ----------------------------------------------------------------------------

/// A holder type (many<T>, one<T>), erased: `h` is the holder. One table per holder type,
/// shared by every relationship that uses it (holder_kind_of<H>).
struct holder_kind {
    holder_link& (*link)(void* h) noexcept = nullptr;
    /// Empties it (a load about to fill it).
    void (*clear)(void* h) noexcept = nullptr;
    /// A loaded child (`const ptr<T>*`): a collection adds it (once, if the statement can
    /// repeat it: `may_repeat`), a to-one is set to it.
    void (*attach)(void* h, const void* child, bool may_repeat) = nullptr;
    /// Adds `child` (a ptr<T>) to a collection, or sets a to-one to it.
    void (*set)(void* h, const std::shared_ptr<void>& child) = nullptr;
    /// The targets it holds (not null), appended to `out`: a copy (the walk may change it).
    void (*items)(const void* h, std::vector<std::shared_ptr<void>>& out) = nullptr;
    /// change_record::original (a std::vector<ptr<T>> or a ptr<T>) as the items it held.
    void (*original_items)(const std::shared_ptr<void>& original, std::vector<std::shared_ptr<void>>& out) = nullptr;
    /// The addresses of the objects it keeps by a strong reference (a collection's items and
    /// the buffers a loop may still walk; a to-one's target unless held weakly).
    void (*strong_addresses)(const void* h, void (*fn)(void* ctx, const void* obj), void* ctx) = nullptr;
    /// The same, as shared pointers appended to `out`.
    void (*strong_items)(const void* h, std::vector<std::shared_ptr<void>>& out) = nullptr;
    /// Drops every reference (the sweep: nothing reaches the owner any more).
    void (*drop_all)(void* h) noexcept = nullptr;
    /// Debug builds: registers an unbound holder that owns objects (see debug.hpp).
    void (*track)(void* h) noexcept = nullptr;
    // A to-one only (null for a collection):
    bool (*is_weak)(const void* h) noexcept = nullptr;
    std::shared_ptr<void> (*target)(const void* h) noexcept = nullptr;  // weak_ptr::lock: no throw
    void (*make_strong)(void* h) noexcept = nullptr;
    void (*make_weak)(void* h) = nullptr;
};

/// What back_populates and the flush do with a holder some relationship names in
/// back_populates (holder_back_of<H>; the others compile none of it).
struct holder_back_kind {
    /// Whether the holder keeps `item` (an object's address) by a strong reference.
    bool (*holds)(const void* h, const void* item) = nullptr;
    /// A to-many adds (or removes) `item` without invalidating a loop over it; a to-one is set
    /// to `item` (or cleared if it holds `item`).
    void (*relink)(void* h, const std::shared_ptr<void>& item, bool added) = nullptr;
    /// A to-one: set to exactly `item` (null allowed).
    void (*assign)(void* h, const std::shared_ptr<void>& item) = nullptr;
};

struct holder_hooks;

/// One relationship holder of an entity (`owner` is an object of the entity): where it sits,
/// its holder type's table, and what the walks need to know of the relationship. The loader
/// and the flush use it as their holder_ops (loader/keys.hpp).
struct holder_walk {
    void* (*at)(void* owner) noexcept = nullptr;  // the holder: a member of `owner`
    const holder_kind* kind = nullptr;
    const holder_back_kind* back = nullptr;  // null unless some relationship names it in back_populates
    const holder_hooks& (*target_hooks)() noexcept = nullptr;  // the target entity's (tables refer to each other)
    const std::string& (*name)() = nullptr;                    // "Comment.post"
    /// A many-to-one held weakly (weak_target): a load or the flush weakens it.
    bool weak = false;
    std::uint64_t inverse = 0;  // bit j: the target's relationship j is this one's inverse

    void* holder(const void* owner) const noexcept { return at(const_cast<void*>(owner)); }
    holder_link& link(void* owner) const noexcept { return kind->link(at(owner)); }
    void clear(void* owner) const noexcept { kind->clear(at(owner)); }
    /// Holds the target weakly (only where `weak`).
    void weaken(void* owner) const { kind->make_weak(at(owner)); }
    void items(const void* owner, std::vector<std::shared_ptr<void>>& out) const { kind->items(holder(owner), out); }
    void original_items(const std::shared_ptr<void>& original, std::vector<std::shared_ptr<void>>& out) const {
        kind->original_items(original, out);
    }
    /// A to-one: its target (null if none).
    std::shared_ptr<void> target(const void* owner) const noexcept { return kind->target(holder(owner)); }
    // Only where `back`:
    bool holds(const void* owner, const void* item) const { return back->holds(holder(owner), item); }
    void relink(void* owner, const std::shared_ptr<void>& item, bool added) const {
        back->relink(at(owner), item, added);
    }
    void assign(void* owner, const std::shared_ptr<void>& item) const { back->assign(at(owner), item); }
};

/// An entity's holders, as constant data (holder_hooks_of<E>::table).
struct holder_hooks {
    std::span<const holder_walk> rels;                                  // in mapping order
    std::span<holder_link& (*const)(void* owner) noexcept> deferred;    // its deferred columns' links
    bool may_cycle = false;                                             // strong_cycle
    bool any_weak = false;                                              // maps a weak many-to-one
};

// ---- the walks (impl/holder_walk.ipp): `obj` is an object of the entity `h` describes ----------

/// Unbinds every holder from its session (a lazy holder becomes unbound).
LOADSTAR_DECL void detach_holders(const holder_hooks& h, void* obj) noexcept;
/// Adds the strong holder references of `obj` to `g` (the close-time sweep).
LOADSTAR_DECL void strong_edges(const holder_hooks& h, const void* obj, sweep_graph& g);
/// Empties every holder (garbage the sweep found).
LOADSTAR_DECL void clear_holders(const holder_hooks& h, void* obj) noexcept;
/// Debug builds: registers the holders that own objects outside any session.
LOADSTAR_DECL void track_holders(const holder_hooks& h, void* obj) noexcept;
/// At the end of an untracked load (no session owns its objects): a weak many-to-one keeps
/// its target weakly only where the target's inverse collection holds this object (the two
/// would keep each other alive) and what the program holds (the load's results) reaches the
/// target through owning holders (`g`); anywhere else it owns its target again.
LOADSTAR_DECL void settle_untracked(const holder_hooks& h, void* obj, const sweep_graph& g) noexcept;
/// Whether `target`'s collections inverse to walk `w` (of obj's entity) hold `obj` strongly.
LOADSTAR_DECL bool inverse_holds(const holder_walk& w, void* target, const void* obj) noexcept;
/// A holder unbound from its session (a lazy one becomes unbound).
LOADSTAR_DECL void unbind_link(holder_link& link) noexcept;
/// Whether one of obj's weak many-to-ones holds a target (settle_untracked needs the sweep
/// graph only for those: a weak holder without a target just owns its next one).
LOADSTAR_DECL bool holds_weak_target(const holder_hooks& h, const void* obj) noexcept;

/// The typed tables (holder_walk.hpp).
template <class H>
struct holder_kind_of;
template <class H>
struct holder_back_of;
template <class E>
struct holder_hooks_of;

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/holder_walk.ipp>
#endif
