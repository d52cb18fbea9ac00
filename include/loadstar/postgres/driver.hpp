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
inline rewritten_sql rewrite_placeholders(std::string_view in) {
    rewritten_sql out;
    out.sql.reserve(in.size() + 16);
    const std::size_t n = in.size();
    std::size_t i = 0;
    auto copy_to = [&](std::size_t end) {
        out.sql.append(in.substr(i, end - i));
        i = end;
    };
    while (i < n) {
        const char c = in[i];
        if (c == '\'') {
            // E'...' (and e'...') strings take backslash escapes.
            const bool escapes = i > 0 && (in[i - 1] == 'E' || in[i - 1] == 'e') && (i < 2 || !ident_char(in[i - 2]));
            std::size_t j = i + 1;
            while (j < n) {
                if (escapes && in[j] == '\\') { j += 2; continue; }
                if (in[j] == '\'') {
                    if (j + 1 < n && in[j + 1] == '\'') { j += 2; continue; }
                    break;
                }
                ++j;
            }
            copy_to(std::min(n, j + 1));
        } else if (c == '"') {
            std::size_t j = i + 1;
            while (j < n) {
                if (in[j] == '"') {
                    if (j + 1 < n && in[j + 1] == '"') { j += 2; continue; }
                    break;
                }
                ++j;
            }
            copy_to(std::min(n, j + 1));
        } else if (c == '-' && i + 1 < n && in[i + 1] == '-') {
            const std::size_t j = in.find('\n', i);
            copy_to(j == std::string_view::npos ? n : j);
        } else if (c == '/' && i + 1 < n && in[i + 1] == '*') {
            int depth = 0;  // PostgreSQL block comments nest
            std::size_t j = i;
            while (j < n) {
                if (j + 1 < n && in[j] == '/' && in[j + 1] == '*') { ++depth; j += 2; }
                else if (j + 1 < n && in[j] == '*' && in[j + 1] == '/') {
                    j += 2;
                    if (--depth == 0) break;
                } else ++j;
            }
            copy_to(std::min(n, j));
        } else if (c == '$' && (i == 0 || !ident_char(in[i - 1]))) {
            // $tag$ ... $tag$ (tag empty or an identifier not starting with a digit); `$1` is not one.
            std::size_t j = i + 1;
            if (j < n && !(in[j] >= '0' && in[j] <= '9')) {
                while (j < n && in[j] != '$' && ident_char(in[j])) ++j;
            }
            if (j < n && in[j] == '$' && !(i + 1 < n && in[i + 1] >= '0' && in[i + 1] <= '9')) {
                const std::string_view tag = in.substr(i, j - i + 1);
                const std::size_t close = in.find(tag, j + 1);
                copy_to(close == std::string_view::npos ? n : close + tag.size());
            } else {
                copy_to(i + 1);
            }
        } else if (c == '?') {
            if (static_cast<std::size_t>(++out.parameters) > max_parameters)
                throw error("loadstar/postgres: a statement has more than 65535 parameters, "
                            "PostgreSQL's limit");
            out.sql += '$';
            out.sql += std::to_string(out.parameters);
            ++i;
        } else {
            std::size_t j = i + 1;
            while (j < n && in[j] != '\'' && in[j] != '"' && in[j] != '-' && in[j] != '/' && in[j] != '$' &&
                   in[j] != '?')
                ++j;
            copy_to(j);
        }
    }
    return out;
}

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
    ~conn_core() {
        if (pg) PQfinish(pg);
    }

    std::string libpq_message() const {
        std::string m = pg ? PQerrorMessage(pg) : "no connection";
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
        return m;
    }

    /// Throws the loadstar error for a failed result (`r` may be null). Marks the
    /// connection dead when it was lost, so the pool discards it.
    [[noreturn]] void raise(const PGresult* r, std::string_view what) {
        std::string state;
        std::string msg = "loadstar/postgres: ";
        msg.append(what);
        msg += ": ";
        const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
        if (r) {
            if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) state = s;
        }
        if (primary) {
            msg += primary;
            if (const char* d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) {
                msg += " (";
                msg += d;
                msg += ")";
            }
        } else if (r && *PQresultErrorMessage(r)) {
            std::string m = PQresultErrorMessage(r);
            while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
            msg += m;
        } else {
            msg += libpq_message();
        }
        const bool lost = !pg || PQstatus(pg) == CONNECTION_BAD || connection_lost_state(state);
        if (lost && state.empty()) state = "08006";  // connection_failure
        if (!state.empty()) msg += " [SQLSTATE " + state + "]";
        if (lost) {
            dead = true;
            throw connection_error(msg, 0, state);
        }
        if (state.starts_with("23")) {
            auto field = [&](int code) {
                const char* v = r ? PQresultErrorField(r, code) : nullptr;
                return std::string(v ? v : "");
            };
            std::string column = field(PG_DIAG_COLUMN_NAME);  // NOT NULL violations
            if (column.empty()) {
                // UNIQUE and FOREIGN KEY name their columns in the detail: "Key (a, b)=(1, 2) ...".
                const std::string detail = field(PG_DIAG_MESSAGE_DETAIL);
                if (detail.starts_with("Key (")) {
                    if (const auto end = detail.find(")=("); end != std::string::npos) column = detail.substr(5, end - 5);
                }
            }
            throw integrity_error(msg, 0, state, field(PG_DIAG_TABLE_NAME), field(PG_DIAG_CONSTRAINT_NAME),
                                  std::move(column));
        }
        if (state == "40001" || state == "40P01") throw serialization_error(msg, 0, state);
        if (state == "55P03") throw busy_error(msg, 0, state);  // lock_not_available
        throw error(msg, 0, state);
    }

    /// DEALLOCATEs the statements waiting in to_deallocate, in one round trip, when the
    /// connection is idle: not in pipeline mode, no command running, and not in a transaction
    /// an error aborted (which refuses every command but ROLLBACK; they wait until after it).
    /// Each name is sent once (a lost connection frees its statements with itself).
    void deallocate_pending() noexcept {
        if (to_deallocate.empty() || dead || !pg) return;
#ifdef LIBPQ_HAS_PIPELINING
        if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF) return;
