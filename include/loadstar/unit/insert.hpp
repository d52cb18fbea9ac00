// loadstar/unit/insert.hpp - INSERT in dependency order: parents before children (their keys
// copied into the children first), the save-update cascade along loaded relationships, and the
// undo of an insert when the flush or the transaction fails.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/associate.hpp>
#include <loadstar/unit/common.hpp>
#include <loadstar/unit/rows.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace loadstar::detail {

/// Inserts new objects of E, parents first, and cascades the save along their relationships.
template <class E>
struct inserter {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    using S = entity_state<E>;
    static constexpr bool has_version = meta::version_index != npos;
    static_assert(insert_cycle_check<E>::ok);

    static void save_erased(session_core& s, const std::shared_ptr<void>& p) {
        if (s.flush_indexing) index_parents(s, std::static_pointer_cast<E>(p));
        else save(s, std::static_pointer_cast<E>(p));
    }

    /// An entry of session_core::flush_parents: `parent`, which holds `child` in relationship I,
    /// is saved first and gives it its key.
    template <std::size_t I>
    static void parent_first(session_core& s, const ptr<E>& parent, typename meta::template relationship_t<I>::target& child,
                             session_core::defer_list* defer) {
        using R = typename meta::template relationship_t<I>;
        if (s.flush_in_progress.count(parent.get()))
            throw usage_error("loadstar: flush cycle: " + member_name<R::member>() + " holds a new " +
                              type_name<typename R::target>() + " that this " + type_name<E>() +
                              " needs inserted first; flush one of them first, then link them");
        save(s, parent, defer);
        adopt<I>(s, parent, child);
    }

    /// Before a flush inserts anything: for each new child held in a loaded one-to-many /
    /// one-to-one holder of the graph around the new objects, records how to save its parent
    /// first (session_core::flush_parents). A child can be reached before its parent (it was
    /// added first, or through another parent), and its own to-one holder may be empty: the
    /// parent's collection alone says where it belongs. Persistent objects are walked only
    /// down to their new children.
    static void index_parents(session_core& s, const ptr<E>& obj) {
        if (!obj || s.flush_deleted.count(obj.get()) || !s.flush_indexed.insert(obj.get()).second) return;
        const bool is_new = !S::is_persistent(s, *obj);
        for_each_index<meta::relationship_count>([&](auto i) {
            constexpr std::size_t I = decltype(i)::value;
            using R = typename meta::template relationship_t<I>;
            using T = typename R::target;
            auto& h = (*obj).*(R::member);
            if (!h.loaded()) return;
            if constexpr (R::kind == relation::belongs_to) {
                if (is_new) inserter<T>::index_parents(s, holder_access<typename R::holder>::items(h));
            } else if constexpr (R::kind == relation::has_many || R::kind == relation::has_one) {
                auto note = [&](const ptr<T>& c) {
                    if (!c || s.flush_deleted.count(c.get()) || entity_state<T>::is_persistent(s, *c)) return;
                    auto* first = &parent_first<I>;
                    s.flush_parents[c.get()].push_back(
                        [&s, obj, c, first](session_core::defer_list* defer) { first(s, obj, *c, defer); });
                    inserter<T>::index_parents(s, c);
                };
                if constexpr (R::to_many) {
                    const auto items = holder_access<typename R::holder>::items(h);
                    for (const auto& c : items) note(c);
                } else {
                    note(holder_access<typename R::holder>::items(h));
                }
            } else if constexpr (R::kind == relation::many_to_many) {
                if (is_new) {
                    const auto items = holder_access<typename R::holder>::items(h);
                    for (const auto& t : items) inserter<T>::index_parents(s, t);
                }
            }
        });
    }

