// loadstar/impl/session_core.ipp - the session's non-template code: its connection and
// transaction, commit and rollback, the cycle sweep at close, the N+1 detector. Included by
// detail/session_core.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/session_core.hpp>

namespace loadstar::detail {

LOADSTAR_DECL void session_core::forget_changes_of(const void* owner) {
    std::erase_if(changes, [&](const auto& kv) { return kv.second.owner == owner; });
}

#if defined(LOADSTAR_SEPARATE_COMPILATION)
template class chunked_vector<std::pair<std::int64_t, map_entry>>;
template class dense_map<std::int64_t, map_entry>;
template std::pair<dense_map<std::int64_t, map_entry>::iterator, bool>
dense_map<std::int64_t, map_entry>::place<>(const std::int64_t&, bool);
template struct keyed_map<std::int64_t>;
template class chunked_vector<std::pair<const void*, char>>;
template class dense_map<const void*, char>;
template std::pair<dense_map<const void*, char>::iterator, bool>
dense_map<const void*, char>::place<int>(const void* const&, bool, int&&);
template class chunked_vector<std::pair<const void*, std::size_t>>;
template class dense_map<const void*, std::size_t>;
template std::pair<dense_map<const void*, std::size_t>::iterator, bool>
dense_map<const void*, std::size_t>::place<std::size_t>(const void* const&, bool, std::size_t&&);
#endif

LOADSTAR_DECL std::size_t next_entity_index() {
    static std::atomic<std::size_t> n{0};
    return n++;
}

LOADSTAR_DECL void snapshot_arena::grow(std::size_t n) {
    const std::size_t size = n > next_ ? n : next_;
    blocks_.reserve(blocks_.size() + 1);
    blocks_.push_back(std::make_unique_for_overwrite<std::byte[]>(size));
    cur_ = blocks_.back().get();
    left_ = size;
    if (next_ < max_block) next_ *= 2;
}

LOADSTAR_DECL session_core::session_core(std::shared_ptr<engine_state> e, session_options o)
    : eng(std::move(e)), options(std::move(o)) {}

LOADSTAR_DECL session_core::~session_core() { close(); }

LOADSTAR_DECL identity_map_base& session_core::add_map_at(std::size_t i, identity_map_base* (*make)()) {
    if (i >= maps.size()) maps.resize(i + 1);
    if (!maps[i]) maps[i].reset(make());
    return *maps[i];
}

LOADSTAR_DECL pooled_connection& session_core::connection(bool write) {
    if (closed) throw detached_error("loadstar: the session is closed");
    if (write && options.transaction == transaction_mode::read_only)
        throw usage_error("loadstar: this session is read-only (session_options::transaction); it cannot write");
    check_tx();
    if (conn && in_transaction && !conn.get().conn->alive()) {
        lose_connection();
        throw connection_error("loadstar: the connection was lost; its transaction was rolled back", 0, "08006");
    }
    if (!conn) {
        conn = lease(eng);
        connected_once = true;
    }
    if (!in_transaction) {
        const dialect& d = eng->sql_dialect();
        run_control(options.transaction == transaction_mode::read_only ? d.begin_read_only
                    : write || options.transaction == transaction_mode::write ? d.begin_write
                                                                              : d.begin_read);
        in_transaction = true;
    }
    return conn.get();
}

LOADSTAR_DECL void session_core::check_tx() const {
    if (tx_lost)
        throw connection_error("loadstar: the connection was lost with a transaction that had flushed "
                               "changes; they were not committed (objects it inserted are transient "
                               "again): call rollback() before using the session again", 0, "08006");
}

LOADSTAR_DECL pooled_connection& session_core::write_connection() {
    auto& pc = connection(true);
    if (flushing && flush_savepoint.empty()) {
        std::string name = savepoint_name(++savepoint_counter);
        run_control("SAVEPOINT " + name);
        flush_savepoint = std::move(name);
    }
    return pc;
}

LOADSTAR_DECL void session_core::run_control(std::string_view sql) {
    if (!conn) throw connection_error("loadstar: the connection was lost; its transaction was rolled back", 0, "08006");
    try {
        execute_control(*eng, conn.get(), sql);
    } catch (const connection_error&) {
        lose_connection();
        throw;
    }
}

LOADSTAR_DECL void session_core::lose_connection() noexcept {
    in_transaction = false;
    savepoint_depth = 0;
    conn.mark_broken();
    conn.release();
    if (tx_wrote) tx_lost = true;
    tx_wrote = false;
    // During a flush, the flush undoes its own work first (flush() calls undo_lost_tx).
    if (!flushing) undo_lost_tx();
}

LOADSTAR_DECL void session_core::undo_tx(std::size_t inserted_mark, std::size_t deleted_mark) noexcept {
    while (tx_inserted.size() > inserted_mark) {
        try { tx_inserted.back()(); } catch (...) {}
        tx_inserted.pop_back();
    }
    while (tx_deleted.size() > deleted_mark) {
        try { tx_deleted.back()(); } catch (...) {}
        tx_deleted.pop_back();
    }
}

LOADSTAR_DECL void session_core::commit() {
    check_tx();
    if (in_transaction) {
        // The transaction ends only when COMMIT succeeds: a refused COMMIT (SQLite: busy,
        // a deferred constraint) leaves it open for session::commit to roll back. A
        // connection lost during the COMMIT of a transaction that wrote leaves the outcome
        // unknown: the server may have committed before the link went. (One that wrote
        // nothing lost nothing either way: a plain connection_error.)
        const bool wrote = tx_wrote;
        bool up = false;
        try {
            up = conn && conn.get().conn->alive();  // cheap (PostgreSQL: one non-blocking read)
        } catch (...) {
        }
        if (!up) {
            // Gone before COMMIT was sent: certainly not committed, so safe to run again.
            lose_connection();
            throw connection_error("loadstar: the connection was lost before COMMIT; its transaction was rolled back",
                                   0, "08006");
        }
        try {
            run_control("COMMIT");
        } catch (const connection_error& e) {
            if (!wrote) throw;
            throw commit_unknown_error(std::string("loadstar: the connection was lost during COMMIT; the "
                                                   "transaction may or may not have been committed (") +
                                           e.what() + ")",
                                       e.native_code(), "40003");
        }
        in_transaction = false;
        savepoint_depth = 0;
    }
    tx_inserted.clear();
    tx_deleted.clear();
    tx_wrote = false;
    for (auto& m : maps)
        if (m) m->compact();
}

LOADSTAR_DECL void session_core::rollback() {
    tx_wrote = false;
    tx_lost = false;
    if (in_transaction) {
        in_transaction = false;
        savepoint_depth = 0;
        run_control("ROLLBACK");
    }
}

LOADSTAR_DECL void session_core::sweep_cycles() {
    bool any = false;
    for (auto& m : maps)
        if (m && m->may_cycle()) any = true;
    if (!any) return;
    sweep_graph g;
    std::size_t n = 0;
    for (auto& m : maps)
        if (m) n += m->size();
    g.nodes.reserve(n);
    for (auto& m : maps)
        if (m) m->sweep_nodes(g);
    for (auto& m : maps)
        if (m) m->sweep_edges(g);
    g.mark();
    for (auto& m : maps)
        if (m) m->sweep_clear(g);
}

LOADSTAR_DECL void session_core::detach_all() {
    // What the session itself keeps (holders' pre-change contents, the undo of inserts)
    // goes first: the sweep counts only the program's references as outside ones.
    changes.clear();
    tx_inserted.clear();
    tx_deleted.clear();
    try {
        sweep_cycles();
    } catch (...) {
        // Out of memory for the sweep: the cycles stay (a leak, never a broken graph).
    }
    // Objects nothing outside the session holds go first (parents before the children
    // their holders kept alive), so what is left to unbind is what the caller kept.
    // Two passes: a parent's map may come after its children's.
    for (int pass = 0; pass < 2; ++pass)
        for (auto& m : maps)
            if (m) m->release_unshared();
    for (auto& m : maps)
        if (m) m->detach_all();
    maps.clear();
    changes.clear();
    tx_inserted.clear();
    tx_deleted.clear();
}

LOADSTAR_DECL void session_core::drop_unflushed() {
    for (auto& [holder, rec] : changes) rec.link->recorded = false;
    changes.clear();
    pending.clear();
    pending_set.clear();
    deleted.clear();
    deleted_set.clear();
}

LOADSTAR_DECL void session_core::close() noexcept {
    if (closed) return;
    try {
        if (conn && in_transaction) rollback();
    } catch (...) {
        conn.mark_broken();
    }
    in_transaction = false;
    detach_all();
    pending.clear();
    pending_set.clear();
    deleted.clear();
    deleted_set.clear();
    conn.release();
    closed = true;
}

LOADSTAR_DECL void session_core::note_lazy_load(const std::string& relationship, bool to_many,
                                                const std::source_location& where) {
    if (options.n_plus_one == n_plus_one_mode::off) return;
    const std::size_t n = ++lazy_counts[&relationship];
    if (n <= options.n_plus_one_threshold) return;
    std::string msg = "loadstar: N+1 select: " + relationship + " lazy-loaded " + std::to_string(n) +
                      " times in one session (threshold " +
                      std::to_string(options.n_plus_one_threshold) + "), touched at " +
                      where.file_name() + ":" + std::to_string(where.line()) + "; load it with " +
                      (to_many ? "selectinload" : "joinedload") + "<&" + relationship_cpp(relationship) +
                      "> in the query's options()";
    if (options.n_plus_one == n_plus_one_mode::raise) throw n_plus_one_error(msg);
    if (warned.insert(&relationship).second) std::fprintf(stderr, "%s\n", msg.c_str());
}

LOADSTAR_DECL std::string session_core::relationship_cpp(const std::string& dotted) {
    std::string s = dotted;
    const auto dot = s.find('.');
    if (dot != std::string::npos) s.replace(dot, 1, "::");
    return s;
}

LOADSTAR_DECL void record_holder_change(session_core& s, holder_link& link, const void* holder, std::shared_ptr<void> original) {
    s.changes.emplace(holder, change_record{link.owner, &link, link.vt, std::move(original)});
}

}  // namespace loadstar::detail