#endif
        const PGTransactionStatusType ts = PQtransactionStatus(pg);
        if (ts != PQTRANS_IDLE && ts != PQTRANS_INTRANS) return;
        try {
            // The names are the driver's own ("ls_<n>"), never a value.
            std::string sql;
            for (const auto& name : to_deallocate) sql += "DEALLOCATE " + name + ";";
            PGresult* r = PQexec(pg, sql.c_str());
            PQclear(r);
            if (PQstatus(pg) == CONNECTION_BAD) dead = true;
            to_deallocate.clear();  // sent once: a name is never tried twice
        } catch (...) {
        }
    }

    [[noreturn]] void raise_dead(std::string_view what) {
        dead = true;
        throw connection_error("loadstar/postgres: " + std::string(what) +
                                   ": the connection was lost earlier [SQLSTATE 08003]",
                               0, "08003");
    }
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
inline void numeric_text(const char* p, int len, std::string& out) {
    out.clear();
    if (len < 8) { out = "NaN"; return; }
    const int ndigits = static_cast<std::int16_t>(be16(p));
    const int weight = static_cast<std::int16_t>(be16(p + 2));
    const unsigned sign = be16(p + 4);
    const int dscale = static_cast<std::int16_t>(be16(p + 6));
    if (sign == 0xC000) { out = "NaN"; return; }
    if (sign == 0xD000) { out = "Infinity"; return; }
    if (sign == 0xF000) { out = "-Infinity"; return; }
    if (sign == 0x4000) out += '-';
    auto digit = [&](int i) -> int { return i >= 0 && i < ndigits && 8 + 2 * i + 1 < len ? be16(p + 8 + 2 * i) : 0; };
    // Integer part: base-10000 digits 0..weight.
    if (weight < 0) out += '0';
    for (int i = 0; i <= weight; ++i) {
        char buf[8];
        const int d = digit(i);
        if (i == 0) std::snprintf(buf, sizeof buf, "%d", d);
        else std::snprintf(buf, sizeof buf, "%04d", d);
        out += buf;
    }
    if (dscale > 0) {
        out += '.';
        std::string frac;
        for (int i = weight + 1; static_cast<int>(frac.size()) < dscale; ++i) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%04d", digit(i));
            frac += buf;
        }
        frac.resize(static_cast<std::size_t>(dscale));
        out += frac;
    }
}

