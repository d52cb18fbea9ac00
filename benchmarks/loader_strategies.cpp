// benchmarks/loader_strategies.cpp - what each loader strategy costs, against hand-written sqlite3
// code doing the same work (same SQL, the same graph of std::shared_ptr objects), on SQLite in
// memory, on a file and on PostgreSQL.
// SPDX-License-Identifier: MIT
//
// Benchmarks (every load runs in a fresh ls::session, as users pay it; scripts/bench compares
// CPU times, which a busy machine disturbs less than wall-clock times):
//   BM_load_<strategy>/<backend>/parents:N/children:M   loadstar: load N authors with the strategy,
//                                                        touch every author's books (raise: each
//                                                        touch throws; untouched: raise, no touch)
//   BM_raw_<strategy>/<backend>/parents:N/children:M    sqlite3 C API (libpq on PostgreSQL), same
//                                                        SQL, same graph: a std::shared_ptr per
//                                                        author and per book (issue 14's baseline)
//   BM_raw_plain_<strategy>/...                          the same into plain structs (largest
//                                                        parents, 10 and 50 children: reference)
//   BM_hydrate_{tracked,untracked,raw,raw_shared}/<backend>/rows:R   R books into objects
//   BM_project_{loadstar,raw}/<backend>/rows:R           (id, title) tuples of R books
//   BM_bulk_{insert,add_commit,raw}/<backend>/rows:R     R new books in one transaction
// Counters: `statements` (loadstar: ls::statement_counter; raw: counted by hand) and `rows`
// (rows the statements returned), taken from one extra untimed run after the timed loop so
// that counting does not slow the timed one.
//
// Environment:
//   LOADSTAR_BENCH_SMOKE=1    a tiny grid (what ctest runs): 100 parents, 1,000 rows
//   LOADSTAR_BENCH_DIR=path   where the SQLite files live (default /tmp/loadstar-bench); the
//                             files are reused while their content version matches, and
//                             benchmarks/sqlalchemy_bench.py reads the same files
//   LOADSTAR_BENCH_LAZY_MAX=n skip lazy cells with more than n child rows (default 500000: none)
//   LOADSTAR_PG=conninfo      PostgreSQL columns, when the build has loadstar::postgres

#include "bench_model.hpp"

#include <loadstar/sqlite.hpp>
#if LOADSTAR_BENCH_POSTGRES
#include <loadstar/postgres.hpp>

#include <libpq-fe.h>
#endif

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <malloc.h>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace bench {

// ---- configuration ---------------------------------------------------------------------------

struct config {
    bool smoke = false;
    std::vector<std::int64_t> parents{100, 1000, 10000};
    std::vector<std::int64_t> children{0, 1, 10, 50};
    std::int64_t hydrate_parents = 10000;  // x 10 children = 100,000 rows
    std::int64_t bulk_rows = 100000;
    std::int64_t lazy_max_rows = 500000;
    std::string dir = "/tmp/loadstar-bench";
};

inline config& cfg() {
    static config c;
    return c;
}

inline config read_config() {
    config c;
    if (const char* s = std::getenv("LOADSTAR_BENCH_SMOKE"); s && *s && std::string(s) != "0") {
        c.smoke = true;
        c.parents = {100};
        c.children = {0, 10};
        c.hydrate_parents = 100;
        c.bulk_rows = 1000;
    }
    if (const char* d = std::getenv("LOADSTAR_BENCH_DIR"); d && *d) c.dir = d;
    if (const char* m = std::getenv("LOADSTAR_BENCH_LAZY_MAX"); m && *m) c.lazy_max_rows = std::atoll(m);
    return c;
}

enum class backend { memory, file, postgres };
inline const char* backend_name(backend b) {
    return b == backend::memory ? "memory" : b == backend::file ? "file" : "postgres";
}

// ---- hand-written sqlite3: a connection with a statement cache, as a careful program keeps ---

struct raw_stats {
    std::int64_t statements = 0;
    std::int64_t rows = 0;
    std::int64_t round_trips = -1;  // -1: one per statement (nothing pipelined)
};

class raw_db {
public:
    raw_db(const std::string& path, int flags) {
        if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
            std::string msg = "bench: cannot open " + path + ": " + sqlite3_errmsg(db_);
            sqlite3_close(db_);
            throw std::runtime_error(msg);
        }
        // As loadstar's connections do (on a file loadstar's engine has already made it WAL,
        // which is the file's own setting, and synchronous=NORMAL goes with WAL).
        exec(db_, "PRAGMA foreign_keys = ON");
        exec(db_, "PRAGMA synchronous = NORMAL");
    }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;
    ~raw_db() {
        for (auto& [sql, st] : cache_) sqlite3_finalize(st);
        sqlite3_close_v2(db_);
    }
    sqlite3* get() const noexcept { return db_; }

    /// A prepared statement for `sql`, prepared on first use and reused (reset, bindings cleared).
    sqlite3_stmt* stmt(const std::string& sql) {
        auto it = cache_.find(sql);
        if (it != cache_.end()) return it->second;
        sqlite3_stmt* st = nullptr;
        check(db_, sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &st, nullptr),
              "prepare");
        cache_.emplace(sql, st);
        return st;
    }
    void begin() { step_done(stmt("BEGIN")); }
    void commit() { step_done(stmt("COMMIT")); }

    void step_done(sqlite3_stmt* st) {
        const int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) check(db_, rc, "step");
    }
    bool step(sqlite3_stmt* st) {
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) check(db_, rc, "step");
        return false;
    }

private:
    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

inline void read_text(sqlite3_stmt* st, int c, std::string& out) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
    out.assign(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st, c)));
}
// The grid's raw baselines build the graph loadstar builds (issue 14): every author and every
// book in its own std::shared_ptr, an author's books in a std::vector of them (`Shared` = true,
// the BM_raw_* cells). `Shared` = false fills plain structs with std::vector<raw_book> children
// instead (BM_raw_plain_*, a reference for what the shared_ptr graph itself costs).
struct sp_author {
    std::int64_t id{};
    std::string name;
    std::optional<std::string> email;
    std::vector<std::shared_ptr<raw_book>> books;
};
template <bool Shared>
using authors_t = std::conditional_t<Shared, std::vector<std::shared_ptr<sp_author>>, std::vector<raw_author>>;
inline raw_author& deref(raw_author& a) { return a; }
inline const raw_author& deref(const raw_author& a) { return a; }
inline sp_author& deref(const std::shared_ptr<sp_author>& a) { return *a; }
inline const raw_book& deref(const raw_book& b) { return b; }
inline const raw_book& deref(const std::shared_ptr<raw_book>& b) { return *b; }
inline raw_author& new_author(std::vector<raw_author>& v) { return v.emplace_back(); }
inline sp_author& new_author(std::vector<std::shared_ptr<sp_author>>& v) {
    return *v.emplace_back(std::make_shared<sp_author>());
}
inline raw_book& new_book(raw_author& a) { return a.books.emplace_back(); }
inline raw_book& new_book(sp_author& a) { return *a.books.emplace_back(std::make_shared<raw_book>()); }