    /// Inserts `obj` if it is new, after what it belongs to, before what belongs to it (the
    /// save-update cascade along its loaded relationships).
    ///
    /// `defer` is given when `obj` is saved as the parent of an object still waiting for its
    /// parents (flush_in_progress): its children then wait in `*defer` until that object is
    /// inserted, because one of them may belong to it as well (a comment in the collections of
    /// a new user and of the user's new post, reached from the post: the user, saved first as
    /// the post's parent, must not insert the comment before the post is in).
    static void save(session_core& s, const ptr<E>& obj, session_core::defer_list* defer = nullptr) {
        if (!obj || s.flush_deleted.count(obj.get()) || !s.flush_seen.insert(obj.get()).second) return;
        if (S::is_persistent(s, *obj)) return;  // persistent: its changes are recorded elsewhere
        session_core::defer_list parents_children;  // the children deferred below
        auto* later = defer ? defer : &parents_children;
        s.flush_in_progress.insert(obj.get());
        // Parents whose collections hold this object go first, and give it their keys.
        if (auto it = s.flush_parents.find(obj.get()); it != s.flush_parents.end()) {
            auto entries = std::move(it->second);
            s.flush_parents.erase(it);
            for (auto& parent_first : entries) parent_first(later);
        }
        for_each_index<meta::relationship_count>([&](auto i) {
            using R = typename meta::template relationship_t<i>;
            using T = typename R::target;
            if constexpr (R::kind == relation::belongs_to) {
                auto& h = (*obj).*(R::member);
                if (!h.loaded()) return;
                const auto target = holder_access<typename R::holder>::items(h);
                if (!target) return;
                if (s.flush_in_progress.count(target.get()))
                    throw usage_error("loadstar: flush cycle: " + member_name<R::member>() + " refers to a new " +
                                      type_name<T>() + " that can only be inserted after this " + type_name<E>() +
                                      "; flush one of them first, then link them (a nullable foreign key set by a "
                                      "later UPDATE)");
                inserter<T>::save(s, target, later);
                set_fk<i>(s, *obj, (*target).*(entity_meta<T>::pk_member));
            }
        });
        insert_row(s, obj);
        s.flush_in_progress.erase(obj.get());
        // Every child of every relationship gets this key before any child is inserted: a
        // child held by two new parents (u->posts[0]->comments and u->comments) is inserted
        // when the first of them reaches it, and must carry the other's key by then.
        for_each_index<meta::relationship_count>([&](auto i) { adopt_children<i>(s, obj); });
        if (defer) {
            defer->push_back([&s, obj] {
                for_each_index<meta::relationship_count>([&](auto i) { save_children<i>(s, obj); });
            });
            return;
        }
        for_each_index<meta::relationship_count>([&](auto i) { save_children<i>(s, obj); });
        // Now that this object is in, the children of the parents saved for it.
        for (std::size_t k = 0; k < parents_children.size(); ++k) parents_children[k]();
    }

    template <std::size_t I>
    static void adopt_children(session_core& s, const ptr<E>& obj) {
        using R = typename meta::template relationship_t<I>;
        if constexpr (R::kind == relation::has_many || R::kind == relation::has_one) {
            auto& h = (*obj).*(R::member);
            if (!h.loaded()) return;
            if constexpr (R::to_many) {
                const auto items = holder_access<typename R::holder>::items(h);
                for (const auto& c : items)
                    if (c && !s.flush_deleted.count(c.get())) adopt<I>(s, obj, *c);
            } else {
                const auto c = holder_access<typename R::holder>::items(h);
                if (c && !s.flush_deleted.count(c.get())) adopt<I>(s, obj, *c);
            }
        }
    }

    template <std::size_t I>
    static void set_fk(session_core& s, E& o, const typename rel_keys<E, I>::key_type& v) {
        using K = rel_keys<E, I>;
        auto& field = o.*(K::key);
        using F = std::remove_cvref_t<decltype(field)>;
        set_undoable(s, field, F(v));
    }