/// Microseconds since 2000-01-01 00:00:00 (PostgreSQL's epoch) -> "YYYY-MM-DD HH:MM:SS[.ffffff]".
inline void timestamp_text(std::int64_t us, std::string& out) {
    using namespace std::chrono;
    if (us == std::numeric_limits<std::int64_t>::max()) { out = "infinity"; return; }
    if (us == std::numeric_limits<std::int64_t>::min()) { out = "-infinity"; return; }
    const sys_time<microseconds> tp = sys_days{year{2000} / January / 1} + microseconds{us};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss<microseconds> hms{tp - day};
    char buf[48];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(ymd.year()),
                          static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                          static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                          static_cast<int>(hms.seconds().count()));
    if (const auto f = hms.subseconds().count(); f != 0 && n > 0)
        std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%06lld", static_cast<long long>(f));
    out = buf;
    if (out.find('.') != std::string::npos)  // as the text format: no trailing zeros
        while (out.back() == '0') out.pop_back();
}

inline void date_text(std::int32_t d, std::string& out) {
    using namespace std::chrono;
    if (d == std::numeric_limits<std::int32_t>::max()) { out = "infinity"; return; }
    if (d == std::numeric_limits<std::int32_t>::min()) { out = "-infinity"; return; }
    const year_month_day ymd{sys_days{year{2000} / January / 1} + days{d}};
    char buf[24];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    out = buf;
}

/// Numeric text: an integer when it has no fraction/exponent and fits int64.
inline bool integral_numeric(std::string_view s, std::int64_t& v) {
    const auto* b = s.data();
    const auto* e = s.data() + s.size();
    auto [p, ec] = std::from_chars(b, e, v);
    return ec == std::errc{} && p == e;
}