template <class A>
void read_author(sqlite3_stmt* st, int c, A& a) {
    a.id = sqlite3_column_int64(st, c);
    read_text(st, c + 1, a.name);
    if (sqlite3_column_type(st, c + 2) == SQLITE_NULL) {
        a.email.reset();
    } else {
        a.email.emplace();
        read_text(st, c + 2, *a.email);
    }
}
inline void read_book(sqlite3_stmt* st, int c, raw_book& b) {
    b.id = sqlite3_column_int64(st, c);
    read_text(st, c + 1, b.title);
    b.year = sqlite3_column_int64(st, c + 2);
    b.author_id = sqlite3_column_int64(st, c + 3);
}

// The SQL loadstar emits for each strategy (checked at startup against query<>::sql() and the
// statements a counted run records), so that raw code runs exactly the same statements.
inline const std::string authors_sql = "SELECT authors.id, authors.name, authors.email FROM authors";
inline const std::string books_by_author_sql =
    "SELECT books.id, books.title, books.year, books.author_id FROM books WHERE books.author_id = ?";
inline const std::string joined_sql =
    "SELECT authors.id, authors.name, authors.email, books_1.id, books_1.title, books_1.year, books_1.author_id "
    "FROM authors LEFT OUTER JOIN books AS books_1 ON books_1.author_id = authors.id";
inline const std::string selectin_prefix =
    "SELECT books.author_id, books.id, books.title, books.year, books.author_id FROM books WHERE books.author_id "
    "IN (";
inline const std::string subquery_sql =
    "SELECT anon_1.k, books.id, books.title, books.year, books.author_id FROM (SELECT authors.id AS k FROM "
    "authors) AS anon_1 JOIN books ON books.author_id = anon_1.k";
inline const std::string all_books_sql = "SELECT books.id, books.title, books.year, books.author_id FROM books";
inline const std::string project_sql = "SELECT books.id, books.title FROM books";
inline const std::string insert_book_sql = "INSERT INTO books (title, year, author_id) VALUES (?, ?, ?)";
inline constexpr std::size_t selectin_batch = 500;  // loadstar's default batch

template <bool Shared>
authors_t<Shared> raw_parents(raw_db& r, raw_stats& s) {
    authors_t<Shared> out;
    sqlite3_stmt* st = r.stmt(authors_sql);
    ++s.statements;
    while (r.step(st)) {
        read_author(st, 0, new_author(out));
        ++s.rows;
    }
    sqlite3_reset(st);
    return out;
}

/// Lazy: the parents, then one statement per parent, one prepared statement reused.
template <bool Shared>
authors_t<Shared> raw_lazy(raw_db& r, raw_stats& s) {
    auto out = raw_parents<Shared>(r, s);
    sqlite3_stmt* st = r.stmt(books_by_author_sql);
    for (auto& a : out) {
        sqlite3_bind_int64(st, 1, deref(a).id);
        ++s.statements;
        while (r.step(st)) {
            read_book(st, 0, new_book(deref(a)));
            ++s.rows;
        }
        sqlite3_reset(st);
    }
    return out;
}

/// Joined: one LEFT OUTER JOIN, parents de-duplicated through a hash map.
template <bool Shared>
authors_t<Shared> raw_joined(raw_db& r, raw_stats& s) {
    authors_t<Shared> out;
    std::unordered_map<std::int64_t, std::size_t> index;
    sqlite3_stmt* st = r.stmt(joined_sql);
    ++s.statements;
    while (r.step(st)) {
        ++s.rows;
        const std::int64_t id = sqlite3_column_int64(st, 0);
        auto [it, fresh] = index.try_emplace(id, out.size());
        if (fresh) read_author(st, 0, new_author(out));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) read_book(st, 3, new_book(deref(out[it->second])));
    }
    sqlite3_reset(st);
    return out;
}

/// Selectin: the parents, then the children of 500 parents per statement (IN list).
template <bool Shared>
authors_t<Shared> raw_selectin(raw_db& r, raw_stats& s) {
    auto out = raw_parents<Shared>(r, s);
    std::unordered_map<std::int64_t, std::size_t> index;
    for (std::size_t i = 0; i < out.size(); ++i) index.emplace(deref(out[i]).id, i);
    for (std::size_t b = 0; b < out.size(); b += selectin_batch) {
        const std::size_t e = std::min(out.size(), b + selectin_batch);
        std::string sql = selectin_prefix;
        for (std::size_t j = b; j < e; ++j) sql += j == b ? "?" : ", ?";
        sql += ')';
        sqlite3_stmt* st = r.stmt(sql);
        for (std::size_t j = b; j < e; ++j) sqlite3_bind_int64(st, static_cast<int>(j - b + 1), deref(out[j]).id);
        ++s.statements;
        while (r.step(st)) {
            ++s.rows;
            auto it = index.find(sqlite3_column_int64(st, 0));
            if (it != index.end()) read_book(st, 1, new_book(deref(out[it->second])));
        }
        sqlite3_reset(st);
    }
    return out;
}

/// Subquery: the parents, then every child joined to the parent query reduced to its keys.
template <bool Shared>
authors_t<Shared> raw_subquery(raw_db& r, raw_stats& s) {
    auto out = raw_parents<Shared>(r, s);
    std::unordered_map<std::int64_t, std::size_t> index;
    for (std::size_t i = 0; i < out.size(); ++i) index.emplace(deref(out[i]).id, i);
    sqlite3_stmt* st = r.stmt(subquery_sql);
    ++s.statements;
    while (r.step(st)) {
        ++s.rows;
        auto it = index.find(sqlite3_column_int64(st, 0));
        if (it != index.end()) read_book(st, 1, new_book(deref(out[it->second])));
    }
    sqlite3_reset(st);
    return out;
}

// ---- hand-written libpq (PostgreSQL): prepared statements, binary results ------------------------

/// A raw libpq connection with its prepared statements (named, one per SQL text). Parameters
/// go as binary int8 (or a text array literal for `= ANY($1)`), rows come back binary.
class raw_pg {
public:
#if LOADSTAR_BENCH_POSTGRES
    explicit raw_pg(const std::string& conninfo) : pg_(PQconnectdb(conninfo.c_str())) {
        if (PQstatus(pg_) != CONNECTION_OK) {
            std::string m = PQerrorMessage(pg_);
            PQfinish(pg_);
            throw std::runtime_error("bench: cannot connect to PostgreSQL: " + m);
        }
        PQsetNoticeProcessor(pg_, [](void*, const char*) {}, nullptr);
    }
    raw_pg(const raw_pg&) = delete;
    raw_pg& operator=(const raw_pg&) = delete;
    ~raw_pg() { PQfinish(pg_); }
    PGconn* get() const noexcept { return pg_; }

    void exec(const std::string& sql) {
        PGresult* r = PQexec(pg_, sql.c_str());
        const auto st = PQresultStatus(r);
        PQclear(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            throw std::runtime_error("bench: " + sql + ": " + PQerrorMessage(pg_));
    }
    /// Runs the prepared statement for `sql` (prepared on first use); the caller PQclear()s.
    PGresult* run(const std::string& sql, int n, const char* const* values, const int* lengths, const int* formats) {
        auto it = names_.find(sql);
        if (it == names_.end()) {
            std::string name = "b" + std::to_string(names_.size());
            PGresult* r = PQprepare(pg_, name.c_str(), sql.c_str(), n, nullptr);
            const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) throw std::runtime_error("bench: prepare " + sql + ": " + PQerrorMessage(pg_));
            it = names_.emplace(sql, std::move(name)).first;
        }
        PGresult* r = PQexecPrepared(pg_, it->second.c_str(), n, values, lengths, formats, 1);
        const auto st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            PQclear(r);
            throw std::runtime_error("bench: " + sql + ": " + PQerrorMessage(pg_));
        }
        return r;
    }

