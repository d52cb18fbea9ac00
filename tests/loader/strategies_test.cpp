// tests/loader/strategies_test.cpp - each strategy on each relationship kind: statement counts,
// SQL shapes, the graph, identity.
// SPDX-License-Identifier: MIT
#include "support/fixture.hpp"

#include <catch2/catch.hpp>

using namespace model;
using ls::col;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("lazy one-to-many: one statement per first touch", "[loader][lazy]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto authors = s.query<Author>().order_by(col<&Author::id>).all();
    REQUIRE(c.count() == 1);
    REQUIRE_FALSE(authors[0]->books.loaded());
    REQUIRE(sorted_ids(authors[0]->books) == std::vector<std::int64_t>{1, 2});
    REQUIRE(c.count() == 2);
    CHECK(c.statements()[1] ==
          "SELECT books.id, books.title, books.author_id, books.publisher_id FROM books WHERE books.author_id = ?");
    REQUIRE(authors[0]->books.size() == 2);  // loaded: no second statement
    REQUIRE(c.count() == 2);
    for (auto& a : authors) (void)a->books.size();
    REQUIRE(c.count() == 1 + authors.size());
    REQUIRE(authors[2]->books.empty());
}

TEST_CASE("lazy many-to-one: identity map first, no SQL on a hit or a NULL key", "[loader][lazy]") {
    fixture f;
    ls::session s{f.engine};
    auto jane = s.get<Author>(1);
    ls::statement_counter c{f.engine};
    auto books = s.query<Book>().order_by(col<&Book::id>).all();
    REQUIRE(c.count() == 1);
    REQUIRE(books[0]->author.get() == jane);  // same object, no SQL
    REQUIRE(books[1]->author.get() == jane);
    REQUIRE(c.count() == 1);
    REQUIRE(books[1]->publisher.get() == nullptr);  // NULL foreign key: no SQL
    REQUIRE(c.count() == 1);
    REQUIRE(books[0]->publisher->name == "T. Egerton");
    REQUIRE(c.count() == 2);
    CHECK(c.statements()[1] == "SELECT publishers.id, publishers.name FROM publishers WHERE publishers.id = ?");
    REQUIRE(books[2]->author->name == "Charles Dickens");
    REQUIRE(c.count() == 3);
}

TEST_CASE("joined: one LEFT OUTER JOIN, rows de-duplicated through the identity map", "[loader][joined]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto authors = s.query<Author>().order_by(col<&Author::id>).options(ls::joinedload<&Author::books>).all();
    REQUIRE(c.count() == 1);
    CHECK(c.statements()[0] ==
          "SELECT authors.id, authors.name, authors.email, books_1.id, books_1.title, books_1.author_id, "
          "books_1.publisher_id FROM authors LEFT OUTER JOIN books AS books_1 ON books_1.author_id = authors.id "
          "ORDER BY authors.id");
    REQUIRE(ids(authors) == std::vector<std::int64_t>{1, 2, 3});
    REQUIRE(sorted_ids(authors[0]->books) == std::vector<std::int64_t>{1, 2});
    REQUIRE(sorted_ids(authors[1]->books) == std::vector<std::int64_t>{3});
    REQUIRE(authors[2]->books.loaded());
    REQUIRE(authors[2]->books.empty());
    REQUIRE(c.count() == 1);
}

TEST_CASE("joined with limit on a to-many: the limit counts parents", "[loader][joined]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto authors =
        s.query<Author>().order_by(col<&Author::id>).limit(1).options(ls::joinedload<&Author::books>).all();
    REQUIRE(c.count() == 1);
    CHECK(contains(c.statements()[0],
                   "FROM (SELECT authors.id, authors.name, authors.email FROM authors ORDER BY authors.id LIMIT ?) "
                   "AS authors LEFT OUTER JOIN books AS books_1"));
    REQUIRE(authors.size() == 1);
    REQUIRE(authors[0]->books.size() == 2);
    REQUIRE(c.count() == 1);
}