inline double parse_double(std::string_view s) {
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    double d = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc::result_out_of_range) {
        // Beyond double's range (a huge numeric): strtod gives +-inf or 0 as IEEE does.
        return std::strtod(std::string(s).c_str(), nullptr);
    }
    if (ec != std::errc{} || p != s.data() + s.size())
        throw conversion_error("loadstar/postgres: not a number: '" + std::string(s) + "'");
    return d;
}

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
    ~statement() override {
        if (!name_.empty() && !core_->dead) {
            try {
                if (!discarded_ && core_->idle_statements.size() < conn_core::max_idle)
                    core_->idle_statements.emplace(sql_, std::pair{std::move(name_), binary_});
                else
                    core_->to_deallocate.push_back(std::move(name_));
            } catch (...) {
            }
        }
    }
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
    void bind_int_array(int i, std::span<const std::int64_t> v) override {
        // The array's text form, '{1,2,3}': the server types it from `= ANY($n)`.
        const std::size_t k = index(i);
        std::string& s = text_[k];
        s.clear();
        s.reserve(2 + v.size() * 8);
        s += '{';
        char buf[24];
        for (std::size_t j = 0; j < v.size(); ++j) {
            if (j) s += ',';
            const auto r = std::to_chars(buf, buf + sizeof buf, v[j]);
            s.append(buf, r.ptr);
        }
        s += '}';
        values_[k] = s.c_str();
        formats_[k] = 0;
    }

    bool step() override {
        if (!executed_) {
            if (!delivered_) execute();  // a pipeline may have delivered the result already
            delivered_ = false;
            executed_ = true;
            row_ = 0;
            return row_ < rows_;
        }
        if (row_ < rows_) ++row_;
        return row_ < rows_;
    }

    void reset() override {
        res_.reset();
        executed_ = false;
        delivered_ = false;
        rows_ = 0;
        row_ = 0;
        cols_ = 0;
        for (std::size_t k = 0; k < values_.size(); ++k) {
            values_[k] = nullptr;
            formats_[k] = 0;
            lengths_[k] = 0;
        }
    }

    int column_count() override {
        if (!res_) return 0;
        return cols_;
    }

    column_kind kind(int c) override {
        check_column(c);
        if (PQgetisnull(res_.get(), row_, c)) return column_kind::null;
        const column_kind k = kinds_[static_cast<std::size_t>(c)];
        if (types_[static_cast<std::size_t>(c)] == numeric_oid) {
            // A numeric with no fraction is an integer (sum() of integers, say) when it fits.
            std::int64_t v;
            if (integral_numeric(numeric_value(c), v)) return column_kind::integer;
        }
        return k;
    }

    std::int64_t get_int(int c) override {
        check_column(c);
        const char* p = PQgetvalue(res_.get(), row_, c);
        const int len = PQgetlength(res_.get(), row_, c);
        const Oid t = types_[static_cast<std::size_t>(c)];
        if (binary_) {
            switch (t) {
            case int8_oid: return static_cast<std::int64_t>(be64(p));
            case int4_oid: return static_cast<std::int32_t>(be32(p));
            case int2_oid: return static_cast<std::int16_t>(be16(p));
            case oid_oid: return be32(p);
            case bool_oid: return *p ? 1 : 0;
            default: break;
            }
        } else if (t == bool_oid) {
            return *p == 't' ? 1 : 0;
        }
        std::string_view s = t == numeric_oid ? numeric_value(c) : std::string_view(p, static_cast<std::size_t>(len));
        std::int64_t v = 0;
        auto [e, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || e != s.data() + s.size())
            throw conversion_error("loadstar/postgres: column " + std::to_string(c) + " is not an integer: '" +
                                   std::string(s) + "'");
        return v;
    }

    double get_real(int c) override {
        check_column(c);
        const char* p = PQgetvalue(res_.get(), row_, c);
        const int len = PQgetlength(res_.get(), row_, c);
        const Oid t = types_[static_cast<std::size_t>(c)];
        if (binary_) {
            switch (t) {
            case float8_oid: {
                const std::uint64_t u = be64(p);
                double d;
                std::memcpy(&d, &u, sizeof d);
                return d;
            }
            case float4_oid: {
                const std::uint32_t u = be32(p);
                float f;
                std::memcpy(&f, &u, sizeof f);
                return f;
            }
            case numeric_oid: return parse_double(numeric_value(c));
            default: return static_cast<double>(get_int(c));
            }
        }
        if (base_kind(t) == column_kind::integer) return static_cast<double>(get_int(c));
        if (t == float4_oid) {
            // The server prints a real's shortest form as a float ("3.4028235e+38"): parse it
            // as one, or FLT_MAX would come back as a double just above FLT_MAX.
            float f = 0;
            const std::string_view s(p, static_cast<std::size_t>(len));
            auto [e, ec] = std::from_chars(s.data(), s.data() + s.size(), f);
            if (ec == std::errc{} && e == s.data() + s.size()) return f;
        }
        return parse_double(std::string_view(p, static_cast<std::size_t>(len)));
    }

    std::string_view get_text(int c) override {
        check_column(c);
        const char* p = PQgetvalue(res_.get(), row_, c);
        const auto len = static_cast<std::size_t>(PQgetlength(res_.get(), row_, c));
        const Oid t = types_[static_cast<std::size_t>(c)];
        std::string& buf = scratch(c);
        if (binary_) {
            switch (t) {
            case timestamp_oid: case timestamptz_oid:
                timestamp_text(static_cast<std::int64_t>(be64(p)), buf);
                return buf;
            case date_oid: date_text(static_cast<std::int32_t>(be32(p)), buf); return buf;
            case numeric_oid: return numeric_value(c);
            case int8_oid: case int4_oid: case int2_oid: case oid_oid: case bool_oid: {
                char tmp[24];
                const auto r = std::to_chars(tmp, tmp + sizeof tmp, get_int(c));
                buf.assign(tmp, r.ptr);
                return buf;
            }
            case float4_oid: case float8_oid: {
                char tmp[32];
                const auto r = std::to_chars(tmp, tmp + sizeof tmp, get_real(c));
                buf.assign(tmp, r.ptr);
                return buf;
            }
            default: return {p, len};
            }
        }
        std::string_view s(p, len);
        if (t == timestamptz_oid && s.size() > 3 && s.substr(s.size() - 3) == "+00") s.remove_suffix(3);
        return s;
    }

    std::span<const std::byte> get_blob(int c) override {
        check_column(c);
        const char* p = PQgetvalue(res_.get(), row_, c);
        const auto len = static_cast<std::size_t>(PQgetlength(res_.get(), row_, c));
        if (binary_ || types_[static_cast<std::size_t>(c)] != bytea_oid)
            return {reinterpret_cast<const std::byte*>(p), len};
        // Text-format bytea: "\x" followed by hex digits (bytea_output = hex, set on connect).
        std::string& buf = scratch(c);
        buf.clear();
        if (len >= 2 && p[0] == '\\' && p[1] == 'x') {
            buf.reserve((len - 2) / 2);
            for (std::size_t j = 2; j + 1 < len; j += 2)
                buf += static_cast<char>((hex_value(p[j]) << 4) | hex_value(p[j + 1]));
        } else {
            buf.assign(p, len);
        }
        return {reinterpret_cast<const std::byte*>(buf.data()), buf.size()};
    }

    std::int64_t affected_rows() override {
        if (!res_) return 0;
        const char* s = PQcmdTuples(res_.get());
        std::int64_t v = 0;
        if (s && *s) std::from_chars(s, s + std::strlen(s), v);
        return v;
    }

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
    bool send() {
        const int n = static_cast<int>(values_.size());
        return name_.empty()
            ? PQsendQueryParams(core_->pg, sql_.c_str(), n, nullptr, values_.data(), lengths_.data(),
                                formats_.data(), binary_ ? 1 : 0) == 1
            : PQsendQueryPrepared(core_->pg, name_.c_str(), n, values_.data(), lengths_.data(), formats_.data(),
                                  binary_ ? 1 : 0) == 1;
    }
    /// Pipeline mode: the result of the execution send() queued; the next step() reads it.
    void deliver(result_ptr res) {
        PGresult* r = res.get();
        const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) core_->raise(r, "execute");
        take(std::move(res));
        executed_ = false;
        delivered_ = true;
    }

