// loadstar/sqlite/impl/driver.ipp - the SQLite driver's code. Included by sqlite/driver.hpp
// (header-only, the default) or compiled once by <loadstar/sqlite/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/sqlite/driver.hpp>

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <system_error>
#include <thread>

namespace loadstar::sqlite {
namespace detail {

LOADSTAR_DECL bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
    for (auto a : allowed)
        if (v == a) return true;
    return false;
}

LOADSTAR_DECL void check_options(const options& o) {
    if (!one_of(o.journal_mode, {"wal", "delete", "truncate", "persist", "memory", "off"}))
        throw usage_error("loadstar/sqlite: journal_mode '" + o.journal_mode +
                          "' is not one of wal, delete, truncate, persist, memory, off");
    if (!o.synchronous.empty() && !one_of(o.synchronous, {"off", "normal", "full", "extra"}))
        throw usage_error("loadstar/sqlite: synchronous '" + o.synchronous + "' is not one of off, normal, full, extra");
    if (o.busy_timeout.count() < 0) throw usage_error("loadstar/sqlite: busy_timeout must not be negative");
}

LOADSTAR_DECL void raise(sqlite3* db, int rc, std::string_view what) {
    const int ext = db ? sqlite3_extended_errcode(db) : rc;
    std::string msg = "loadstar/sqlite: ";
    msg.append(what);
    msg += ": ";
    msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (ext & 0xff) {
    case SQLITE_CONSTRAINT: {
        // SQLite names what failed in its message: "UNIQUE constraint failed: t.a, t.b",
        // "NOT NULL constraint failed: t.c", "CHECK constraint failed: name",
        // "UNIQUE constraint failed: index 'i'"; a FOREIGN KEY failure names nothing.
        std::string table, constraint, column;
        const std::string_view text = db ? sqlite3_errmsg(db) : "";
        constexpr std::string_view marker = "constraint failed: ";
        if (const auto at = text.find(marker); at != std::string_view::npos) {
            std::string_view rest = text.substr(at + marker.size());
            if (text.starts_with("UNIQUE") || text.starts_with("NOT NULL")) {
                if (rest.starts_with("index '") && rest.ends_with("'")) {
                    constraint = rest.substr(7, rest.size() - 8);
                } else {
                    while (!rest.empty()) {
                        const auto comma = rest.find(", ");
                        const std::string_view item = rest.substr(0, comma);
                        if (const auto dot = item.find('.'); dot != std::string_view::npos) {
                            if (table.empty()) table = item.substr(0, dot);
                            if (!column.empty()) column += ", ";
                            column += item.substr(dot + 1);
                        }
                        if (comma == std::string_view::npos) break;
                        rest.remove_prefix(comma + 2);
                    }
                }
            } else if (text.starts_with("CHECK")) {
                constraint = rest;
            }
        }
        throw integrity_error(msg, ext, {}, std::move(table), std::move(constraint), std::move(column));
    }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        if (ext == SQLITE_BUSY_SNAPSHOT)
            msg += " (this transaction read before it wrote, and another connection wrote since: roll back and "
                   "run it again, as run_transaction does, or begin it as a write transaction)";
        else if ((ext & 0xff) == SQLITE_BUSY)
            msg += " (another connection holds the lock: the busy timeout ran out, or this transaction read before "
                   "it wrote, and SQLite does not wait for the write lock then: begin it as a write transaction)";
        throw busy_error(msg, ext);
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_IOERR: throw connection_error(msg, ext);
    default: throw error(msg, ext);
    }
}

LOADSTAR_DECL statement::~statement() { sqlite3_finalize(st_); }

LOADSTAR_DECL void statement::bind_real(int i, double v) {
    // SQLite would store NaN as NULL: refuse it rather than lose it silently.
    if (std::isnan(v)) throw conversion_error("loadstar/sqlite: NaN cannot be stored (SQLite turns it into NULL)");
    check(sqlite3_bind_double(st_, i + 1, v));
}

LOADSTAR_DECL bool statement::step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    raise(db_, rc, "step");
}

LOADSTAR_DECL column_kind statement::read_text(int c, std::string_view& out) {
    sqlite3_value* v = sqlite3_column_value(st_, c);
    const column_kind k = kind_of(sqlite3_value_type(v));
    if (k == column_kind::text) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
        out = {p ? p : "", static_cast<std::size_t>(sqlite3_value_bytes(v))};
    }
    return k;
}

LOADSTAR_DECL std::string_view statement::get_text(int c) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
    return {p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st_, c))};
}

LOADSTAR_DECL std::span<const std::byte> statement::get_blob(int c) {
    const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(st_, c));
    return {p, static_cast<std::size_t>(sqlite3_column_bytes(st_, c))};
}

