// loadstar/session.hpp - the session: identity-mapped reads and the unit of work (add, dirty
// tracking, dependency-ordered flush in a savepoint, cascades, commit, rollback, savepoints).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/names.hpp>
#include <loadstar/detail/session_core.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/loader/loader.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/query.hpp>
#include <loadstar/relationship.hpp>

#include <algorithm>
#include <bitset>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <source_location>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace loadstar {

/// Where an object stands relative to a session (SQLAlchemy's object states).
enum class object_state { transient, pending, persistent, deleted, detached };

namespace detail {

template <class E>
using default_plan = plan<E, type_list<>, false, type_list<>>;

/// Binds a persistent object's holders to the session (lazy, default plan); loaded ones stay.
template <class E>
void bind_holders(session_core& s, E& o) {
    using meta = entity_meta<E>;
    for_each_index<meta::relationship_count>([&](auto i) {
        using R = typename meta::template relationship_t<i>;
        auto& link = holder_access<typename R::holder>::link(o.*(R::member));
        link.core = &s;
        link.owner = &o;
        link.vt = &lazy_loader<E, i, typename rel_plan<default_plan<E>, i>::lazy_plan>::vt;
        link.mode = holder_mode::lazy;
        link.recorded = false;
        weaken<E, i.value>(o.*(R::member));
    });
}

/// Runs a write of `table`; an integrity_error the driver raised without naming its table
/// (SQLite's FOREIGN KEY failures) is raised again naming it.
template <class F>
decltype(auto) naming_table(std::string_view table, F&& write) {
    try {
        return write();
    } catch (const integrity_error& e) {
        if (!e.table().empty()) throw;
        throw integrity_error(std::string(e.what()) + " [table " + std::string(table) + "]", e.native_code(),
                              e.sqlstate(), std::string(table), e.constraint(), e.column());
    }
}

template <class T>
bool set_undoable(session_core& s, T& field, const T& v) {
    if (field == v) return false;
    s.undo.push_back([&field, old = field] { field = old; });
    field = v;
    return true;
}

// ---- foreign-key cycles that no order of INSERTs can satisfy ---------------------------------

template <class E, std::size_t I>
constexpr bool required_parent() {
    using R = typename entity_meta<E>::template relationship_t<I>;
    if constexpr (R::kind == relation::belongs_to)
        return !is_optional_v<std::remove_cvref_t<member_type_t<entity_meta<E>::template relationship<I>().key>>>;
    else
        return false;
}
template <class E, class T, std::size_t... J>
constexpr bool requires_parent_of_type(std::index_sequence<J...>) {
    return ((required_parent<T, J>() && std::is_same_v<typename entity_meta<T>::template relationship_t<J>::target, E>) || ... || false);
}
template <class E, std::size_t I>
constexpr bool required_cycle_at() {
    if constexpr (!required_parent<E, I>()) return false;
    else {
        using T = typename entity_meta<E>::template relationship_t<I>::target;
        if constexpr (std::is_same_v<T, E>) return true;
        else return requires_parent_of_type<E, T>(std::make_index_sequence<entity_meta<T>::relationship_count>{});
    }
}
template <class E, std::size_t... I>
constexpr bool has_required_cycle(std::index_sequence<I...>) {
    return (required_cycle_at<E, I>() || ... || false);
}
template <class Entity>
struct insert_cycle_check {
    static_assert(!has_required_cycle<Entity>(std::make_index_sequence<entity_meta<Entity>::relationship_count>{}),
                  "loadstar: NOT NULL foreign keys form a cycle through this entity (it needs a parent that "
                  "needs it, or itself): no row could be inserted first; make one foreign key std::optional "
                  "(see insert_cycle_check<Entity> below)");
    static constexpr bool ok = true;
};

/// Writes one entity type: INSERT (parents first), UPDATE of changed columns, DELETE
/// (children first), each recording how to undo its in-memory effects if the flush fails.
template <class E>
struct persister {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    static constexpr bool has_version = meta::version_index != npos;
    static_assert(meta::column_count <= 64, "loadstar: an entity may map at most 64 columns");
    static_assert(insert_cycle_check<E>::ok);

    static bool key_set(const E& obj) {
        if constexpr (meta::pk_column::generated) return obj.*(meta::pk_member) != 0;
        else return true;
    }
    static bool is_persistent(session_core& s, const E& obj) {
        if (!key_set(obj)) return false;
        auto* hit = s.map<E>().find(obj.*(meta::pk_member));
        return hit && hit->get() == &obj;
    }
    static ptr<E> persistent_ptr(session_core& s, const E* obj) {
        if (!key_set(*obj)) return nullptr;
        auto* hit = s.map<E>().find(obj->*(meta::pk_member));
        return hit && hit->get() == obj ? *hit : nullptr;
    }