private:
    void execute() {
        if (core_->dead) core_->raise_dead("execute");
        const int n = static_cast<int>(values_.size());
        PGresult* r = name_.empty()
            ? PQexecParams(core_->pg, sql_.c_str(), n, nullptr, values_.data(), lengths_.data(), formats_.data(),
                           binary_ ? 1 : 0)
            : PQexecPrepared(core_->pg, name_.c_str(), n, values_.data(), lengths_.data(), formats_.data(),
                             binary_ ? 1 : 0);
        result_ptr res(r);
        const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) core_->raise(r, "execute");
        take(std::move(res));
    }

    void take(result_ptr res) {
        PGresult* r = res.get();
        res_ = std::move(res);
        rows_ = PQntuples(r);
        cols_ = PQnfields(r);
        if (types_.size() != static_cast<std::size_t>(cols_)) {
            types_.resize(static_cast<std::size_t>(cols_));
            kinds_.resize(static_cast<std::size_t>(cols_));
        }
        for (int c = 0; c < cols_; ++c) {
            types_[static_cast<std::size_t>(c)] = PQftype(r, c);
            kinds_[static_cast<std::size_t>(c)] = base_kind(PQftype(r, c));
        }
    }

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

    static conn_params parse(const std::string& conninfo) {
        char* err = nullptr;
        PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
        if (!opts) {
            std::string m = err ? err : "out of memory";
            if (err) PQfreemem(err);
            while (!m.empty() && m.back() == '\n') m.pop_back();
            throw connection_error("loadstar/postgres: invalid connection string: " + m, 0, "08001");
        }
        conn_params p;
        for (PQconninfoOption* o = opts; o->keyword; ++o) {
            if (o->val) {
                p.keys.emplace_back(o->keyword);
                p.values.emplace_back(o->val);
            }
        }
        PQconninfoFree(opts);
        return p;
    }
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
    connection(const conn_params& params, const driver_options& options)
        : core_(std::make_shared<conn_core>()), options_(options) {
        std::vector<const char*> k, v;
        for (std::size_t i = 0; i < params.keys.size(); ++i) {
            k.push_back(params.keys[i].c_str());
            v.push_back(params.values[i].c_str());
        }
        k.push_back(nullptr);
        v.push_back(nullptr);
        core_->pg = PQconnectdbParams(k.data(), v.data(), 0);
        if (!core_->pg) throw connection_error("loadstar/postgres: out of memory", 0, "08001");
        if (PQstatus(core_->pg) != CONNECTION_OK)
            throw connection_error("loadstar/postgres: cannot connect: " + core_->libpq_message() + " [SQLSTATE 08001]",
                                   0, "08001");
        // Notices (e.g. "relation ... already exists, skipping") are not errors: drop them.
        // But a FATAL that arrives while the connection is idle (pg_terminate_backend, a
        // server shutdown) comes this way too: it marks the connection dead.
        PQsetNoticeReceiver(
            core_->pg,
            [](void* arg, const PGresult* r) {
                const char* sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
                const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                if ((sev && (std::string_view(sev) == "FATAL" || std::string_view(sev) == "PANIC")) ||
                    (state && connection_lost_state(state)))
                    static_cast<conn_core*>(arg)->dead = true;
            },
            core_.get());
    }

    std::unique_ptr<loadstar::statement> prepare(std::string_view sql) override {
        if (core_->dead) core_->raise_dead("prepare");
        core_->deallocate_pending();
        rewritten_sql rw = rewrite_placeholders(sql);
        if (!options_.prepared_statements)
            return std::make_unique<statement>(core_, std::move(rw.sql), rw.parameters, std::string(), false);
        auto it = core_->idle_statements.find(rw.sql);
        if (it != core_->idle_statements.end()) {
            auto [name, binary] = std::move(it->second);
            core_->idle_statements.erase(it);
            return std::make_unique<statement>(core_, std::move(rw.sql), rw.parameters, std::move(name), binary);
        }
        std::string name = "ls_" + std::to_string(++core_->next_name);
        {
            result_ptr r(PQprepare(core_->pg, name.c_str(), rw.sql.c_str(), rw.parameters, nullptr));
            if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) core_->raise(r.get(), "prepare");
        }
        bool binary = false;
        if (options_.binary_results) {
            // Binary rows only when every column's type has a decoder here.
            result_ptr d(PQdescribePrepared(core_->pg, name.c_str()));
            if (!d || PQresultStatus(d.get()) != PGRES_COMMAND_OK) core_->raise(d.get(), "describe");
            binary = true;
            for (int c = 0, n = PQnfields(d.get()); c < n; ++c)
                if (!binary_decodable(PQftype(d.get(), c))) binary = false;
        }
        return std::make_unique<statement>(core_, std::move(rw.sql), rw.parameters, std::move(name), binary);
    }

    /// An evicted statement: DEALLOCATEd now if the connection is idle, else with the next
    /// prepare(); the reusable copies of its SQL go too.
    void discard(std::unique_ptr<loadstar::statement> st) noexcept override {
        if (auto* p = dynamic_cast<statement*>(st.get())) {
            p->discard_on_destruction();
            try {
                auto [b, e] = core_->idle_statements.equal_range(p->sql());
                for (auto it = b; it != e; ++it) core_->to_deallocate.push_back(std::move(it->second.first));
                core_->idle_statements.erase(b, e);
            } catch (...) {
            }
        }
        st.reset();
        core_->deallocate_pending();
    }

    void execute(std::string_view sql) override {
        if (core_->dead) core_->raise_dead("execute");
        const bool commit = sql == "COMMIT";
        const bool failed_before = PQtransactionStatus(core_->pg) == PQTRANS_INERROR;
        std::string text(sql);
        if (!options_.prepared_statements && (sql.starts_with("BEGIN") || sql.starts_with("START TRANSACTION")))
            text += transaction_settings;  // see driver_options::prepared_statements
        result_ptr r(PQexec(core_->pg, text.c_str()));
        const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
            core_->raise(r.get(), sql.substr(0, 200));
        // COMMIT of a transaction that an error aborted silently rolls back: say so.
        if (commit && (failed_before || std::string_view(PQcmdStatus(r.get())) == "ROLLBACK"))
            throw error("loadstar/postgres: COMMIT rolled back a transaction that an earlier error aborted "
                        "[SQLSTATE 25P02]",
                        0, "25P02");
    }

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
                const auto r = std::to_chars(num, num + sizeof num, std::get<1>(v));
                buf.append(num, r.ptr);
                break;
            }
            case 2: {
                const double d = std::get<2>(v);
                if (std::isnan(d)) buf += "NaN";
                else if (std::isinf(d)) buf += d > 0 ? "Infinity" : "-Infinity";
                else {
                    const auto r = std::to_chars(num, num + sizeof num, d);
                    buf.append(num, r.ptr);
                }
                break;
            }
            case 3:
                for (char c : std::get<3>(v)) {
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
                for (std::byte b : std::get<4>(v)) {
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
    bool pipeline(std::span<loadstar::statement* const> statements) override {
#ifdef LIBPQ_HAS_PIPELINING
        if (!options_.pipeline || statements.empty()) return false;
        if (core_->dead) core_->raise_dead("pipeline");
        PGconn* pg = core_->pg;
        if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF || !PQenterPipelineMode(pg)) return false;
        struct leave {
            PGconn* pg;
            ~leave() {
                PQsetnonblocking(pg, 0);
                if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF) PQexitPipelineMode(pg);
            }
        } guard{pg};
        auto lost = [&](std::string_view what) {
            core_->dead = true;
            throw connection_error("loadstar/postgres: pipeline: " + std::string(what) + ": " + core_->libpq_message() +
                                       " [SQLSTATE 08006]",
                                   0, "08006");
        };
        if (PQsetnonblocking(pg, 1) != 0) lost("cannot switch to non-blocking mode");
        for (loadstar::statement* st : statements)
            if (!static_cast<statement*>(st)->send()) lost("cannot queue a statement");
        if (PQpipelineSync(pg) != 1) lost("cannot queue the sync");
        for (;;) {
            const int f = PQflush(pg);
            if (f == 0) break;
            if (f < 0) lost("cannot send");
            pollfd p{PQsocket(pg), POLLIN | POLLOUT, 0};
            if (::poll(&p, 1, -1) < 0 && errno != EINTR) lost("poll failed");
            if ((p.revents & POLLIN) && !PQconsumeInput(pg)) lost("cannot read");
        }
        PQsetnonblocking(pg, 0);
        std::exception_ptr first;
        for (loadstar::statement* st : statements) {
            result_ptr r(PQgetResult(pg));
            if (!r) lost("a result is missing");
            const ExecStatusType status = PQresultStatus(r.get());
            if (status != PGRES_PIPELINE_ABORTED && !first) {
                try {
                    static_cast<statement*>(st)->deliver(std::move(r));
                } catch (const connection_error&) {
                    throw;
                } catch (...) {
                    first = std::current_exception();
                }
            }
            while (result_ptr extra{PQgetResult(pg)}) {}  // the NULL that ends this statement's results
        }
        result_ptr sync(PQgetResult(pg));
        if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) lost("the sync is missing");
        if (first) std::rethrow_exception(first);
        return true;
