// loadstar/impl/session.ipp - the session's non-template code: flush, commit, rollback,
// savepoints, expunge_all. Included by session.hpp (header-only, the default) or compiled once
// by <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/session.hpp>

namespace loadstar {

LOADSTAR_DECL savepoint::~savepoint() {
    if (s_) try {
            rollback();
        } catch (...) {
        }
}

LOADSTAR_DECL session::session(const engine& e, session_options options)
    : core_(std::make_unique<detail::session_core>(e.state(), std::move(options))) {}

LOADSTAR_DECL void session::flush() {
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
        for (auto& [holder, rec] : changes) rec.vt->changed(s, *rec.vt, rec.owner, rec.original);
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

LOADSTAR_DECL void session::commit() {
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

LOADSTAR_DECL void session::rollback() {
    check_open();
    auto& s = *core_;
    s.rollback();
    s.drop_unflushed();
    undo_tx(0, 0);
    refresh_all();
}

LOADSTAR_DECL savepoint session::begin_nested() {
    flush();
    auto& s = *core_;
    s.connection();
    std::string name = s.savepoint_name(++s.savepoint_counter);
    s.run_control("SAVEPOINT " + name);
    ++s.savepoint_depth;
    return savepoint(*this, std::move(name), {s.tx_inserted.size(), s.tx_deleted.size()});
}

LOADSTAR_DECL void session::expunge_all() {
    check_open();
    core_->detach_all();
    core_->pending.clear();
    core_->pending_set.clear();
    core_->deleted.clear();
    core_->deleted_set.clear();
}

LOADSTAR_DECL std::size_t session::bulk_insert_erased(const detail::table_info& t, const std::vector<const void*>& keyed,
                                                      const std::vector<const void*>& generated) {
    flush();
    auto& s = *core_;
    auto& pc = s.write_connection();
    // All or nothing, and the session's transaction survives a failure (PostgreSQL aborts a
    // transaction on the first error): the rows go in under a SAVEPOINT.
    const std::string sp = s.savepoint_name(++s.savepoint_counter);
    s.run_control("SAVEPOINT " + sp);
    std::size_t done = 0;
    try {
        done = bulk_insert_rows(pc, t, keyed, true);
        done += bulk_insert_rows(pc, t, generated, false);
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

LOADSTAR_DECL std::size_t session::bulk_insert_rows(detail::pooled_connection& pc, const detail::table_info& t,
                                                    const std::vector<const void*>& part, bool with_pk) {
    auto& s = *core_;
    if (part.empty()) return 0;
    const std::size_t ncols = t.column_count() - (with_pk ? 0 : 1);
    if (ncols == 0) {
        // Only a generated key: nothing to list, a row per statement
        // (INSERT ... DEFAULT VALUES takes no VALUES list, and COPY no empty one).
        const std::string& sql = t.insert_sql(false, false);
        for (std::size_t i = 0; i < part.size(); ++i) {
            detail::cursor c(*s.eng, pc, sql, {});
            c.run();
        }
        return part.size();
    }
    if (copy(pc, t, part, with_pk, ncols)) return part.size();
    const std::size_t limit = s.eng->sql_dialect().max_bind_parameters;
    const std::size_t per = std::max<std::size_t>(1, std::min<std::size_t>(500, limit / ncols));
    const std::string& head = t.insert_sql(with_pk, false);
    std::string one_row = " (";  // the VALUES list of one more row
    for (std::size_t k = 0; k < ncols; ++k) one_row += k ? ", ?" : "?";
    one_row += ')';
    std::string full_sql;
    std::size_t full_rows = 0;
    std::vector<value> params;
    std::size_t done = 0;
    for (std::size_t b = 0; b < part.size(); b += per) {
        const std::size_t e = std::min(part.size(), b + per);
        params.clear();
        params.reserve((e - b) * ncols);
        for (std::size_t i = b; i < e; ++i) t.append_params(part[i], with_pk, params);
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
    return done;
}

LOADSTAR_DECL bool session::copy(detail::pooled_connection& pc, const detail::table_info& t,
                                 const std::vector<const void*>& part, bool with_pk, std::size_t ncols) {
    auto& s = *core_;
    std::vector<std::string> cols;
    for (std::size_t i = 0; i < t.column_count(); ++i)
        if (with_pk || i != t.pk()) cols.push_back(t.quoted_column(i));
    std::vector<value> values;
    values.reserve(part.size() * ncols);
    for (const void* r : part) t.append_params(r, with_pk, values);
    const auto start = std::chrono::steady_clock::now();
    if (!pc.conn->copy_in(t.quoted_table(), cols, values)) return false;
    if (s.eng->observed()) {
        std::string sql = "COPY " + t.quoted_table() + " (";
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

LOADSTAR_DECL std::size_t session::identity_size() const {
    std::size_t n = 0;
    for (auto& m : core_->maps)
        if (m) n += m->size();
    return n;
}

LOADSTAR_DECL void session::undo_flush() noexcept {
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

LOADSTAR_DECL void session::check_open() const {
    if (core_->closed) throw detached_error("loadstar: the session is closed");
}

LOADSTAR_DECL void session::add_object(const std::shared_ptr<void>& obj, const detail::entity_ops& e) {
    if (!obj) throw usage_error("loadstar: add() of a null pointer");
    check_open();
    if (core_->deleted_set.erase(obj.get())) {
        std::erase_if(core_->deleted, [&](const detail::object_ref& r) { return r.object.get() == obj.get(); });
        return;
    }
    if (detail::is_persistent(*core_, e, obj.get())) return;
    if (core_->pending_set.insert(obj.get()).second) core_->pending.push_back({obj, e.save});
}

LOADSTAR_DECL void session::remove_object(const std::shared_ptr<void>& obj, const detail::entity_ops& e,
                                          void (*removal)(detail::session_core&, const std::shared_ptr<void>&)) {
    if (!obj) throw usage_error("loadstar: remove() of a null pointer");
    check_open();
    if (core_->pending_set.erase(obj.get())) {
        std::erase_if(core_->pending, [&](const detail::object_ref& r) { return r.object.get() == obj.get(); });
        return;
    }
    if (!detail::is_persistent(*core_, e, obj.get()))
        throw usage_error("loadstar: remove() of an object this session does not hold");
    if (core_->deleted_set.insert(obj.get()).second) core_->deleted.push_back({obj, removal});
}

LOADSTAR_DECL void session::refresh_all() {
    auto& s = *core_;
    for (std::size_t i = 0; i < s.maps.size(); ++i)
        if (s.maps[i]) s.maps[i]->refresh_all(s);
}

LOADSTAR_DECL void savepoint::commit() {
    if (!s_) return;
    session& s = *s_;
    s_ = nullptr;
    s.flush();
    s.core_->run_control("RELEASE SAVEPOINT " + name_);
    --s.core_->savepoint_depth;
}

LOADSTAR_DECL void savepoint::rollback() {
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

}  // namespace loadstar
