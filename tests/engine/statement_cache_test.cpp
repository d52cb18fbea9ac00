// tests/engine/statement_cache_test.cpp - the per-connection statement cache is bounded (issue
// 11, item 10): least recently used out, finalized on SQLite and DEALLOCATEd on PostgreSQL,
// never under a live cursor; IN lists are written with a few lengths only.
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/model.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

using ls::col;
using model::Author;
using model::Book;
using model::Profile;

namespace {

/// The statements the database keeps for the pool's one connection: SQLite's live
/// sqlite3_stmt objects (the driver's counter), PostgreSQL's pg_prepared_statements.
std::size_t prepared_on_server(ls::engine& e) {
    ls::detail::lease l(e.state());
    auto& pc = l.get();
#ifdef LOADSTAR_TEST_HAVE_POSTGRES
    if (model::is_postgres(e)) {
        ls::detail::cursor c(*e.state(), pc, "SELECT count(*) FROM pg_prepared_statements", {});
        REQUIRE(c.next());
        return static_cast<std::size_t>(c.row().get_int(0));
    }
#endif
    auto* sq = dynamic_cast<ls::sqlite::detail::connection*>(pc.conn.get());
    REQUIRE(sq);
    return sq->prepared_statements();
}

std::size_t cached(ls::engine& e) {
    ls::detail::lease l(e.state());
    return l.get().cache.size();
}

}  // namespace

TEST_CASE("statement cache: IN lists are written with a few lengths", "[engine][statement_cache][nodb]") {
    using ls::detail::in_list_length;
    for (std::size_t n = 0; n <= 8; ++n) CHECK(in_list_length(n, 500) == n);
    CHECK(in_list_length(9, 500) == 16);
    CHECK(in_list_length(16, 500) == 16);
    CHECK(in_list_length(17, 500) == 32);
    CHECK(in_list_length(200, 500) == 256);
    CHECK(in_list_length(257, 500) == 500);
    CHECK(in_list_length(500, 500) == 500);
    CHECK(in_list_length(20, 20) == 20);
    std::set<std::size_t> lengths;
    for (std::size_t n = 1; n <= 500; ++n) lengths.insert(in_list_length(n, 500));
    CHECK(lengths.size() == 14);  // 1..8, 16, 32, 64, 128, 256, 500

    // in_(): the same rule up to 512 values, padded with the last one.
    auto in = col<&Author::id>.in(std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 9});
    std::string sql;
    in.render(sql);
    CHECK(sql == "authors.id IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    std::vector<ls::value> params;
    in.collect(params);
    REQUIRE(params.size() == 16);
    CHECK(get<std::int64_t>(params.back()) == 9);
}

TEST_CASE("statement cache: statement_cache_size must be positive, from options or a URL", "[engine][statement_cache][sqlite]") {
    CHECK_THROWS_AS(ls::sqlite::engine(":memory:", {.statement_cache_size = 0}), ls::usage_error);
    CHECK(ls::sqlite::engine(":memory:").state()->options().statement_cache_size == 256);
    auto e = ls::create_engine("sqlite:///:memory:?statement_cache_size=3&busy_timeout=100");
    CHECK(e.state()->options().statement_cache_size == 3);
    CHECK_THROWS_AS(ls::create_engine("sqlite:///:memory:?statement_cache_size=0"), ls::usage_error);
    CHECK_THROWS_AS(ls::create_engine("sqlite:///:memory:?statement_cache_size=many"), ls::usage_error);
#ifdef LOADSTAR_TEST_HAVE_POSTGRES
    // Connections open lazily: no server is needed to read the URL.
    auto pg = ls::create_engine("postgresql://nobody@127.0.0.1:1/none?statement_cache_size=5&binary_results=false");
    CHECK(pg.state()->options().statement_cache_size == 5);
    CHECK_THROWS_AS(ls::create_engine("postgresql://nobody@127.0.0.1:1/none?statement_cache_size=-1"), ls::usage_error);
#endif
}

