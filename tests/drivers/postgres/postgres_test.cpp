// tests/drivers/postgres/postgres_test.cpp - the libpq driver on a real server (LOADSTAR_PG):
// placeholders, values both ways in binary and text results and without prepared statements,
// SQLSTATE -> typed errors, a backend killed mid-session, the pool (size, overflow, timeout,
// recycle, pre_ping), one-statement selectin over 70,000 parents, URLs.
// Every case is tagged [postgres]: ctest runs them with the label `postgres`.
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/model.hpp"

#include <loadstar/postgres.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using model::Author;
using model::Book;
using time_point = std::chrono::system_clock::time_point;

namespace pg_test {

struct Values {
    std::int64_t id{};
    bool flag{};
    std::int16_t i16{};
    std::int32_t i32{};
    std::int64_t i64{};
    float f{};
    double d{};
    std::string label;
    ls::blob data;
    time_point at;
    std::optional<bool> maybe_flag;
    std::optional<double> maybe_d;
    std::optional<std::string> maybe_label;
    std::optional<time_point> maybe_at;
};

struct Account {
    std::int64_t id{};
    std::string owner;
    std::int64_t balance{};
};

struct CycB;
struct CycA {
    std::int64_t id{};
    std::optional<std::int64_t> b_id;
    ls::one<CycB> b;
};
struct CycB {
    std::int64_t id{};
    std::optional<std::int64_t> a_id;
    ls::one<CycA> a;
};

}  // namespace pg_test

template <>
struct loadstar::mapping<pg_test::Values> {
    using V = pg_test::Values;
    static constexpr auto table = ls::table("pg_values",
        ls::column<&V::id>("id", ls::primary_key), ls::column<&V::flag>("flag"), ls::column<&V::i16>("i16"),
        ls::column<&V::i32>("i32"), ls::column<&V::i64>("i64"), ls::column<&V::f>("f"), ls::column<&V::d>("d"),
        ls::column<&V::label>("label"), ls::column<&V::data>("data"), ls::column<&V::at>("at"),
        ls::column<&V::maybe_flag>("maybe_flag"), ls::column<&V::maybe_d>("maybe_d"),
        ls::column<&V::maybe_label>("maybe_label"), ls::column<&V::maybe_at>("maybe_at"));
};
template <>
struct loadstar::mapping<pg_test::Account> {
    using A = pg_test::Account;
    static constexpr auto table = ls::table("accounts", ls::column<&A::id>("id", ls::primary_key),
                                            ls::column<&A::owner>("owner"), ls::column<&A::balance>("balance"));
};

template <>
struct loadstar::mapping<pg_test::CycA> {
    using A = pg_test::CycA;
    static constexpr auto table = ls::table("pg_cyc_a", ls::column<&A::id>("id", ls::primary_key),
        ls::column<&A::b_id>("b_id", ls::foreign_key<&pg_test::CycB::id>), ls::belongs_to<&A::b>(&A::b_id));
};
template <>
struct loadstar::mapping<pg_test::CycB> {
    using B = pg_test::CycB;
    static constexpr auto table = ls::table("pg_cyc_b", ls::column<&B::id>("id", ls::primary_key),
        ls::column<&B::a_id>("a_id", ls::foreign_key<&pg_test::CycA::id>), ls::belongs_to<&B::a>(&B::a_id));
};

using namespace pg_test;

