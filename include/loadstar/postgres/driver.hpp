// loadstar/postgres/driver.hpp - the PostgreSQL driver over libpq.
// SPDX-License-Identifier: MIT
//
// How it talks to the server:
// - Statements: loadstar's `?` become `$1..$n` (never inside literals, quoted identifiers or
//   comments); at most 65,535 parameters. Each SQL text is prepared once per connection
//   (PQprepare + PQdescribePrepared: two round trips the first time, none after) and the
//   engine caches the statement (an LRU of pool_options::statement_cache_size per connection:
//   what it evicts is DEALLOCATEd, batched into one round trip at the next moment the
//   connection is idle); every execution is then one round trip. With
//   `prepared_statements = false` (pgbouncer, transaction mode) each execution is one
//   PQexecParams round trip and nothing is kept server-side.
// - Parameters go as text with server-inferred types (so `1`/`0` bind to BOOLEAN columns),
//   blobs as binary, int64 arrays as '{1,2,3}' (selectin's `= ANY($1)`).
// - Rows arrive in binary format when every column's type is one the driver decodes (integers,
//   bool, float4/8, numeric, text types, bytea, timestamp[tz], date); otherwise, and for
//   unnamed statements, as text. Measured on 20,000 rows of bytea(512) + timestamptz + double:
//   binary ~30 ms vs text ~100 ms; on integer/text rows the two are within noise.
// - Statement counts per loader strategy are SQLite's except selectin, which is always one
//   `= ANY(?)` statement per relationship and parent statement (SQLite: one per 500 keys).
//   Round trips: one per statement (+ BEGIN and COMMIT/ROLLBACK per session), except that
//   pipeline mode (libpq 14+, driver_options::pipeline) sends a parent query with its subquery
//   loads, and sibling follow-up loads, in one round trip each (connection::pipeline).
// - bulk_insert: one COPY ... FROM STDIN (connection::copy_in), text format.
// - Errors: SQLSTATE class 23 -> integrity_error, 40001/40P01 -> serialization_error, 55P03 -> busy_error, a lost
//   connection (CONNECTION_BAD, 08xxx, 57P01-03) -> connection_error, the rest -> error; each
//   carries the SQLSTATE and the server's message (and DETAIL).
// - Whole results are fetched per statement (libpq's default): yield_per bounds hydration and
//   the identity map per batch, not the client-side result buffer.
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/driver.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>

#include <libpq-fe.h>

#include <poll.h>

#include <charconv>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace loadstar::postgres {

/// Driver settings beyond the pool's.
///
/// ```cpp
/// // Behind pgbouncer in transaction pooling mode: nothing prepared server-side.
/// auto engine = loadstar::postgres::engine(conninfo, {}, {.prepared_statements = false});
/// ```
struct driver_options {
    /// true: each statement is prepared once per connection (a named server-side statement,
    /// reused by every later execution on that connection). false: every execution sends
    /// its SQL as an unnamed statement (one round trip, nothing kept by the server), which
    /// is what pgbouncer in transaction pooling mode needs. In that mode the session settings
    /// the driver relies on (TimeZone UTC, ISO dates, hex bytea, exact floats) are not sent
    /// at connection start-up (pgbouncer refuses `options`) but with each BEGIN, as
    /// `SET LOCAL`, in the same round trip, so they hold on whichever server connection
    /// pgbouncer lends for that transaction.
    bool prepared_statements = true;
    /// true: rows arrive in PostgreSQL's binary format when every column of a prepared
    /// statement has a type the driver decodes (integers, bool, float, numeric, text,
    /// bytea, timestamp[tz], date); other statements, and unnamed ones, use text.
    bool binary_results = true;
    /// true (with libpq 14 or newer): statements of one load plan that do not need each
    /// other's results share a round trip (libpq pipeline mode). See connection::pipeline.
    bool pipeline = true;
};