#else
        (void)statements;
        return false;
#endif
    }

    /// Cheap, no round trip, no side effect: the connection is open, and nothing the server
    /// sent since the last statement (a terminated backend's FATAL message) says otherwise.
    /// Called by the pool on check-in and check-out, and by sessions before each statement.
    bool alive() override {
        PGconn* pg = core_->pg;
        if (core_->dead || !pg || PQstatus(pg) != CONNECTION_OK) return mark_dead();
        // One non-blocking read; a FATAL message read while idle reaches the notice receiver,
        // which marks the connection dead. EOF makes PQconsumeInput fail.
        if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK) return mark_dead();
        PQisBusy(pg);  // parses what was read
        if (core_->dead || PQstatus(pg) != CONNECTION_OK) return mark_dead();
        return PQtransactionStatus(pg) != PQTRANS_UNKNOWN || mark_dead();
    }

    /// One round trip (an empty query): for `pre_ping`.
    bool ping() override {
        if (!alive()) return false;
        result_ptr r(PQexec(core_->pg, ""));
        if (!r || PQresultStatus(r.get()) != PGRES_EMPTY_QUERY) return mark_dead();
        return true;
    }

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
    explicit driver(std::string conninfo, driver_options options = {})
        : params_(detail::conn_params::parse(conninfo)), options_(options) {
        if (options_.prepared_statements) params_.add_server_options(detail::server_options);
        params_.set_default("client_encoding", "UTF8");
        params_.set_default("application_name", "loadstar");
        dialect_.name = "postgresql";
        dialect_.dollar_placeholders = true;
        dialect_.supports_returning = true;
        dialect_.supports_for_update = true;
        dialect_.supports_arrays = true;
#ifdef LIBPQ_HAS_PIPELINING
        dialect_.pipelining = options_.pipeline;
#endif
        dialect_.max_bind_parameters = detail::max_parameters;
        dialect_.type_integer = "INTEGER";
        dialect_.type_bigint = "BIGINT";
        dialect_.type_smallint = "SMALLINT";
        dialect_.type_boolean = "BOOLEAN";
        dialect_.type_real = "REAL";
        dialect_.type_double = "DOUBLE PRECISION";
        dialect_.type_text = "TEXT";
        dialect_.type_blob = "BYTEA";
        dialect_.type_timestamp = "TIMESTAMPTZ";
        dialect_.generated_key = "GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
        // Row locks make a write transaction's BEGIN the same as a read's; a read-only session
        // asks the server to refuse writes too.
        dialect_.begin_read = "BEGIN";
        dialect_.begin_write = "BEGIN";
        dialect_.begin_read_only = "BEGIN READ ONLY";
        dialect_.drop_table_suffix = " CASCADE";  // a cycle's foreign keys go with the table
        // REFERENCES must name an existing table; no ADD CONSTRAINT IF NOT EXISTS, hence the DO block.
        dialect_.add_foreign_key = [](std::string_view table, std::string_view constraint, std::string_view clause) {
            return "DO $loadstar$ BEGIN ALTER TABLE " + std::string(table) + " ADD CONSTRAINT " + std::string(constraint) +
                   " " + std::string(clause) + "; EXCEPTION WHEN duplicate_object THEN NULL; END $loadstar$";
        };
    }

    /// Opens a connection. Throws loadstar::connection_error (SQLSTATE 08001) if it cannot.
    std::unique_ptr<loadstar::connection> connect() const {
        return std::make_unique<detail::connection>(params_, options_);
    }
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
inline loadstar::engine engine(std::string conninfo, pool_options pool = {}, driver_options options = {}) {
    return loadstar::engine(driver(std::move(conninfo), options), pool);
}