    template <std::size_t I>
    static void save_children(session_core& s, const ptr<E>& obj) {
        using R = typename meta::template relationship_t<I>;
        using T = typename R::target;
        auto& h = (*obj).*(R::member);
        if (!h.loaded()) return;
        if constexpr (R::kind == relation::has_many || R::kind == relation::has_one) {
            auto each = [&](const ptr<T>& child) {
                if (!child) return;
                adopt<I>(s, obj, *child);
                inserter<T>::save(s, child);
            };
            if constexpr (R::to_many) {
                const auto items = holder_access<typename R::holder>::items(h);
                for (const auto& c : items) each(c);
            } else {
                each(holder_access<typename R::holder>::items(h));
            }
        } else if constexpr (R::kind == relation::many_to_many) {
            const auto items = holder_access<typename R::holder>::items(h);
            for (const auto& target : items) {
                if (!target) continue;
                const bool written = saved_with_link<I>(s, *obj, target);
                if (!written) associate<E, I>(s, *obj, *target, true);
            }
        }
    }

    /// Saves the target of many-to-many I; true if that save wrote the link row itself (a new
    /// target whose back_populates collection holds `o` links it when it saves its children).
    template <std::size_t I>
    static bool saved_with_link(session_core& s, const E& o, const ptr<typename meta::template relationship_t<I>::target>& target) {
        using R = typename meta::template relationship_t<I>;
        using T = typename R::target;
        const bool was_new = !entity_state<T>::is_persistent(s, *target);
        inserter<T>::save(s, target);
        if constexpr (R::back::present) {
            if (!was_new || !entity_state<T>::is_persistent(s, *target)) return false;
            bool holds = false;
            const auto& back = (*target).*(R::back::member);
            if (back.loaded())
                holder_access<std::remove_cvref_t<decltype(back)>>::each_strong(back, [&](const auto& p) {
                    if (p.get() == &o) holds = true;
                });
            return holds;
        } else {
            return false;
        }
    }

    /// A child of relationship I (one-to-many / one-to-one) now belongs to `parent`.
    template <std::size_t I>
    static void adopt(session_core& s, const ptr<E>& parent, typename meta::template relationship_t<I>::target& child) {
        using R = typename meta::template relationship_t<I>;
        using K = rel_keys<E, I>;
        auto& fk = child.*(K::key);
        using F = std::remove_cvref_t<decltype(fk)>;
        set_undoable(s, fk, F((*parent).*(meta::pk_member)));
        if constexpr (R::back::present) {
            auto& back = child.*(R::back::member);
            using BH = std::remove_cvref_t<decltype(back)>;
            if constexpr (holder_traits<BH>::is_one) {
                using T = typename R::target;
                weaken<T, entity_meta<T>::template relationship_of<R::back::member>()>(back);
                auto old = holder_access<BH>::items(back);
                if (old != parent) {
                    s.undo.push_back([&back, old] { holder_access<BH>::set(back, old); });
                    holder_access<BH>::set(back, parent);
                }
                holder_access<BH>::link(back).state = holder_state::loaded;
            }
        }
    }

    static void read_generated_key(statement& row, void* key) {
        read_column(row, 0, *static_cast<pk_type*>(key), "generated key");
    }

    static void insert_row(session_core& s, const ptr<E>& obj) {
        E& o = *obj;
        const bool generate = !S::key_set(o);
        if constexpr (has_version) {
            using V = typename meta::template column_t<meta::version_index>::value_type;
            auto& ver = o.*(meta::template column_t<meta::version_index>::member);
            if (ver == 0) set_undoable(s, ver, V{1});
        }
        pk_type generated{};
        detail::insert_row(s, table_of<E>(), &o, generate, &read_generated_key, &generated);
        if (generate) set_undoable(s, o.*(meta::pk_member), generated);
        const pk_type key = o.*(meta::pk_member);
        auto& m = s.map<E>();
        if (m.contains(key)) throw integrity_error("loadstar: another " + type_name<E>() + " with this key is already in the session");
        note_inserted(s, entity_index<E>, obj);
        m.insert(key, obj);
        bind_holders(s, o);
    }

};

}  // namespace loadstar::detail