TEST_CASE("statement cache: many IN lengths and update column sets stay within the bound", "[engine][statement_cache]") {
    constexpr std::size_t bound = 12;
    auto e = model::test_engine({.pool_size = 1, .max_overflow = 0, .statement_cache_size = bound});
    model::create_schema(e);
    constexpr int n_authors = 120;
    {
        ls::session s{e};
        for (int i = 0; i < n_authors; ++i) {
            auto a = std::make_shared<Author>(Author{.name = "a" + std::to_string(i)});
            for (int j = 0; j < i % 3; ++j) a->books.push_back(std::make_shared<Book>(Book{.title = "t" + std::to_string(j)}));
            a->profile = std::make_shared<Profile>(Profile{.bio = "b" + std::to_string(i)});
            s.add(a);
        }
        s.commit();
    }
    std::set<std::string> texts;  // every distinct statement text the loop ran
    const auto id = e.on_statement([&](const ls::statement_event& ev) {
        if (ev.counted) texts.emplace(ev.sql);
    });
    std::size_t max_seen = 0;
    for (int i = 1; i <= n_authors; ++i) {
        ls::session s{e};
        // An in_() of i keys (with duplicates), and a selectin pair (pipelined on PostgreSQL)
        // over i parents.
        std::vector<std::int64_t> keys;
        for (int k = 1; k <= i; ++k) keys.push_back(k);
        keys.push_back(1);
        auto by_in = s.query<Author>().where(col<&Author::id>.in(keys)).order_by(col<&Author::id>).all();
        REQUIRE(by_in.size() == static_cast<std::size_t>(i));
        auto authors = s.query<Author>()
                           .where(col<&Author::id> <= i)
                           .options(ls::selectinload<&Author::books>, ls::selectinload<&Author::profile>)
                           .order_by(col<&Author::id>)
                           .all();
        REQUIRE(authors.size() == static_cast<std::size_t>(i));
        for (auto& a : authors) {
            REQUIRE(a->books.size() == static_cast<std::size_t>((a->id - 1) % 3));
            REQUIRE(a->profile->bio == "b" + std::to_string(a->id - 1));
        }
        // Updates of several column sets: flush (name, email, both) and query update().
        auto& a = authors[static_cast<std::size_t>(i - 1)];
        if (i % 3 != 1) a->name = "n" + std::to_string(i);
        if (i % 3 != 2) a->email = "e" + std::to_string(i) + "@x";
        if (i % 2) s.query<Book>().where(col<&Book::author_id> == i).update(ls::set<&Book::title>("u"));
        else s.query<Book>().where(col<&Book::author_id> == i).update(ls::set<&Book::title>("v"), ls::set<&Book::publisher_id>(std::nullopt));
        s.commit();
        s.close();
        if (i % 10 == 0) {
            const std::size_t now = prepared_on_server(e);
            max_seen = std::max(max_seen, now);
            INFO("after " << i << " rounds: " << now << " prepared statements on the connection");
            CHECK(now <= bound);
            CHECK(cached(e) <= bound);
        }
    }
    e.remove_listener(id);
    CHECK(max_seen > 0);
    // The IN lists took a few lengths each: 120 lengths of in_() and of selectin fit in the
    // buckets 1..8, 16, 32, 64, 128 (SQLite; PostgreSQL's selectin is one `= ANY(?)`).
    std::size_t in_texts = 0;
    for (const auto& t : texts) in_texts += t.find(" IN (") != std::string::npos ? 1 : 0;
    CHECK(in_texts <= 3 * 13);
}

TEST_CASE("statement cache: eviction never finalizes a statement a live cursor is stepping",
          "[engine][statement_cache][yield_per]") {
    auto e = model::test_engine({.pool_size = 1, .max_overflow = 0, .statement_cache_size = 2});
    model::create_schema(e);
    {
        ls::session s{e};
        for (int i = 0; i < 40; ++i) s.add(std::make_shared<Author>(Author{.name = "a" + std::to_string(i)}));
        s.commit();
    }
    ls::session s{e};
    std::vector<std::int64_t> seen;
    for (const auto& a : s.query<Author>().order_by(col<&Author::id>).yield_per(4)) {
        seen.push_back(a->id);
        // Distinct statements, each a cache miss that evicts: never the stream's.
        for (int k = 0; k < 4; ++k) {
            std::vector<std::int64_t> keys(static_cast<std::size_t>(k + 1), a->id);
            CHECK(s.query<Author>().where(col<&Author::id>.in(keys)).count() == 1);
        }
    }
    REQUIRE(seen.size() == 40);
    for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == static_cast<std::int64_t>(i + 1));
    s.close();
    CHECK(cached(e) <= 2);
    CHECK(prepared_on_server(e) <= 2);
}
