// loadstar/sqlite/driver.hpp - the SQLite3 driver over the C API.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/driver.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <string_view>

namespace loadstar::sqlite {

namespace detail {

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
    connection(const std::string& uri, int flags) {
        const int rc = sqlite3_open_v2(uri.c_str(), &db_, flags, nullptr);
        if (rc != SQLITE_OK) {
            std::string msg = "loadstar/sqlite: cannot open '" + uri + "': " +
                              (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
            sqlite3_close(db_);
            throw connection_error(msg, rc);
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, 5000);
        execute("PRAGMA foreign_keys = ON");
    }
    ~connection() override { sqlite3_close_v2(db_); }

    std::unique_ptr<loadstar::statement> prepare(std::string_view sql) override {
        sqlite3_stmt* st = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &st, nullptr);
        if (rc != SQLITE_OK) raise(db_, rc, "prepare");
        return std::make_unique<statement>(db_, st);
    }
    void execute(std::string_view sql) override {
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

private:
    sqlite3* db_ = nullptr;
};

inline std::string memory_uri() {
    static std::atomic<unsigned long> counter{0};
    return "file:loadstar-memory-" + std::to_string(++counter) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) +
           "?mode=memory&cache=shared";
}

}  // namespace detail

/// The SQLite driver. A path of ":memory:" (or empty) opens a private in-memory database
/// that every pooled connection of this engine shares (shared cache, named per engine).
class driver {
public:
    explicit driver(std::string path) {
        flags_ = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
        if (path.empty() || path == ":memory:") {
            uri_ = detail::memory_uri();
            flags_ |= SQLITE_OPEN_URI;
            // The database lives as long as one connection to it does: keep one open.
        } else {
            uri_ = std::move(path);
        }
        anchor_ = std::make_shared<detail::connection>(uri_, flags_);
        dialect_.name = "sqlite";
        dialect_.dollar_placeholders = false;
        dialect_.supports_returning = sqlite3_libversion_number() >= 3035000;
        dialect_.supports_for_update = false;
        dialect_.supports_arrays = false;
        dialect_.max_bind_parameters = anchor_->max_variables();
        dialect_.generated_key = "PRIMARY KEY";
    }

    std::unique_ptr<loadstar::connection> connect() {
        return std::make_unique<detail::connection>(uri_, flags_);
    }
    const dialect& sql_dialect() const { return dialect_; }

private:
    std::string uri_;
    int flags_ = 0;
    std::shared_ptr<detail::connection> anchor_;
    dialect dialect_;
};

static_assert(loadstar::driver<driver>);

/// An engine over an SQLite file (created if missing) or ":memory:".
///
/// ```cpp
/// auto engine = loadstar::sqlite::engine("app.db");
/// ```
/// Throws loadstar::connection_error if the file cannot be opened.
inline loadstar::engine engine(std::string path, pool_options options = {}) {
    return loadstar::engine(driver(std::move(path)), options);
}

namespace detail {
inline const bool scheme_registered = [] {
    loadstar::detail::scheme_registry()["sqlite"] = [](std::string_view rest) {
        // sqlite:///relative.db, sqlite:////absolute.db, sqlite:// or sqlite:///:memory:
        std::string path(rest);
        if (!path.empty() && path.front() == '/') path.erase(0, 1);
        return sqlite::engine(path);
    };
    return true;
}();
}  // namespace detail

}  // namespace loadstar::sqlite
