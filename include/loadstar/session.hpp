// loadstar/session.hpp - the session: identity-mapped reads, adds, flush, commit, rollback.
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

#include <memory>
#include <source_location>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <vector>

namespace loadstar {

namespace detail {

inline void touch(holder_link& link, const std::source_location& where) {
    if (link.mode == holder_mode::raise)
        throw raise_load_error("loadstar: " + (link.vt ? link.vt->name() : std::string("relationship")) +
                               " is not loaded and its loader strategy is raise (touched at " +
                               where.file_name() + ":" + std::to_string(where.line()) + ")");
    if (!link.core || !link.vt) {
        throw detached_error("loadstar: " + (link.vt ? link.vt->name() : std::string("a relationship")) +
                             " is not loaded and its object is not attached to an open session");
    }
    link.vt->lazy_load(*link.core, link.owner, where);
}

inline void note_change(holder_link& link) {
    if (link.core && link.vt && link.owner) link.core->changed_owners.emplace_back(link.owner, link.vt->changed);
}

template <class E>
using default_plan = plan<E, type_list<>, false, type_list<>>;

/// Writes new objects: parents before children (from the relationships), generated keys copied
/// into children's foreign keys and association rows.
template <class E>
struct persister {
    using meta = entity_meta<E>;
    using L = loader<default_plan<E>>;

    static bool is_persistent(session_core& s, const E& obj) {
        if constexpr (meta::pk_column::generated) {
            if (obj.*(meta::pk_member) == 0) return false;
        }
        auto* hit = s.map<E>().find(obj.*(meta::pk_member));
        return hit && hit->get() == &obj;
    }

    static void insert_erased(session_core& s, const std::shared_ptr<void>& p) {
        save(s, std::static_pointer_cast<E>(p));
    }

    /// Inserts `obj` if it is new, after what it belongs to, before what belongs to it.
    static void save(session_core& s, const ptr<E>& obj) {
        if (!obj || !s.flush_seen.insert(obj.get()).second) return;
        const bool fresh = !is_persistent(s, *obj);
        if (fresh) {
            for_each_index<meta::relationship_count>([&](auto i) {
                using R = typename meta::template relationship_t<i>;
                if constexpr (R::kind == relation::belongs_to) {
                    auto& h = (*obj).*(R::member);
                    if (!h.loaded()) return;
                    auto& target = holder_access<typename R::holder>::items(h);
                    if (!target) return;
                    persister<typename R::target>::save(s, target);
                    using K = rel_keys<E, i>;
                    (*obj).*(K::key) = (*target).*(entity_meta<typename R::target>::pk_member);
                }
            });
            insert_row(s, obj);
        }
        cascade_children(s, obj, fresh);
    }

    static void cascade_children(session_core& s, const ptr<E>& obj, bool fresh) {
        for_each_index<meta::relationship_count>([&](auto i) { cascade_rel<i>(s, obj, fresh); });
    }

