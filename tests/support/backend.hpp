// tests/support/backend.hpp - the database a behavioural test runs on: an SQLite :memory: engine,
// or, with LOADSTAR_TEST_BACKEND=postgres, a PostgreSQL engine on a fresh schema of the server
// named by LOADSTAR_PG (a libpq conninfo or URI; scripts/test starts a throwaway cluster).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/sqlite.hpp>
#ifdef LOADSTAR_TEST_HAVE_POSTGRES
#include <loadstar/postgres.hpp>
#endif

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace ls = loadstar;

namespace model {

/// True when the behavioural tests run on PostgreSQL (LOADSTAR_TEST_BACKEND=postgres).
inline bool on_postgres() {
    const char* b = std::getenv("LOADSTAR_TEST_BACKEND");
    return b && std::string_view(b) == "postgres";
}

/// True for an engine whose dialect is PostgreSQL's.
inline bool is_postgres(const ls::engine& e) { return e.sql_dialect().name == "postgresql"; }

/// True under CI (CI=true, as GitHub Actions and most runners set it).
inline bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci && (std::string_view(ci) == "true" || std::string_view(ci) == "1");
}

/// LOADSTAR_PG, or "" when unset.
inline std::string pg_conninfo() {
    const char* s = std::getenv("LOADSTAR_PG");
    return s ? std::string(s) : std::string();
}

/// The message a PostgreSQL test prints when it cannot run (ctest's SKIP_REGULAR_EXPRESSION
/// turns it into a visible "skipped"). Under CI a missing server is a failure instead.
inline constexpr const char* pg_skip_marker = "loadstar-test: SKIPPED: LOADSTAR_PG is not set";

/// For tests that need PostgreSQL: false (after printing the skip marker) when LOADSTAR_PG is
/// unset outside CI; throws under CI, where PostgreSQL tests never skip.
inline bool require_postgres() {
    if (!pg_conninfo().empty()) return true;
    if (in_ci()) throw std::runtime_error("LOADSTAR_PG is not set, and under CI the PostgreSQL tests must run");
    std::printf("%s\n", pg_skip_marker);
    std::fflush(stdout);
    return false;
}

#ifdef LOADSTAR_TEST_HAVE_POSTGRES

namespace detail {

/// `conninfo` (key=value or URI) with `-c <setting>` appended to its server options.
inline std::string with_server_option(const std::string& conninfo, const std::string& setting) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
    if (!opts) {
        std::string m = err ? err : "?";
        if (err) PQfreemem(err);
        throw std::runtime_error("LOADSTAR_PG does not parse: " + m);
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
    bool have_options = false;
    for (PQconninfoOption* o = opts; o->keyword; ++o) {
        if (!o->val) continue;
        std::string v = o->val;
        if (std::string_view(o->keyword) == "options") {
            v += " -c " + setting;
            have_options = true;
        }
        out += std::string(o->keyword) + "=" + quote(v) + " ";
    }
    PQconninfoFree(opts);
    if (!have_options) out += "options=" + quote("-c " + setting);
    return out;
}

/// An administrative libpq connection to LOADSTAR_PG (schemas are created and dropped through it).
struct admin_connection {
    PGconn* pg = nullptr;
    explicit admin_connection(const std::string& conninfo) {
        pg = PQconnectdb(conninfo.c_str());
        if (PQstatus(pg) != CONNECTION_OK) {
            std::string m = PQerrorMessage(pg);
            PQfinish(pg);
            pg = nullptr;
            throw std::runtime_error("cannot connect to LOADSTAR_PG (" + conninfo + "): " + m);
        }
        PQsetNoticeProcessor(pg, [](void*, const char*) {}, nullptr);
    }
    admin_connection(const admin_connection&) = delete;
    admin_connection& operator=(const admin_connection&) = delete;
    ~admin_connection() {
        if (pg) PQfinish(pg);
    }
    void exec(const std::string& sql) {
        PGresult* r = PQexec(pg, sql.c_str());
        const bool ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
        std::string m = ok ? "" : PQerrorMessage(pg);
        PQclear(r);
        if (!ok) throw std::runtime_error("LOADSTAR_PG: " + sql + ": " + m);
    }
};

/// Drops, at process exit, the schemas this process created (each ctest case is a process).
struct schema_janitor {
    std::mutex mutex;
    std::vector<std::string> schemas;
    ~schema_janitor() {
        if (schemas.empty() || std::getenv("LOADSTAR_TEST_KEEP_SCHEMAS")) return;
        try {
            admin_connection admin(pg_conninfo());
            admin.exec("SET lock_timeout = '5s'");
            for (auto& s : schemas) {
                try {
                    admin.exec("DROP SCHEMA IF EXISTS " + s + " CASCADE");
                } catch (...) {
                }
            }
        } catch (...) {
        }
    }
    static schema_janitor& instance() {
        static schema_janitor j;
        return j;
    }
};

}  // namespace detail