    // ---- INSERT ---------------------------------------------------------------------------------
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
        const bool is_new = !is_persistent(s, *obj);
        for_each_index<meta::relationship_count>([&](auto i) {
            constexpr std::size_t I = decltype(i)::value;
            using R = typename meta::template relationship_t<I>;
            using T = typename R::target;
            auto& h = (*obj).*(R::member);
            if (!h.loaded()) return;
            if constexpr (R::kind == relation::belongs_to) {
                if (is_new) persister<T>::index_parents(s, holder_access<typename R::holder>::items(h));
            } else if constexpr (R::kind == relation::has_many || R::kind == relation::has_one) {
                auto note = [&](const ptr<T>& c) {
                    if (!c || s.flush_deleted.count(c.get()) || persister<T>::is_persistent(s, *c)) return;
                    auto* first = &parent_first<I>;
                    s.flush_parents[c.get()].push_back(
                        [&s, obj, c, first](session_core::defer_list* defer) { first(s, obj, *c, defer); });
                    persister<T>::index_parents(s, c);
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
                    for (const auto& t : items) persister<T>::index_parents(s, t);
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
        if (is_persistent(s, *obj)) return;  // persistent: its changes are recorded elsewhere
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
                persister<T>::save(s, target, later);
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
                persister<T>::save(s, child);
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
                if (!written) associate<I>(s, *obj, *target, true);
            }
        }
    }

    /// Saves the target of many-to-many I; true if that save wrote the link row itself (a new
    /// target whose back_populates collection holds `o` links it when it saves its children).
    template <std::size_t I>
    static bool saved_with_link(session_core& s, const E& o, const ptr<typename meta::template relationship_t<I>::target>& target) {
        using R = typename meta::template relationship_t<I>;
        using T = typename R::target;
        const bool was_new = !persister<T>::is_persistent(s, *target);
        persister<T>::save(s, target);
        if constexpr (R::back::present) {
            if (!was_new || !persister<T>::is_persistent(s, *target)) return false;
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

    template <std::size_t I>
    static void associate(session_core& s, const E& o, const typename meta::template relationship_t<I>::target& t,
                          bool add) {
        using K = rel_keys<E, I>;
        using T = typename meta::template relationship_t<I>::target;
        const secondary_t sec = K::key;
        static const std::string ins = "INSERT INTO " + quote_ident(sec.table) + " (" + quote_ident(sec.local) + ", " +
                                       quote_ident(sec.remote) + ") VALUES (?, ?)";
        static const std::string del = "DELETE FROM " + quote_ident(sec.table) + " WHERE " + quote_ident(sec.local) +
                                       " = ? AND " + quote_ident(sec.remote) + " = ?";
        const value params[] = {to_value(o.*(meta::pk_member)), to_value(t.*(entity_meta<T>::pk_member))};
        naming_table(sec.table, [&] {
            cursor c(*s.eng, s.write_connection(), add ? ins : del, params);
            c.run();
        });
    }

    static const std::string& insert_sql(bool with_pk) {
        auto build = [](bool pk) {
            std::string cols, marks;
            for_each_index<meta::column_count>([&](auto i) {
                if (!pk && i == meta::pk_index) return;
                cols += (cols.empty() ? "" : ", ") + quote_ident(meta::template column_name<i>());
                marks += marks.empty() ? "?" : ", ?";
            });
            std::string sql = "INSERT INTO " + quote_ident(meta::table_name());
            sql += cols.empty() ? std::string(" DEFAULT VALUES") : " (" + cols + ") VALUES (" + marks + ")";
            return sql;
        };
        static const std::string a = build(true), b = build(false);
        return with_pk ? a : b;
    }

    static void append_params(const E& o, bool with_pk, std::vector<value>& params) {
        for_each_index<meta::column_count>([&](auto i) {
            if (!with_pk && i == meta::pk_index) return;
            params.push_back(to_value(o.*(meta::template column_t<i>::member)));
        });
    }

    static void insert_row(session_core& s, const ptr<E>& obj) {
        E& o = *obj;
        const bool generate = !key_set(o);
        if constexpr (has_version) {
            using V = typename meta::template column_t<meta::version_index>::value_type;
            auto& ver = o.*(meta::template column_t<meta::version_index>::member);
            if (ver == 0) set_undoable(s, ver, V{1});
        }
        std::vector<value> params;
        params.reserve(meta::column_count);
        append_params(o, !generate, params);
        // Generated keys come only from RETURNING, one row at a time: nothing assumes keys are
        // assigned in order (distributed engines do not).
        const bool returning = generate && s.eng->sql_dialect().supports_returning;
        static const std::string returning_sql =
            insert_sql(false) + " RETURNING " + quote_ident(meta::template column_name<meta::pk_index>());
        const std::string& sql = generate ? (returning ? returning_sql : insert_sql(false)) : insert_sql(true);
        naming_table(meta::table_name(), [&] {
            cursor c(*s.eng, s.write_connection(), sql, params);
            if (returning) {
                if (!c.next()) throw error("loadstar: INSERT ... RETURNING returned no row");
                pk_type pk{};
                read_column(c.row(), 0, pk, "generated key");
                c.run();
                set_undoable(s, o.*(meta::pk_member), pk);
            } else {
                c.run();
                if (generate) throw usage_error("loadstar: this driver cannot return generated keys (no RETURNING)");
            }
        });
        const pk_type key = o.*(meta::pk_member);
        auto& m = s.map<E>();
        if (m.find(key)) throw integrity_error("loadstar: another " + type_name<E>() + " with this key is already in the session");
        // The undo first: if registering it fails, nothing is left to undo.
        s.undo.push_back([&s, obj, key] {
            auto& mm = s.map<E>();
            auto it = mm.objects.find(key);
            if (it != mm.objects.end() && it->second.obj == obj) mm.objects.erase(it);
            detach_holders(*obj);
        });
        m.insert(key, obj);
        bind_holders(s, o);
        // What runs after the flush is written must not fail halfway: everything it needs
        // is allocated now (the vector it goes to is reserved before the flush's RELEASE).
        std::function<void()> back_out = [&s, obj] {
            // The transaction that inserted it rolled back: transient again.
            auto& mm = s.map<E>();
            auto it = mm.objects.find((*obj).*(meta::pk_member));
            if (it != mm.objects.end() && it->second.obj == obj) mm.objects.erase(it);
            detach_holders(*obj);
            if constexpr (meta::pk_column::generated) (*obj).*(meta::pk_member) = pk_type{};
        };
        s.on_success.push_back([&s, f = std::move(back_out)]() mutable { s.tx_inserted.push_back(std::move(f)); });
    }

    // ---- UPDATE ---------------------------------------------------------------------------------
    using mask_t = std::uint64_t;

    static mask_t changed_columns(typename identity_map<E>::entry& e) {
        mask_t mask = 0;
        const E& o = *e.obj;
        for_each_index<meta::column_count>([&](auto i) {
            using C = typename meta::template column_t<i>;
            if constexpr (C::is_deferred) {
                const auto& d = o.*(C::member);
                if (d.loaded() && !(holder_access<typename C::type>::items(const_cast<typename C::type&>(d)) == std::get<i>(e.snap)))
                    mask |= mask_t{1} << i;
            } else {
                if (!(o.*(C::member) == std::get<i>(e.snap))) mask |= mask_t{1} << i;
            }
        });
        return mask;
    }

    /// The UPDATE for one set of changed columns. Built once per set and kept for the
    /// program's life, shared by every session and thread: guarded (the map's nodes, so the
    /// strings returned, never move).
    static const std::string& update_sql(mask_t mask) {
        static std::shared_mutex mutex;
        static std::unordered_map<mask_t, std::string> cache;
        {
            std::shared_lock lock(mutex);
            auto it = cache.find(mask);
            if (it != cache.end()) return it->second;
        }
        std::string sql = "UPDATE " + quote_ident(meta::table_name()) + " SET ";
        bool first = true;
        for_each_index<meta::column_count>([&](auto i) {
            if (!(mask & (mask_t{1} << i)) || i == meta::version_index) return;
            sql += (first ? "" : ", ") + quote_ident(meta::template column_name<i>()) + " = ?";
            first = false;
        });
        if constexpr (has_version) {
            const std::string v = quote_ident(meta::template column_name<meta::version_index>());
            sql += (first ? "" : ", ") + v + " = " + v + " + 1";
        }
        sql += " WHERE " + quote_ident(meta::template column_name<meta::pk_index>()) + " = ?";
        if constexpr (has_version) sql += " AND " + quote_ident(meta::template column_name<meta::version_index>()) + " = ?";
        std::unique_lock lock(mutex);
        return cache.emplace(mask, std::move(sql)).first->second;
    }

    static void flush_dirty(session_core& s, identity_map<E>& m) {
        for (auto& [key, e] : m.objects) {
            if (s.flush_deleted.count(e.obj.get())) continue;
            mask_t mask = changed_columns(e);
            if constexpr (has_version) mask &= ~(mask_t{1} << meta::version_index);
            if (!mask) continue;
            if (mask & (mask_t{1} << meta::pk_index))
                throw usage_error("loadstar: the primary key of a persistent " + type_name<E>() +
                                  " was changed; delete it and add a new object instead");
            update_row(s, e, mask);
        }
    }

    static void update_row(session_core& s, typename identity_map<E>::entry& e, mask_t mask) {
        E& o = *e.obj;
        std::vector<value> params;
        for_each_index<meta::column_count>([&](auto i) {
            if (!(mask & (mask_t{1} << i)) || i == meta::version_index) return;
            params.push_back(to_value(o.*(meta::template column_t<i>::member)));
        });
        params.push_back(to_value(o.*(meta::pk_member)));
        if constexpr (has_version) params.push_back(to_value(o.*(meta::template column_t<meta::version_index>::member)));
        const std::string& sql = update_sql(mask);
        const std::int64_t n = naming_table(meta::table_name(), [&] {
            cursor c(*s.eng, s.write_connection(), sql, params);
            return c.run();
        });
        if constexpr (has_version) {
            if (n == 0)
                throw stale_data_error("loadstar: UPDATE of " + type_name<E>() + " matched no row: its version moved (" +
                                       sql + ")");
            auto& ver = o.*(meta::template column_t<meta::version_index>::member);
            set_undoable(s, ver, ver + 1);
        }
        // The new snapshot is taken now (allocating), and only moved in after the flush.
        auto obj = e.obj;
        auto snap = std::make_shared<snapshot_t<E>>(snapshot_of<E>::capture(o));
        s.on_success.push_back([&s, obj, snap] {
            if (auto* en = s.map<E>().find_entry((*obj).*(meta::pk_member)); en && en->obj == obj)
                en->snap = std::move(*snap);
        });
    }

    /// A child left its parent's collection (no delete-orphan) but its foreign key column J
    /// cannot hold NULL in C++: write the NULL, as SQLAlchemy does. The database refuses it
    /// (the column is NOT NULL) with an integrity_error naming it, and the flush is undone;
    /// the removal is never silently dropped.
    template <std::size_t J>
    static void write_null_key(session_core& s, const E& o) {
        static const std::string sql = "UPDATE " + quote_ident(meta::table_name()) + " SET " +
                                       quote_ident(meta::template column_name<J>()) + " = NULL WHERE " +
                                       quote_ident(meta::template column_name<meta::pk_index>()) + " = ?";
        const value params[] = {to_value(o.*(meta::pk_member))};
        naming_table(meta::table_name(), [&] {
            cursor c(*s.eng, s.write_connection(), sql, params);
            c.run();
        });
    }

    // ---- DELETE ---------------------------------------------------------------------------------
    static void remove_erased(session_core& s, const std::shared_ptr<void>& p) { remove(s, std::static_pointer_cast<E>(p)); }

    /// Deletes `obj` after its cascaded children; children it does not own lose their link.
    static void remove(session_core& s, const ptr<E>& obj) {
        if (!obj || !s.flush_deleted.insert(obj.get()).second) return;
        if (!is_persistent(s, *obj)) return;
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
                        s.on_success.push_back([&s, c, f = persister<T>::bring_back(s, c)]() mutable {
                            persister<T>::forget(s, c, std::move(f));
                        });
            } else if constexpr (R::cascade_delete) {
                // Load the children to delete them first (a collection, or the one object).
                if constexpr (R::to_many) (void)h.size();
                else (void)h.get();
                for (const auto& c : children_of<I>(h)) persister<T>::remove(s, c);
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
                    if (c && persister<T>::is_persistent(s, *c)) {
                        auto* e = s.map<T>().find_entry((*c).*(entity_meta<T>::pk_member));
                        if (e) {
                            auto mask = persister<T>::changed_columns(*e);
                            if (mask) persister<T>::update_row(s, *e, mask);
                        }
                    }
            }
        } else if constexpr (R::kind == relation::many_to_many) {
            const secondary_t sec = K::key;
            static const std::string sql = "DELETE FROM " + quote_ident(sec.table) + " WHERE " + quote_ident(sec.local) + " = ?";
            const value params[] = {to_value((*obj).*(meta::pk_member))};
            cursor c(*s.eng, s.write_connection(), sql, params);
            c.run();
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

    // ---- refresh after rollback ------------------------------------------------------------------
    static void refresh_all(session_core& s, identity_map<E>& m) {
        if (m.objects.empty()) return;
        std::vector<pk_type> keys;
        keys.reserve(m.objects.size());
        for (auto& [k, e] : m.objects) keys.push_back(k);
        const std::size_t batch = std::max<std::size_t>(1, std::min<std::size_t>(500, s.eng->sql_dialect().max_bind_parameters));
        std::unordered_set<pk_type> seen;
        for (std::size_t b = 0; b < keys.size(); b += batch) {
            const std::size_t e = std::min(keys.size(), b + batch);
            std::vector<pk_type> part(keys.begin() + static_cast<std::ptrdiff_t>(b), keys.begin() + static_cast<std::ptrdiff_t>(e));
            auto rows = query<E>(s).where(col<meta::pk_member>.in(part)).populate_existing().all();
            for (auto& r : rows) seen.insert((*r).*(meta::pk_member));
        }
        for (auto it = m.objects.begin(); it != m.objects.end();) {
            if (seen.count(it->first)) {
                ++it;
                continue;
            }
            detach_holders(*it->second.obj);
            s.forget_changes_of(it->second.obj.get());
            it = m.objects.erase(it);
        }
    }
};

/// At flush, for an owner whose relationship I was modified: write the adds and removes.
template <class E, std::size_t I>
void cascade_changed(session_core& s, void* owner, const std::shared_ptr<void>& original) {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    using P = persister<E>;
    ptr<E> obj = P::persistent_ptr(s, static_cast<E*>(owner));
    if (!obj) return;  // pending (its save writes its holders) or no longer in this session
    auto& h = (*obj).*(R::member);
    if constexpr (R::to_many) {
        const auto& before = *std::static_pointer_cast<std::vector<ptr<T>>>(original);
        const auto now = holder_access<typename R::holder>::items(h);
        auto in = [](const std::vector<ptr<T>>& v, const ptr<T>& x) { return std::find(v.begin(), v.end(), x) != v.end(); };
        for (const auto& c : now) {
            if (!c || in(before, c)) continue;
            if constexpr (R::kind == relation::many_to_many) {
                if (!P::template saved_with_link<I>(s, *obj, c)) P::template associate<I>(s, *obj, *c, true);
            } else {
                P::template adopt<I>(s, obj, *c);
                persister<T>::save(s, c);
            }
        }
        for (const auto& c : before) {
            if (!c || in(now, c)) continue;
            if constexpr (R::kind == relation::many_to_many) {
                if (persister<T>::is_persistent(s, *c)) P::template associate<I>(s, *obj, *c, false);
            } else if constexpr (R::delete_orphan) {
                persister<T>::remove(s, c);
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
                        if ((*c).*(K::key) == parent_key && persister<T>::is_persistent(s, *c) &&
                            !s.flush_deleted.count(c.get()))
                            persister<T>::template write_null_key<K::fk_col>(s, *c);
                    });
                }
            }
        }
    } else if constexpr (R::kind == relation::belongs_to) {
        const auto& target = holder_access<typename R::holder>::items(h);
        auto& fk = (*obj).*(K::key);
        using F = std::remove_cvref_t<decltype(fk)>;
        if (target) {
            persister<T>::save(s, target);
            set_undoable(s, fk, F((*target).*(entity_meta<T>::pk_member)));
        } else if constexpr (is_optional_v<F>) {
            set_undoable(s, fk, F{});
        }
    } else {  // has_one
        const auto& before = *std::static_pointer_cast<ptr<T>>(original);
        const auto& now = holder_access<typename R::holder>::items(h);
        if (now && now != before) {
            P::template adopt<I>(s, obj, *now);
            persister<T>::save(s, now);
        }
        if (before && before != now) {
            if constexpr (R::delete_orphan) persister<T>::remove(s, before);
            else {
                auto& fk = (*before).*(K::key);
                using F = std::remove_cvref_t<decltype(fk)>;
                if constexpr (is_optional_v<F>) set_undoable(s, fk, F{});
                else {
                    const auto parent_key = (*obj).*(meta::pk_member);
                    s.after_changes.push_back([&s, c = before, parent_key] {
                        if ((*c).*(K::key) == parent_key && persister<T>::is_persistent(s, *c) &&
                            !s.flush_deleted.count(c.get()))
                            persister<T>::template write_null_key<K::fk_col>(s, *c);
                    });
                }
            }
        }
    }
}

/// Makes a transient object pending (session::add without its checks): see back_link.
template <class T>
void adopt_pending(session_core& s, const ptr<T>& obj) {
    if (persister<T>::is_persistent(s, *obj) || s.deleted_set.count(obj.get())) return;
    if (s.pending_set.insert(obj.get()).second) {
        try {
            s.pending.push_back({obj, &persister<T>::save_erased});
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
        ptr<E> self = persister<E>::persistent_ptr(s, static_cast<E*>(owner));
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

}  // namespace detail

class session;

/// A SAVEPOINT as an RAII guard (`session::begin_nested()`): `commit()` releases it; `rollback()`
/// or leaving the scope without commit rolls back to it.
class savepoint {
public:
    savepoint(const savepoint&) = delete;
    savepoint& operator=(const savepoint&) = delete;
    savepoint(savepoint&& o) noexcept : s_(o.s_), name_(std::move(o.name_)), marks_(o.marks_) { o.s_ = nullptr; }
    ~savepoint() {
        if (s_) try {
                rollback();
            } catch (...) {
            }
    }
    /// Flushes, then RELEASE SAVEPOINT.
    void commit();
    /// ROLLBACK TO SAVEPOINT: what was written since is undone; objects inserted since become
    /// transient, objects deleted since come back, the rest are re-read from the database.
    void rollback();
    const std::string& name() const noexcept { return name_; }

private:
    friend class session;
    struct marks {
        std::size_t inserted, deleted;
    };
    savepoint(session& s, std::string name, marks m) : s_(&s), name_(std::move(name)), marks_(m) {}
    session* s_;
    std::string name_;
    marks marks_;
};

/// A unit of work over one connection: an identity map (one object per primary key), new,
/// changed and deleted objects waiting for flush, and a transaction begun on first use.
///
/// ```cpp
/// loadstar::session s{engine};
/// auto jane = s.get<Author>(1);                       // SELECT, or the identity map
/// jane->name = "Jane Austen (1775)";                  // dirty: found at flush
/// s.add(std::make_shared<Author>(Author{.name = "Anne Brontë"}));
/// s.commit();                                          // INSERT, UPDATE, COMMIT
/// ```
class session {
public:
    explicit session(const engine& e, session_options options = {})
        : core_(std::make_unique<detail::session_core>(e.state(), std::move(options))) {}
    session(session&&) noexcept = default;
    session& operator=(session&&) noexcept = default;
    ~session() = default;

    /// A query for entity E. Fails to compile if E is not mapped.
    template <class E>
    loadstar::query<E> query() {
        static_assert(detail::require_mapped<E>::ok);
        return loadstar::query<E>(*core_);
    }
    template <class E>
        requires(!mapped_entity<E>)
    detail::unmapped_query query() {
        static_assert(detail::require_mapped<E>::ok);  // the one error for an unmapped E
        return {};
    }
    template <class E, class K>
        requires(!mapped_entity<E>)
    ptr<E> get(const K&) {
        static_assert(detail::require_mapped<E>::ok);
        return nullptr;
    }
    template <class E>
        requires(!mapped_entity<E>)
    void add(const ptr<E>&) {
        static_assert(detail::require_mapped<E>::ok);
    }
    template <class E>
        requires(!mapped_entity<E>)
    void remove(const ptr<E>&) {
        static_assert(detail::require_mapped<E>::ok);
    }

    /// The object with this primary key: from the identity map without SQL, else one SELECT;
    /// nullptr if there is none.
    template <class E, class K>
    ptr<E> get(const K& pk) {
        static_assert(detail::require_mapped<E>::ok);
        using pk_type = typename entity_meta<E>::pk_type;
        static_assert(detail::comparable<pk_type, K>(), "loadstar: get<E>(key) needs a key of the primary key's type");
        if (auto* hit = core_->map<E>().find(static_cast<pk_type>(pk))) return *hit;
        return query<E>().where(col<entity_meta<E>::pk_member> == pk).first();
    }

    /// Adds a new object (and, by the save-update cascade, the new objects its relationships
    /// reach at flush time) to be inserted at the next flush. Adding a persistent object does
    /// nothing; adding one marked for deletion takes the mark back.
    template <class E>
    void add(const ptr<E>& obj) {
        static_assert(detail::require_mapped<E>::ok);
        if (!obj) throw usage_error("loadstar: add() of a null pointer");
        check_open();
        if (core_->deleted_set.erase(obj.get())) {
            std::erase_if(core_->deleted, [&](const detail::object_ref& r) { return r.object.get() == obj.get(); });
            return;
        }
        if (detail::persister<E>::is_persistent(*core_, *obj)) return;
        if (core_->pending_set.insert(obj.get()).second)
            core_->pending.push_back({obj, &detail::persister<E>::save_erased});
    }
    /// add() for each object.
    template <class E>
    void add_all(const std::vector<ptr<E>>& objs) {
        for (const auto& o : objs) add(o);
    }

    /// Marks an object for deletion at the next flush (with its cascade_delete children).
    /// Removing a pending object just drops it.
    template <class E>
    void remove(const ptr<E>& obj) {
        static_assert(detail::require_mapped<E>::ok);
        if (!obj) throw usage_error("loadstar: remove() of a null pointer");
        check_open();
        if (core_->pending_set.erase(obj.get())) {
            std::erase_if(core_->pending, [&](const detail::object_ref& r) { return r.object.get() == obj.get(); });
            return;
        }
        if (!detail::persister<E>::is_persistent(*core_, *obj))
            throw usage_error("loadstar: remove() of an object this session does not hold");
        if (core_->deleted_set.insert(obj.get()).second)
            core_->deleted.push_back({obj, &detail::persister<E>::remove_erased});
    }

    /// Writes everything pending, in an order the database accepts: INSERTs parents first
    /// (generated keys copied into children's foreign keys and association rows), UPDATEs of
    /// changed columns only, DELETEs children first. Runs inside a SAVEPOINT: if any statement
    /// fails, the database is as before the flush, every object is as before the flush (still
    /// pending, changed or marked), the session stays usable, and the error is rethrown.
    void flush() {
        check_open();
        auto& s = *core_;
        s.check_tx();  // the transaction was lost with its connection: rollback() first
        const bool dirty_possible = !s.maps.empty();
        if (s.pending.empty() && s.changes.empty() && s.deleted.empty() && !dirty_possible) return;
        if (s.flushing) throw usage_error("loadstar: flush() re-entered");
        // Whatever way this function is left, the session is not flushing any more and the
        // flush's bookkeeping is cleared (a throw after the writes must not leave it marked).
        struct end_of_flush {
            session& self;
            bool written = false;
            ~end_of_flush() {
                auto& c = *self.core_;
                if (!written) {
                    self.undo_flush();
                    // The connection was lost during the flush: now that the flush's own
                    // effects are undone, those of the earlier flushes of its transaction.
                    if (!c.conn) c.undo_lost_tx();
                }
                c.undo.clear();
                c.on_success.clear();
                c.after_changes.clear();
                c.flush_seen.clear();
                c.flush_in_progress.clear();
                c.flush_parents.clear();
                c.flush_indexed.clear();
                c.flush_indexing = false;
                c.flush_deleted.clear();
                c.flush_savepoint.clear();
                c.flushing = false;
            }
        } guard{*this};
        s.flushing = true;
        s.flush_savepoint.clear();
        s.flush_seen.clear();
        s.flush_deleted.clear();
        s.undo.clear();
        s.on_success.clear();
        s.after_changes.clear();
        try {
            for (auto& d : s.deleted) s.flush_deleted.insert(d.object.get());
            auto pending = s.pending;
            s.flush_indexing = true;
            for (auto& p : pending) p.run(s, p.object);  // index_parents
            s.flush_indexing = false;
            for (auto& p : pending) p.run(s, p.object);
            auto changes = s.changes;
            for (auto& [holder, rec] : changes) rec.vt->changed(s, rec.owner, rec.original);
            for (std::size_t i = 0; i < s.after_changes.size(); ++i) s.after_changes[i]();
            for (auto& m : s.maps)
                if (m) m->flush_dirty(s);
            s.flush_deleted.clear();
            auto deleted = s.deleted;
            for (auto& d : deleted) d.run(s, d.object);
            // Room for what the steps after the writes record (they must not fail halfway).
            s.tx_inserted.reserve(s.tx_inserted.size() + s.on_success.size());
            s.tx_deleted.reserve(s.tx_deleted.size() + s.on_success.size());
            if (!s.flush_savepoint.empty()) s.run_control("RELEASE SAVEPOINT " + s.flush_savepoint);
        } catch (const connection_error&) {
            // The connection is gone: the transaction is lost with it (nothing was written).
            s.lose_connection();
            throw;
        } catch (...) {
            if (!s.flush_savepoint.empty() && s.conn) {
                try {
                    s.run_control("ROLLBACK TO SAVEPOINT " + s.flush_savepoint);
                    s.run_control("RELEASE SAVEPOINT " + s.flush_savepoint);
                } catch (...) {
                    s.lose_connection();
                }
            }
            throw;
        }
        // Written (the flush's SAVEPOINT is released): from here on nothing is undone, and
        // nothing can fail: the steps below allocate nothing (all they need was allocated
        // while the flush could still be rolled back).
        guard.written = true;
        if (!s.flush_savepoint.empty()) s.tx_wrote = true;
        s.flush_savepoint.clear();
        for (auto& f : s.on_success) f();
        s.drop_unflushed();
    }

    /// flush() and COMMIT. Objects stay in the identity map with their values. If the database
    /// refuses the COMMIT (busy_error: SQLite's busy timeout ran out), the transaction is
    /// rolled back as rollback() does and the error is rethrown: what it wrote is gone, and
    /// the session says so (its new objects are transient again).
    void commit() {
        flush();
        try {
            core_->commit();
        } catch (const connection_error&) {
            throw;  // the transaction went with the connection (lose_connection)
        } catch (...) {
            try {
                rollback();
            } catch (...) {
                core_->lose_connection();
            }
            throw;
        }
    }

    /// ROLLBACK. Pending objects and recorded changes are dropped; objects the transaction
    /// inserted become transient (generated keys reset), objects it deleted come back, and
    /// every other object in the identity map is re-read from the database.
    void rollback() {
        check_open();
        auto& s = *core_;
        s.rollback();
        s.drop_unflushed();
        undo_tx(0, 0);
        refresh_all();
    }

    /// SAVEPOINT (after a flush) as an RAII guard; see loadstar::savepoint.
    savepoint begin_nested() {
        flush();
        auto& s = *core_;
        s.connection();
        std::string name = s.savepoint_name(++s.savepoint_counter);
        s.run_control("SAVEPOINT " + name);
        ++s.savepoint_depth;
        return savepoint(*this, std::move(name), {s.tx_inserted.size(), s.tx_deleted.size()});
    }

    /// Loads relationship `Member` now for each object in `objs` (a range of ptr<E>) whose
    /// holder is not loaded yet: explicit lazy loading, for when which objects need it is known
    /// only after the query ran. Each holder gets what touching it would have loaded (the
    /// same statement, with the same nested options), but all at once: where the driver
    /// pipelines (PostgreSQL) the statements share one round trip; elsewhere they run one
    /// after another. Not counted as N+1 lazy loads. Throws raise_load_error for a holder
    /// whose strategy is raise, detached_error for an object outside an open session.
    ///
    /// ```cpp
    /// auto authors = s.query<Author>().all();
    /// auto busy = filter(authors, ...);              // decided in C++, after the query
    /// s.load<&Author::books>(busy);                   // PostgreSQL: one round trip
    /// ```
    template <auto Member, class Range>
    void load(const Range& objs, const std::source_location& where = std::source_location::current()) {
        using E = detail::member_class_t<Member>;
        static_assert(detail::require_mapped<E>::ok);
        constexpr std::size_t I = entity_meta<E>::template relationship_of<Member>();
        static_assert(I != detail::npos,
                      "loadstar: session::load<&T::member>: the member is not a relationship mapped for T");
        if constexpr (I != detail::npos) load_holders<E, I>(objs, where);
    }

    /// load<&T::member>() of typed views (query::typed()): loads as above and returns the same
    /// objects as views whose plan has the relationship loaded, so that get<&T::member>()
    /// compiles on them.
    template <auto Member, class View>
    typed_results<typename View::template with_loaded<Member>> load(
        typed_results<View> objs, const std::source_location& where = std::source_location::current()) {
        static_assert(std::is_same_v<detail::member_class_t<Member>, typename View::entity>,
                      "loadstar: session::load<&T::member>(views): T is not the views' entity");
        load<Member>(objs.objects(), where);
        return typed_results<typename View::template with_loaded<Member>>(std::move(objs).objects());
    }

private:
    template <class E, std::size_t I, class Range>
    void load_holders(const Range& objs, const std::source_location& where) {
        using R = typename entity_meta<E>::template relationship_t<I>;
        std::vector<void*> owners;
        const detail::rel_vtable* vt = nullptr;
        auto run = [&] {
            if (owners.empty()) return;
            if (vt->lazy_load_many) vt->lazy_load_many(*core_, owners, where);
            else for (void* o : owners) vt->lazy_load(*core_, o, where);
            owners.clear();
        };
        for (const auto& p : objs) {
            if (!p) continue;
            auto& link = detail::holder_access<typename R::holder>::link((*p).*(R::member));
            if (!link.needs_load()) continue;
            if (link.mode == detail::holder_mode::raise || !link.core || !link.vt) {
                detail::touch(link, where);  // throws raise_load_error or detached_error
                continue;
            }
            if (link.core != core_.get())
                throw usage_error("loadstar: session::load(): an object belongs to another session");
            if (vt && link.vt != vt) run();  // holders armed by different plans load apart
            vt = link.vt;
            owners.push_back(link.owner);
        }
        run();
    }

public:

    /// Re-reads the object's columns from the database (its relationships are re-armed).
    /// Throws no_result_error if the row is gone.
    template <class E>
    void refresh(const ptr<E>& obj) {
        static_assert(detail::require_mapped<E>::ok);
        auto r = query<E>().where(col<entity_meta<E>::pk_member> == (*obj).*(entity_meta<E>::pk_member))
                     .populate_existing()
                     .all();
        if (r.empty()) throw no_result_error("loadstar: refresh(): the row is gone");
    }

    /// Removes one object from the session; its unloaded relationships become detached.
    template <class E>
    void expunge(const ptr<E>& obj) {
        static_assert(detail::require_mapped<E>::ok);
        auto& m = core_->map<E>();
        auto it = m.objects.find((*obj).*(entity_meta<E>::pk_member));
        if (it != m.objects.end() && it->second.obj == obj) {
            detail::detach_holders(*obj);
            core_->forget_changes_of(obj.get());
            m.objects.erase(it);
        }
        core_->pending_set.erase(obj.get());
        std::erase_if(core_->pending, [&](const detail::object_ref& p) { return p.object.get() == obj.get(); });
        core_->deleted_set.erase(obj.get());
        std::erase_if(core_->deleted, [&](const detail::object_ref& p) { return p.object.get() == obj.get(); });
    }
    /// Empties the session (for long jobs: keeps memory flat). Unflushed work is dropped.
    void expunge_all() {
        check_open();
        core_->detach_all();
        core_->pending.clear();
        core_->pending_set.clear();
        core_->deleted.clear();
        core_->deleted_set.clear();
    }
    /// Rolls back anything open and returns the connection to the pool; later touches of
    /// unloaded relationships throw detached_error.
    void close() { core_->close(); }

    /// Inserts many rows in few statements, in the session's transaction, without identity map
    /// or snapshots: the objects are not attached and generated keys are not read back. All
    /// or nothing: on an error none of the rows stays and the session remains usable.
    /// Uses the driver's bulk path (connection::copy_in) when it has one; otherwise multi-row
    /// INSERT ... VALUES sized to the bind limit (500 rows at most). Returns the rows inserted.
    template <class E>
    std::size_t bulk_insert(std::span<const E> rows) {
        static_assert(detail::require_mapped<E>::ok);
        check_open();
        flush();
        auto& s = *core_;
        auto& pc = s.write_connection();
        // All or nothing, and the session's transaction survives a failure (PostgreSQL aborts a
        // transaction on the first error): the rows go in under a SAVEPOINT.
        const std::string sp = s.savepoint_name(++s.savepoint_counter);
        s.run_control("SAVEPOINT " + sp);
        std::size_t done = 0;
        try {
            done = bulk_insert_rows(pc, rows);
        } catch (const connection_error&) {
            throw;
        } catch (...) {
            try {
                s.run_control("ROLLBACK TO SAVEPOINT " + sp);
                s.run_control("RELEASE SAVEPOINT " + sp);
            } catch (...) {
            }
            throw;
        }
        s.run_control("RELEASE SAVEPOINT " + sp);
        s.tx_wrote = true;
        return done;
    }
    template <class E>
    std::size_t bulk_insert(const std::vector<E>& rows) {
        return bulk_insert(std::span<const E>(rows));
    }

private:
    template <class E>
    std::size_t bulk_insert_rows(detail::pooled_connection& pc, std::span<const E> rows) {
        using meta = entity_meta<E>;
        auto& s = *core_;
        const std::size_t limit = s.eng->sql_dialect().max_bind_parameters;
        std::size_t done = 0;
        for (const bool with_pk : {true, false}) {
            std::vector<const E*> part;
            for (const auto& r : rows)
                if (detail::persister<E>::key_set(r) == with_pk) part.push_back(&r);
            if (part.empty()) continue;
            const std::size_t ncols = meta::column_count - (with_pk ? 0 : 1);
            if (ncols == 0) {
                // Only a generated key: nothing to list, a row per statement
                // (INSERT ... DEFAULT VALUES takes no VALUES list, and COPY no empty one).
                const std::string& sql = detail::persister<E>::insert_sql(false);
                for (std::size_t i = 0; i < part.size(); ++i) {
                    detail::cursor c(*s.eng, pc, sql, {});
                    c.run();
                }
                done += part.size();
                continue;
            }
            if (copy(pc, part, with_pk, ncols)) {
                done += part.size();
                continue;
            }
            const std::size_t per = std::max<std::size_t>(1, std::min<std::size_t>(500, ncols ? limit / ncols : 500));
            const std::string& head = detail::persister<E>::insert_sql(with_pk);
            std::string one_row = " (";  // the VALUES list of one more row
            for (std::size_t k = 0; k < ncols; ++k) one_row += k ? ", ?" : "?";
            one_row += ')';
            std::string full_sql;
            std::size_t full_rows = 0;
            std::vector<value> params;
            for (std::size_t b = 0; b < part.size(); b += per) {
                const std::size_t e = std::min(part.size(), b + per);
                params.clear();
                params.reserve((e - b) * ncols);
                for (std::size_t i = b; i < e; ++i) detail::persister<E>::append_params(*part[i], with_pk, params);
                std::string sql;
                if (e - b == full_rows) sql = full_sql;
                else {
                    sql = head;
                    for (std::size_t i = b + 1; i < e; ++i) sql += "," + one_row;
                    if (full_rows == 0) {
                        full_sql = sql;
                        full_rows = e - b;
                    }
                }
                detail::cursor c(*s.eng, pc, sql, params);
                c.run();
                done += e - b;
            }
        }
        return done;
    }

public:

    /// The object's state relative to this session.
    template <class E>
    object_state state(const ptr<E>& obj) const {
        if (core_->pending_set.count(obj.get())) return object_state::pending;
        if (core_->deleted_set.count(obj.get())) return object_state::deleted;
        if (detail::persister<E>::is_persistent(*core_, *obj)) return object_state::persistent;
        return detail::persister<E>::key_set(*obj) ? object_state::detached : object_state::transient;
    }

    /// True if `obj` is this session's object for its key.
    template <class E>
    bool contains(const ptr<E>& obj) const {
        return detail::persister<E>::is_persistent(*core_, *obj);
    }
    /// Objects in the identity map, all entity types.
    std::size_t identity_size() const {
        std::size_t n = 0;
        for (auto& m : core_->maps)
            if (m) n += m->size();
        return n;
    }
    /// True while objects or changes wait for flush (columns are compared at flush time).
    bool has_pending() const { return !core_->pending.empty() || !core_->changes.empty() || !core_->deleted.empty(); }

private:
    friend class savepoint;
    /// The driver's bulk path (COPY), reported to listeners as one counted statement.
    template <class E>
    bool copy(detail::pooled_connection& pc, const std::vector<const E*>& part, bool with_pk, std::size_t ncols) {
        using meta = entity_meta<E>;
        auto& s = *core_;
        static const std::vector<std::string> all_cols = [] {
            std::vector<std::string> c;
            detail::for_each_index<meta::column_count>([&](auto i) { c.push_back(detail::quote_ident(meta::template column_name<i>())); });
            return c;
        }();
        std::vector<std::string> cols;
        for (std::size_t i = 0; i < all_cols.size(); ++i)
            if (with_pk || i != meta::pk_index) cols.push_back(all_cols[i]);
        std::vector<value> values;
        values.reserve(part.size() * ncols);
        for (const E* r : part) detail::persister<E>::append_params(*r, with_pk, values);
        const auto start = std::chrono::steady_clock::now();
        const std::string table = detail::quote_ident(meta::table_name());
        if (!pc.conn->copy_in(table, cols, values)) return false;
        if (s.eng->observed()) {
            std::string sql = "COPY " + table + " (";
            for (std::size_t i = 0; i < cols.size(); ++i) sql += (i ? ", " : "") + cols[i];
            sql += ") FROM STDIN";
            statement_event ev;
            ev.sql = sql;
            ev.duration = std::chrono::steady_clock::now() - start;
            ev.rows = static_cast<std::int64_t>(part.size());
            s.eng->emit(ev);
        }
        return true;
    }
    /// Undoes a failed flush's in-memory effects (keys, foreign keys, identity map entries).
    void undo_flush() noexcept {
        auto& s = *core_;
        for (auto it = s.undo.rbegin(); it != s.undo.rend(); ++it) {
            try {
                (*it)();
            } catch (...) {  // out of memory restoring a string: the other steps still run
            }
        }
        s.undo.clear();
        s.on_success.clear();
        s.flush_seen.clear();
        s.flush_in_progress.clear();
        s.flush_parents.clear();
        s.flush_indexed.clear();
        s.flush_indexing = false;
        s.flush_deleted.clear();
        s.flush_savepoint.clear();
        s.flushing = false;
    }
    void check_open() const {
        if (core_->closed) throw detached_error("loadstar: the session is closed");
    }
    void undo_tx(std::size_t inserted_mark, std::size_t deleted_mark) { core_->undo_tx(inserted_mark, deleted_mark); }
    void refresh_all() {
        auto& s = *core_;
        for (std::size_t i = 0; i < s.maps.size(); ++i)
            if (s.maps[i]) s.maps[i]->refresh_all(s);
    }
    std::unique_ptr<detail::session_core> core_;
};

inline void savepoint::commit() {
    if (!s_) return;
    session& s = *s_;
    s_ = nullptr;
    s.flush();
    s.core_->run_control("RELEASE SAVEPOINT " + name_);
    --s.core_->savepoint_depth;
}

inline void savepoint::rollback() {
    if (!s_) return;
    session& s = *s_;
    s_ = nullptr;
    auto& c = *s.core_;
    c.run_control("ROLLBACK TO SAVEPOINT " + name_);
    c.run_control("RELEASE SAVEPOINT " + name_);
    --c.savepoint_depth;
    c.drop_unflushed();
    s.undo_tx(marks_.inserted, marks_.deleted);
    s.refresh_all();
}

/// Runs `fn(session&)` in a fresh session and commits; when the database aborts the
/// transaction for serialization (SQLSTATE 40001 / 40P01, loadstar::serialization_error) or is
/// busy (loadstar::busy_error: SQLite's busy timeout ran out, PostgreSQL's lock_not_available),
/// runs it again in another fresh session, up to `retries` more times: the client-side retry
/// protocol CockroachDB and YugabyteDB require, and PostgreSQL's SERIALIZABLE level expects.
/// The transaction begins as a write transaction (transaction_mode::write: on SQLite BEGIN
/// IMMEDIATE, so reading and then writing cannot be refused on lock upgrade) unless
/// `options.transaction` says read_only. `fn` must be safe to run more than once (no side
/// effects outside the session). Returns what `fn` returns; rethrows the last retryable error,
/// and any other error at once.
///
/// ```cpp
/// ls::run_transaction(engine, [&](ls::session& tx) {
///     auto a = tx.query<Account>().where(ls::col<&Account::id> == 7).for_update().one();
///     a->balance -= 10;
/// }, /*retries=*/5);
/// ```
template <class F>
auto run_transaction(const engine& e, F&& fn, int retries = 5, session_options options = {}) {
    if (options.transaction == transaction_mode::automatic) options.transaction = transaction_mode::write;
    for (int attempt = 0;; ++attempt) {
        session s{e, options};
        try {
            if constexpr (std::is_void_v<std::invoke_result_t<F&, session&>>) {
                fn(s);
                s.commit();
                return;
            } else {
                auto result = fn(s);
                s.commit();
                return result;
            }
        } catch (const serialization_error&) {
            if (attempt >= retries) throw;
        } catch (const busy_error&) {
            if (attempt >= retries) throw;
        }
    }
}

}  // namespace loadstar
