// loadstar/unit/cascade.hpp - what a change to a relationship holder means for the unit of
// work: the writes at flush (cascade_changed) and, at once, the pending state of a new target
// and the back_populates side kept in step (back_link).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/associate.hpp>
#include <loadstar/unit/common.hpp>
#include <loadstar/unit/insert.hpp>
#include <loadstar/unit/update.hpp>

#include <algorithm>
#include <memory>
#include <vector>

namespace loadstar::detail {

/// At flush, for an owner whose relationship I was modified: write the adds and removes
/// (write_changes, impl/insert.ipp).
template <class E, std::size_t I>
void cascade_changed(session_core& s, void* owner, const std::shared_ptr<void>& original) {
    write_changes(s, write_table<E>(), write_rel_for<E, I>::table, owner, original);
}

/// Makes a transient object pending (session::add without its checks): see back_link.
template <class T>
void adopt_pending(session_core& s, const ptr<T>& obj) {
    if (entity_state<T>::is_persistent(s, *obj) || s.deleted_set.count(obj.get())) return;
    if (s.pending_set.insert(obj.get()).second) {
        try {
            s.pending.push_back({obj, &save_erased<T>});
        } catch (...) {
            s.pending_set.erase(obj.get());
            throw;
        }
    }
}

/// In memory, at once: `jane->books.push_back(emma)` sets `emma->author`; `emma->author = jane`
/// appends to `jane->books` if that collection is loaded.
template <class E, std::size_t I>
void back_link(session_core& s, void* owner, const void* item, bool added) {
    if (s.flushing) return;  // a flush writes the links it makes; it does not echo them
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    if constexpr (weak_target<E, I>()) {
        // The save-update cascade, at once: a new object assigned to a holder that holds its
        // target weakly is pending from now on, so the session owns it until the flush makes
        // it persistent (the identity map owns it then). Without this nothing would.
        const ptr<T>& target = *static_cast<const ptr<T>*>(item);
        if (added && target) adopt_pending(s, target);
    }
    if constexpr (R::back::present) {
        const ptr<T>& other = *static_cast<const ptr<T>*>(item);
        if (!other) return;
        ptr<E> self = entity_state<E>::persistent_ptr(s, static_cast<E*>(owner));
        if (!self) return;
        auto& back = (*other).*(R::back::member);
        using BH = std::remove_cvref_t<decltype(back)>;
        if constexpr (holder_traits<BH>::is_one) {
            // The parent is persistent (the identity map owns it): hold it weakly at once where
            // that relationship is held weakly, so no cycle forms even if this is never flushed.
            weaken<T, entity_meta<T>::template relationship_of<R::back::member>()>(back);
            if (added) {
                holder_access<BH>::set(back, self);
                holder_access<BH>::link(back).state = holder_state::loaded;
            } else if (holder_access<BH>::items(back) == self) {
                holder_access<BH>::clear(back);
            }
        } else {
            if (!back.loaded()) return;
            // Never invalidates a loop over that collection (see many<T>::begin).
            holder_access<BH>::relink(back, self, added);
        }
    } else {
        (void)s;
        (void)owner;
        (void)item;
        (void)added;
    }
}

}  // namespace loadstar::detail
