// loadstar/session.hpp - the session: identity-mapped reads and the unit of work (add, dirty
// tracking, dependency-ordered flush in a savepoint, cascades, commit, rollback, savepoints).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/detail/session_core.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/loader/loader.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/query.hpp>
#include <loadstar/relationship.hpp>
#include <loadstar/unit/common.hpp>
#include <loadstar/unit/insert.hpp>
#include <loadstar/unit/refresh.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <vector>

namespace loadstar {

/// Where an object stands relative to a session (SQLAlchemy's object states).
enum class object_state { transient, pending, persistent, deleted, detached };

namespace detail {
struct session_access;
}  // namespace detail

class session;

/// A SAVEPOINT as an RAII guard (`session::begin_nested()`): `commit()` releases it; `rollback()`
/// or leaving the scope without commit rolls back to it.
class savepoint {
public:
    savepoint(const savepoint&) = delete;
    savepoint& operator=(const savepoint&) = delete;
    savepoint(savepoint&& o) noexcept : s_(o.s_), name_(std::move(o.name_)), marks_(o.marks_) { o.s_ = nullptr; }
    ~savepoint();
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
    explicit session(const engine& e, session_options options = {});
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
        if (auto hit = core_->map<E>().find(static_cast<pk_type>(pk))) return hit;
        return query<E>().where(col<entity_meta<E>::pk_member> == pk).first();
    }

    /// Adds a new object (and, by the save-update cascade, the new objects its relationships
    /// reach at flush time) to be inserted at the next flush. Adding a persistent object does
    /// nothing; adding one marked for deletion takes the mark back.
    template <class E>
    void add(const ptr<E>& obj) {
        static_assert(detail::require_mapped<E>::ok);
        static_assert(detail::insert_cycle_check<E>::ok);
        add_object(obj, detail::entity_ops_for<E>::table);
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
        remove_object(obj, detail::entity_ops_for<E>::table, &detail::remove_erased<E>);
    }

    /// Writes everything pending, in an order the database accepts: INSERTs parents first
    /// (generated keys copied into children's foreign keys and association rows), UPDATEs of
    /// changed columns only, DELETEs children first. Runs inside a SAVEPOINT: if any statement
    /// fails, the database is as before the flush, every object is as before the flush (still
    /// pending, changed or marked), the session stays usable, and the error is rethrown.
    void flush();

    /// flush() and COMMIT. Objects stay in the identity map with their values. If the database
    /// refuses the COMMIT (busy_error: SQLite's busy timeout ran out), the transaction is
    /// rolled back as rollback() does and the error is rethrown: what it wrote is gone, and
    /// the session says so (its new objects are transient again).
    void commit();

    /// ROLLBACK. Pending objects and recorded changes are dropped; objects the transaction
    /// inserted become transient (generated keys reset), objects it deleted come back, and
    /// every other object in the identity map is re-read from the database.
    void rollback();

    /// SAVEPOINT (after a flush) as an RAII guard; see loadstar::savepoint.
    savepoint begin_nested();

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
            if (vt->lazy_load_many) vt->lazy_load_many(*core_, *vt, owners, where);
            else for (void* o : owners) vt->lazy_load(*core_, *vt, o, where);
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
        if (it != m.objects.end() && it->second.obj.get() == obj.get()) {
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
    void expunge_all();
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
        std::vector<const void*> keyed, generated;
        for (const auto& r : rows) (detail::entity_state<E>::key_set(r) ? keyed : generated).push_back(&r);
        return bulk_insert_erased(detail::table_of<E>(), keyed, generated);
    }
    template <class E>
    std::size_t bulk_insert(const std::vector<E>& rows) {
        return bulk_insert(std::span<const E>(rows));
    }

    /// The object's state relative to this session.
    template <class E>
    object_state state(const ptr<E>& obj) const {
        if (core_->pending_set.count(obj.get())) return object_state::pending;
        if (core_->deleted_set.count(obj.get())) return object_state::deleted;
        if (detail::entity_state<E>::is_persistent(*core_, *obj)) return object_state::persistent;
        return detail::entity_state<E>::key_set(*obj) ? object_state::detached : object_state::transient;
    }

    /// True if `obj` is this session's object for its key.
    template <class E>
    bool contains(const ptr<E>& obj) const {
        return detail::entity_state<E>::is_persistent(*core_, *obj);
    }
    /// Objects in the identity map, all entity types.
    std::size_t identity_size() const;
    /// True while objects or changes wait for flush (columns are compared at flush time).
    bool has_pending() const { return !core_->pending.empty() || !core_->changes.empty() || !core_->deleted.empty(); }

private:
    friend class savepoint;
    friend struct detail::session_access;
    /// Both halves of bulk_insert: the rows with keys set, then those whose keys the
    /// database generates.
    std::size_t bulk_insert_erased(const detail::table_info& t, const std::vector<const void*>& keyed,
                                   const std::vector<const void*>& generated);
    std::size_t bulk_insert_rows(detail::pooled_connection& pc, const detail::table_info& t,
                                 const std::vector<const void*>& part, bool with_pk);
    /// The driver's bulk path (COPY), reported to listeners as one counted statement.
    bool copy(detail::pooled_connection& pc, const detail::table_info& t, const std::vector<const void*>& part,
              bool with_pk, std::size_t ncols);
    /// Undoes a failed flush's in-memory effects (keys, foreign keys, identity map entries).
    void undo_flush() noexcept;
    void check_open() const;
    /// add() and remove() of an object of the entity `e` describes (ordinary code: per entity
    /// only the calls above). `removal` is the entity's delete step (remove_erased<E>).
    void add_object(const std::shared_ptr<void>& obj, const detail::entity_ops& e);
    void remove_object(const std::shared_ptr<void>& obj, const detail::entity_ops& e,
                       void (*removal)(detail::session_core&, const std::shared_ptr<void>&));
    void undo_tx(std::size_t inserted_mark, std::size_t deleted_mark) { core_->undo_tx(inserted_mark, deleted_mark); }
    void refresh_all();
    std::unique_ptr<detail::session_core> core_;
};

namespace detail {
struct session_access {
    /// Whether the session ever held a connection (a lost one counts): a connection_error
    /// before that means the database could not be reached at all.
    static bool connected(const session& s) noexcept { return s.core_->connected_once; }
};
}  // namespace detail

/// Runs `fn(session&)` in a fresh session and commits; when the database aborts the
/// transaction for serialization (SQLSTATE 40001 / 40P01, loadstar::serialization_error), is
/// busy (loadstar::busy_error: SQLite's busy timeout ran out, PostgreSQL's lock_not_available),
/// or the connection is lost before COMMIT (loadstar::connection_error: a pooled connection
/// whose server restarted or whose backend was terminated; the server rolled the transaction
/// back), runs it again in another fresh session, up to `retries` more times: the client-side
/// retry protocol CockroachDB and YugabyteDB require, and PostgreSQL's SERIALIZABLE level
/// expects. Never retried: a connection lost during COMMIT (loadstar::commit_unknown_error: it
/// may have committed), and a database that could not be reached at all.
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
        } catch (const commit_unknown_error&) {
            throw;  // it may have committed: running it again could apply it twice
        } catch (const connection_error&) {
            // Lost before COMMIT: the server rolled the transaction back with the link. A
            // database that could not be reached at all is not retried.
            if (attempt >= retries || !detail::session_access::connected(s)) throw;
        }
    }
}

}  // namespace loadstar

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/session.ipp>
#endif