TEST_CASE("joined many-to-one and many-to-many", "[loader][joined]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto books = s.query<Book>()
                     .order_by(col<&Book::id>)
                     .options(ls::joinedload<&Book::publisher>, ls::joinedload<&Book::tags>)
                     .all();
    REQUIRE(c.count() == 1);
    const auto& sql = c.statements()[0];
    CHECK(contains(sql, "LEFT OUTER JOIN publishers AS publishers_1 ON publishers_1.id = books.publisher_id"));
    CHECK(contains(sql, "LEFT OUTER JOIN book_tags AS book_tags_2 ON book_tags_2.book_id = books.id "
                        "LEFT OUTER JOIN tags AS tags_2 ON tags_2.id = book_tags_2.tag_id"));
    REQUIRE(books.size() == 3);
    REQUIRE(books[0]->publisher->id == 1);
    REQUIRE(books[1]->publisher.get() == nullptr);
    REQUIRE(sorted_ids(books[0]->tags) == std::vector<std::int64_t>{1, 2});
    REQUIRE(sorted_ids(books[1]->tags) == std::vector<std::int64_t>{1});
    REQUIRE(books[2]->tags.empty());
    REQUIRE(books[0]->tags[0] == books[1]->tags[0]);  // one Tag object per key
    REQUIRE(c.count() == 1);
}

TEST_CASE("selectin: WHERE fk IN (...), batched", "[loader][selectin]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto authors = s.query<Author>().order_by(col<&Author::id>).options(ls::selectinload<&Author::books>).all();
    REQUIRE(c.count() == 2);
    const std::string prefix = "SELECT books.author_id, books.id, books.title, books.author_id, "
                               "books.publisher_id FROM books WHERE books.author_id";
    if (is_postgres(f.engine))  // one int64 array parameter instead of an IN list
        CHECK(c.statements()[1] == prefix + " = ANY(?)");
    else
        CHECK(c.statements()[1] == prefix + " IN (?, ?, ?)");
    REQUIRE(sorted_ids(authors[0]->books) == std::vector<std::int64_t>{1, 2});
    REQUIRE(authors[2]->books.empty());
    REQUIRE(c.count() == 2);

    SECTION("batch_size per option") {
        ls::session s2{f.engine};
        c.reset();
        auto again = s2.query<Author>().options(ls::selectinload<&Author::books>.batch_size<2>()).all();
        if (is_postgres(f.engine)) {
            // The array parameter has no bind limit to batch for: one statement whatever K.
            REQUIRE(c.count() == 2);
            CHECK(c.statements()[1] == prefix + " = ANY(?)");
        } else {
            REQUIRE(c.count() == 3);  // 1 + ceil(3 / 2)
            CHECK(c.statements()[1] == prefix + " IN (?, ?)");
            CHECK(c.statements()[2] == prefix + " IN (?)");
        }
        REQUIRE(again.size() == 3);
        for (auto& a : again) REQUIRE(a->books.loaded());
    }
}

TEST_CASE("selectin many-to-one skips keys in the identity map", "[loader][selectin]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto books = s.query<Book>().order_by(col<&Book::id>).options(ls::selectinload<&Book::author>).all();
    REQUIRE(c.count() == 2);
    if (is_postgres(f.engine))
        CHECK(c.statements()[1] == "SELECT authors.id, authors.name, authors.email FROM authors WHERE authors.id = ANY(?)");
    else
        CHECK(c.statements()[1] ==
              "SELECT authors.id, authors.name, authors.email FROM authors WHERE authors.id IN (?, ?)");
    REQUIRE(books[0]->author.get() == books[1]->author.get());
    c.reset();
    auto again = s.query<Book>().options(ls::selectinload<&Book::author>).populate_existing().all();
    REQUIRE(c.count() == 2);  // populate_existing re-reads
    ls::session s2{f.engine};
    s2.get<Author>(1);
    s2.get<Author>(2);
    c.reset();
    auto books2 = s2.query<Book>().order_by(col<&Book::id>).options(ls::selectinload<&Book::author>).all();
    REQUIRE(c.count() == 1);  // both authors already in the identity map
    REQUIRE(books2[0]->author->name == "Jane Austen");
}