private:
    PGconn* pg_ = nullptr;
    std::unordered_map<std::string, std::string> names_;
#endif
};

#if LOADSTAR_BENCH_POSTGRES
inline std::string pg_conninfo() {
    const char* s = std::getenv("LOADSTAR_PG");
    return s ? std::string(s) : std::string();
}

/// `conninfo` with `-c search_path=<schema>` among its server options, so that every pooled
/// connection of an engine works in the data set's own schema.
inline std::string pg_with_schema(const std::string& conninfo, const std::string& schema) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
    if (!opts) {
        std::string m = err ? err : "?";
        if (err) PQfreemem(err);
        throw std::runtime_error("bench: LOADSTAR_PG does not parse: " + m);
    }
    auto quote = [](std::string_view v) {
        std::string q = "'";
        for (char c : v) {
            if (c == '\'' || c == '\\') q += '\\';
            q += c;
        }
        return q + "'";
    };
    std::string out;
    bool have = false;
    for (PQconninfoOption* o = opts; o->keyword; ++o) {
        if (!o->val) continue;
        std::string v = o->val;
        if (std::string_view(o->keyword) == "options") {
            v += " -c search_path=" + schema;
            have = true;
        }
        out += std::string(o->keyword) + "=" + quote(v) + " ";
    }
    PQconninfoFree(opts);
    if (!have) out += "options=" + quote("-c search_path=" + schema);
    return out;
}

inline std::int64_t pg_int(const PGresult* r, int row, int c) {
    const char* p = PQgetvalue(r, row, c);
    if (PQgetlength(r, row, c) == 4) {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return static_cast<std::int32_t>(__builtin_bswap32(v));
    }
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return static_cast<std::int64_t>(__builtin_bswap64(v));
}
inline void pg_text(const PGresult* r, int row, int c, std::string& out) {
    out.assign(PQgetvalue(r, row, c), static_cast<std::size_t>(PQgetlength(r, row, c)));
}
template <class A>
void pg_author(const PGresult* r, int row, int c, A& a) {
    a.id = pg_int(r, row, c);
    pg_text(r, row, c + 1, a.name);
    if (PQgetisnull(r, row, c + 2)) {
        a.email.reset();
    } else {
        a.email.emplace();
        pg_text(r, row, c + 2, *a.email);
    }
}
inline void pg_book(const PGresult* r, int row, int c, raw_book& b) {
    b.id = pg_int(r, row, c);
    pg_text(r, row, c + 1, b.title);
    b.year = pg_int(r, row, c + 2);
    b.author_id = pg_int(r, row, c + 3);
}

/// One binary int8 parameter.
struct pg_int_param {
    std::uint64_t be;
    explicit pg_int_param(std::int64_t v) : be(__builtin_bswap64(static_cast<std::uint64_t>(v))) {}
    const char* value() const { return reinterpret_cast<const char*>(&be); }
};

inline std::string dollars(std::string sql) {
    int n = 0;
    std::string out;
    for (char c : sql) {
        if (c == '?') out += "$" + std::to_string(++n);
        else out += c;
    }
    return out;
}

template <bool Shared>
authors_t<Shared> pg_parents(raw_pg& r, raw_stats& s) {
    authors_t<Shared> out;
    PGresult* res = r.run(authors_sql, 0, nullptr, nullptr, nullptr);
    ++s.statements;
    const int n = PQntuples(res);
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) pg_author(res, i, 0, new_author(out));
    s.rows += n;
    PQclear(res);
    return out;
}

template <bool Shared>
authors_t<Shared> pg_lazy(raw_pg& r, raw_stats& s) {
    static const std::string sql = dollars(books_by_author_sql);
    auto out = pg_parents<Shared>(r, s);
    const int len = 8, fmt = 1;
    for (auto& a : out) {
        pg_int_param p(deref(a).id);
        const char* v = p.value();
        PGresult* res = r.run(sql, 1, &v, &len, &fmt);
        ++s.statements;
        const int n = PQntuples(res);
        for (int i = 0; i < n; ++i) pg_book(res, i, 0, new_book(deref(a)));
        s.rows += n;
        PQclear(res);
    }
    return out;
}

template <bool Shared>
authors_t<Shared> pg_joined(raw_pg& r, raw_stats& s) {
    authors_t<Shared> out;
    std::unordered_map<std::int64_t, std::size_t> index;
    PGresult* res = r.run(joined_sql, 0, nullptr, nullptr, nullptr);
    ++s.statements;
    const int n = PQntuples(res);
    for (int i = 0; i < n; ++i) {
        auto [it, fresh] = index.try_emplace(pg_int(res, i, 0), out.size());
        if (fresh) pg_author(res, i, 0, new_author(out));
        if (!PQgetisnull(res, i, 3)) pg_book(res, i, 3, new_book(deref(out[it->second])));
    }
    s.rows += n;
    PQclear(res);
    return out;
}

/// Selectin the PostgreSQL way: one statement, the keys as one array parameter.
template <bool Shared>
authors_t<Shared> pg_selectin(raw_pg& r, raw_stats& s) {
    static const std::string sql =
        "SELECT books.author_id, books.id, books.title, books.year, books.author_id FROM books WHERE "
        "books.author_id = ANY($1)";
    auto out = pg_parents<Shared>(r, s);
    std::unordered_map<std::int64_t, std::size_t> index;
    std::string keys = "{";
    char buf[24];
    for (std::size_t i = 0; i < out.size(); ++i) {
        index.emplace(deref(out[i]).id, i);
        if (i) keys += ',';
        keys.append(buf, std::to_chars(buf, buf + sizeof buf, deref(out[i]).id).ptr);
    }
    keys += '}';
    const char* v = keys.c_str();
    const int fmt = 0;
    PGresult* res = r.run(sql, 1, &v, nullptr, &fmt);
    ++s.statements;
    const int n = PQntuples(res);
    for (int i = 0; i < n; ++i) {
        auto it = index.find(pg_int(res, i, 0));
        if (it != index.end()) pg_book(res, i, 1, new_book(deref(out[it->second])));
    }
    s.rows += n;
    PQclear(res);
    return out;
}

template <bool Shared>
authors_t<Shared> pg_subquery(raw_pg& r, raw_stats& s) {
    auto out = pg_parents<Shared>(r, s);
    std::unordered_map<std::int64_t, std::size_t> index;
    for (std::size_t i = 0; i < out.size(); ++i) index.emplace(deref(out[i]).id, i);
    PGresult* res = r.run(subquery_sql, 0, nullptr, nullptr, nullptr);
    ++s.statements;
    const int n = PQntuples(res);
    for (int i = 0; i < n; ++i) {
        auto it = index.find(pg_int(res, i, 0));
        if (it != index.end()) pg_book(res, i, 1, new_book(deref(out[it->second])));
    }
    s.rows += n;
    PQclear(res);
    return out;
}

