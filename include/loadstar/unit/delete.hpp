// loadstar/unit/delete.hpp - DELETE, children first where the relationship cascades, the
// children it does not own losing their link; the undo of a delete on rollback.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/associate.hpp>
#include <loadstar/unit/common.hpp>
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
    static constexpr bool has_version = meta::version_index != npos;

    static void remove_erased(session_core& s, const std::shared_ptr<void>& p) { remove(s, std::static_pointer_cast<E>(p)); }

    /// Deletes `obj` after its cascaded children; children it does not own lose their link.
    static void remove(session_core& s, const ptr<E>& obj) {
        if (!obj || !s.flush_deleted.insert(obj.get()).second) return;
        if (!S::is_persistent(s, *obj)) return;
        for_each_index<meta::relationship_count>([&](auto i) { remove_children<i>(s, obj); });
        static const std::string sql = [] {
            std::string q = "DELETE FROM " + quote_ident(meta::table_name()) + " WHERE " +
                            quote_ident(meta::template column_name<meta::pk_index>()) + " = ?";
            if constexpr (has_version) q += " AND " + quote_ident(meta::template column_name<meta::version_index>()) + " = ?";
            return q;
        }();
        std::vector<value> params{to_value((*obj).*(meta::pk_member))};
        if constexpr (has_version) params.push_back(to_value((*obj).*(meta::template column_t<meta::version_index>::member)));
        const std::int64_t n = naming_table(meta::table_name(), [&] {
            cursor c(*s.eng, s.write_connection(), sql, params);
            return c.run();
        });
        if (n == 0 && has_version)
            throw stale_data_error("loadstar: DELETE of " + type_name<E>() + " matched no row: its version moved");
        // Out of the identity map at once (the database may hand its key to a row inserted
        // later in this flush); the undo log puts it back if the flush fails.
        auto& m = s.map<E>();
        auto it = m.objects.find((*obj).*(meta::pk_member));
        if (it != m.objects.end() && it->second.obj == obj) {
            // The undo is registered (allocated) before the entry leaves the map.
            auto saved = std::make_shared<typename identity_map<E>::entry>();
            const pk_type key = it->first;
            s.undo.push_back([&s, saved, key] {
                if (saved->obj) s.map<E>().objects.insert_or_assign(key, std::move(*saved));
            });
            *saved = std::move(it->second);
            m.objects.erase(it);
        }
        s.on_success.push_back([&s, obj, f = bring_back(s, obj)]() mutable { forgotten(s, obj, std::move(f)); });
    }

    /// How a rollback brings a deleted object back (allocated while the flush can still fail).
    static std::function<void()> bring_back(session_core& s, const ptr<E>& obj) {
        return [&s, obj] {
            s.map<E>().insert((*obj).*(meta::pk_member), obj);
            bind_holders(s, *obj);
        };
    }

    /// After a successful delete: the object is detached; a rollback brings it back. Allocates
    /// nothing (the tx_deleted vector is reserved before the flush's RELEASE).
    static void forgotten(session_core& s, const ptr<E>& obj, std::function<void()> back) noexcept {
        s.forget_changes_of(obj.get());
        detach_holders(*obj);
        s.tx_deleted.push_back(std::move(back));
    }

    /// A row the database removed by itself (ON DELETE CASCADE): out of the map, detached.
    static void forget(session_core& s, const ptr<E>& obj, std::function<void()> back) noexcept {
        auto& m = s.map<E>();
        auto it = m.objects.find((*obj).*(meta::pk_member));
        if (it == m.objects.end() || it->second.obj != obj) return;
        m.objects.erase(it);
        forgotten(s, obj, std::move(back));
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
                for (const auto& c : children_of<I>(h))
                    if (c)
                        s.on_success.push_back([&s, c, f = deleter<T>::bring_back(s, c)]() mutable {
                            deleter<T>::forget(s, c, std::move(f));
                        });
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