namespace detail {

/// Takes loadstar's own parameters out of a URL's query string (libpq would refuse them):
/// `prepared_statements` and `binary_results`, each `true/false/1/0/on/off/yes/no`, and the
/// engine's `statement_cache_size=N` (pool_options::statement_cache_size) where `pool` is given.
inline std::string take_url_options(std::string_view rest, driver_options& o, pool_options* pool = nullptr) {
    return loadstar::detail::take_url_parameters(rest, [&](std::string_view key, std::string_view val) {
        if (pool && loadstar::detail::take_pool_parameter("loadstar/postgres", key, val, *pool)) return true;
        bool* target = key == "prepared_statements" ? &o.prepared_statements
                       : key == "binary_results"    ? &o.binary_results
                                                    : nullptr;
        if (!target) return false;  // libpq's own parameter
        *target = loadstar::detail::url_bool("loadstar/postgres", key, val);
        return true;
    });
}

inline const bool scheme_registered = [] {
    auto make = [](std::string_view rest) {
        // libpq reads the URI itself: "postgresql://user@host:port/db?sslmode=disable"; loadstar
        // takes `prepared_statements=false` (pgbouncer) and `binary_results=false` out first.
        driver_options o;
        pool_options pool;
        std::string uri = "postgresql://" + take_url_options(rest, o, &pool);
        return postgres::engine(std::move(uri), pool, o);
    };
    loadstar::detail::scheme_registry::add("postgresql", make);
    loadstar::detail::scheme_registry::add("postgres", make);
    return true;
}();
}  // namespace detail

}  // namespace loadstar::postgres
