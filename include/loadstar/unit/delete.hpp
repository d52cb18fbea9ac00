// loadstar/unit/delete.hpp - DELETE, children first where the relationship cascades, the
// children it does not own losing their link; the undo of a delete on rollback.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/associate.hpp>
#include <loadstar/unit/common.hpp>
#include <loadstar/unit/rows.hpp>
#include <loadstar/unit/update.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace loadstar::detail {

/// Deletes persistent objects of E after what cascades from them.
template <class E>
struct deleter {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    using S = entity_state<E>;

    static void remove_erased(session_core& s, const std::shared_ptr<void>& p) { remove(s, std::static_pointer_cast<E>(p)); }

    /// Deletes `obj` after its cascaded children; children it does not own lose their link.
    static void remove(session_core& s, const ptr<E>& obj) {
        if (!obj || !s.flush_deleted.insert(obj.get()).second) return;
        if (!S::is_persistent(s, *obj)) return;
        for_each_index<meta::relationship_count>([&](auto i) { remove_children<i>(s, obj); });
        delete_row(s, table_of<E>(), obj.get());
        note_deleted(s, entity_index<E>, obj, &bind_erased<E>);
    }

    template <std::size_t I>
    static void remove_children(session_core& s, const ptr<E>& obj) {
        using R = typename meta::template relationship_t<I>;
        using T = typename R::target;
        using K = rel_keys<E, I>;
        auto& h = (*obj).*(R::member);
        if constexpr (R::kind == relation::has_many || R::kind == relation::has_one) {
            if constexpr (R::cascade_delete && R::passive_deletes) {
                // The database deletes the rows (ON DELETE CASCADE); loaded children leave the map.
                if (!h.loaded()) return;
                (void)s.map<T>();  // the map note_deleted_by_database reaches
                for (const auto& c : children_of<I>(h))
                    if (c) note_deleted_by_database(s, entity_index<T>, c, &bind_erased<T>);
            } else if constexpr (R::cascade_delete) {
                // Load the children to delete them first (a collection, or the one object).
                if constexpr (R::to_many) (void)h.size();
                else (void)h.get();
                for (const auto& c : children_of<I>(h)) deleter<T>::remove(s, c);
            } else {
                if (!h.loaded()) return;  // the database's foreign key decides
                for (const auto& c : children_of<I>(h)) {
                    if (!c || s.flush_deleted.count(c.get())) continue;
                    auto& fk = (*c).*(K::key);
                    if constexpr (is_optional_v<std::remove_cvref_t<decltype(fk)>>) set_undoable(s, fk, std::remove_cvref_t<decltype(fk)>{});
                }
                // The orphans' foreign keys go NULL through the UPDATEs of this flush: issue
                // them now, before the parent row goes.
                for (const auto& c : children_of<I>(h))
                    if (c && entity_state<T>::is_persistent(s, *c)) {
                        const auto& key = (*c).*(entity_meta<T>::pk_member);
                        auto* e = s.map<T>().find_entry(key);
                        if (e) {
                            auto mask = updater<T>::changed_columns(s, key, *e);
                            if (mask) updater<T>::update_row(s, *e, mask);
                        }
                    }
            }
        } else if constexpr (R::kind == relation::many_to_many) {
            unlink_all<E, I>(s, *obj);
        }
    }

    template <std::size_t I>
    static std::vector<ptr<typename meta::template relationship_t<I>::target>> children_of(
        typename meta::template relationship_t<I>::holder& h) {
        using R = typename meta::template relationship_t<I>;
        if constexpr (R::to_many) return holder_access<typename R::holder>::items(h);
        else {
            const auto& p = holder_access<typename R::holder>::items(h);
            if (p) return {p};
            return {};
        }
    }

};

}  // namespace loadstar::detail