namespace detail {

// Type OIDs (src/include/catalog/pg_type.dat); the server headers are not needed for them.
inline constexpr Oid bool_oid = 16, bytea_oid = 17, char_oid = 18, name_oid = 19, int8_oid = 20,
                     int2_oid = 21, int4_oid = 23, text_oid = 25, oid_oid = 26, json_oid = 114,
                     float4_oid = 700, float8_oid = 701, unknown_oid = 705, bpchar_oid = 1042,
                     varchar_oid = 1043, date_oid = 1082, timestamp_oid = 1114,
                     timestamptz_oid = 1184, numeric_oid = 1700;

/// The most parameters one statement may carry (the protocol counts them in 16 bits).
inline constexpr std::size_t max_parameters = 65535;

// ---- SQL text ---------------------------------------------------------------------------

struct rewritten_sql {
    std::string sql;
    int parameters = 0;
};

inline bool ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

/// Rewrites loadstar's `?` placeholders to `$1, $2, ...`, leaving alone any `?` inside a
/// string literal ('...', E'...'), a quoted identifier ("..."), a dollar-quoted string
/// ($tag$...$tag$) or a comment. Throws loadstar::error past 65,535 parameters.
LOADSTAR_DECL rewritten_sql rewrite_placeholders(std::string_view in);

// ---- errors -----------------------------------------------------------------------------

inline bool connection_lost_state(std::string_view state) {
    // 08xxx connection exceptions; 57P01/02/03 admin shutdown, crash shutdown, cannot connect now.
    return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

/// One libpq connection and what outlives a single statement on it.
struct conn_core {
    PGconn* pg = nullptr;
    bool dead = false;
    std::uint64_t next_name = 0;
    // Prepared statements whose statement object was destroyed (a cursor's private one), by
    // their (rewritten) SQL: the next prepare() of the same SQL reuses the server-side
    // statement without a round trip. At most max_idle; beyond that, and for what the
    // engine's statement cache evicts (connection::discard), the name waits in to_deallocate
    // for the next moment the connection is idle (deallocate_pending).
    std::unordered_multimap<std::string, std::pair<std::string, bool>> idle_statements;
    std::vector<std::string> to_deallocate;
    static constexpr std::size_t max_idle = 16;

    conn_core() = default;
    conn_core(const conn_core&) = delete;
    conn_core& operator=(const conn_core&) = delete;
    ~conn_core();

    std::string libpq_message() const;

    /// Throws the loadstar error for a failed result (`r` may be null). Marks the
    /// connection dead when it was lost, so the pool discards it.
    [[noreturn]] void raise(const PGresult* r, std::string_view what);

    /// DEALLOCATEs the statements waiting in to_deallocate, in one round trip, when the
    /// connection is idle: not in pipeline mode, no command running, and not in a transaction
    /// an error aborted (which refuses every command but ROLLBACK; they wait until after it).
    /// Each name is sent once (a lost connection frees its statements with itself).
    void deallocate_pending() noexcept;

    [[noreturn]] void raise_dead(std::string_view what);
};

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

// ---- values -----------------------------------------------------------------------------

inline bool binary_decodable(Oid t) {
    switch (t) {
    case bool_oid: case bytea_oid: case char_oid: case name_oid: case int8_oid: case int2_oid:
    case int4_oid: case text_oid: case oid_oid: case json_oid: case float4_oid: case float8_oid:
    case unknown_oid: case bpchar_oid: case varchar_oid: case date_oid: case timestamp_oid:
    case timestamptz_oid: case numeric_oid:
        return true;
    default:
        return false;
    }
}

inline column_kind base_kind(Oid t) {
    switch (t) {
    case int2_oid: case int4_oid: case int8_oid: case oid_oid: case bool_oid: return column_kind::integer;
    case float4_oid: case float8_oid: case numeric_oid: return column_kind::real;
    case bytea_oid: return column_kind::blob;
    default: return column_kind::text;
    }
}

inline std::uint16_t be16(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<std::uint16_t>((u[0] << 8) | u[1]);
}
inline std::uint32_t be32(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) | u[3];
}
inline std::uint64_t be64(const char* p) { return (std::uint64_t{be32(p)} << 32) | be32(p + 4); }

/// Binary numeric -> its decimal text (what the text format would give), for exact parsing.
LOADSTAR_DECL void numeric_text(const char* p, int len, std::string& out);

/// Microseconds since 2000-01-01 00:00:00 (PostgreSQL's epoch) -> "YYYY-MM-DD HH:MM:SS[.ffffff]".
LOADSTAR_DECL void timestamp_text(std::int64_t us, std::string& out);

LOADSTAR_DECL void date_text(std::int32_t d, std::string& out);

/// Numeric text: an integer when it has no fraction/exponent and fits int64.
inline bool integral_numeric(std::string_view s, std::int64_t& v) {
    const auto* b = s.data();
    const auto* e = s.data() + s.size();
    auto [p, ec] = std::from_chars(b, e, v);
    return ec == std::errc{} && p == e;
}

LOADSTAR_DECL double parse_double(std::string_view s);

inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// ---- statements -------------------------------------------------------------------------

class statement final : public loadstar::statement {
public:
    /// `name` empty: unnamed (PQexecParams each time). `binary`: ask for binary rows.
    statement(std::shared_ptr<conn_core> core, std::string sql, int parameters, std::string name, bool binary)
        : core_(std::move(core)), sql_(std::move(sql)), name_(std::move(name)), binary_(binary),
          text_(static_cast<std::size_t>(parameters)), values_(static_cast<std::size_t>(parameters), nullptr),
          lengths_(static_cast<std::size_t>(parameters), 0), formats_(static_cast<std::size_t>(parameters), 0) {}
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement() override;
    /// Its server-side statement is to be deallocated with it, not kept for reuse.
    void discard_on_destruction() noexcept { discarded_ = true; }

