// tests/drivers/postgres/pipeline_test.cpp - libpq pipeline mode: statements of a load plan that
// do not need each other's results share one round trip. Asserts statements AND round trips per
// plan shape, the graph, pipelines that fail, and a pipeline large enough to fill both socket
// buffers.
// SPDX-License-Identifier: MIT
#include "support/fixture.hpp"

#include <loadstar/postgres.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace model;
using ls::col;

namespace {

#define LS_REQUIRE_PG() \
    if (!model::require_postgres()) return

/// The loader tests' fixture on a fresh PostgreSQL schema, with these driver options.
fixture seeded(ls::postgres::driver_options options = {}) {
    return fixture{ls::postgres::engine(model::fresh_pg_schema_conninfo(), {}, options)};
}

/// Jane, Charles and Anne with the books, publishers, tags and profile the options loaded.
void check_graph(const std::vector<ls::ptr<Author>>& authors) {
    REQUIRE(authors.size() == 3);
    CHECK(sorted_ids(authors[0]->books) == std::vector<std::int64_t>{1, 2});
    CHECK(sorted_ids(authors[1]->books) == std::vector<std::int64_t>{3});
    CHECK(authors[2]->books.empty());
}

}  // namespace

TEST_CASE("postgres pipeline: the dialect says so, and the option turns it off", "[postgres][pipeline]") {
    LS_REQUIRE_PG();
    CHECK(ls::postgres::engine(model::pg_conninfo()).sql_dialect().pipelining);
    CHECK_FALSE(ls::postgres::engine(model::pg_conninfo(), {}, {.pipeline = false}).sql_dialect().pipelining);
    CHECK_FALSE(ls::sqlite::engine(":memory:").sql_dialect().pipelining);
}

TEST_CASE("postgres pipeline: sibling selectin loads share one round trip", "[postgres][pipeline]") {
    LS_REQUIRE_PG();
    for (bool pipelined : {true, false}) {
        INFO("pipeline " << pipelined);
        auto f = seeded({.pipeline = pipelined});
        auto& e = f.engine;
        ls::session s{e};
        ls::statement_counter c{e};
        auto authors = s.query<Author>()
                           .order_by(col<&Author::id>)
                           .options(ls::selectinload<&Author::books>, ls::selectinload<&Author::profile>)
                           .all();
        REQUIRE(c.count() == 3);
        CHECK(c.statements()[1] ==
              "SELECT books.author_id, books.id, books.title, books.author_id, books.publisher_id FROM books "
              "WHERE books.author_id = ANY(?)");
        CHECK(c.statements()[2] ==
              "SELECT profiles.author_id, profiles.id, profiles.author_id, profiles.bio FROM profiles WHERE "
              "profiles.author_id = ANY(?)");
        CHECK(c.round_trips() == (pipelined ? 2u : 3u));
        check_graph(authors);
        REQUIRE(authors[0]->profile);
        CHECK(authors[0]->profile->bio == "Hampshire");
        CHECK(authors[1]->profile.get() == nullptr);
        CHECK(c.count() == 3);  // everything was loaded: touching issued nothing
    }
}

TEST_CASE("postgres pipeline: the parent query and its subquery loads share one round trip",
          "[postgres][pipeline]") {
    LS_REQUIRE_PG();
    auto f = seeded();
    auto& e = f.engine;
    {
        ls::session s{e};
        ls::statement_counter c{e};
        auto authors = s.query<Author>()
                           .order_by(col<&Author::id>)
                           .options(ls::subqueryload<&Author::books>, ls::subqueryload<&Author::profile>)
                           .all();
        REQUIRE(c.count() == 3);
        CHECK(c.round_trips() == 1u);  // three statements, one round trip
        check_graph(authors);
        CHECK(authors[0]->profile->bio == "Hampshire");
        CHECK(c.count() == 3);
    }
    {
        // Depth 2: round trips grow with the plan's depth, not with its width.
        ls::session s{e};
        ls::statement_counter c{e};
        auto authors = s.query<Author>()
                           .order_by(col<&Author::id>)
                           .options(ls::subqueryload<&Author::books>.then(ls::subqueryload<&Book::tags>,
                                                                         ls::subqueryload<&Book::publisher>),
                                    ls::subqueryload<&Author::profile>)
                           .all();
        REQUIRE(c.count() == 5);
        CHECK(c.round_trips() == 2u);
        check_graph(authors);
        auto& pp = authors[0]->books[0]->id == 1 ? authors[0]->books[0] : authors[0]->books[1];
        CHECK(pp->tags.size() == 2);
        CHECK(pp->publisher->name == "T. Egerton");
        CHECK(c.count() == 5);
    }
    {
        // No parent rows: the subquery load went out with the parent query and is reported
        // (it ran), but nothing is filled.
        ls::session s{e};
        ls::statement_counter c{e};
        auto none = s.query<Author>()
                        .where(col<&Author::id> > 100)
                        .options(ls::subqueryload<&Author::books>, ls::subqueryload<&Author::profile>)
                        .all();
        CHECK(none.empty());
        CHECK(c.count() == 3);
        CHECK(c.round_trips() == 1u);
    }
}