    template <std::size_t I>
    static void cascade_rel(session_core& s, const ptr<E>& obj, bool fresh) {
        using R = typename meta::template relationship_t<I>;
        using T = typename R::target;
        using K = rel_keys<E, I>;
        auto& h = (*obj).*(R::member);
        if (!h.loaded()) return;
        if constexpr (R::kind == relation::has_many || R::kind == relation::has_one) {
            auto each = [&](const ptr<T>& child) {
                if (!child) return;
                (*child).*(K::key) = (*obj).*(meta::pk_member);
                if constexpr (R::back::present) {
                    auto& back = (*child).*(R::back::member);
                    using BH = std::remove_cvref_t<decltype(back)>;
                    if constexpr (holder_traits<BH>::is_one) holder_access<BH>::items(back) = obj;
                }
                persister<T>::save(s, child);
            };
            if constexpr (R::to_many) {
                for (const auto& c : holder_access<typename R::holder>::items(h)) each(c);
            } else {
                each(holder_access<typename R::holder>::items(h));
            }
        } else if constexpr (R::kind == relation::many_to_many) {
            if (!fresh) return;  // association changes of persistent objects: a later flush feature
            for (const auto& target : holder_access<typename R::holder>::items(h)) {
                if (!target) continue;
                persister<T>::save(s, target);
                static const std::string sql = "INSERT INTO " + quote_ident(K::key.table) + " (" +
                                               quote_ident(K::key.local) + ", " + quote_ident(K::key.remote) +
                                               ") VALUES (?, ?)";
                const value params[] = {to_value((*obj).*(meta::pk_member)),
                                        to_value((*target).*(entity_meta<T>::pk_member))};
                cursor c(*s.eng, s.connection(), sql, params);
                c.run();
            }
        }
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

    static void insert_row(session_core& s, const ptr<E>& obj) {
        E& o = *obj;
        bool generate = false;
        if constexpr (meta::pk_column::generated) generate = o.*(meta::pk_member) == 0;
        std::vector<value> params;
        params.reserve(meta::column_count);
        for_each_index<meta::column_count>([&](auto i) {
            if (generate && i == meta::pk_index) return;
            params.push_back(to_value(o.*(meta::template column_t<i>::member)));
        });
        const bool returning = generate && s.eng->sql_dialect().supports_returning;
        static const std::string returning_sql =
            insert_sql(false) + " RETURNING " + quote_ident(meta::template column_name<meta::pk_index>());
        const std::string& sql = generate ? (returning ? returning_sql : insert_sql(false)) : insert_sql(true);
        {
            cursor c(*s.eng, s.connection(), sql, params);
            if (returning) {
                if (!c.next()) throw error("loadstar: INSERT ... RETURNING returned no row");
                typename meta::pk_type pk{};
                read_column(c.row(), 0, pk, "generated key");
                o.*(meta::pk_member) = pk;
                c.run();
            } else {
                c.run();
            }
        }
        if (generate) s.flush_generated.push_back([obj] { (*obj).*(meta::pk_member) = {}; });
        s.map<E>().objects.emplace(o.*(meta::pk_member), obj);
        s.flush_inserted.push_back([&s, obj] {
            auto& m = s.map<E>();
            auto it = m.objects.find((*obj).*(meta::pk_member));
            if (it != m.objects.end() && it->second == obj) m.objects.erase(it);
        });
        // Bind the new object's holders (all loaded) to the session.
        for_each_index<meta::relationship_count>([&](auto i) {
            using R = typename meta::template relationship_t<i>;
            auto& link = holder_access<typename R::holder>::link(o.*(R::member));
            link.core = &s;
            link.owner = &o;
            link.vt = &lazy_loader<E, i, typename rel_plan<default_plan<E>, i>::lazy_plan>::vt;
            link.mode = holder_mode::lazy;
        });
    }
};

template <class E, std::size_t I>
void cascade_changed(session_core& s, void* owner) {
    auto& m = s.map<E>();
    E* o = static_cast<E*>(owner);
    auto* hit = m.find(o->*(entity_meta<E>::pk_member));
    if (!hit || hit->get() != o) return;  // not (or no longer) persistent here
    persister<E>::template cascade_rel<I>(s, *hit, false);
}

}  // namespace detail

/// A unit of work over one connection: an identity map (one object per primary key), new
/// objects waiting for flush, and a transaction begun on first use.
///
/// ```cpp
/// loadstar::session s{engine};
/// auto jane = s.get<Author>(1);                       // SELECT, or the identity map
/// s.add(std::make_shared<Author>(Author{.name = "Anne Brontë"}));
/// s.commit();                                          // INSERT ..., COMMIT
/// ```
class session {
public:
    explicit session(const engine& e, session_options options = {})
        : core_(std::make_unique<detail::session_core>(e.state(), options)) {}
    session(session&&) noexcept = default;
    session& operator=(session&&) noexcept = default;
    ~session() = default;