    void bind_null(int i) override { slot(i) = nullptr; }
    void bind_int(int i, std::int64_t v) override {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        set_text(i, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    }
    void bind_real(int i, double v) override {
        if (std::isnan(v)) return set_text(i, "NaN");
        if (std::isinf(v)) return set_text(i, v > 0 ? "Infinity" : "-Infinity");
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact round trip
        set_text(i, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    }
    void bind_text(int i, std::string_view v) override {
        if (v.find('\0') != std::string_view::npos)
            throw error("loadstar/postgres: text values cannot contain NUL bytes (bind a blob instead)", 0, "22021");
        set_text(i, v);
    }
    void bind_blob(int i, std::span<const std::byte> v) override {
        // A binary-format parameter: no hex encoding; loadstar keeps the buffer alive until reset().
        const std::size_t k = index(i);
        if (v.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            throw error("loadstar/postgres: blob too large for one parameter");
        values_[k] = v.empty() ? "" : reinterpret_cast<const char*>(v.data());
        lengths_[k] = static_cast<int>(v.size());
        formats_[k] = 1;
    }
    void bind_int_array(int i, std::span<const std::int64_t> v) override;

    bool step() override;

    void reset() override;

    int column_count() override {
        if (!res_) return 0;
        return cols_;
    }

    column_kind kind(int c) override;

    std::int64_t get_int(int c) override;

    double get_real(int c) override;

    std::string_view get_text(int c) override;

    std::span<const std::byte> get_blob(int c) override;

    std::int64_t affected_rows() override;

    const std::string& sql() const noexcept { return sql_; }
    const std::string& name() const noexcept { return name_; }
    bool binary() const noexcept { return binary_; }

private:
    std::size_t index(int i) const {
        if (i < 0 || static_cast<std::size_t>(i) >= values_.size())
            throw error("loadstar/postgres: parameter index " + std::to_string(i) + " out of range (statement has " +
                        std::to_string(values_.size()) + ")");
        return static_cast<std::size_t>(i);
    }
    const char*& slot(int i) {
        const std::size_t k = index(i);
        formats_[k] = 0;
        return values_[k];
    }
    void set_text(int i, std::string_view v) {
        const std::size_t k = index(i);
        text_[k].assign(v);
        values_[k] = text_[k].c_str();
        formats_[k] = 0;
    }
    void check_column(int c) const {
        if (!res_ || c < 0 || c >= cols_ || row_ >= rows_)
            throw error("loadstar/postgres: column " + std::to_string(c) + " read without a current row");
    }
    std::string& scratch(int c) {
        if (scratch_.size() < static_cast<std::size_t>(cols_)) scratch_.resize(static_cast<std::size_t>(cols_));
        return scratch_[static_cast<std::size_t>(c)];
    }
    std::string_view numeric_value(int c) {
        const char* p = PQgetvalue(res_.get(), row_, c);
        const int len = PQgetlength(res_.get(), row_, c);
        if (!binary_) return {p, static_cast<std::size_t>(len)};
        std::string& buf = scratch(c);
        numeric_text(p, len, buf);
        return buf;
    }

public:
    /// Pipeline mode: queues this statement's execution (PQsendQuery*); false if libpq refused.
    bool send();
    /// Pipeline mode: the result of the execution send() queued; the next step() reads it.
    void deliver(result_ptr res);

private:
    void execute();

    void take(result_ptr res);

    std::shared_ptr<conn_core> core_;
    std::string sql_;
    std::string name_;
    bool discarded_ = false;
    bool binary_ = false;
    std::vector<std::string> text_;
    std::vector<const char*> values_;
    std::vector<int> lengths_, formats_;
    result_ptr res_;
    bool executed_ = false;
    bool delivered_ = false;
    int rows_ = 0, row_ = 0, cols_ = 0;
    std::vector<Oid> types_;
    std::vector<column_kind> kinds_;
    std::vector<std::string> scratch_;
};

// ---- connections ------------------------------------------------------------------------

/// The server settings the driver's conversions rely on: as start-up options...
inline constexpr const char* server_options =
    "-c TimeZone=UTC -c DateStyle=ISO,YMD -c bytea_output=hex -c extra_float_digits=1";
/// ...or, without prepared statements (pgbouncer), appended to each BEGIN.
inline constexpr const char* transaction_settings =
    "; SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL bytea_output = 'hex'; "
    "SET LOCAL extra_float_digits = 1";

/// libpq keywords and values, kept as strings; `c_arrays` gives the null-terminated arrays.
struct conn_params {
    std::vector<std::string> keys, values;

    static conn_params parse(const std::string& conninfo);
    std::string* find(std::string_view key) {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return &values[i];
        return nullptr;
    }
    void set_default(std::string key, std::string value) {
        if (!find(key)) {
            keys.push_back(std::move(key));
            values.push_back(std::move(value));
        }
    }
    /// Appends server settings to the `options` keyword (after the user's own, so they win).
    void add_server_options(std::string_view opts) {
        if (std::string* o = find("options")) {
            if (!o->empty()) *o += ' ';
            o->append(opts);
        } else {
            keys.emplace_back("options");
            values.emplace_back(opts);
        }
    }
};

class connection final : public loadstar::connection {
public:
    connection(const conn_params& params, const driver_options& options);

    std::unique_ptr<loadstar::statement> prepare(std::string_view sql) override;

    /// An evicted statement: DEALLOCATEd now if the connection is idle, else with the next
    /// prepare(); the reusable copies of its SQL go too.
    void discard(std::unique_ptr<loadstar::statement> st) noexcept override;

    void execute(std::string_view sql) override;

    /// bulk_insert's path: `COPY table (columns) FROM STDIN` in text format, the rows streamed
    /// in 256 KiB chunks (one statement, one round trip plus the data). NULL is `\N`; text
    /// escapes backslash, tab, newline and carriage return; blobs are bytea hex (`\\x..`);
    /// reals use the shortest exact form (NaN, Infinity); booleans arrive as 1/0, which
    /// BOOLEAN accepts. An error (a constraint, a NUL byte in text) aborts the COPY and is
    /// thrown like a failed statement's: nothing of it is written.
    bool copy_in(std::string_view table, std::span<const std::string> columns,
                 std::span<const value> values) override {
        if (core_->dead) core_->raise_dead("copy");
        if (columns.empty()) return false;
        PGconn* pg = core_->pg;
        std::string sql = "COPY ";
        sql.append(table);
        sql += " (";
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (i) sql += ", ";
            sql += columns[i];
        }
        sql += ") FROM STDIN";
        {
            result_ptr r(PQexec(pg, sql.c_str()));
            if (!r || PQresultStatus(r.get()) != PGRES_COPY_IN) core_->raise(r.get(), "copy");
        }
        std::string buf;
        std::string bad;  // why the data cannot be sent (the COPY is then aborted)
        constexpr std::size_t chunk = 256 * 1024;
        buf.reserve(chunk + 4096);
        auto put = [&] {
            if (buf.empty()) return;
            if (PQputCopyData(pg, buf.data(), static_cast<int>(buf.size())) != 1) {
                core_->dead = PQstatus(pg) == CONNECTION_BAD;
                throw connection_error("loadstar/postgres: copy: " + core_->libpq_message() + " [SQLSTATE 08006]", 0,
                                       "08006");
            }
            buf.clear();
        };
        char num[32];
        for (std::size_t i = 0; i < values.size() && bad.empty(); ++i) {
            const value& v = values[i];
            switch (v.index()) {
            case 0: buf += "\\N"; break;
            case 1: {
                const auto r = std::to_chars(num, num + sizeof num, get<1>(v));
                buf.append(num, r.ptr);
                break;
            }
            case 2: {
                const double d = get<2>(v);
                if (std::isnan(d)) buf += "NaN";
                else if (std::isinf(d)) buf += d > 0 ? "Infinity" : "-Infinity";
                else {
                    const auto r = std::to_chars(num, num + sizeof num, d);
                    buf.append(num, r.ptr);
                }
                break;
            }
            case 3:
                for (char c : get<3>(v)) {
                    switch (c) {
                    case '\\': buf += "\\\\"; break;
                    case '\t': buf += "\\t"; break;
                    case '\n': buf += "\\n"; break;
                    case '\r': buf += "\\r"; break;
                    case '\0': bad = "text values cannot contain NUL bytes (bind a blob instead)"; break;
                    default: buf += c;
                    }
                }
                break;
            case 4: {
                static constexpr char hex[] = "0123456789abcdef";
                buf += "\\\\x";
                for (std::byte b : get<4>(v)) {
                    buf += hex[static_cast<unsigned>(b) >> 4];
                    buf += hex[static_cast<unsigned>(b) & 15u];
                }
                break;
            }
            default: bad = "an array is not a column value"; break;
            }
            buf += (i + 1) % columns.size() == 0 ? '\n' : '\t';
            if (buf.size() >= chunk) put();
        }
        if (bad.empty()) put();
        if (PQputCopyEnd(pg, bad.empty() ? nullptr : bad.c_str()) != 1)
            throw connection_error("loadstar/postgres: copy: " + core_->libpq_message() + " [SQLSTATE 08006]", 0,
                                   "08006");
        result_ptr r(PQgetResult(pg));
        while (result_ptr extra{PQgetResult(pg)}) {}
        if (!bad.empty())
            throw error("loadstar/postgres: copy: " + bad + " [SQLSTATE 22021]", 0, "22021");
        if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) core_->raise(r.get(), "copy");
        return true;
    }

    /// Pipeline mode (libpq 14+): every statement's execution is queued, then one sync, one
    /// flush and the results in order, so the batch costs one round trip. The socket is
    /// non-blocking while queuing and flushing, and whatever the server already answered is
    /// read meanwhile: a large batch cannot deadlock on two full socket buffers. After the
    /// first failing statement the server skips the rest (PGRES_PIPELINE_ABORTED); its error
    /// is thrown once the pipeline is drained, leaving the connection usable (or dead, when
    /// it was lost).
    bool pipeline(std::span<loadstar::statement* const> statements) override;

    /// Cheap, no round trip, no side effect: the connection is open, and nothing the server
    /// sent since the last statement (a terminated backend's FATAL message) says otherwise.
    /// Called by the pool on check-in and check-out, and by sessions before each statement.
    bool alive() override;

    /// One round trip (an empty query): for `pre_ping`.
    bool ping() override;

    /// The libpq handle, for what loadstar does not wrap. Do not close it.
    PGconn* native() const noexcept { return core_->pg; }
    /// The server process serving this connection (pg_backend_pid()).
    int backend_pid() const noexcept { return PQbackendPID(core_->pg); }

private:
    bool mark_dead() noexcept {
        core_->dead = true;
        return false;
    }
    std::shared_ptr<conn_core> core_;
    driver_options options_;
};

}  // namespace detail

/// The PostgreSQL driver. `conninfo` is anything libpq accepts: "host=... port=... dbname=..."
/// or a "postgresql://user@host:port/db" URI. Every connection runs with TimeZone=UTC and
/// DateStyle=ISO (timestamps read and write as UTC ISO-8601), and client_encoding UTF8.
///
/// Type mapping (DDL and reads): bool BOOLEAN, int16/int32/int64 SMALLINT/INTEGER/BIGINT,
/// float REAL, double DOUBLE PRECISION, std::string TEXT, blob BYTEA, time_point TIMESTAMPTZ;
/// a generated integral key is `GENERATED BY DEFAULT AS IDENTITY`.
class driver {
public:
    explicit driver(std::string conninfo, driver_options options = {});