TEST_CASE("postgres pipeline: a mixed plan, width 2 at each depth", "[postgres][pipeline]") {
    LS_REQUIRE_PG();
    auto f = seeded();
    auto& e = f.engine;
    ls::session s{e};
    ls::statement_counter c{e};
    auto authors = s.query<Author>()
                       .order_by(col<&Author::id>)
                       .options(ls::selectinload<&Author::books>.then(ls::selectinload<&Book::tags>,
                                                                     ls::selectinload<&Book::publisher>),
                                ls::selectinload<&Author::profile>)
                       .all();
    // authors | books + profile | tags + publishers
    REQUIRE(c.count() == 5);
    CHECK(c.round_trips() == 3u);
    check_graph(authors);
    for (auto& b : authors[0]->books) {
        if (b->id == 1) {
            CHECK(b->tags.size() == 2);
            CHECK(b->publisher->id == 1);
        } else {
            CHECK(b->tags.size() == 1);
            CHECK(b->publisher.get() == nullptr);
        }
    }
    CHECK(c.count() == 5);
}

TEST_CASE("postgres pipeline: a failing statement raises its own error and the connection stays usable",
          "[postgres][pipeline]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo());
    ls::detail::lease l(e.state());
    auto& conn = *l.get().conn;
    auto ok = conn.prepare("SELECT ?::int + 1");
    auto bad = conn.prepare("SELECT 1 / ?::int");
    auto after = conn.prepare("SELECT 42");
    ok->bind_int(0, 1);
    bad->bind_int(0, 0);
    std::vector<ls::statement*> batch{ok.get(), bad.get(), after.get()};
    try {
        conn.pipeline(batch);
        FAIL("expected division_by_zero");
    } catch (const ls::error& err) {
        CHECK(err.sqlstate() == "22012");
        CHECK(std::string(err.what()).find("division by zero") != std::string::npos);
    }
    ok->reset();
    bad->reset();
    after->reset();
    CHECK(conn.alive());
    REQUIRE(after->step());
    CHECK(after->get_int(0) == 42);
    // And a pipeline works again.
    after->reset();
    ok->bind_int(0, 6);
    std::vector<ls::statement*> again{ok.get(), after.get()};
    REQUIRE(conn.pipeline(again));
    REQUIRE(ok->step());
    CHECK(ok->get_int(0) == 7);
    CHECK_FALSE(ok->step());
    REQUIRE(after->step());
    CHECK(after->get_int(0) == 42);
}

TEST_CASE("postgres pipeline: 400 statements with 64 KiB in and out each do not deadlock",
          "[postgres][pipeline]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo(), {}, {.prepared_statements = false});
    ls::detail::lease l(e.state());
    auto& conn = *l.get().conn;
    const std::string big(64 * 1024, 'x');
    std::vector<std::unique_ptr<ls::statement>> sts;
    std::vector<ls::statement*> batch;
    for (int i = 0; i < 400; ++i) {
        sts.push_back(conn.prepare("SELECT ?::int, repeat(?::text, 1)"));
        sts.back()->bind_int(0, i);
        sts.back()->bind_text(1, big);
        batch.push_back(sts.back().get());
    }
    REQUIRE(conn.pipeline(batch));  // 25 MiB each way
    for (int i = 0; i < 400; ++i) {
        REQUIRE(sts[static_cast<std::size_t>(i)]->step());
        CHECK(sts[static_cast<std::size_t>(i)]->get_int(0) == i);
        CHECK(sts[static_cast<std::size_t>(i)]->get_text(1).size() == big.size());
    }
}

TEST_CASE("postgres pipeline: explicit loading of 200 holders is one round trip", "[postgres][pipeline][load]") {
    LS_REQUIRE_PG();
    auto e = ls::postgres::engine(model::fresh_pg_schema_conninfo());
    create_schema(e);
    {
        ls::session s{e};
        for (int i = 1; i <= 200; ++i) {
            auto a = std::make_shared<Author>(Author{.id = i, .name = "a" + std::to_string(i)});
            for (int j = 0; j < i % 3; ++j)
                a->books.push_back(std::make_shared<Book>(Book{.id = i * 10 + j, .title = "b"}));
            s.add(a);
        }
        s.commit();
    }
    ls::session s{e};
    auto authors = s.query<Author>().order_by(col<&Author::id>).all();
    ls::statement_counter c{e};
    s.load<&Author::books>(authors);
    CHECK(c.count() == 200);
    CHECK(c.round_trips() == 1u);
    for (auto& a : authors) CHECK(a->books.size() == static_cast<std::size_t>(a->id % 3));
    CHECK(c.count() == 200);
}
