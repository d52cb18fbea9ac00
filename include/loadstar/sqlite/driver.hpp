// loadstar/sqlite/driver.hpp - the SQLite3 driver over the C API.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/driver.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>

#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
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

LOADSTAR_DECL bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed);

/// Checks the settings that end up in PRAGMA text: only known words ever reach the SQL.
LOADSTAR_DECL void check_options(const options& o);

[[noreturn]] LOADSTAR_DECL void raise(sqlite3* db, int rc, std::string_view what);

class statement final : public loadstar::statement {
public:
    statement(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
    ~statement() override;

    void bind_null(int i) override { check(sqlite3_bind_null(st_, i + 1)); }
    void bind_int(int i, std::int64_t v) override { check(sqlite3_bind_int64(st_, i + 1, v)); }
    void bind_real(int i, double v) override;
    // SQLITE_STATIC: loadstar keeps every bound buffer alive until reset().
    void bind_text(int i, std::string_view v) override {
        check(sqlite3_bind_text64(st_, i + 1, v.data() ? v.data() : "", v.size(), SQLITE_STATIC, SQLITE_UTF8));
    }
    void bind_blob(int i, std::span<const std::byte> v) override {
        check(sqlite3_bind_blob64(st_, i + 1, v.data() ? static_cast<const void*>(v.data()) : "", v.size(),
                                  SQLITE_STATIC));
    }
    bool step() override;
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
    column_kind read_text(int c, std::string_view& out) override;
    std::int64_t get_int(int c) override { return sqlite3_column_int64(st_, c); }
    double get_real(int c) override { return sqlite3_column_double(st_, c); }
    std::string_view get_text(int c) override;
    std::span<const std::byte> get_blob(int c) override;
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
    connection(const std::string& uri, int flags, const options& o);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() override;

    std::unique_ptr<loadstar::statement> prepare(std::string_view sql) override;
    void execute(std::string_view sql) override;
    bool alive() override { return db_ != nullptr; }
    std::size_t max_variables() const;
    sqlite3* native() const noexcept { return db_; }
    /// The statements prepared on this connection that are still alive (finalized ones are
    /// not counted), transaction control's own excepted: what the engine's statement cache and
    /// its cursors hold.
    std::size_t prepared_statements() const noexcept;
    /// PRAGMA journal_mode: sets it and returns what the database now uses ("memory" for an
    /// in-memory database, whatever was asked).
    std::string set_journal_mode(const std::string& mode);

private:
    /// The busy handler: SQLite calls it while another connection holds the lock this one
    /// needs. sqlite3_busy_timeout() sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms
    /// between attempts, so a waiter often sleeps long after a short transaction released the
    /// lock; these sleeps start at 50 us and grow to 2 ms, within the same overall timeout.
    /// Only the thread using the connection runs it (one thread at a time uses a connection).
    static int on_busy(void* self, int attempt);

    /// The prepared statement for a transaction-control text (BEGIN..., COMMIT, ROLLBACK...,
    /// SAVEPOINT, RELEASE), or nullptr for anything else (DDL, PRAGMA: run once, not kept).
    /// At most 32 texts are kept (savepoint names repeat per session: a few in practice).
    sqlite3_stmt* control_statement(std::string_view sql);

    sqlite3* db_ = nullptr;
    std::vector<std::pair<std::string, sqlite3_stmt*>> control_;
    std::chrono::milliseconds busy_timeout_;
    std::chrono::steady_clock::time_point busy_since_{};
};

/// A private directory (mode 0700) in RAM (/dev/shm where it exists, else $TMPDIR or /tmp)
/// holding the file of one ":memory:" engine; removed with the engine.
class ram_directory {
public:
    ram_directory();
    ram_directory(const ram_directory&) = delete;
    ram_directory& operator=(const ram_directory&) = delete;
    ~ram_directory();
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
    explicit driver(std::string path, options o = {});

    std::unique_ptr<loadstar::connection> connect();
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
LOADSTAR_DECL loadstar::engine engine(std::string path, pool_options pool = {}, options o = {});

namespace detail {

LOADSTAR_DECL std::int64_t parse_int(std::string_view key, std::string_view v);

/// Takes the driver options out of `path?key=value&...` and returns the path; an unknown key is
/// an error (SQLite would not read it).
LOADSTAR_DECL std::string take_url_options(std::string_view rest, options& o, pool_options* pool = nullptr);

/// Registers the "sqlite" URL scheme with create_engine (the first call; later ones do nothing).
LOADSTAR_DECL bool register_scheme();
inline const bool scheme_registered = register_scheme();
}  // namespace detail

}  // namespace loadstar::sqlite

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/sqlite/impl/driver.ipp>
#endif