TEST_CASE("selectin many-to-many and one-to-one", "[loader][selectin]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto books = s.query<Book>().order_by(col<&Book::id>).options(ls::selectinload<&Book::tags>).all();
    REQUIRE(c.count() == 2);
    const std::string tags_sql = "SELECT book_tags.book_id, tags.id, tags.label FROM tags JOIN book_tags ON "
                                 "tags.id = book_tags.tag_id WHERE book_tags.book_id";
    if (is_postgres(f.engine))
        CHECK(c.statements()[1] == tags_sql + " = ANY(?)");
    else
        CHECK(c.statements()[1] == tags_sql + " IN (?, ?, ?)");
    REQUIRE(sorted_ids(books[0]->tags) == std::vector<std::int64_t>{1, 2});
    auto authors = s.query<Author>().order_by(col<&Author::id>).options(ls::selectinload<&Author::profile>).all();
    REQUIRE(c.count() == 4);
    REQUIRE(authors[0]->profile->bio == "Hampshire");
    REQUIRE(authors[1]->profile.get() == nullptr);
    REQUIRE(c.count() == 4);
}

TEST_CASE("subquery: children joined to the parent query reduced to its keys", "[loader][subquery]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto authors = s.query<Author>()
                       .where(col<&Author::id> < 3)
                       .order_by(col<&Author::id>.desc())
                       .limit(2)
                       .options(ls::subqueryload<&Author::books>)
                       .all();
    REQUIRE(c.count() == 2);
    CHECK(c.statements()[1] ==
          "SELECT anon_1.k, books.id, books.title, books.author_id, books.publisher_id FROM (SELECT authors.id AS "
          "k FROM authors WHERE authors.id < ? ORDER BY authors.id DESC LIMIT ?) AS anon_1 JOIN books ON "
          "books.author_id = anon_1.k");
    REQUIRE(ids(authors) == std::vector<std::int64_t>{2, 1});
    REQUIRE(sorted_ids(authors[1]->books) == std::vector<std::int64_t>{1, 2});
    REQUIRE(c.count() == 2);

    SECTION("nested subquery > subquery") {
        ls::session s2{f.engine};
        c.reset();
        auto as = s2.query<Author>().options(ls::subqueryload<&Author::books>.then(ls::subqueryload<&Book::tags>)).all();
        REQUIRE(c.count() == 3);
        CHECK(contains(c.statements()[2], "FROM (SELECT books.id AS k FROM (SELECT authors.id AS k FROM authors) "
                                          "AS anon_1 JOIN books ON books.author_id = anon_1.k) AS anon_2 JOIN "
                                          "book_tags ON book_tags.book_id = anon_2.k JOIN tags"));
        for (auto& a : as)
            for (auto& b : a->books) (void)b->tags.size();
        REQUIRE(c.count() == 3);
    }
}

TEST_CASE("subquery: parent rows that repeat still give each child once", "[loader][subquery]") {
    // The subquery statement repeats a (parent, child) pair whenever the parent's rows repeat:
    // an explicit join to a to-many, or a many-to-one's target reached from several children.
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto authors = s.query<Author>()
                       .join<&Author::books>()
                       .where(col<&Author::id> == 1)
                       .options(ls::subqueryload<&Author::books>)
                       .all();
    REQUIRE(c.count() == 2);
    REQUIRE(ids(authors) == std::vector<std::int64_t>{1});
    REQUIRE(sorted_ids(authors[0]->books) == std::vector<std::int64_t>{1, 2});

    ls::session s2{f.engine};
    c.reset();
    auto books = s2.query<Book>()
                     .order_by(col<&Book::id>)
                     .options(ls::subqueryload<&Book::author>.then(ls::subqueryload<&Author::books>))
                     .all();
    REQUIRE(c.count() == 3);
    REQUIRE(books[0]->author.get() == books[1]->author.get());  // books 1 and 2 share author 1
    REQUIRE(sorted_ids(books[0]->author->books) == std::vector<std::int64_t>{1, 2});
    REQUIRE(sorted_ids(books[2]->author->books) == std::vector<std::int64_t>{3});
    REQUIRE(c.count() == 3);
}

