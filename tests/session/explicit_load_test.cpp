// tests/session/explicit_load_test.cpp - session::load<&T::rel>(objects): explicit lazy loading
// of many holders at once (one round trip on PostgreSQL, where statements pipeline).
// SPDX-License-Identifier: MIT
#include "support/fixture.hpp"

#include <catch2/catch.hpp>

using namespace model;
using ls::col;

TEST_CASE("session::load loads many holders as touching each would, without N+1 warnings", "[session][load]") {
    fixture f;
    ls::session s{f.engine, {.n_plus_one = ls::n_plus_one_mode::raise, .n_plus_one_threshold = 0}};
    auto authors = s.query<Author>().order_by(col<&Author::id>).all();
    REQUIRE(authors.size() == 3);
    ls::statement_counter c{f.engine};
    s.load<&Author::books>(authors);
    // One lazy statement per holder, the statement touching would issue.
    REQUIRE(c.count() == 3);
    for (const auto& sql : c.statements())
        CHECK(sql == "SELECT books.id, books.title, books.author_id, books.publisher_id FROM books WHERE "
                     "books.author_id = ?");
    // PostgreSQL pipelines them: one round trip for all three. SQLite: one each.
    CHECK(c.round_trips() == (f.engine.sql_dialect().pipelining ? 1u : 3u));
    CHECK(sorted_ids(authors[0]->books) == std::vector<std::int64_t>{1, 2});
    CHECK(sorted_ids(authors[1]->books) == std::vector<std::int64_t>{3});
    CHECK(authors[2]->books.empty());
    CHECK(c.count() == 3);  // touching them now loads nothing

    c.reset();
    s.load<&Author::books>(authors);  // all loaded: nothing to do
    CHECK(c.count() == 0);

    // The identity map holds one object per key: books loaded through authors are the
    // books a query returns.
    auto b1 = s.get<Book>(1);
    bool same = false;
    for (auto& b : authors[0]->books) same = same || b.get() == b1.get();
    CHECK(same);
}

TEST_CASE("session::load of a many-to-one: distinct keys only, mapped targets and NULL keys need no SQL",
          "[session][load]") {
    fixture f;
    ls::session s{f.engine};
    auto books = s.query<Book>().order_by(col<&Book::id>).all();
    ls::statement_counter c{f.engine};
    s.load<&Book::publisher>(books);
    // Book 1 -> publisher 1, book 2 -> none, book 3 -> publisher 2.
    REQUIRE(c.count() == 2);
    CHECK(c.round_trips() == (f.engine.sql_dialect().pipelining ? 1u : 2u));
    CHECK(books[0]->publisher->id == 1);
    CHECK(books[1]->publisher.get() == nullptr);
    CHECK(books[2]->publisher->id == 2);

    // Authors 1 and 2 are referred to by the three books; once author 1 is mapped only
    // author 2 needs a statement.
    auto jane = s.get<Author>(1);
    c.reset();
    s.load<&Book::author>(books);
    CHECK(c.count() == 1);
    CHECK(books[0]->author.get() == jane);
    CHECK(books[1]->author.get() == jane);
    CHECK(books[2]->author->name == "Charles Dickens");
}

TEST_CASE("session::load refuses raise holders and detached objects, like a touch", "[session][load]") {
    fixture f;
    {
        ls::session s{f.engine};
        auto authors = s.query<Author>().options(ls::raiseload<&Author::books>).all();
        CHECK_THROWS_AS(s.load<&Author::books>(authors), ls::raise_load_error);
    }
    std::vector<ls::ptr<Author>> kept;
    {
        ls::session s{f.engine};
        kept = s.query<Author>().all();
    }
    ls::session other{f.engine};
    CHECK_THROWS_AS(other.load<&Author::books>(kept), ls::detached_error);
}