/// Fills a schema's empty tables through COPY, with the generator's content.
inline void pg_fill(raw_pg& r, std::int64_t parents, std::int64_t children) {
    auto copy = [&](const std::string& sql, auto&& rows) {
        PGresult* res = PQexec(r.get(), sql.c_str());
        const bool ok = PQresultStatus(res) == PGRES_COPY_IN;
        PQclear(res);
        if (!ok) throw std::runtime_error("bench: " + sql + ": " + PQerrorMessage(r.get()));
        std::string buf;
        rows(buf);
        if (PQputCopyData(r.get(), buf.data(), static_cast<int>(buf.size())) != 1 ||
            PQputCopyEnd(r.get(), nullptr) != 1)
            throw std::runtime_error(std::string("bench: COPY: ") + PQerrorMessage(r.get()));
        res = PQgetResult(r.get());
        const bool done = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        while ((res = PQgetResult(r.get()))) PQclear(res);
        if (!done) throw std::runtime_error(std::string("bench: COPY: ") + PQerrorMessage(r.get()));
    };
    copy("COPY authors (id, name, email) FROM STDIN", [&](std::string& b) {
        for (std::int64_t i = 1; i <= parents; ++i) {
            const auto e = author_email(i);
            b += std::to_string(i) + '\t' + author_name(i) + '\t' + (e ? *e : std::string("\\N")) + '\n';
        }
    });
    if (children > 0)
        copy("COPY books (id, title, year, author_id) FROM STDIN", [&](std::string& b) {
            for (std::int64_t i = 1; i <= parents; ++i)
                for (std::int64_t j = 0; j < children; ++j)
                    b += std::to_string((i - 1) * children + j + 1) + '\t' + book_title(i, j) + '\t' +
                         std::to_string(book_year(i, j)) + '\t' + std::to_string(i) + '\n';
        });
    r.exec("ANALYZE authors");
    r.exec("ANALYZE books");
}

/// Drops, at exit, the schemas this process made.
struct pg_janitor {
    std::vector<std::string> schemas;
    ~pg_janitor() {
        if (schemas.empty()) return;
        try {
            raw_pg admin(pg_conninfo());
            for (const auto& s : schemas) admin.exec("DROP SCHEMA IF EXISTS " + s + " CASCADE");
        } catch (...) {
        }
    }
    static pg_janitor& instance() {
        static pg_janitor j;
        return j;
    }
};

/// A fresh schema named after this process and `tag`; returns the conninfo that works in it.
inline std::string pg_schema(const std::string& tag) {
    const std::string schema = "lsbench_" + std::to_string(::getpid()) + "_" + tag;
    {
        raw_pg admin(pg_conninfo());
        admin.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        admin.exec("CREATE SCHEMA " + schema);
    }
    pg_janitor::instance().schemas.push_back(schema);
    return pg_with_schema(pg_conninfo(), schema);
}

/// True when the PostgreSQL columns can run: built with the driver, LOADSTAR_PG set and reachable.
inline bool pg_available(std::string* why) {
    if (pg_conninfo().empty()) {
        *why = "LOADSTAR_PG is not set";
        return false;
    }
    try {
        raw_pg probe(pg_conninfo());
        return true;
    } catch (const std::exception& e) {
        *why = e.what();
        return false;
    }
}
#else
inline bool pg_available(std::string* why) {
    *why = "built without loadstar::postgres";
    return false;
}
#endif

// ---- data sets -------------------------------------------------------------------------------

/// One (backend, parents, children) data set: loadstar's engine and a raw connection, both on the
/// same content (in memory: two databases filled by the same generator, see make_memory).
struct dataset {
    ls::engine engine;
    std::unique_ptr<raw_db> raw;
    std::unique_ptr<raw_pg> pg;  // the raw side on PostgreSQL
    std::unique_ptr<ls::engine> sequential;  // PostgreSQL without pipeline mode, same schema
};

inline std::string file_path(std::int64_t parents, std::int64_t children) {
    return cfg().dir + "/authors_books_" + std::to_string(parents) + "_" + std::to_string(children) + ".db";
}

