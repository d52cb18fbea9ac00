// loadstar/postgres/impl/driver.ipp - the PostgreSQL driver's code. Included by
// postgres/driver.hpp (header-only, the default) or compiled once by
// <loadstar/postgres/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/postgres/driver.hpp>

namespace loadstar::postgres {
namespace detail {

LOADSTAR_DECL rewritten_sql rewrite_placeholders(std::string_view in) {
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

LOADSTAR_DECL conn_core::~conn_core() {
    if (pg) PQfinish(pg);
}

LOADSTAR_DECL std::string conn_core::libpq_message() const {
    std::string m = pg ? PQerrorMessage(pg) : "no connection";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

LOADSTAR_DECL void conn_core::raise(const PGresult* r, std::string_view what) {
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

LOADSTAR_DECL void conn_core::deallocate_pending() noexcept {
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

LOADSTAR_DECL void conn_core::raise_dead(std::string_view what) {
    dead = true;
    throw connection_error("loadstar/postgres: " + std::string(what) +
                               ": the connection was lost earlier [SQLSTATE 08003]",
                           0, "08003");
}

LOADSTAR_DECL void numeric_text(const char* p, int len, std::string& out) {
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

LOADSTAR_DECL void timestamp_text(std::int64_t us, std::string& out) {
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

LOADSTAR_DECL void date_text(std::int32_t d, std::string& out) {
    using namespace std::chrono;
    if (d == std::numeric_limits<std::int32_t>::max()) { out = "infinity"; return; }
    if (d == std::numeric_limits<std::int32_t>::min()) { out = "-infinity"; return; }
    const year_month_day ymd{sys_days{year{2000} / January / 1} + days{d}};
    char buf[24];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    out = buf;
}

LOADSTAR_DECL double parse_double(std::string_view s) {
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

LOADSTAR_DECL statement::~statement() {
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

LOADSTAR_DECL void statement::bind_int_array(int i, std::span<const std::int64_t> v) {
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

LOADSTAR_DECL bool statement::step() {
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

LOADSTAR_DECL void statement::reset() {
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

LOADSTAR_DECL column_kind statement::kind(int c) {
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

LOADSTAR_DECL std::int64_t statement::get_int(int c) {
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

LOADSTAR_DECL double statement::get_real(int c) {
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

LOADSTAR_DECL std::string_view statement::get_text(int c) {
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

LOADSTAR_DECL std::span<const std::byte> statement::get_blob(int c) {
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

LOADSTAR_DECL std::int64_t statement::affected_rows() {
    if (!res_) return 0;
    const char* s = PQcmdTuples(res_.get());
    std::int64_t v = 0;
    if (s && *s) std::from_chars(s, s + std::strlen(s), v);
    return v;
}

LOADSTAR_DECL bool statement::send() {
    const int n = static_cast<int>(values_.size());
    return name_.empty()
        ? PQsendQueryParams(core_->pg, sql_.c_str(), n, nullptr, values_.data(), lengths_.data(),
                            formats_.data(), binary_ ? 1 : 0) == 1
        : PQsendQueryPrepared(core_->pg, name_.c_str(), n, values_.data(), lengths_.data(), formats_.data(),
                              binary_ ? 1 : 0) == 1;
}

LOADSTAR_DECL void statement::deliver(result_ptr res) {
    PGresult* r = res.get();
    const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) core_->raise(r, "execute");
    take(std::move(res));
    executed_ = false;
    delivered_ = true;
}

LOADSTAR_DECL void statement::execute() {
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

LOADSTAR_DECL void statement::take(result_ptr res) {
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

LOADSTAR_DECL conn_params conn_params::parse(const std::string& conninfo) {
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

LOADSTAR_DECL connection::connection(const conn_params& params, const driver_options& options)
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

LOADSTAR_DECL std::unique_ptr<loadstar::statement> connection::prepare(std::string_view sql) {
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

LOADSTAR_DECL void connection::discard(std::unique_ptr<loadstar::statement> st) noexcept {
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

LOADSTAR_DECL void connection::execute(std::string_view sql) {
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

LOADSTAR_DECL bool connection::pipeline(std::span<loadstar::statement* const> statements) {
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

LOADSTAR_DECL bool connection::alive() {
    PGconn* pg = core_->pg;
    if (core_->dead || !pg || PQstatus(pg) != CONNECTION_OK) return mark_dead();
    // One non-blocking read; a FATAL message read while idle reaches the notice receiver,
    // which marks the connection dead. EOF makes PQconsumeInput fail.
    if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK) return mark_dead();
    PQisBusy(pg);  // parses what was read
    if (core_->dead || PQstatus(pg) != CONNECTION_OK) return mark_dead();
    return PQtransactionStatus(pg) != PQTRANS_UNKNOWN || mark_dead();
}

LOADSTAR_DECL bool connection::ping() {
    if (!alive()) return false;
    result_ptr r(PQexec(core_->pg, ""));
    if (!r || PQresultStatus(r.get()) != PGRES_EMPTY_QUERY) return mark_dead();
    return true;
}

}  // namespace detail

LOADSTAR_DECL driver::driver(std::string conninfo, driver_options options)
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

LOADSTAR_DECL std::unique_ptr<loadstar::connection> driver::connect() const {
    return std::make_unique<detail::connection>(params_, options_);
}

LOADSTAR_DECL loadstar::engine engine(std::string conninfo, pool_options pool, driver_options options) {
    return loadstar::engine(driver(std::move(conninfo), options), pool);
}

namespace detail {

LOADSTAR_DECL std::string take_url_options(std::string_view rest, driver_options& o, pool_options* pool) {
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

LOADSTAR_DECL bool register_scheme() {
    static const bool registered = [] {
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
    return registered;
}

}  // namespace detail
}  // namespace loadstar::postgres
