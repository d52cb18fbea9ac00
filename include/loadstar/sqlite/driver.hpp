// loadstar/sqlite/driver.hpp - the SQLite3 driver over the C API.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/driver.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>

#include <sqlite3.h>

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace loadstar::sqlite {

/// How the driver sets up each connection. The defaults are for an application: many sessions
/// of one process (and other processes) sharing one database file. Each default and its reason:
///
/// | setting | default | why |
/// | --- | --- | --- |
/// | `journal_mode` | `"wal"` | readers never block the writer and the writer never blocks readers; a session that only read cannot make another's COMMIT wait or fail |
/// | `synchronous` | `""`: `NORMAL` under WAL, else `FULL` | under WAL, NORMAL loses no integrity on a crash, only the last transactions on a power cut, and saves an fsync per commit |
/// | `foreign_keys` | `true` | SQLite ignores declared foreign keys unless told otherwise |
/// | `busy_timeout` | 5 s | a writer waits this long for another writer's transaction (short sleeps, see below) before busy_error |
/// | `immediate_writes` | `true` | write transactions begin `BEGIN IMMEDIATE`: the write lock first, so a transaction that reads and then writes cannot be refused at the upgrade (SQLite answers SQLITE_BUSY there at once, whatever the timeout) |
/// | `journal_size_limit` | 64 MiB | the WAL file is truncated back to this after a checkpoint instead of keeping its largest size |
/// | `wal_autocheckpoint` | 1000 pages | a commit that leaves the WAL this long copies it back into the database (PASSIVE: it never waits for readers) |
///
/// Anchors: Rails 7.1/8 ship WAL, synchronous NORMAL, a 64 MiB journal_size_limit, foreign keys
/// and IMMEDIATE transactions as their SQLite defaults; Django 5.1 added `transaction_mode` and
/// `init_command` for the same reasons.
///
/// Through a URL: `sqlite:///app.db?journal_mode=delete&busy_timeout=2000&immediate_writes=false`
/// (and the engine's `statement_cache_size=N`, pool_options::statement_cache_size).
struct options {
    std::string journal_mode = "wal";   ///< wal, delete, truncate, persist, memory or off
    std::string synchronous;            ///< off, normal, full, extra; empty: normal under WAL, else full
    bool foreign_keys = true;
    std::chrono::milliseconds busy_timeout{5000};  ///< 0: fail at once with busy_error
    bool immediate_writes = true;       ///< write transactions BEGIN IMMEDIATE
    std::int64_t journal_size_limit = 64 * 1024 * 1024;  ///< bytes; -1: no limit
    int wal_autocheckpoint = 1000;      ///< pages; 0: never checkpoint automatically
};

namespace detail {

inline bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
    for (auto a : allowed)
        if (v == a) return true;
    return false;
}

/// Checks the settings that end up in PRAGMA text: only known words ever reach the SQL.
inline void check_options(const options& o) {
    if (!one_of(o.journal_mode, {"wal", "delete", "truncate", "persist", "memory", "off"}))
        throw usage_error("loadstar/sqlite: journal_mode '" + o.journal_mode +
                          "' is not one of wal, delete, truncate, persist, memory, off");
    if (!o.synchronous.empty() && !one_of(o.synchronous, {"off", "normal", "full", "extra"}))
        throw usage_error("loadstar/sqlite: synchronous '" + o.synchronous + "' is not one of off, normal, full, extra");
    if (o.busy_timeout.count() < 0) throw usage_error("loadstar/sqlite: busy_timeout must not be negative");
}

[[noreturn]] inline void raise(sqlite3* db, int rc, std::string_view what) {
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

class statement final : public loadstar::statement {
public:
    statement(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
    ~statement() override { sqlite3_finalize(st_); }

    void bind_null(int i) override { check(sqlite3_bind_null(st_, i + 1)); }
    void bind_int(int i, std::int64_t v) override { check(sqlite3_bind_int64(st_, i + 1, v)); }
    void bind_real(int i, double v) override {
        // SQLite would store NaN as NULL: refuse it rather than lose it silently.
        if (std::isnan(v)) throw conversion_error("loadstar/sqlite: NaN cannot be stored (SQLite turns it into NULL)");
        check(sqlite3_bind_double(st_, i + 1, v));
    }
    // SQLITE_STATIC: loadstar keeps every bound buffer alive until reset().
    void bind_text(int i, std::string_view v) override {
        check(sqlite3_bind_text64(st_, i + 1, v.data() ? v.data() : "", v.size(), SQLITE_STATIC, SQLITE_UTF8));
    }
    void bind_blob(int i, std::span<const std::byte> v) override {
        check(sqlite3_bind_blob64(st_, i + 1, v.data() ? static_cast<const void*>(v.data()) : "", v.size(),
                                  SQLITE_STATIC));
    }
    bool step() override {
        const int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        raise(db_, rc, "step");
    }
    void reset() override {
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }
    int column_count() override { return sqlite3_column_count(st_); }
    column_kind kind(int c) override { return kind_of(sqlite3_column_type(st_, c)); }
    // One column lookup for kind and value: sqlite3_column_type() and sqlite3_column_int64()
    // each look the column up and run the API's exit check (together 6% of a 100,000-row
    // load). The value sqlite3_column_value() returns is "unprotected", which the SQLite
    // documentation says makes sqlite3_value_*() on it "not threadsafe": the connection is
    // opened SQLITE_OPEN_NOMUTEX and used by one thread at a time, and the value is read before
    // the next step(), so there is no second thread for it to be unsafe against.
    column_kind read_int(int c, std::int64_t& out) override {
        sqlite3_value* v = sqlite3_column_value(st_, c);
        const column_kind k = kind_of(sqlite3_value_type(v));
        if (k == column_kind::integer) out = sqlite3_value_int64(v);
        return k;
    }
    column_kind read_text(int c, std::string_view& out) override {
        sqlite3_value* v = sqlite3_column_value(st_, c);
        const column_kind k = kind_of(sqlite3_value_type(v));
        if (k == column_kind::text) {
            const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
            out = {p ? p : "", static_cast<std::size_t>(sqlite3_value_bytes(v))};
        }
        return k;
    }
    std::int64_t get_int(int c) override { return sqlite3_column_int64(st_, c); }
    double get_real(int c) override { return sqlite3_column_double(st_, c); }
    std::string_view get_text(int c) override {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
        return {p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st_, c))};
    }
    std::span<const std::byte> get_blob(int c) override {
        const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(st_, c));
        return {p, static_cast<std::size_t>(sqlite3_column_bytes(st_, c))};
    }
    std::int64_t affected_rows() override { return sqlite3_changes64(db_); }

private:
    static column_kind kind_of(int type) {
        switch (type) {
        case SQLITE_INTEGER: return column_kind::integer;
        case SQLITE_FLOAT: return column_kind::real;
        case SQLITE_TEXT: return column_kind::text;
        case SQLITE_BLOB: return column_kind::blob;
        default: return column_kind::null;
        }
    }
    void check(int rc) {
        if (rc != SQLITE_OK) raise(db_, rc, "bind");
    }
    sqlite3* db_;
    sqlite3_stmt* st_;
};

