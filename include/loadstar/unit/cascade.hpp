// loadstar/unit/cascade.hpp - what a change to a relationship holder means for the unit of
// work: the writes at flush (cascade_changed) and, at once, the pending state of a new target
// and the back_populates side kept in step (back_link).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/associate.hpp>
#include <loadstar/unit/common.hpp>
#include <loadstar/unit/delete.hpp>
#include <loadstar/unit/insert.hpp>
#include <loadstar/unit/update.hpp>

#include <algorithm>
#include <memory>
#include <vector>

namespace loadstar::detail {

/// At flush, for an owner whose relationship I was modified: write the adds and removes.
template <class E, std::size_t I>
void cascade_changed(session_core& s, void* owner, const std::shared_ptr<void>& original) {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    ptr<E> obj = entity_state<E>::persistent_ptr(s, static_cast<E*>(owner));
    if (!obj) return;  // pending (its save writes its holders) or no longer in this session
    auto& h = (*obj).*(R::member);
    if constexpr (R::to_many) {
        const auto& before = *std::static_pointer_cast<std::vector<ptr<T>>>(original);
        const auto now = holder_access<typename R::holder>::items(h);
        auto in = [](const std::vector<ptr<T>>& v, const ptr<T>& x) { return std::find(v.begin(), v.end(), x) != v.end(); };
        for (const auto& c : now) {
            if (!c || in(before, c)) continue;
            if constexpr (R::kind == relation::many_to_many) {
                if (!inserter<E>::template saved_with_link<I>(s, *obj, c)) associate<E, I>(s, *obj, *c, true);
            } else {
                inserter<E>::template adopt<I>(s, obj, *c);
                inserter<T>::save(s, c);
            }
        }
        for (const auto& c : before) {
            if (!c || in(now, c)) continue;
            if constexpr (R::kind == relation::many_to_many) {
                if (entity_state<T>::is_persistent(s, *c)) associate<E, I>(s, *obj, *c, false);
            } else if constexpr (R::delete_orphan) {
                deleter<T>::remove(s, c);
            } else {
                auto& fk = (*c).*(K::key);
                using F = std::remove_cvref_t<decltype(fk)>;
                if constexpr (is_optional_v<F>) {
                    if (fk && *fk == (*obj).*(meta::pk_member)) set_undoable(s, fk, F{});
                } else {
                    // Decided once every change was seen: the child may have moved to another
                    // parent in the same flush.
                    const auto parent_key = (*obj).*(meta::pk_member);
                    s.after_changes.push_back([&s, c, parent_key] {
                        if ((*c).*(K::key) == parent_key && entity_state<T>::is_persistent(s, *c) &&
                            !s.flush_deleted.count(c.get()))
                            updater<T>::template write_null_key<K::fk_col>(s, *c);
                    });
                }
            }
        }
    } else if constexpr (R::kind == relation::belongs_to) {
        const auto& target = holder_access<typename R::holder>::items(h);
        auto& fk = (*obj).*(K::key);
        using F = std::remove_cvref_t<decltype(fk)>;
        if (target) {
            inserter<T>::save(s, target);
            set_undoable(s, fk, F((*target).*(entity_meta<T>::pk_member)));
        } else if constexpr (is_optional_v<F>) {
            set_undoable(s, fk, F{});
        }
    } else {  // has_one
        const auto& before = *std::static_pointer_cast<ptr<T>>(original);
        const auto& now = holder_access<typename R::holder>::items(h);
        if (now && now != before) {
            inserter<E>::template adopt<I>(s, obj, *now);
            inserter<T>::save(s, now);
        }
        if (before && before != now) {
            if constexpr (R::delete_orphan) deleter<T>::remove(s, before);
            else {
                auto& fk = (*before).*(K::key);
                using F = std::remove_cvref_t<decltype(fk)>;
                if constexpr (is_optional_v<F>) set_undoable(s, fk, F{});
                else {
                    const auto parent_key = (*obj).*(meta::pk_member);
                    s.after_changes.push_back([&s, c = before, parent_key] {
                        if ((*c).*(K::key) == parent_key && entity_state<T>::is_persistent(s, *c) &&
                            !s.flush_deleted.count(c.get()))
                            updater<T>::template write_null_key<K::fk_col>(s, *c);
                    });
                }
            }
        }
    }
}

/// Makes a transient object pending (session::add without its checks): see back_link.
template <class T>
void adopt_pending(session_core& s, const ptr<T>& obj) {
    if (entity_state<T>::is_persistent(s, *obj) || s.deleted_set.count(obj.get())) return;
    if (s.pending_set.insert(obj.get()).second) {
        try {
            s.pending.push_back({obj, &inserter<T>::save_erased});
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