LOADSTAR_DECL connection::connection(const std::string& uri, int flags, const options& o) : busy_timeout_(o.busy_timeout) {
    const int rc = sqlite3_open_v2(uri.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = "loadstar/sqlite: cannot open '" + uri + "': " +
                          (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
        sqlite3_close(db_);
        throw connection_error(msg, rc);
    }
    sqlite3_extended_result_codes(db_, 1);
    try {
        sqlite3_busy_handler(db_, busy_timeout_.count() > 0 ? &on_busy : nullptr, this);
        // Per connection (journal_mode is the database's and is set once, by the driver).
        execute(o.foreign_keys ? "PRAGMA foreign_keys = ON" : "PRAGMA foreign_keys = OFF");
        const std::string sync = !o.synchronous.empty() ? o.synchronous
                                 : o.journal_mode == "wal" ? "normal"
                                                           : "full";
        execute("PRAGMA synchronous = " + sync);
        execute("PRAGMA journal_size_limit = " + std::to_string(o.journal_size_limit));
        execute("PRAGMA wal_autocheckpoint = " + std::to_string(o.wal_autocheckpoint));
    } catch (...) {
        sqlite3_close_v2(db_);
        throw;
    }
}

LOADSTAR_DECL connection::~connection() {
    for (auto& [text, st] : control_) sqlite3_finalize(st);
    sqlite3_close_v2(db_);
}

LOADSTAR_DECL std::unique_ptr<loadstar::statement> connection::prepare(std::string_view sql) {
    sqlite3_stmt* st = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) raise(db_, rc, "prepare");
    return std::make_unique<statement>(db_, st);
}

LOADSTAR_DECL void connection::execute(std::string_view sql) {
    if (sqlite3_stmt* st = control_statement(sql)) {
        // Transaction control comes back on every session: prepared once, re-stepped
        // (sqlite3_exec would parse BEGIN and COMMIT each time: a quarter of a short
        // read-only session's time).
        const int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) raise(db_, rc, sql);
        return;
    }
    std::string s(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) raise(db_, rc, s);
}

LOADSTAR_DECL std::size_t connection::max_variables() const {
    return static_cast<std::size_t>(sqlite3_limit(db_, SQLITE_LIMIT_VARIABLE_NUMBER, -1));
}

LOADSTAR_DECL std::size_t connection::prepared_statements() const noexcept {
    std::size_t n = 0;
    for (sqlite3_stmt* st = sqlite3_next_stmt(db_, nullptr); st; st = sqlite3_next_stmt(db_, st)) ++n;
    return n - control_.size();
}

LOADSTAR_DECL std::string connection::set_journal_mode(const std::string& mode) {
    auto st = prepare("PRAGMA journal_mode = " + mode);
    std::string got = st->step() ? std::string(st->get_text(0)) : std::string{};
    st->reset();
    return got;
}

LOADSTAR_DECL int connection::on_busy(void* self, int attempt) {
    auto& c = *static_cast<connection*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (attempt == 0) c.busy_since_ = now;
    const auto waited = now - c.busy_since_;
    if (waited >= c.busy_timeout_) return 0;
    static constexpr int steps_us[] = {50, 100, 200, 500, 1000, 2000};
    const auto step = std::chrono::microseconds(steps_us[attempt < 5 ? attempt : 5]);
    const auto left = c.busy_timeout_ - waited;
    std::this_thread::sleep_for(step < left ? std::chrono::nanoseconds(step) : std::chrono::nanoseconds(left));
    return 1;
}

LOADSTAR_DECL sqlite3_stmt* connection::control_statement(std::string_view sql) {
    static constexpr std::string_view kinds[] = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT ", "RELEASE "};
    bool control = false;
    for (auto k : kinds) control = control || sql.starts_with(k);
    if (!control) return nullptr;
    for (auto& [text, st] : control_)
        if (text == sql) return st;
    if (control_.size() >= 32) return nullptr;
    sqlite3_stmt* st = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &st, nullptr);
    if (rc != SQLITE_OK) raise(db_, rc, sql);
    control_.emplace_back(std::string(sql), st);
    return st;
}

LOADSTAR_DECL ram_directory::ram_directory() {
    std::string base = "/dev/shm";
    if (::access(base.c_str(), W_OK | X_OK) != 0) {
        const char* t = std::getenv("TMPDIR");
        base = t && *t ? t : "/tmp";
    }
    std::string tmpl = base + "/loadstar-memory-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
        throw connection_error("loadstar/sqlite: cannot create a directory for a ':memory:' database in " + base);
    dir_ = std::move(tmpl);
}