class connection final : public loadstar::connection {
public:
    connection(const std::string& uri, int flags, const options& o) : busy_timeout_(o.busy_timeout) {
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
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() override {
        for (auto& [text, st] : control_) sqlite3_finalize(st);
        sqlite3_close_v2(db_);
    }

    std::unique_ptr<loadstar::statement> prepare(std::string_view sql) override {
        sqlite3_stmt* st = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &st, nullptr);
        if (rc != SQLITE_OK) raise(db_, rc, "prepare");
        return std::make_unique<statement>(db_, st);
    }
    void execute(std::string_view sql) override {
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
    bool alive() override { return db_ != nullptr; }
    std::size_t max_variables() const {
        return static_cast<std::size_t>(sqlite3_limit(db_, SQLITE_LIMIT_VARIABLE_NUMBER, -1));
    }
    sqlite3* native() const noexcept { return db_; }
    /// The statements prepared on this connection that are still alive (finalized ones are
    /// not counted), transaction control's own excepted: what the engine's statement cache and
    /// its cursors hold.
    std::size_t prepared_statements() const noexcept {
        std::size_t n = 0;
        for (sqlite3_stmt* st = sqlite3_next_stmt(db_, nullptr); st; st = sqlite3_next_stmt(db_, st)) ++n;
        return n - control_.size();
    }
    /// PRAGMA journal_mode: sets it and returns what the database now uses ("memory" for an
    /// in-memory database, whatever was asked).
    std::string set_journal_mode(const std::string& mode) {
        auto st = prepare("PRAGMA journal_mode = " + mode);
        std::string got = st->step() ? std::string(st->get_text(0)) : std::string{};
        st->reset();
        return got;
    }

private:
    /// The busy handler: SQLite calls it while another connection holds the lock this one
    /// needs. sqlite3_busy_timeout() sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms
    /// between attempts, so a waiter often sleeps long after a short transaction released the
    /// lock; these sleeps start at 50 us and grow to 2 ms, within the same overall timeout.
    /// Only the thread using the connection runs it (one thread at a time uses a connection).
    static int on_busy(void* self, int attempt) {
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

    /// The prepared statement for a transaction-control text (BEGIN..., COMMIT, ROLLBACK...,
    /// SAVEPOINT, RELEASE), or nullptr for anything else (DDL, PRAGMA: run once, not kept).
    /// At most 32 texts are kept (savepoint names repeat per session: a few in practice).
    sqlite3_stmt* control_statement(std::string_view sql) {
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

    sqlite3* db_ = nullptr;
    std::vector<std::pair<std::string, sqlite3_stmt*>> control_;
    std::chrono::milliseconds busy_timeout_;
    std::chrono::steady_clock::time_point busy_since_{};
};

/// A private directory (mode 0700) in RAM (/dev/shm where it exists, else $TMPDIR or /tmp)
/// holding the file of one ":memory:" engine; removed with the engine.
class ram_directory {
public:
    ram_directory() {
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
    ram_directory(const ram_directory&) = delete;
    ram_directory& operator=(const ram_directory&) = delete;
    ~ram_directory() {
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path() + suffix).c_str());
        ::rmdir(dir_.c_str());
    }
    std::string path() const { return dir_ + "/db.sqlite"; }

private:
    std::string dir_;
};

}  // namespace detail

/// The SQLite driver. A path of ":memory:" (or empty) opens a private database that lives in
/// RAM for as long as the engine does: a file in a private directory under /dev/shm (else
/// $TMPDIR), in WAL mode like any file, so that the engine's pooled connections get WAL's
/// snapshots (a reading session never blocks another session's commit) instead of shared
/// cache's table locks ("database table is locked"). A `file:` URI is opened as given (e.g.
/// `file:x?mode=memory&cache=shared` for SQLite's own shared-cache memory database).
class driver {
public:
    explicit driver(std::string path, options o = {}) : options_(std::move(o)) {
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

    std::unique_ptr<loadstar::connection> connect() {
        return std::make_unique<detail::connection>(uri_, flags_, options_);
    }
    const dialect& sql_dialect() const { return dialect_; }
    const options& settings() const noexcept { return options_; }
    /// The file the engine's connections open (for ":memory:", the file in RAM).
    const std::string& path() const noexcept { return uri_; }

private:
    options options_;
    std::string uri_;
    int flags_ = 0;
    std::shared_ptr<detail::ram_directory> ram_;       // destroyed last: after every connection
    std::shared_ptr<detail::connection> anchor_;
    dialect dialect_;
};

static_assert(loadstar::driver<driver>);

/// An engine over an SQLite file (created if missing) or ":memory:".
///
/// ```cpp
/// auto engine = loadstar::sqlite::engine("app.db");
/// auto strict = loadstar::sqlite::engine("app.db", {}, {.busy_timeout = std::chrono::seconds(1)});
/// ```
/// Throws loadstar::connection_error if the file cannot be opened, usage_error for a bad option.
inline loadstar::engine engine(std::string path, pool_options pool = {}, options o = {}) {
    return loadstar::engine(driver(std::move(path), std::move(o)), pool);
}

namespace detail {

inline std::int64_t parse_int(std::string_view key, std::string_view v) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || v.empty())
        throw usage_error("loadstar/sqlite: URL parameter " + std::string(key) + "=" + std::string(v) +
                          ": expected an integer");
    return n;
}

/// Takes the driver options out of `path?key=value&...` and returns the path; an unknown key is
/// an error (SQLite would not read it).
inline std::string take_url_options(std::string_view rest, options& o, pool_options* pool = nullptr) {
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

inline const bool scheme_registered = [] {
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
}  // namespace detail

}  // namespace loadstar::sqlite