    /// Opens a connection. Throws loadstar::connection_error (SQLSTATE 08001) if it cannot.
    std::unique_ptr<loadstar::connection> connect() const;
    const dialect& sql_dialect() const { return dialect_; }
    const driver_options& options() const noexcept { return options_; }

private:
    detail::conn_params params_;
    driver_options options_;
    dialect dialect_;
};

static_assert(loadstar::driver<driver>);

/// An engine over a PostgreSQL database. Through `ls::create_engine`, the URL's query string
/// may set the driver options: `postgresql://u@h/db?prepared_statements=false&sslmode=require`,
/// and the engine's `statement_cache_size=64`.
///
/// ```cpp
/// auto pg = loadstar::postgres::engine("host=127.0.0.1 port=5432 dbname=app",
///                                      {.pool_size = 5, .max_overflow = 10, .pre_ping = true});
/// ```
/// Connections open lazily (on a session's first statement). Throws loadstar::connection_error
/// at once only if `conninfo` does not parse.
LOADSTAR_DECL loadstar::engine engine(std::string conninfo, pool_options pool = {}, driver_options options = {});

namespace detail {

/// Takes loadstar's own parameters out of a URL's query string (libpq would refuse them):
/// `prepared_statements` and `binary_results`, each `true/false/1/0/on/off/yes/no`, and the
/// engine's `statement_cache_size=N` (pool_options::statement_cache_size) where `pool` is given.
LOADSTAR_DECL std::string take_url_options(std::string_view rest, driver_options& o, pool_options* pool = nullptr);

/// Registers the "postgresql" and "postgres" URL schemes with create_engine (the first call;
/// later ones do nothing).
LOADSTAR_DECL bool register_scheme();
inline const bool scheme_registered = register_scheme();
}  // namespace detail

}  // namespace loadstar::postgres

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/postgres/impl/driver.ipp>
#endif