/// A new, empty schema on LOADSTAR_PG, and a conninfo whose connections all use it
/// (`options='-c search_path=<schema>'`, so every pooled connection sees it).
inline std::string fresh_pg_schema_conninfo(std::string* schema_out = nullptr) {
    static std::atomic<unsigned> counter{0};
    const std::string base = pg_conninfo();
    if (base.empty()) {
        if (in_ci()) throw std::runtime_error("LOADSTAR_PG is not set, and under CI the PostgreSQL tests must run");
        // The skip marker makes ctest report the case as skipped, not failed (the exception
        // still stops it).
        std::printf("%s\n", pg_skip_marker);
        std::fflush(stdout);
        throw std::runtime_error("LOADSTAR_TEST_BACKEND=postgres needs LOADSTAR_PG (a libpq conninfo); "
                                 "scripts/pg start DIR starts a throwaway server");
    }
    auto& janitor = detail::schema_janitor::instance();
    const std::string schema = "ls_t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    {
        detail::admin_connection admin(base);
        admin.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        admin.exec("CREATE SCHEMA " + schema);
    }
    {
        std::lock_guard lock(janitor.mutex);
        janitor.schemas.push_back(schema);
    }
    if (schema_out) *schema_out = schema;
    return detail::with_server_option(base, "search_path=" + schema);
}

#endif  // LOADSTAR_TEST_HAVE_POSTGRES

/// The engine a behavioural test uses: SQLite :memory:, or PostgreSQL on a fresh schema when
/// LOADSTAR_TEST_BACKEND=postgres.
inline ls::engine test_engine(ls::pool_options pool = {}) {
    if (on_postgres()) {
#ifdef LOADSTAR_TEST_HAVE_POSTGRES
        return ls::postgres::engine(fresh_pg_schema_conninfo(), pool);
#else
        throw std::runtime_error("LOADSTAR_TEST_BACKEND=postgres, but this test binary was built without libpq");
#endif
    }
    return ls::sqlite::engine(":memory:", pool);
}

/// After rows were inserted with explicit primary keys: on PostgreSQL, moves each table's
/// identity sequence past its largest id, so that later generated keys do not collide
/// (SQLite picks max(rowid) + 1 by itself). `tables` name tables with an `id` identity column.
inline void sync_identity(ls::engine& e, std::initializer_list<const char*> tables) {
    if (!is_postgres(e)) return;
    ls::detail::lease l(e.state());
    for (const char* t : tables) {
        const std::string sql = std::string("SELECT setval(pg_get_serial_sequence('") + t +
                                "', 'id'), GREATEST((SELECT max(id) FROM " + t + "), 1), (SELECT max(id) FROM " + t +
                                ") IS NOT NULL)";
        ls::detail::execute_control(*e.state(), l.get(), sql);
    }
}

}  // namespace model