LOADSTAR_DECL ram_directory::~ram_directory() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path() + suffix).c_str());
    ::rmdir(dir_.c_str());
}

}  // namespace detail

LOADSTAR_DECL driver::driver(std::string path, options o) : options_(std::move(o)) {
    detail::check_options(options_);
    flags_ = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (path.empty() || path == ":memory:") {
        ram_ = std::make_shared<detail::ram_directory>();
        uri_ = ram_->path();
    } else {
        uri_ = std::move(path);
        if (uri_.starts_with("file:")) flags_ |= SQLITE_OPEN_URI;
    }
    // One connection stays open while the driver lives: it sets the journal mode once
    // (it belongs to the database file), and it keeps a shared-cache memory database alive.
    anchor_ = std::make_shared<detail::connection>(uri_, flags_, options_);
    const std::string mode = anchor_->set_journal_mode(options_.journal_mode);
    const bool in_memory = mode == "memory" && options_.journal_mode != "memory";
    if (mode != options_.journal_mode && !in_memory)
        throw connection_error("loadstar/sqlite: '" + uri_ + "' refused journal_mode=" + options_.journal_mode +
                               " (it uses " + (mode.empty() ? std::string("none") : mode) + ")");
    dialect_.name = "sqlite";
    dialect_.dollar_placeholders = false;
    dialect_.supports_returning = sqlite3_libversion_number() >= 3035000;
    dialect_.supports_for_update = false;
    dialect_.supports_arrays = false;
    dialect_.max_bind_parameters = anchor_->max_variables();
    dialect_.generated_key = "PRIMARY KEY";
    dialect_.begin_read = "BEGIN";
    dialect_.begin_write = options_.immediate_writes ? "BEGIN IMMEDIATE" : "BEGIN";
    dialect_.begin_read_only = "BEGIN";
    dialect_.generated_key_type = "INTEGER";   // the rowid, whatever the member's width
    dialect_.offset_without_limit = " LIMIT -1";  // no OFFSET without LIMIT
}

LOADSTAR_DECL std::unique_ptr<loadstar::connection> driver::connect() {
    return std::make_unique<detail::connection>(uri_, flags_, options_);
}

LOADSTAR_DECL loadstar::engine engine(std::string path, pool_options pool, options o) {
    return loadstar::engine(driver(std::move(path), std::move(o)), pool);
}

namespace detail {

LOADSTAR_DECL std::int64_t parse_int(std::string_view key, std::string_view v) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || v.empty())
        throw usage_error("loadstar/sqlite: URL parameter " + std::string(key) + "=" + std::string(v) +
                          ": expected an integer");
    return n;
}

LOADSTAR_DECL std::string take_url_options(std::string_view rest, options& o, pool_options* pool) {
    return loadstar::detail::take_url_parameters(rest, [&](std::string_view key, std::string_view v) {
        if (pool && loadstar::detail::take_pool_parameter("loadstar/sqlite", key, v, *pool)) return true;
        if (key == "journal_mode") o.journal_mode = std::string(v);
        else if (key == "synchronous") o.synchronous = std::string(v);
        else if (key == "foreign_keys") o.foreign_keys = loadstar::detail::url_bool("loadstar/sqlite", key, v);
        else if (key == "busy_timeout") o.busy_timeout = std::chrono::milliseconds(parse_int(key, v));
        else if (key == "immediate_writes") o.immediate_writes = loadstar::detail::url_bool("loadstar/sqlite", key, v);
        else if (key == "journal_size_limit") o.journal_size_limit = parse_int(key, v);
        else if (key == "wal_autocheckpoint") o.wal_autocheckpoint = static_cast<int>(parse_int(key, v));
        else
            throw usage_error("loadstar/sqlite: unknown URL parameter '" + std::string(key) +
                              "' (journal_mode, synchronous, foreign_keys, busy_timeout, immediate_writes, "
                              "journal_size_limit, wal_autocheckpoint, statement_cache_size)");
        return true;
    });
}

LOADSTAR_DECL bool register_scheme() {
    static const bool registered = [] {
        loadstar::detail::scheme_registry::add("sqlite", [](std::string_view rest) {
            // sqlite:///relative.db, sqlite:////absolute.db, sqlite:// or sqlite:///:memory:,
            // each optionally followed by ?journal_mode=delete&busy_timeout=2000...
            options o;
            pool_options pool;
            std::string path = take_url_options(rest, o, &pool);
            if (!path.empty() && path.front() == '/') path.erase(0, 1);
            return sqlite::engine(path, pool, std::move(o));
        });
        return true;
    }();
    return registered;
}

}  // namespace detail
}  // namespace loadstar::sqlite