    /// A query for entity E. Fails to compile if E is not mapped.
    template <class E>
    loadstar::query<E> query() {
        static_assert(detail::require_mapped<E>::ok);
        return loadstar::query<E>(*core_);
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

    /// Adds a new object (and, by save-update cascade, the new objects its relationships
    /// reach) to be inserted at the next flush. Adding a persistent object does nothing.
    template <class E>
    void add(const ptr<E>& obj) {
        static_assert(detail::require_mapped<E>::ok);
        if (!obj) throw usage_error("loadstar: add() of a null pointer");
        check_open();
        if (detail::persister<E>::is_persistent(*core_, *obj)) return;
        if (core_->pending_set.insert(obj.get()).second)
            core_->pending.push_back({obj, &detail::persister<E>::insert_erased});
    }

    /// Writes pending objects (parents first). On failure the transaction is rolled back, the
    /// objects stay pending with their keys as before, and the error is rethrown.
    void flush() {
        check_open();
        auto& s = *core_;
        if (s.pending.empty() && s.changed_owners.empty()) return;
        auto pending = s.pending;
        auto changed = s.changed_owners;
        s.flush_seen.clear();
        s.flush_inserted.clear();
        s.flush_generated.clear();
        try {
            for (auto& p : pending) p.insert(s, p.object);
            for (auto& [owner, fn] : changed)
                if (fn) fn(s, owner);
        } catch (...) {
            for (auto& undo : s.flush_inserted) undo();
            for (auto& undo : s.flush_generated) undo();
            try {
                s.rollback();
            } catch (...) {
            }
            s.flush_seen.clear();
            throw;
        }
        s.pending.clear();
        s.pending_set.clear();
        s.changed_owners.clear();
        s.flush_seen.clear();
        s.flush_inserted.clear();
        s.flush_generated.clear();
    }

    /// flush() and COMMIT. Objects stay in the identity map with their values.
    void commit() {
        flush();
        core_->commit();
    }

    /// ROLLBACK. Pending objects are dropped; the identity map is emptied (its objects are
    /// detached and keep the values they had), so the next read sees the database again.
    void rollback() {
        check_open();
        core_->rollback();
        core_->pending.clear();
        core_->pending_set.clear();
        core_->changed_owners.clear();
        core_->detach_all();
    }

    /// Re-reads the object's columns from the database (its relationships are re-armed).
    template <class E>
    void refresh(const ptr<E>& obj) {
        static_assert(detail::require_mapped<E>::ok);
        auto r = query<E>().where(col<entity_meta<E>::pk_member> == (*obj).*(entity_meta<E>::pk_member))
                     .populate_existing()
                     .all();
        if (r.empty()) throw no_result_error("loadstar: refresh(): the row is gone");
    }

    /// Removes one object from the identity map; its unloaded relationships become detached.
    template <class E>
    void expunge(const ptr<E>& obj) {
        static_assert(detail::require_mapped<E>::ok);
        auto& m = core_->map<E>();
        auto it = m.objects.find((*obj).*(entity_meta<E>::pk_member));
        if (it != m.objects.end() && it->second == obj) {
            detail::detach_holders(*obj);
            m.objects.erase(it);
        }
        core_->pending_set.erase(obj.get());
        std::erase_if(core_->pending, [&](const detail::pending_object& p) { return p.object.get() == obj.get(); });
    }
    /// Empties the identity map (for long jobs: keeps memory flat).
    void expunge_all() {
        check_open();
        core_->detach_all();
        core_->pending.clear();
        core_->pending_set.clear();
    }
    /// Rolls back anything open and returns the connection to the pool; later touches of
    /// unloaded relationships throw detached_error.
    void close() { core_->close(); }

    /// True if `obj` is this session's object for its key.
    template <class E>
    bool contains(const ptr<E>& obj) {
        auto* hit = core_->map<E>().find((*obj).*(entity_meta<E>::pk_member));
        return hit && *hit == obj;
    }
    /// Objects in the identity map, all entity types.
    std::size_t identity_size() const {
        std::size_t n = 0;
        for (auto& m : core_->maps)
            if (m) n += m->size();
        return n;
    }

private:
    void check_open() const {
        if (core_->closed) throw detached_error("loadstar: the session is closed");
    }
    std::unique_ptr<detail::session_core> core_;
};

}  // namespace loadstar