inline int file_version(const std::string& path) {
    sqlite3* db = nullptr;
    int v = -1;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/// The SQLite file of a data set, made (atomically: a temporary file renamed) unless a file of
/// the current content version is there already.
inline std::string ensure_file(std::int64_t parents, std::int64_t children) {
    const std::string path = file_path(parents, children);
    if (std::filesystem::exists(path) && file_version(path) == data_version) return path;
    std::filesystem::create_directories(cfg().dir);
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    std::filesystem::remove(tmp);
    {
        raw_db w(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        create_schema(w.get());
        fill(w.get(), parents, children);
    }
    std::filesystem::rename(tmp, path);
    return path;
}

inline std::string memory_uri(const std::string& tag) {
    return "file:loadstar-bench-" + std::to_string(::getpid()) + "-" + tag + "?mode=memory&cache=shared";
}

/// In memory, loadstar's engine opens a named shared-cache memory database (what its ":memory:"
/// does internally, with a name we know, so the generator can fill it); the raw side opens a
/// private ":memory:" database, what hand-written code would use, filled the same way.
inline std::unique_ptr<dataset> make_memory(std::int64_t parents, std::int64_t children) {
    const std::string uri = memory_uri(std::to_string(parents) + "-" + std::to_string(children));
    auto d = std::make_unique<dataset>(dataset{ls::sqlite::engine(uri), nullptr, nullptr, nullptr});
    {
        raw_db w(uri, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI);
        create_schema(w.get());
        fill(w.get(), parents, children);
    }
    d->raw = std::make_unique<raw_db>(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    create_schema(d->raw->get());
    fill(d->raw->get(), parents, children);
    return d;
}

inline std::unique_ptr<dataset> make_file(std::int64_t parents, std::int64_t children) {
    const std::string path = ensure_file(parents, children);
    return std::make_unique<dataset>(
        dataset{ls::sqlite::engine(path), std::make_unique<raw_db>(path, SQLITE_OPEN_READWRITE), nullptr, nullptr});
}

/// On PostgreSQL: a schema per data set, its tables made by ls::create_all, filled by COPY.
inline std::unique_ptr<dataset> make_postgres([[maybe_unused]] std::int64_t parents,
                                              [[maybe_unused]] std::int64_t children) {
#if LOADSTAR_BENCH_POSTGRES
    const std::string conninfo = pg_schema(std::to_string(parents) + "_" + std::to_string(children));
    auto d = std::make_unique<dataset>(dataset{ls::postgres::engine(conninfo), nullptr, nullptr, nullptr});
    d->sequential = std::make_unique<ls::engine>(ls::postgres::engine(conninfo, {}, {.pipeline = false}));
    ls::create_all<Author, Book>(d->engine);
    d->pg = std::make_unique<raw_pg>(conninfo);
    pg_fill(*d->pg, parents, children);
    return d;
#else
    throw std::runtime_error("bench: built without loadstar::postgres");
#endif
}

inline dataset& get_dataset(backend b, std::int64_t parents, std::int64_t children) {
    static std::map<std::tuple<backend, std::int64_t, std::int64_t>, std::unique_ptr<dataset>> sets;
    auto& d = sets[{b, parents, children}];
    if (!d) {
        d = b == backend::memory ? make_memory(parents, children)
            : b == backend::file ? make_file(parents, children)
                                 : make_postgres(parents, children);
    }
    return *d;
}

// ---- loadstar loads ----------------------------------------------------------------------------

// `untouched` loads the parents under raise and touches nothing: the base the cost of a refused
// touch is measured from ((raise - untouched) / parents).
enum class kind { lazy, joined, selectin, subquery, raise, untouched };
inline const char* kind_name(kind k) {
    switch (k) {
    case kind::lazy: return "lazy";
    case kind::joined: return "joined";
    case kind::selectin: return "selectin";
    case kind::subquery: return "subquery";
    case kind::raise: return "raise";
    default: return "untouched";
    }
}

struct touched {
    std::int64_t books = 0;
    std::int64_t refused = 0;
    std::int64_t checksum = 0;
};
touched touch(const std::vector<ls::ptr<Author>>& authors);

template <kind K>
std::vector<ls::ptr<Author>> load_authors(ls::session& s) {
    if constexpr (K == kind::lazy) return s.query<Author>().options(ls::lazyload<&Author::books>).all();
    else if constexpr (K == kind::joined) return s.query<Author>().options(ls::joinedload<&Author::books>).all();
    else if constexpr (K == kind::selectin) return s.query<Author>().options(ls::selectinload<&Author::books>).all();
    else if constexpr (K == kind::subquery) return s.query<Author>().options(ls::subqueryload<&Author::books>).all();
    else return s.query<Author>().options(ls::raiseload<&Author::books>).all();
}

template <kind K>
touched load_and_touch(ls::session& s) {
    auto authors = load_authors<K>(s);
    if constexpr (K == kind::untouched) {
        touched t;
        for (const auto& a : authors) t.checksum += a->id;
        return t;
    } else {
        return touch(authors);
    }
}

/// Touches every author's collection (under raise each touch throws, and is caught).
touched touch(const std::vector<ls::ptr<Author>>& authors) {
    touched t;
    for (const auto& a : authors) {
        try {
            for (const auto& b : a->books) {
                ++t.books;
                t.checksum += b->year;
            }
        } catch (const ls::raise_load_error&) {
            ++t.refused;
        }
    }
    return t;
}
template <class A>
touched touch(const std::vector<A>& authors) {
    touched t;
    for (const auto& a : authors)
        for (const auto& b : deref(a).books) {
            ++t.books;
            t.checksum += deref(b).year;
        }
    return t;
}

inline std::int64_t expected_checksum(std::int64_t parents, std::int64_t children) {
    std::int64_t sum = 0;
    for (std::int64_t i = 1; i <= parents; ++i)
        for (std::int64_t j = 0; j < children; ++j) sum += book_year(i, j);
    return sum;
}

/// Runs `fn` once with a statement counter and a row counter on the engine.
template <class Fn>
raw_stats counted(ls::engine& e, Fn&& fn) {
    ls::statement_counter counter{e};
    std::int64_t rows = 0;
    const auto id = e.on_statement([&](const ls::statement_event& ev) {
        if (ev.counted) rows += ev.rows;
    });
    try {
        fn();
    } catch (...) {
        e.remove_listener(id);
        throw;
    }
    e.remove_listener(id);
    return {static_cast<std::int64_t>(counter.count()), rows, static_cast<std::int64_t>(counter.round_trips())};
}

inline void set_counters(benchmark::State& state, const raw_stats& s) {
    state.counters["statements"] = static_cast<double>(s.statements);
    state.counters["rows"] = static_cast<double>(s.rows);
    state.counters["round_trips"] = static_cast<double>(s.round_trips >= 0 ? s.round_trips : s.statements);
}

template <kind K>
void BM_load(benchmark::State& state, backend b) {
    const std::int64_t parents = state.range(0), children = state.range(1);
    dataset& d = get_dataset(b, parents, children);
    for (auto _ : state) {
        ls::session s{d.engine};
        auto t = load_and_touch<K>(s);
        benchmark::DoNotOptimize(t);
    }
    touched t;
    const auto stats = counted(d.engine, [&] {
        ls::session s{d.engine};
        t = load_and_touch<K>(s);
    });
    const bool ok = K == kind::untouched ? t.checksum == parents * (parents + 1) / 2
                    : K == kind::raise   ? t.refused == parents && t.books == 0
                                         : t.books == parents * children &&
                                             t.checksum == expected_checksum(parents, children);
    if (!ok) state.SkipWithError("loaded the wrong objects");
    set_counters(state, stats);
}

template <kind K, bool Shared = true>
void BM_raw(benchmark::State& state, backend b) {
    const std::int64_t parents = state.range(0), children = state.range(1);
    dataset& d = get_dataset(b, parents, children);
    auto load = [&](raw_stats& s) {
        authors_t<Shared> out;
#if LOADSTAR_BENCH_POSTGRES
        if (d.pg) {
            d.pg->exec("BEGIN");
            if constexpr (K == kind::lazy) out = pg_lazy<Shared>(*d.pg, s);
            else if constexpr (K == kind::joined) out = pg_joined<Shared>(*d.pg, s);
            else if constexpr (K == kind::selectin) out = pg_selectin<Shared>(*d.pg, s);
            else out = pg_subquery<Shared>(*d.pg, s);
            d.pg->exec("COMMIT");
            return out;
        }
#endif
        d.raw->begin();
        if constexpr (K == kind::lazy) out = raw_lazy<Shared>(*d.raw, s);
        else if constexpr (K == kind::joined) out = raw_joined<Shared>(*d.raw, s);
        else if constexpr (K == kind::selectin) out = raw_selectin<Shared>(*d.raw, s);
        else out = raw_subquery<Shared>(*d.raw, s);
        d.raw->commit();
        return out;
    };
    for (auto _ : state) {
        raw_stats s;
        auto authors = load(s);
        auto t = touch(authors);
        benchmark::DoNotOptimize(t);
    }
    raw_stats stats;
    const auto t = touch(load(stats));
    if (t.books != parents * children || t.checksum != expected_checksum(parents, children))
        state.SkipWithError("loaded the wrong objects");
    set_counters(state, stats);
}

// ---- hydration and projection of many rows ---------------------------------------------------

/// Heap bytes in use (glibc's allocator: what malloc has handed out and not taken back).
inline double heap_in_use() { return static_cast<double>(mallinfo2().uordblks); }
/// Heap bytes per loaded row while the load's result (and, for loadstar, its session) is held:
/// counter "heap_B_per_row". Compared with the raw code that builds the same shared_ptr objects
/// it gives the memory loadstar adds per object (identity map, snapshot, holder state).
/// `load` returns {rows, what holds them}; the second reading is taken while it is held.
template <class Load>
void heap_per_row(benchmark::State& state, Load load) {
    const double before = heap_in_use();
    const auto held = load();
    const double after = heap_in_use();
    state.counters["heap_B_per_row"] = held.first ? (after - before) / static_cast<double>(held.first) : 0.0;
}

template <bool Tracked>
void BM_hydrate(benchmark::State& state, backend b) {
    dataset& d = get_dataset(b, cfg().hydrate_parents, 10);
    auto load = [](ls::session& s) {
        if constexpr (Tracked) return s.query<Book>().all();
        else return s.query<Book>().untracked().all();
    };
    std::int64_t n = 0;
    for (auto _ : state) {
        ls::session s{d.engine};
        auto books = load(s);
        std::int64_t sum = 0;
        for (const auto& bk : books) sum += bk->year;
        benchmark::DoNotOptimize(sum);
        n = static_cast<std::int64_t>(books.size());
    }
    set_counters(state, counted(d.engine, [&] {
        ls::session s{d.engine};
        benchmark::DoNotOptimize(load(s));
    }));
    heap_per_row(state, [&] {
        auto s = std::make_unique<ls::session>(d.engine);
        auto books = load(*s);
        const std::size_t rows = books.size();
        return std::make_pair(rows, std::make_pair(std::move(s), std::move(books)));
    });
    state.counters["sizeof_object"] = sizeof(Book);
    state.SetItemsProcessed(state.iterations() * n);
}

/// Raw hydration into plain values (`Shared` = false) or into std::shared_ptr per row, the
/// representation loadstar returns (ls::ptr<T>), to separate that cost from the rest.
template <bool Shared>
void BM_hydrate_raw(benchmark::State& state, backend b) {
    dataset& d = get_dataset(b, cfg().hydrate_parents, 10);
    auto load = [&](raw_stats& s) {
        using item = std::conditional_t<Shared, std::shared_ptr<raw_book>, raw_book>;
        std::vector<item> out;
#if LOADSTAR_BENCH_POSTGRES
        if (d.pg) {
            d.pg->exec("BEGIN");
            PGresult* res = d.pg->run(all_books_sql, 0, nullptr, nullptr, nullptr);
            ++s.statements;
            const int n = PQntuples(res);
            for (int i = 0; i < n; ++i) {
                if constexpr (Shared) pg_book(res, i, 0, *out.emplace_back(std::make_shared<raw_book>()));
                else pg_book(res, i, 0, out.emplace_back());
            }
            s.rows += n;
            PQclear(res);
            d.pg->exec("COMMIT");
            return out;
        }
#endif
        d.raw->begin();
        sqlite3_stmt* st = d.raw->stmt(all_books_sql);
        ++s.statements;
        while (d.raw->step(st)) {
            ++s.rows;
            if constexpr (Shared) read_book(st, 0, *out.emplace_back(std::make_shared<raw_book>()));
            else read_book(st, 0, out.emplace_back());
        }
        sqlite3_reset(st);
        d.raw->commit();
        return out;
    };
    std::int64_t n = 0;
    for (auto _ : state) {
        raw_stats s;
        auto books = load(s);
        std::int64_t sum = 0;
        for (const auto& bk : books) {
            if constexpr (Shared) sum += bk->year;
            else sum += bk.year;
        }
        benchmark::DoNotOptimize(sum);
        n = static_cast<std::int64_t>(books.size());
    }
    raw_stats stats;
    benchmark::DoNotOptimize(load(stats));
    set_counters(state, stats);
    heap_per_row(state, [&] {
        raw_stats unused;
        auto books = load(unused);
        const std::size_t rows = books.size();
        return std::make_pair(rows, std::move(books));
    });
    state.counters["sizeof_object"] = sizeof(raw_book);
    state.SetItemsProcessed(state.iterations() * n);
}

void BM_project_loadstar(benchmark::State& state, backend b) {
    dataset& d = get_dataset(b, cfg().hydrate_parents, 10);
    std::int64_t n = 0;
    for (auto _ : state) {
        ls::session s{d.engine};
        auto rows = s.query<Book>().columns<&Book::id, &Book::title>().all();
        benchmark::DoNotOptimize(rows.data());
        n = static_cast<std::int64_t>(rows.size());
    }
    set_counters(state, counted(d.engine, [&] {
        ls::session s{d.engine};
        benchmark::DoNotOptimize(s.query<Book>().columns<&Book::id, &Book::title>().all());
    }));
    state.SetItemsProcessed(state.iterations() * n);
}

void BM_project_raw(benchmark::State& state, backend b) {
    dataset& d = get_dataset(b, cfg().hydrate_parents, 10);
    auto load = [&](raw_stats& s) {
        std::vector<std::tuple<std::int64_t, std::string>> out;
#if LOADSTAR_BENCH_POSTGRES
        if (d.pg) {
            d.pg->exec("BEGIN");
            PGresult* res = d.pg->run(project_sql, 0, nullptr, nullptr, nullptr);
            ++s.statements;
            const int n = PQntuples(res);
            for (int i = 0; i < n; ++i) {
                auto& [id, title] = out.emplace_back();
                id = pg_int(res, i, 0);
                pg_text(res, i, 1, title);
            }
            s.rows += n;
            PQclear(res);
            d.pg->exec("COMMIT");
            return out;
        }
#endif
        d.raw->begin();
        sqlite3_stmt* st = d.raw->stmt(project_sql);
        ++s.statements;
        while (d.raw->step(st)) {
            ++s.rows;
            auto& [id, title] = out.emplace_back();
            id = sqlite3_column_int64(st, 0);
            read_text(st, 1, title);
        }
        sqlite3_reset(st);
        d.raw->commit();
        return out;
    };
    std::int64_t n = 0;
    for (auto _ : state) {
        raw_stats s;
        auto rows = load(s);
        benchmark::DoNotOptimize(rows.data());
        n = static_cast<std::int64_t>(rows.size());
    }
    raw_stats stats;
    benchmark::DoNotOptimize(load(stats));
    set_counters(state, stats);
    state.SetItemsProcessed(state.iterations() * n);
}

// ---- bulk insert -------------------------------------------------------------------------------

/// An empty-books database with 1,000 authors for the inserts (one per backend and process).
struct bulk_target {
    ls::engine engine;
    std::unique_ptr<raw_db> raw;  // the same database: clears the books between iterations
    std::unique_ptr<raw_pg> pg;   // on PostgreSQL
};
inline std::string bulk_path() { return cfg().dir + "/bulk_" + std::to_string(::getpid()) + ".db"; }
inline bulk_target& get_bulk_target(backend b) {
    static std::map<backend, std::unique_ptr<bulk_target>> targets;
    auto& t = targets[b];
    if (!t) {
        if (b == backend::postgres) {
            auto d = make_postgres(1000, 0);
            t = std::make_unique<bulk_target>(bulk_target{d->engine, nullptr, std::move(d->pg)});
            return *t;
        }
        std::string path;
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        if (b == backend::memory) {
            path = memory_uri("bulk");
            flags |= SQLITE_OPEN_URI;
        } else {
            std::filesystem::create_directories(cfg().dir);
            path = bulk_path();
            std::filesystem::remove(path);
        }
        auto raw = std::make_unique<raw_db>(path, flags);
        create_schema(raw->get());
        fill(raw->get(), 1000, 0);
        t = std::make_unique<bulk_target>(bulk_target{ls::sqlite::engine(path), std::move(raw), nullptr});
    }
    return *t;
}
inline void clear_books(bulk_target& t) {
#if LOADSTAR_BENCH_POSTGRES
    if (t.pg) {
        t.pg->exec("TRUNCATE books");
        return;
    }
#endif
    exec(t.raw->get(), "DELETE FROM books");
}

inline std::vector<Book> new_books(std::int64_t n) {
    std::vector<Book> v;
    v.reserve(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k)
        v.push_back(Book{.title = book_title(k / 100 + 1, k % 100), .year = book_year(k / 100 + 1, k % 100),
                         .author_id = k % 1000 + 1});
    return v;
}

template <class S>
concept has_bulk_insert = requires(S& s, std::span<const Book> books) { s.bulk_insert(books); };

template <class S = ls::session>
void BM_bulk_insert(benchmark::State& state, backend b) {
    if constexpr (!has_bulk_insert<S>) {
        state.SkipWithError("ls::session::bulk_insert is not there yet");
        for (auto _ : state) {
        }
    } else {
        auto& t = get_bulk_target(b);
        const auto books = new_books(state.range(0));
        for (auto _ : state) {
            state.PauseTiming();
            clear_books(t);
            state.ResumeTiming();
            S s{t.engine};
            s.bulk_insert(std::span<const Book>{books});
            s.commit();
        }
        clear_books(t);
        set_counters(state, counted(t.engine, [&] {
            S s{t.engine};
            s.bulk_insert(std::span<const Book>{books});
            s.commit();
        }));
        state.SetItemsProcessed(state.iterations() * state.range(0));
    }
}

void BM_bulk_add_commit(benchmark::State& state, backend b) {
    auto& t = get_bulk_target(b);
    const auto books = new_books(state.range(0));
    auto run = [&] {
        ls::session s{t.engine};
        for (const auto& bk : books) s.add(std::make_shared<Book>(Book{.title = bk.title, .year = bk.year,
                                                                       .author_id = bk.author_id}));
        s.commit();
    };
    for (auto _ : state) {
        state.PauseTiming();
        clear_books(t);
        state.ResumeTiming();
        run();
    }
    clear_books(t);
    set_counters(state, counted(t.engine, run));
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_bulk_raw(benchmark::State& state, backend b) {
    auto& t = get_bulk_target(b);
    std::vector<raw_book> books;
    for (const auto& bk : new_books(state.range(0)))
        books.push_back(raw_book{.id = 0, .title = bk.title, .year = bk.year, .author_id = bk.author_id});
    raw_stats stats;
    auto run = [&] {
#if LOADSTAR_BENCH_POSTGRES
        if (t.pg) {
            static const std::string sql = dollars(insert_book_sql);
            t.pg->exec("BEGIN");
            const int lengths[] = {0, 8, 8}, formats[] = {0, 1, 1};
            for (const auto& bk : books) {
                const pg_int_param year(bk.year), author(bk.author_id);
                const char* values[] = {bk.title.c_str(), year.value(), author.value()};
                PQclear(t.pg->run(sql, 3, values, lengths, formats));
                ++stats.statements;
                ++stats.rows;
            }
            t.pg->exec("COMMIT");
            return;
        }
#endif
        raw_db& r = *t.raw;
        r.begin();
        sqlite3_stmt* st = r.stmt(insert_book_sql);
        for (const auto& bk : books) {
            sqlite3_bind_text(st, 1, bk.title.data(), static_cast<int>(bk.title.size()), SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, bk.year);
            sqlite3_bind_int64(st, 3, bk.author_id);
            r.step_done(st);
            ++stats.statements;
            stats.rows += sqlite3_changes(r.get());
        }
        r.commit();
    };
    for (auto _ : state) {
        state.PauseTiming();
        clear_books(t);
        state.ResumeTiming();
        run();
    }
    clear_books(t);
    stats = {};
    run();
    set_counters(state, stats);
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

#if LOADSTAR_BENCH_POSTGRES
/// PostgreSQL only: the same rows through COPY ... FROM STDIN (text format), in one transaction.
void BM_bulk_raw_copy(benchmark::State& state, backend b) {
    auto& t = get_bulk_target(b);
    const auto books = new_books(state.range(0));
    auto run = [&] {
        PGconn* pg = t.pg->get();
        t.pg->exec("BEGIN");
        PGresult* res = PQexec(pg, "COPY books (title, year, author_id) FROM STDIN");
        const bool ok = PQresultStatus(res) == PGRES_COPY_IN;
        PQclear(res);
        if (!ok) throw std::runtime_error(std::string("bench: COPY: ") + PQerrorMessage(pg));
        std::string buf;
        buf.reserve(1 << 16);
        char num[24];
        for (const auto& bk : books) {
            buf += bk.title;  // the generator's titles need no COPY escaping
            buf += '\t';
            buf.append(num, std::to_chars(num, num + sizeof num, bk.year).ptr);
            buf += '\t';
            buf.append(num, std::to_chars(num, num + sizeof num, bk.author_id).ptr);
            buf += '\n';
            if (buf.size() > (1 << 16) - 64) {
                PQputCopyData(pg, buf.data(), static_cast<int>(buf.size()));
                buf.clear();
            }
        }
        if (!buf.empty()) PQputCopyData(pg, buf.data(), static_cast<int>(buf.size()));
        PQputCopyEnd(pg, nullptr);
        while ((res = PQgetResult(pg))) PQclear(res);
        t.pg->exec("COMMIT");
    };
    for (auto _ : state) {
        state.PauseTiming();
        clear_books(t);
        state.ResumeTiming();
        run();
    }
    clear_books(t);
    run();
    set_counters(state, {1, state.range(0)});
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
#endif

// ---- PostgreSQL pipeline mode ---------------------------------------------------------------------

/// What pipeline mode buys on PostgreSQL, the same work with it (the default) and without
/// (driver_options::pipeline = false), on the same schema:
///   BM_pg_subquery_{pipelined,sequential}   authors + subqueryload(books): 2 statements in 1
///                                            round trip, or 2
///   BM_pg_explicit_{pipelined,sequential}   authors (lazy), then s.load<&Author::books>(all):
///                                            1 + N statements in 2 round trips, or 1 + N
/// (BM_load_lazy/postgres is the implicit N+1 of the second; BM_load_selectin/postgres the
/// 2-statement answer when the need is known before the query.)
enum class pg_mode { subquery, explicit_load };
template <pg_mode M, bool Pipelined>
void BM_pg_pipeline(benchmark::State& state, backend b) {
    const std::int64_t parents = state.range(0), children = state.range(1);
    dataset& d = get_dataset(b, parents, children);
    ls::engine& e = Pipelined ? d.engine : *d.sequential;
    auto once = [&] {
        ls::session s{e};
        if constexpr (M == pg_mode::subquery) {
            return touch(load_authors<kind::subquery>(s));
        } else {
            auto authors = s.query<Author>().options(ls::lazyload<&Author::books>).all();
            s.load<&Author::books>(authors);
            return touch(authors);
        }
    };
    for (auto _ : state) {
        auto t = once();
        benchmark::DoNotOptimize(t);
    }
    touched t;
    const auto stats = counted(e, [&] { t = once(); });
    if (t.books != parents * children || t.checksum != expected_checksum(parents, children))
        state.SkipWithError("loaded the wrong objects");
    set_counters(state, stats);
}

// ---- start-up checks and registration ------------------------------------------------------------

/// The raw baselines must run the statements loadstar runs: compare the SQL text once.
inline void check_sql_shapes() {
    dataset& d = get_dataset(backend::memory, 2, 2);
    auto expect = [](const std::vector<std::string>& got, const std::vector<std::string>& want, const char* what) {
        if (got != want) {
            std::fprintf(stderr, "bench: loadstar's %s SQL changed; update the raw baseline:\n", what);
            for (const auto& s : got) std::fprintf(stderr, "  %s\n", s.c_str());
            std::exit(2);
        }
    };
    auto statements = [&](auto fn) {
        ls::statement_counter c{d.engine};
        ls::session s{d.engine};
        fn(s);
        return c.statements();
    };
    expect(statements([](ls::session& s) { touch(load_authors<kind::lazy>(s)); }),
           {authors_sql, books_by_author_sql, books_by_author_sql}, "lazy");
    expect(statements([](ls::session& s) { touch(load_authors<kind::joined>(s)); }), {joined_sql}, "joined");
    expect(statements([](ls::session& s) { touch(load_authors<kind::selectin>(s)); }),
           {authors_sql, selectin_prefix + "?, ?)"}, "selectin");
    expect(statements([](ls::session& s) { touch(load_authors<kind::subquery>(s)); }),
           {authors_sql, subquery_sql}, "subquery");
    expect(statements([](ls::session& s) { (void)s.query<Book>().all(); }), {all_books_sql}, "hydrate");
    expect(statements([](ls::session& s) { (void)s.query<Book>().columns<&Book::id, &Book::title>().all(); }),
           {project_sql}, "projection");
}

inline void register_all() {
    using fn_t = void (*)(benchmark::State&, backend);
    const fn_t loads[] = {&BM_load<kind::lazy>,     &BM_load<kind::joined>, &BM_load<kind::selectin>,
                          &BM_load<kind::subquery>, &BM_load<kind::raise>,  &BM_load<kind::untouched>};
    const fn_t raws[] = {&BM_raw<kind::lazy>, &BM_raw<kind::joined>, &BM_raw<kind::selectin>,
                         &BM_raw<kind::subquery>};
    const fn_t raws_plain[] = {&BM_raw<kind::lazy, false>, &BM_raw<kind::joined, false>,
                               &BM_raw<kind::selectin, false>, &BM_raw<kind::subquery, false>};
    const auto& c = cfg();
    std::vector<std::string> skipped;
    std::vector<backend> backends{backend::memory, backend::file};
    std::string why;
    if (pg_available(&why)) backends.push_back(backend::postgres);
    else std::fprintf(stderr, "bench: no PostgreSQL columns (%s)\n", why.c_str());
    // PostgreSQL does its work in the server process: wall-clock time is the measure there.
    // Round trips make its times noisier: each repetition runs at least half a second there.
    auto timing = [&c](benchmark::internal::Benchmark* bm, backend b) {
        bm->Unit(benchmark::kMillisecond);
        if (b == backend::postgres) {
            bm->UseRealTime();
            if (!c.smoke) bm->MinTime(0.5);
        }
        return bm;
    };
    // Grouped by data set, so that each one is made once and used while it is warm.
    for (backend b : backends) {
        for (auto n : c.parents) {
            for (auto m : c.children) {
                for (int k = 0; k < 6; ++k) {
                    const auto kd = static_cast<kind>(k);
                    if (kd == kind::untouched && m != 0) continue;  // children are not loaded
                    if (kd == kind::lazy && n * m > c.lazy_max_rows) {
                        skipped.push_back(std::string("BM_load_lazy/") + backend_name(b) + "/parents:" +
                                          std::to_string(n) + "/children:" + std::to_string(m));
                        continue;
                    }
                    auto name = std::string("BM_load_") + kind_name(kd) + "/" + backend_name(b);
                    timing(benchmark::RegisterBenchmark(name.c_str(), loads[k], b), b)
                        ->Args({n, m})->ArgNames({"parents", "children"});
                    if (k < 4) {
                        name = std::string("BM_raw_") + kind_name(kd) + "/" + backend_name(b);
                        timing(benchmark::RegisterBenchmark(name.c_str(), raws[k], b), b)
                            ->Args({n, m})->ArgNames({"parents", "children"});
                        // Plain structs, for reference: at the largest sizes only.
                        if (n == c.parents.back() && m >= 10) {
                            name = std::string("BM_raw_plain_") + kind_name(kd) + "/" + backend_name(b);
                            timing(benchmark::RegisterBenchmark(name.c_str(), raws_plain[k], b), b)
                                ->Args({n, m})->ArgNames({"parents", "children"});
                        }
                    }
                }
            }
        }
        if (b == backend::postgres) {
            const std::pair<const char*, fn_t> pipes[] = {
                {"BM_pg_subquery_pipelined", &BM_pg_pipeline<pg_mode::subquery, true>},
                {"BM_pg_subquery_sequential", &BM_pg_pipeline<pg_mode::subquery, false>},
                {"BM_pg_explicit_pipelined", &BM_pg_pipeline<pg_mode::explicit_load, true>},
                {"BM_pg_explicit_sequential", &BM_pg_pipeline<pg_mode::explicit_load, false>},
            };
            for (auto n : c.parents) {
                if (n > 1000) continue;  // explicit loading is one statement per parent
                for (auto m : c.children) {
                    if (m == 0) continue;
                    for (const auto& [name, fn] : pipes)
                        timing(benchmark::RegisterBenchmark((std::string(name) + "/postgres").c_str(), fn, b), b)
                            ->Args({n, m})->ArgNames({"parents", "children"});
                }
            }
        }
        const std::int64_t rows = c.hydrate_parents * 10;
        const std::string suffix = std::string("/") + backend_name(b);
        auto reg = [&](const std::string& name, fn_t fn, std::int64_t arg, const char* arg_name) {
            timing(benchmark::RegisterBenchmark((name + suffix).c_str(), fn, b), b)->Arg(arg)->ArgName(arg_name);
        };
        reg("BM_hydrate_tracked", &BM_hydrate<true>, rows, "rows");
        reg("BM_hydrate_untracked", &BM_hydrate<false>, rows, "rows");
        reg("BM_hydrate_raw", &BM_hydrate_raw<false>, rows, "rows");
        reg("BM_hydrate_raw_shared", &BM_hydrate_raw<true>, rows, "rows");
        reg("BM_project_loadstar", &BM_project_loadstar, rows, "rows");
        reg("BM_project_raw", &BM_project_raw, rows, "rows");
        if constexpr (has_bulk_insert<ls::session>) reg("BM_bulk_insert", &BM_bulk_insert<>, c.bulk_rows, "rows");
        reg("BM_bulk_add_commit", &BM_bulk_add_commit, c.bulk_rows, "rows");
        reg("BM_bulk_raw", &BM_bulk_raw, c.bulk_rows, "rows");
#if LOADSTAR_BENCH_POSTGRES
        if (b == backend::postgres) reg("BM_bulk_raw_copy", &BM_bulk_raw_copy, c.bulk_rows, "rows");
#endif
    }
    if constexpr (!has_bulk_insert<ls::session>)
        std::fprintf(stderr, "bench: ls::session::bulk_insert is not there: BM_bulk_insert not registered "
                             "(BM_bulk_add_commit stands in)\n");
    for (const auto& s : skipped)
        std::fprintf(stderr, "bench: skipped %s (more than LOADSTAR_BENCH_LAZY_MAX=%lld child rows)\n", s.c_str(),
                     static_cast<long long>(c.lazy_max_rows));
    benchmark::AddCustomContext("sqlite_version", sqlite3_libversion());
    benchmark::AddCustomContext("loadstar_bench_data_dir", c.dir);
    benchmark::AddCustomContext("loadstar_bench_smoke", c.smoke ? "1" : "0");
    benchmark::AddCustomContext("loadstar_bulk_insert", has_bulk_insert<ls::session> ? "bulk_insert" : "absent");
    benchmark::AddCustomContext("loadstar_postgres", why.empty() ? "yes" : why);
    if (const char* src = std::getenv("LOADSTAR_BENCH_SOURCE"); src && *src)
        benchmark::AddCustomContext("loadstar_source", src);
    benchmark::AddCustomContext("time_measure", "cpu_time on SQLite; real_time on PostgreSQL (server-side work)");
}

}  // namespace bench

int main(int argc, char** argv) {
    bench::cfg() = bench::read_config();
    try {
        bench::check_sql_shapes();
        bench::register_all();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    std::error_code ec;
    std::filesystem::remove(bench::bulk_path(), ec);
    return 0;
}