TEST_CASE("raise: touching throws raise_load_error naming the relationship", "[loader][raise]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto authors = s.query<Author>().options(ls::raiseload<&Author::books>).all();
    REQUIRE(c.count() == 1);
    REQUIRE_THROWS_AS(authors[0]->books.size(), ls::raise_load_error);
    REQUIRE_THROWS_WITH(authors[0]->books.begin(), Catch::Contains("Author.books"));
    REQUIRE(c.count() == 1);
    auto books = s.query<Book>().options(ls::raiseload_all).all();
    REQUIRE_THROWS_AS(books[0]->author.get(), ls::raise_load_error);  // even on an identity-map hit
    REQUIRE_THROWS_WITH(books[0]->publisher.get(), Catch::Contains("Book.publisher"));
}

TEST_CASE("raiseload_all reaches every depth not named", "[loader][raise]") {
    fixture f;
    ls::session s{f.engine};
    auto authors =
        s.query<Author>().order_by(col<&Author::id>).options(ls::selectinload<&Author::books>, ls::raiseload_all).all();
    REQUIRE(authors[0]->books.size() == 2);
    REQUIRE_THROWS_AS(authors[0]->books[0]->publisher.get(), ls::raise_load_error);
    REQUIRE_THROWS_AS(authors[0]->profile.get(), ls::raise_load_error);
}

TEST_CASE("self-referential: manager and reports with every strategy", "[loader][self]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto joined = s.query<Employee>().order_by(col<&Employee::id>).options(ls::joinedload<&Employee::reports>).all();
    REQUIRE(c.count() == 1);
    CHECK(contains(c.statements()[0], "LEFT OUTER JOIN employees AS employees_1 ON employees_1.manager_id = employees.id"));
    REQUIRE(sorted_ids(joined[0]->reports) == std::vector<std::int64_t>{2, 3});
    REQUIRE(sorted_ids(joined[1]->reports) == std::vector<std::int64_t>{4});
    REQUIRE(joined[3]->reports.empty());
    REQUIRE(joined[3]->manager.get() == joined[1]);  // lazy to-one: identity map hit
    REQUIRE(joined[0]->manager.get() == nullptr);
    REQUIRE(c.count() == 1);

    ls::session s2{f.engine};
    c.reset();
    auto sub = s2.query<Employee>().where(col<&Employee::id> == 1).options(
        ls::subqueryload<&Employee::reports>.then(ls::subqueryload<&Employee::reports>)).all();
    REQUIRE(c.count() == 3);
    REQUIRE(sorted_ids(sub[0]->reports) == std::vector<std::int64_t>{2, 3});
    auto ann = sub[0]->reports[0]->id == 2 ? sub[0]->reports[0] : sub[0]->reports[1];
    REQUIRE(sorted_ids(ann->reports) == std::vector<std::int64_t>{4});
    REQUIRE(c.count() == 3);
}

TEST_CASE("nested options apply to the statements that load the outer relationship", "[loader][nested]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto authors = s.query<Author>().order_by(col<&Author::id>).options(
        ls::selectinload<&Author::books>.then(ls::joinedload<&Book::publisher>, ls::selectinload<&Book::tags>)).all();
    REQUIRE(c.count() == 3);
    CHECK(contains(c.statements()[1], "FROM books LEFT OUTER JOIN publishers AS publishers_1"));
    CHECK(contains(c.statements()[2], "FROM tags JOIN book_tags"));
    auto& pp = authors[0]->books[0]->id == 1 ? authors[0]->books[0] : authors[0]->books[1];
    REQUIRE(pp->publisher->name == "T. Egerton");
    REQUIRE(sorted_ids(pp->tags) == std::vector<std::int64_t>{1, 2});
    REQUIRE(c.count() == 3);
}

TEST_CASE("lazyload options nest into the lazy statement", "[loader][nested]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto jane = s.query<Author>().where(col<&Author::id> == 1).options(
        ls::lazyload<&Author::books>.then(ls::joinedload<&Book::publisher>)).one();
    REQUIRE(c.count() == 1);
    REQUIRE(jane->books.size() == 2);
    REQUIRE(c.count() == 2);
    CHECK(contains(c.statements()[1], "FROM books LEFT OUTER JOIN publishers AS publishers_1"));
    for (auto& b : jane->books) (void)b->publisher.get();
    REQUIRE(c.count() == 2);
}