namespace {

/// A connection on loan from an engine's pool, for SQL loadstar does not write.
struct raw {
    ls::detail::lease lease;
    explicit raw(const ls::engine& e) : lease(e.state()) {}
    ls::connection& conn() { return *lease.get().conn; }
    ls::postgres::detail::connection& pg() { return dynamic_cast<ls::postgres::detail::connection&>(conn()); }
    void exec(std::string_view sql) { conn().execute(sql); }
    std::int64_t integer(std::string_view sql) {
        auto st = conn().prepare(sql);
        REQUIRE(st->step());
        return st->get_int(0);
    }
};

/// An administrative connection to LOADSTAR_PG (outside any engine).
struct admin : model::detail::admin_connection {
    admin() : model::detail::admin_connection(model::pg_conninfo()) {}
    std::int64_t integer(const std::string& sql) {
        PGresult* r = PQexec(pg, sql.c_str());
        REQUIRE(r);
        INFO(sql << ": " << PQresultErrorMessage(r));
        REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
        const std::int64_t v = std::stoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        return v;
    }
    /// Terminates every backend whose application_name is `app`; waits until they are gone.
    void terminate(const std::string& app) {
        integer("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" + app + "'");
        for (int i = 0; i < 200; ++i) {
            if (integer("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app + "'") == 0) break;
            std::this_thread::sleep_for(10ms);
        }
        std::this_thread::sleep_for(20ms);  // the FATAL message and EOF reach the client
    }
    void terminate_pid(int pid) {
        integer("SELECT count(pg_terminate_backend(" + std::to_string(pid) + "))");
        for (int i = 0; i < 200; ++i) {
            if (integer("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid)) == 0) break;
            std::this_thread::sleep_for(10ms);
        }
        std::this_thread::sleep_for(20ms);
    }
};

/// A conninfo on a fresh schema with extra `-c` settings.
std::string conninfo_with(std::initializer_list<std::string> settings) {
    std::string ci = model::fresh_pg_schema_conninfo();
    for (const auto& s : settings) ci = model::detail::with_server_option(ci, s);
    return ci;
}

std::string unique_app(const char* stem) {
    static int n = 0;
    return std::string("ls_") + stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(++n);
}

time_point micros(std::int64_t us) { return time_point{std::chrono::microseconds{us}}; }

struct mode {
    const char* name;
    ls::postgres::driver_options options;
};
const mode modes[] = {
    {"prepared, binary results", {.prepared_statements = true, .binary_results = true}},
    {"prepared, text results", {.prepared_statements = true, .binary_results = false}},
    {"unnamed statements (pgbouncer)", {.prepared_statements = false, .binary_results = true}},
};

}  // namespace

#define LS_REQUIRE_PG() \
    if (!model::require_postgres()) return

// ---- placeholders --------------------------------------------------------------------------

TEST_CASE("postgres: ? placeholders become $n outside literals, identifiers and comments", "[postgres][sql]") {
    using ls::postgres::detail::rewrite_placeholders;
    auto r = rewrite_placeholders("SELECT a FROM t WHERE a = ? AND b IN (?, ?) LIMIT ?");
    CHECK(r.sql == "SELECT a FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT $4");
    CHECK(r.parameters == 4);
    r = rewrite_placeholders("SELECT '?', 'it''s ?', \"col?\", \"a\"\"?\", E'\\'?', $$?$$, $tag$ ? $tag$, ? -- ?\n, /* ? /* ? */ ? */ ?");
    CHECK(r.sql == "SELECT '?', 'it''s ?', \"col?\", \"a\"\"?\", E'\\'?', $$?$$, $tag$ ? $tag$, $1 -- ?\n, /* ? /* ? */ ? */ $2");
    CHECK(r.parameters == 2);
    r = rewrite_placeholders("SELECT a$b, $1 FROM t WHERE x = ?");
    CHECK(r.sql == "SELECT a$b, $1 FROM t WHERE x = $1");
    r = rewrite_placeholders("SELECT 1");
    CHECK(r.parameters == 0);

    std::string many = "SELECT 1 WHERE 1 IN (?";
    for (int i = 1; i < 65535; ++i) many += ",?";
    CHECK(rewrite_placeholders(many + ")").parameters == 65535);
    CHECK_THROWS_WITH(rewrite_placeholders(many + ",?)"), Catch::Contains("65535"));
}

TEST_CASE("postgres: the dialect", "[postgres][dialect]") {
    auto e = ls::postgres::engine("host=127.0.0.1 dbname=nothing_opened_yet");
    const auto& d = e.sql_dialect();
    CHECK(d.name == "postgresql");
    CHECK(d.dollar_placeholders);
    CHECK(d.supports_returning);
    CHECK(d.supports_for_update);
    CHECK(d.supports_arrays);
    CHECK(d.max_bind_parameters == 65535);
    CHECK(d.type_bigint == "BIGINT");
    CHECK(d.type_double == "DOUBLE PRECISION");
    CHECK(d.type_blob == "BYTEA");
    CHECK(d.type_timestamp == "TIMESTAMPTZ");
    CHECK(d.generated_key == "GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
    CHECK(e.open_connections() == 0);  // nothing connects before a session needs it
    CHECK_THROWS_AS(ls::postgres::engine("host='unterminated"), ls::connection_error);
}

TEST_CASE("postgres: create_all with a cycle of foreign keys, twice, and drop_all", "[postgres][schema]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo());
    ls::create_all<CycA, CycB>(e);
    ls::create_all<CycA, CycB>(e);  // idempotent: the deferred key is not added twice
    raw r(e);
    CHECK(r.integer("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid IN "
                    "('pg_cyc_a'::regclass, 'pg_cyc_b'::regclass)") == 2);
    r.lease.release();
    {
        ls::session s{e};
        auto a = std::make_shared<CycA>();
        auto b = std::make_shared<CycB>();
        s.add(a);
        s.add(b);
        s.flush();
        a->b = b;
        b->a = a;
        s.commit();
        // Two many-to-ones pointing at each other (no inverse collection on either side) hold
        // each other strongly: unlink them so they can be freed.
        s.close();
        a->b = nullptr;
        b->a = nullptr;
    }
    {
        ls::session s{e};
        auto a = s.query<CycA>().one();
        auto b = a->b.get();
        CHECK(b->a.get().get() == a.get());
        s.close();
        a->b = nullptr;
        b->a = nullptr;
    }
    ls::drop_all<CycA, CycB>(e);
    raw r2(e);
    CHECK(r2.integer("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'pg_cyc_%'") == 0);
}

// ---- values --------------------------------------------------------------------------------

namespace {

ls::blob all_bytes() {
    ls::blob b(256);
    for (int i = 0; i < 256; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::byte>(i);
    return b;
}

/// Rows at the edges of every type: extremes, empty and huge strings, quotes and backslashes,
/// control characters, every byte, NULLs, infinities, negative zero, old and far timestamps.
std::vector<Values> value_rows() {
    const ls::blob every_byte = all_bytes();
    return {
        {.id = 1, .flag = true, .i16 = std::numeric_limits<std::int16_t>::min(),
         .i32 = std::numeric_limits<std::int32_t>::min(), .i64 = std::numeric_limits<std::int64_t>::min(),
         .f = 0.1f, .d = 0.1, .label = "", .data = {}, .at = micros(0), .maybe_flag = false,
         .maybe_d = -0.0, .maybe_label = "", .maybe_at = micros(-1)},
        {.id = 2, .flag = false, .i16 = std::numeric_limits<std::int16_t>::max(),
         .i32 = std::numeric_limits<std::int32_t>::max(), .i64 = std::numeric_limits<std::int64_t>::max(),
         .f = std::numeric_limits<float>::max(), .d = std::numeric_limits<double>::max(),
         .label = "it's a \"quote\" -- /* ? $1 */ \\ \\\\ E'\\n' $$ ; DROP TABLE pg_values; --",
         .data = every_byte, .at = micros(1'709'210'096'789'012), .maybe_flag = true,
         .maybe_d = 5e-324, .maybe_label = "Bront\xc3\xab \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 \r\n\t",
         .maybe_at = micros(-2'208'988'800'000'000)},
        {.id = 3, .flag = true, .i16 = -1, .i32 = 0, .i64 = 1, .f = -1.5e-38f, .d = 1.0 / 3.0,
         .label = std::string(100'000, 'x'), .data = ls::blob(1 << 20, std::byte{0x5c}),
         .at = micros(7'258'118'399'999'999)},  // 2199-12-31 23:59:59.999999
        {.id = 4, .d = std::numeric_limits<double>::infinity(), .maybe_d = -std::numeric_limits<double>::infinity()},
    };
}

void check_values(const std::vector<Values>& rows, const std::vector<ls::ptr<Values>>& got) {
    REQUIRE(got.size() == rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Values& w = rows[i];
        const Values& g = *got[i];
        INFO("row " << w.id);
        CHECK(g.flag == w.flag);
        CHECK(g.i16 == w.i16);
        CHECK(g.i32 == w.i32);
        CHECK(g.i64 == w.i64);
        CHECK(g.f == w.f);
        CHECK(g.d == w.d);
        CHECK(std::signbit(g.d) == std::signbit(w.d));
        CHECK(g.label == w.label);
        CHECK(g.data == w.data);
        CHECK(g.at == w.at);
        CHECK(g.maybe_flag == w.maybe_flag);
        CHECK(g.maybe_d == w.maybe_d);
        if (w.maybe_d) CHECK(std::signbit(*g.maybe_d) == std::signbit(*w.maybe_d));
        CHECK(g.maybe_label == w.maybe_label);
        CHECK(g.maybe_at == w.maybe_at);
    }
}

}  // namespace

TEST_CASE("postgres: bulk_insert is one COPY, and every value survives it", "[postgres][values][copy]") {
    LS_REQUIRE_PG();
    for (const auto& m : modes) {
        SECTION(m.name) {
            auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo(), {}, m.options);
            ls::create_all<Values>(e);
            std::vector<Values> rows = value_rows();
            // COPY's own escapes, literally: a backslash-N string is not NULL.
            rows.push_back(Values{.id = 5, .label = "\\N", .maybe_label = "\\.\n\\\\N\t|\\x00"});
            rows.push_back(Values{.id = 6, .d = std::nan("")});
            ls::session s{e};
            ls::statement_counter c{e};
            REQUIRE(s.bulk_insert(std::span<const Values>(rows)) == rows.size());
            REQUIRE(c.count() == 1);
            CHECK(c.statements()[0] ==
                  "COPY pg_values (id, flag, i16, i32, i64, f, d, label, data, at, maybe_flag, maybe_d, "
                  "maybe_label, maybe_at) FROM STDIN");
            s.commit();
            ls::session r{e};
            auto got = r.query<Values>().order_by(ls::col<&Values::id>).all();
            REQUIRE(got.size() == rows.size());
            CHECK(std::isnan(got.back()->d));
            rows.pop_back();
            got.pop_back();
            check_values(rows, got);
        }
    }
}

TEST_CASE("postgres: a COPY that fails writes nothing and the session goes on", "[postgres][copy]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo());
    ls::create_all<Values>(e);
    ls::session s{e};
    s.add(std::make_shared<Values>(Values{.id = 1, .label = "kept"}));
    s.flush();
    std::vector<Values> rows;
    for (int i = 2; i < 5000; ++i) rows.push_back(Values{.id = i, .label = "r" + std::to_string(i)});
    rows.push_back(Values{.id = 1, .label = "duplicate key"});
    try {
        s.bulk_insert(std::span<const Values>(rows));
        FAIL("expected integrity_error");
    } catch (const ls::integrity_error& err) {
        CHECK(err.sqlstate() == "23505");
    }
    CHECK(s.query<Values>().count() == 1);  // none of the 4,999; the flushed row is still there
    std::vector<Values> nul{Values{.id = 7, .label = std::string("a\0b", 3)}};
    try {
        s.bulk_insert(std::span<const Values>(nul));
        FAIL("expected an error for the NUL byte");
    } catch (const ls::error& err) {
        CHECK(err.sqlstate() == "22021");
    }
    rows.pop_back();
    CHECK(s.bulk_insert(std::span<const Values>(rows)) == rows.size());
    s.commit();
    ls::session r{e};
    CHECK(r.query<Values>().count() == 4999);  // 1 + ids 2..4999
    CHECK(r.query<Values>().where(ls::col<&Values::id> == 1).one()->label == "kept");
}

TEST_CASE("postgres: values round-trip exactly (binary, text, unnamed)", "[postgres][values]") {
    LS_REQUIRE_PG();
    for (const auto& m : modes) {
        SECTION(m.name) {
            auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo(), {}, m.options);
            ls::create_all<Values>(e);
            const ls::blob every_byte = all_bytes();
            const std::vector<Values> rows = value_rows();
            {
                ls::session s{e};
                for (auto& r : rows) s.add(std::make_shared<Values>(r));
                s.commit();
            }
            ls::session s{e};
            auto got = s.query<Values>().order_by(ls::col<&Values::id>).all();
            REQUIRE(got.size() == rows.size());
            check_values(rows, got);
            // Values as parameters of comparisons: bool, text, blob, time, double.
            CHECK(s.query<Values>().where(ls::col<&Values::flag> == true).count() == 2);
            CHECK(s.query<Values>().where(ls::col<&Values::flag> == false).count() == 2);
            CHECK(s.query<Values>().where(ls::col<&Values::maybe_flag> == true).count() == 1);
            CHECK(s.query<Values>().where(ls::col<&Values::label> == rows[1].label).count() == 1);
            CHECK(s.query<Values>().where(ls::col<&Values::data> == every_byte).count() == 1);
            CHECK(s.query<Values>().where(ls::col<&Values::at> == rows[1].at).count() == 1);
            CHECK(s.query<Values>().where(ls::col<&Values::at> > micros(0)).count() == 2);
            CHECK(s.query<Values>().where(ls::col<&Values::d> == 1.0 / 3.0).count() == 1);
            CHECK(s.query<Values>().where(ls::col<&Values::maybe_label> == rows[1].maybe_label).count() == 1);
            // NaN is a value on PostgreSQL (SQLite would store NULL).
            {
                ls::session w{e};
                w.add(std::make_shared<Values>(Values{.id = 5, .d = std::nan("")}));
                w.commit();
            }
            CHECK(std::isnan(s.query<Values>().where(ls::col<&Values::id> == 5).one()->d));
            // Timestamps are stored as UTC instants whatever the server's TimeZone setting.
            raw r(e);
            CHECK(r.integer("SELECT count(*) FROM pg_values WHERE at = '2024-02-29 12:34:56.789012+00'") == 1);
            // Updates go through the same binding.
            got[1]->label = "updated ' ?";
            got[1]->flag = true;
            s.commit();
            ls::session s2{e};
            auto again = s2.get<Values>(2);
            CHECK(again->label == "updated ' ?");
            CHECK(again->flag);
        }
    }
}

TEST_CASE("postgres: aggregates, numeric and values loadstar does not map", "[postgres][values]") {
    LS_REQUIRE_PG();
    for (const auto& m : modes) {
        SECTION(m.name) {
            auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo(), {}, m.options);
            ls::create_all<Account>(e);
            {
                ls::session s{e};
                s.add(std::make_shared<Account>(Account{.owner = "a", .balance = 9'000'000'000'000'000'000}));
                s.add(std::make_shared<Account>(Account{.owner = "b", .balance = 5}));
                s.add(std::make_shared<Account>(Account{.owner = "c", .balance = 2}));
                s.add(std::make_shared<Account>(Account{.owner = "d", .balance = 9'000'000'000'000'000'000}));
                s.commit();
            }
            ls::session s{e};
            // sum(bigint) is numeric on PostgreSQL: integral numerics read as integers.
            auto [n, total, mx] = s.query<Account>()
                                      .columns(ls::count(), ls::sum(ls::col<&Account::balance>),
                                               ls::max(ls::col<&Account::balance>))
                                      .where(ls::col<&Account::balance> < 100)
                                      .first()
                                      .value();
            CHECK(n == 2);
            CHECK(total == 7);
            CHECK(mx == 5);
            auto [avg] = s.query<Account>().columns(ls::avg(ls::col<&Account::balance>))
                             .where(ls::col<&Account::balance> < 100).first().value();
            CHECK(avg == 3.5);
            // A sum beyond int64 is a numeric that cannot be read as an integer: conversion_error.
            CHECK_THROWS_AS(s.query<Account>().columns(ls::sum(ls::col<&Account::balance>))
                                .where(ls::col<&Account::balance> > 1)
                                .first(),
                            ls::error);

            raw r(e);
            auto st = r.conn().prepare(
                "SELECT 12345678901234::numeric, 1.50::numeric, -0.000123::numeric, 'NaN'::numeric, "
                "'2001-02-03'::date, '2001-02-03 04:05:06.5'::timestamp, true, 'x'::varchar, 'y'::char(3), "
                "'{1,2}'::int[], 42::oid, 1.5::real");
            REQUIRE(st->step());
            CHECK(st->kind(0) == ls::column_kind::integer);
            CHECK(st->get_int(0) == 12345678901234);
            CHECK(st->kind(1) == ls::column_kind::real);
            CHECK(st->get_real(1) == 1.5);
            CHECK(st->get_real(2) == -0.000123);
            CHECK(std::isnan(st->get_real(3)));
            CHECK(st->get_text(4) == "2001-02-03");
            CHECK(st->get_text(5) == "2001-02-03 04:05:06.5");
            CHECK(st->kind(6) == ls::column_kind::integer);
            CHECK(st->get_int(6) == 1);
            CHECK(st->get_text(7) == "x");
            CHECK(st->get_text(8) == "y  ");
            CHECK(st->kind(9) == ls::column_kind::text);
            CHECK(st->get_text(9) == "{1,2}");  // a type without a decoder: text results for the statement
            CHECK(st->get_int(10) == 42);
            CHECK(st->get_real(11) == 1.5);
            CHECK_FALSE(st->step());
        }
    }
}

TEST_CASE("postgres: text the server refuses is an error, never silently changed", "[postgres][values]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo());
    ls::create_all<Account>(e);
    using namespace std::string_literals;
    for (const std::string& bad : {"nul\0byte"s, "\xff\xfe"s, "abc\xc3"s}) {
        ls::session s{e};
        s.add(std::make_shared<Account>(Account{.owner = bad, .balance = 1}));
        try {
            s.commit();
            FAIL("committed an invalid string");
        } catch (const ls::error& err) {
            CHECK(err.sqlstate() == "22021");
        }
    }
    ls::session s{e};
    CHECK(s.query<Account>().count() == 0);
}

// ---- errors --------------------------------------------------------------------------------

TEST_CASE("postgres: constraint violations are integrity_error with their SQLSTATE", "[postgres][errors]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo());
    model::create_schema(e);
    {
        ls::session s{e};
        s.add(std::make_shared<Author>(Author{.id = 1, .name = "Jane", .email = "j@example.org"}));
        s.commit();
    }
    SECTION("unique: 23505") {
        ls::session s{e};
        s.add(std::make_shared<Author>(Author{.id = 2, .name = "Copy", .email = "j@example.org"}));
        try {
            s.flush();
            FAIL("no error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.sqlstate() == "23505");
            CHECK_THAT(err.what(), Catch::Contains("duplicate key value violates unique constraint"));
            CHECK_THAT(err.what(), Catch::Contains("23505"));
        }
        // The session is usable after the failed flush: the transaction was rolled back.
        CHECK(s.query<Author>().count() == 1);
    }
    SECTION("primary key: 23505") {
        ls::session s{e};
        s.add(std::make_shared<Author>(Author{.id = 1, .name = "Again"}));
        CHECK_THROWS_AS(s.commit(), ls::integrity_error);
    }
    SECTION("foreign key: 23503") {
        ls::session s{e};
        s.add(std::make_shared<Book>(Book{.id = 1, .title = "Orphan", .author_id = 99}));
        try {
            s.commit();
            FAIL("no error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.sqlstate() == "23503");
            CHECK_THAT(err.what(), Catch::Contains("foreign key"));
        }
    }
    SECTION("not null: 23502") {
        raw r(e);
        try {
            r.exec("INSERT INTO authors (id, name) VALUES (5, NULL)");
            FAIL("no error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.sqlstate() == "23502");
        }
    }
    SECTION("other errors keep their SQLSTATE") {
        raw r(e);
        try {
            r.exec("SELECT * FROM no_such_table");
            FAIL("no error");
        } catch (const ls::error& err) {
            CHECK(err.sqlstate() == "42P01");
            CHECK_THAT(err.what(), Catch::Contains("no_such_table"));
        }
        // COMMIT of an aborted transaction is a rollback: reported, not silent.
        r.exec("BEGIN");
        CHECK_THROWS(r.exec("SELECT 1/0"));
        try {
            r.exec("COMMIT");
            FAIL("no error");
        } catch (const ls::error& err) {
            CHECK(err.sqlstate() == "25P02");
        }
        CHECK(r.integer("SELECT 1") == 1);
    }
}

TEST_CASE("postgres: serialization failures and deadlocks are serialization_error", "[postgres][errors]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(conninfo_with({"default_transaction_isolation=serializable", "deadlock_timeout=50ms"}));
    ls::create_all<Account>(e);
    {
        ls::session s{e};
        s.add(std::make_shared<Account>(Account{.id = 1, .owner = "a", .balance = 100}));
        s.add(std::make_shared<Account>(Account{.id = 2, .owner = "b", .balance = 100}));
        s.commit();
    }
    SECTION("40001: write skew under SERIALIZABLE") {
        ls::session s1{e}, s2{e};
        // Each reads the total, then withdraws from a different account.
        CHECK(s1.query<Account>().count() == 2);
        CHECK(s2.query<Account>().count() == 2);
        s1.get<Account>(1)->balance -= 150;
        s2.get<Account>(2)->balance -= 150;
        s1.commit();
        try {
            s2.commit();
            FAIL("no serialization failure");
        } catch (const ls::serialization_error& err) {
            CHECK(err.sqlstate() == "40001");
        }
    }
    SECTION("40P01: deadlock") {
        int failures = 0;
        std::string state;
        auto transfer = [&](std::int64_t first, std::int64_t second) {
            try {
                ls::session s{e};
                s.get<Account>(first)->balance += 1;
                s.flush();
                std::this_thread::sleep_for(200ms);
                s.get<Account>(second)->balance += 1;
                s.commit();
            } catch (const ls::serialization_error& err) {
                ++failures;
                state = err.sqlstate();
            }
        };
        std::thread t([&] { transfer(2, 1); });
        transfer(1, 2);
        t.join();
        CHECK(failures >= 1);
        CHECK((state == "40P01" || state == "40001"));
    }
}

// ---- lost connections ----------------------------------------------------------------------

TEST_CASE("postgres: a backend killed mid-session gives connection_error, loses nothing committed",
          "[postgres][errors][connection]") {
    LS_REQUIRE_PG();
    const std::string app = unique_app("kill");
    auto e = ls::postgres::engine(conninfo_with({}) + " application_name=" + app);
    model::create_schema(e);
    {
        ls::session s{e};
        s.add(std::make_shared<Author>(Author{.id = 1, .name = "Committed"}));
        s.commit();
    }
    admin a;
    ls::session s{e};
    auto jane = s.get<Author>(1);
    jane->name = "Uncommitted";
    s.flush();
    a.terminate(app);
    try {
        s.query<Author>().all();
        FAIL("no error after the backend was killed");
    } catch (const ls::connection_error& err) {
        INFO(err.what());
        CHECK((err.sqlstate() == "57P01" || err.sqlstate() == "08006"));
    }
    s.close();  // the rollback fails quietly; the dead connection is discarded
    CHECK(e.open_connections() == 0);

    ls::session next{e};
    auto again = next.get<Author>(1);
    REQUIRE(again);
    CHECK(again->name == "Committed");
    next.add(std::make_shared<Author>(Author{.id = 2, .name = "After"}));
    next.commit();
    ls::session check{e};
    CHECK(check.query<Author>().count() == 2);
}

TEST_CASE("postgres: a commit on a killed backend is connection_error and nothing is half-written",
          "[postgres][errors][connection]") {
    LS_REQUIRE_PG();
    const std::string app = unique_app("killc");
    auto e = ls::postgres::engine(conninfo_with({}) + " application_name=" + app);
    model::create_schema(e);
    admin a;
    {
        ls::session s{e};
        s.add(std::make_shared<Author>(Author{.id = 1, .name = "A"}));
        s.flush();
        a.terminate(app);
        CHECK_THROWS_AS(s.commit(), ls::connection_error);
    }
    ls::session s{e};
    CHECK(s.query<Author>().count() == 0);
}

TEST_CASE("postgres: run_transaction runs the work again when the backend dies before COMMIT",
          "[postgres][errors][connection]") {
    LS_REQUIRE_PG();
    const std::string app = unique_app("killrt");
    auto e = ls::postgres::engine(conninfo_with({}) + " application_name=" + app);
    model::create_schema(e);
    admin a;
    int calls = 0;
    ls::run_transaction(e, [&](ls::session& tx) {
        ++calls;
        tx.add(std::make_shared<Author>(Author{.id = 1, .name = "Once"}));
        tx.flush();                        // written, not committed
        if (calls == 1) a.terminate(app);  // the server ends the backend and its transaction
    });
    // COMMIT was never sent (the session saw the dead connection first): certainly not
    // committed, so the work ran again, once.
    CHECK(calls == 2);
    ls::session s{e};
    const auto rows = s.query<Author>().all();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0]->name == "Once");
}

// ---- the pool ------------------------------------------------------------------------------

TEST_CASE("postgres: pool size, overflow and timeout", "[postgres][pool]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo(),
                                  {.pool_size = 2, .max_overflow = 1, .timeout = 300ms});
    ls::create_all<Account>(e);
    std::vector<ls::session> held;
    for (int i = 0; i < 3; ++i) {
        held.emplace_back(e);
        CHECK(held.back().query<Account>().count() == 0);  // takes a connection
    }
    CHECK(e.open_connections() == 3);
    {
        ls::session extra{e};
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_THROWS_AS(extra.query<Account>().count(), ls::pool_timeout_error);
        CHECK(std::chrono::steady_clock::now() - t0 >= 290ms);
    }
    // A waiting session gets the connection another one returns.
    std::thread closer([&] {
        std::this_thread::sleep_for(100ms);
        held.back().close();
    });
    {
        ls::session waiting{e};
        CHECK(waiting.query<Account>().count() == 0);
    }
    closer.join();
    held.clear();
    CHECK(e.open_connections() == 2);  // overflow closed on return; pool_size kept idle
}

TEST_CASE("postgres: recycle and pre_ping replace connections", "[postgres][pool]") {
    LS_REQUIRE_PG();
    const std::string ci = model::fresh_pg_schema_conninfo();
    SECTION("recycle") {
        auto e = ls::postgres::engine(ci, {.pool_size = 1, .recycle = std::chrono::seconds(1)});
        int first = 0;
        {
            raw r(e);
            first = r.pg().backend_pid();
        }
        {
            raw r(e);
            CHECK(r.pg().backend_pid() == first);  // reused
        }
        std::this_thread::sleep_for(1100ms);
        raw r(e);
        CHECK(r.pg().backend_pid() != first);
        CHECK(r.integer("SELECT 1") == 1);
        CHECK(e.open_connections() == 1);
    }
    for (bool pre_ping : {true, false}) {
        SECTION(pre_ping ? "pre_ping: a killed idle connection is not handed out"
                         : "without pre_ping: a killed idle connection is noticed without a round trip") {
            auto e = ls::postgres::engine(ci, {.pool_size = 2, .pre_ping = pre_ping});
            int first = 0;
            {
                raw r(e);
                first = r.pg().backend_pid();
            }
            admin a;
            a.terminate_pid(first);
            raw r(e);
            CHECK(r.pg().backend_pid() != first);
            CHECK(r.integer("SELECT 1") == 1);
            CHECK(e.open_connections() == 1);
        }
    }
}

TEST_CASE("postgres: prepared_statements = false prepares nothing server-side", "[postgres][pool][pgbouncer]") {
    LS_REQUIRE_PG();
    for (bool prepared : {true, false}) {
        SECTION(prepared ? "prepared" : "unnamed") {
            auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo(), {.pool_size = 1},
                                          {.prepared_statements = prepared});
            model::create_schema(e);
            {
                ls::session s{e};
                auto jane = std::make_shared<Author>(Author{.name = "Jane"});
                jane->books.push_back(std::make_shared<Book>(Book{.title = "Emma"}));
                s.add(jane);
                s.commit();
            }
            ls::session s{e};
            ls::statement_counter counter{e};
            auto authors = s.query<Author>().options(ls::selectinload<&Author::books>).all();
            REQUIRE(authors.size() == 1);
            CHECK(authors[0]->books.size() == 1);
            CHECK(counter.count() == 2);
            s.close();
            raw r(e);
            const auto n = r.integer("SELECT count(*) FROM pg_prepared_statements");
            if (prepared) CHECK(n >= 3);
            else CHECK(n == 0);
        }
    }
}

TEST_CASE("postgres: through pgbouncer in transaction pooling mode (prepared_statements = false)",
          "[postgres][pool][pgbouncer]") {
    LS_REQUIRE_PG();
    const char* bouncer = std::getenv("LOADSTAR_PGBOUNCER");
    if (!bouncer || !*bouncer) {
        if (model::in_ci()) FAIL("LOADSTAR_PGBOUNCER is not set (scripts/pg starts pgbouncer when it is installed)");
        std::printf("%s (LOADSTAR_PGBOUNCER)\n", model::pg_skip_marker);
        return;
    }
    // A database of its own, whose defaults are hostile to the driver's conversions: the
    // settings must come with each transaction, since pgbouncer refuses start-up options and
    // lends a different server connection to each transaction.
    admin a;
    const std::string db = "ls_bouncer_" + std::to_string(::getpid());
    a.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
    a.exec("CREATE DATABASE " + db);
    a.exec("ALTER DATABASE " + db + " SET TimeZone = 'America/New_York'");
    a.exec("ALTER DATABASE " + db + " SET DateStyle = 'SQL, DMY'");
    a.exec("ALTER DATABASE " + db + " SET bytea_output = 'escape'");
    a.exec("ALTER DATABASE " + db + " SET extra_float_digits = 0");
    struct drop_db {
        admin& a;
        std::string db;
        ~drop_db() {
            try {
                a.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            } catch (...) {
            }
        }
    } cleanup{a, db};

    const std::string ci = std::string(bouncer) + " dbname=" + db + " application_name=ls_bouncer";
    auto e = ls::postgres::engine(ci, {.pool_size = 8, .max_overflow = 0, .timeout = 30s},
                                  {.prepared_statements = false});
    model::create_schema(e);
    ls::create_all<Values>(e);
    constexpr int threads = 6, per_thread = 20;
    std::vector<std::thread> workers;
    std::atomic<int> errors{0};
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            try {
                for (int i = 0; i < per_thread; ++i) {
                    const std::int64_t id = t * 1000 + i + 1;
                    ls::session s{e};
                    auto au = std::make_shared<Author>(Author{.id = id, .name = "a" + std::to_string(id)});
                    au->books.push_back(std::make_shared<Book>(Book{.id = id, .title = "b' ?" + std::to_string(id)}));
                    s.add(au);
                    s.add(std::make_shared<Values>(Values{.id = id, .flag = i % 2 == 0, .d = 0.1 * id,
                                                          .label = "v", .data = ls::blob(3, std::byte{0x5c}),
                                                          .at = micros(1'709'210'096'789'012 + id)}));
                    s.commit();
                    ls::session r{e};
                    auto got = r.query<Author>().where(ls::col<&Author::id> == id)
                                   .options(ls::selectinload<&Author::books>).all();
                    if (got.size() != 1 || got[0]->books.size() != 1) ++errors;
                }
            } catch (const std::exception& ex) {
                std::fprintf(stderr, "pgbouncer worker: %s\n", ex.what());
                ++errors;
            }
        });
    }
    for (auto& w : workers) w.join();
    CHECK(errors == 0);
    ls::session s{e};
    CHECK(s.query<Author>().count() == threads * per_thread);
    auto values = s.query<Values>().order_by(ls::col<&Values::id>).all();
    REQUIRE(values.size() == static_cast<std::size_t>(threads * per_thread));
    for (auto& v : values) {
        INFO("id " << v->id);
        CHECK(v->at == micros(1'709'210'096'789'012 + v->id));
        CHECK(v->d == 0.1 * static_cast<double>(v->id));
        CHECK(v->data == ls::blob(3, std::byte{0x5c}));
    }
    // All of that went through at most pgbouncer's 2 server connections for the database.
    CHECK(a.integer("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db + "'") <= 2);
}

// ---- one-statement selectin ----------------------------------------------------------------

TEST_CASE("postgres: selectin over 70,000 parents is one = ANY(?) statement", "[postgres][loader][selectin]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo());
    model::create_schema(e);
    constexpr std::int64_t n = 70'000;
    {
        raw r(e);
        r.exec("INSERT INTO authors (id, name) SELECT g, 'author ' || g FROM generate_series(1, 70000) g");
        r.exec("INSERT INTO books (id, title, author_id) SELECT g, 'book ' || g, 70001 - g FROM generate_series(1, 70000) g");
    }
    {
        ls::session s{e};
        ls::statement_counter counter{e};
        auto authors = s.query<Author>().options(ls::selectinload<&Author::books>).all();
        REQUIRE(authors.size() == static_cast<std::size_t>(n));
        for (auto& a : authors) {
            REQUIRE(a->books.size() == 1);
            REQUIRE(a->books[0]->author_id == a->id);
        }
        REQUIRE(counter.count() == 2);
        CHECK_THAT(counter.statements()[1], Catch::EndsWith("WHERE books.author_id = ANY(?)"));
    }
    {
        ls::session s{e};
        ls::statement_counter counter{e};
        auto books = s.query<Book>().options(ls::selectinload<&Book::author>).all();
        REQUIRE(books.size() == static_cast<std::size_t>(n));
        for (auto& b : books) REQUIRE(b->author->id == b->author_id);
        REQUIRE(counter.count() == 2);
        CHECK_THAT(counter.statements()[1], Catch::EndsWith("= ANY(?)"));
    }
}

// ---- URLs ----------------------------------------------------------------------------------

TEST_CASE("postgres: create_engine with postgresql:// and postgres:// URLs", "[postgres][url]") {
    LS_REQUIRE_PG();
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(model::pg_conninfo().c_str(), &err);
    REQUIRE(opts);
    std::string host = "localhost", port = "5432", user = "postgres", db = "postgres";
    for (auto* o = opts; o->keyword; ++o) {
        if (!o->val) continue;
        const std::string_view k = o->keyword;
        if (k == "host" || k == "hostaddr") host = o->val;
        if (k == "port") port = o->val;
        if (k == "user") user = o->val;
        if (k == "dbname") db = o->val;
    }
    PQconninfoFree(opts);
    for (const char* scheme : {"postgresql", "postgres", "postgresql+psycopg2"}) {
        auto e = ls::create_engine(std::string(scheme) + "://" + user + "@" + host + ":" + port + "/" + db);
        CHECK(e.sql_dialect().name == "postgresql");
        raw r(e);
        CHECK(r.integer("SELECT 41 + 1") == 42);
        CHECK(r.integer("SELECT count(*) FROM pg_settings WHERE name = 'TimeZone' AND setting = 'UTC'") == 1);
    }
    // loadstar's own URL parameters are taken out before libpq sees the URL.
    const std::string url = "postgresql://" + user + "@" + host + ":" + port + "/" + db;
    for (const char* q : {"?prepared_statements=false", "?application_name=x&prepared_statements=0&binary_results=off"}) {
        auto e = ls::create_engine(url + q);
        raw r(e);
        CHECK(r.integer("SELECT 7") == 7);
        CHECK(r.integer("SELECT count(*) FROM pg_prepared_statements") == 0);
    }
    {
        auto e = ls::create_engine(url + "?prepared_statements=true");
        raw r(e);
        CHECK(r.integer("SELECT count(*) FROM pg_prepared_statements") == 1);
    }
    CHECK_THROWS_WITH(ls::create_engine(url + "?prepared_statements=maybe"), Catch::Contains("expected true or false"));
    std::string schema;
    const std::string ci = model::fresh_pg_schema_conninfo(&schema);
    auto e = ls::create_engine(url + "?options=-csearch_path%3D" + schema);
    ls::create_all<Account>(e);
    raw r(e);
    CHECK(r.integer("SELECT count(*) FROM information_schema.tables WHERE table_schema = '" + schema +
                    "' AND table_name = 'accounts'") == 1);
}