TEST_CASE("identity: one object per key across paths and queries", "[loader][identity]") {
    fixture f;
    ls::session s{f.engine};
    auto authors = s.query<Author>().options(ls::joinedload<&Author::books>).all();
    auto books = s.query<Book>().options(ls::selectinload<&Book::author>).all();
    auto jane = s.get<Author>(1);
    for (auto& b : books)
        if (b->author_id == 1) REQUIRE(b->author.get() == jane);
    for (auto& b : jane->books) REQUIRE(std::find(books.begin(), books.end(), b) != books.end());
}

TEST_CASE("nothing loads twice: loaded holders are not reloaded by a later eager load", "[loader][identity]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto first = s.query<Author>().order_by(col<&Author::id>).options(ls::selectinload<&Author::books>).all();
    REQUIRE(c.count() == 2);
    first[0]->name = "changed in memory";
    auto second = s.query<Author>().order_by(col<&Author::id>).options(ls::selectinload<&Author::books>).all();
    REQUIRE(c.count() == 3);  // the root query only: every collection is loaded already
    REQUIRE(second[0]->name == "changed in memory");  // unflushed change kept
    auto third =
        s.query<Author>().order_by(col<&Author::id>).options(ls::selectinload<&Author::books>).populate_existing().all();
    REQUIRE(c.count() == 5);
    REQUIRE(third[0]->name == "Jane Austen");
}

TEST_CASE("yield_per runs selectin per batch", "[loader][yield_per]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    std::vector<std::int64_t> seen;
    for (const auto& a : s.query<Author>().order_by(col<&Author::id>).options(ls::selectinload<&Author::books>).yield_per(2)) {
        seen.push_back(a->id);
        REQUIRE(a->books.loaded());
    }
    REQUIRE(seen == std::vector<std::int64_t>{1, 2, 3});
    REQUIRE(c.count() == 3);  // root + one selectin per batch of 2
    std::size_t books = 0;
    for (const auto& b : s.query<Book>().options(ls::subqueryload<&Book::tags>).yield_per(2)) books += b->tags.size();
    REQUIRE(books == 3);
    REQUIRE(c.count() == 6);
}

TEST_CASE("contains_eager fills a relationship from an explicit join", "[loader][contains_eager]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto books = s.query<Book>()
                     .join<&Book::author>()
                     .where(col<&Author::name> == "Jane Austen")
                     .order_by(col<&Book::id>)
                     .options(ls::contains_eager<&Book::author>)
                     .all();
    REQUIRE(c.count() == 1);
    CHECK(c.statements()[0] ==
          "SELECT books.id, books.title, books.author_id, books.publisher_id, authors.id, authors.name, "
          "authors.email FROM books JOIN authors ON authors.id = books.author_id WHERE authors.name = ? ORDER BY "
          "books.id");
    REQUIRE(ids(books) == std::vector<std::int64_t>{1, 2});
    REQUIRE(books[0]->author->name == "Jane Austen");
    REQUIRE(c.count() == 1);
}

TEST_CASE("untracked reads skip the identity map", "[loader][untracked]") {
    fixture f;
    ls::session s{f.engine};
    auto a = s.query<Author>().untracked().all();
    auto b = s.query<Author>().untracked().all();
    REQUIRE(a[0] != b[0]);
    REQUIRE(s.identity_size() == 0);
    REQUIRE_THROWS_AS(a[0]->books.size(), ls::detached_error);
    auto eager = s.query<Author>().order_by(col<&Author::id>).untracked().options(ls::selectinload<&Author::books>).all();
    REQUIRE(eager[0]->books.size() == 2);
    REQUIRE(s.identity_size() == 0);
}

TEST_CASE("detached: touching an unloaded relationship after close", "[loader][detached]") {
    fixture f;
    ls::ptr<Author> jane;
    {
        ls::session s{f.engine};
        jane = s.query<Author>().options(ls::selectinload<&Author::profile>).where(col<&Author::id> == 1).one();
    }
    REQUIRE(jane->profile->bio == "Hampshire");  // loaded before close: still there
    REQUIRE_THROWS_AS(jane->books.size(), ls::detached_error);
}
