// tests/loader/n_plus_one_test.cpp - the session's N+1 detector and default loaders.
// SPDX-License-Identifier: MIT
#include "support/fixture.hpp"

#include <catch2/catch.hpp>

using namespace model;
using ls::col;

TEST_CASE("N+1 detector raises past the threshold, naming relationship, count and place", "[loader][n_plus_one]") {
    fixture f;
    ls::session s{f.engine, {.n_plus_one = ls::n_plus_one_mode::raise, .n_plus_one_threshold = 2}};
    auto authors = s.query<Author>().order_by(col<&Author::id>).all();
    (void)authors[0]->books.size();
    (void)authors[1]->books.size();
    try {
        (void)authors[2]->books.size();
        FAIL("expected n_plus_one_error");
    } catch (const ls::n_plus_one_error& e) {
        const std::string msg = e.what();
        CHECK(msg.find("Author.books") != std::string::npos);
        CHECK(msg.find("3 times") != std::string::npos);
        CHECK(msg.find("n_plus_one_test.cpp") != std::string::npos);
        CHECK(msg.find("selectinload<&Author::books>") != std::string::npos);
    }
}

TEST_CASE("N+1 detector: off and warn never throw, and identity-map hits do not count", "[loader][n_plus_one]") {
    fixture f;
    ls::session off{f.engine};
    for (auto& a : off.query<Author>().all()) (void)a->books.size();
    ls::session warn{f.engine, {.n_plus_one = ls::n_plus_one_mode::warn, .n_plus_one_threshold = 1}};
    for (auto& a : warn.query<Author>().all()) REQUIRE_NOTHROW(a->books.size());
    ls::session strict{f.engine, {.n_plus_one = ls::n_plus_one_mode::raise, .n_plus_one_threshold = 0}};
    auto authors = strict.query<Author>().all();
    auto books = strict.query<Book>().all();
    REQUIRE_NOTHROW(books[0]->author.get());  // in the identity map: no load
}

// The same tables, mapped with default loaders (API.md's Book.publisher is joined by default).
namespace dl {
struct Book;
struct Publisher {
    std::int64_t id{};
    std::string name;
};
struct Author {
    std::int64_t id{};
    std::string name;
    ls::many<Book> books;
};
struct Book {
    std::int64_t id{};
    std::string title;
    std::int64_t author_id{};
    std::optional<std::int64_t> publisher_id;
    ls::one<Author> author;
    ls::one<Publisher> publisher;
};
}  // namespace dl
template <>
struct loadstar::mapping<dl::Publisher> {
    static constexpr auto table = ls::table("publishers", ls::column<&dl::Publisher::id>("id", ls::primary_key),
                                            ls::column<&dl::Publisher::name>("name"));
};
template <>
struct loadstar::mapping<dl::Author> {
    static constexpr auto table = ls::table("authors", ls::column<&dl::Author::id>("id", ls::primary_key),
                                            ls::column<&dl::Author::name>("name"),
                                            ls::has_many<&dl::Author::books>(&dl::Book::author_id));
};
template <>
struct loadstar::mapping<dl::Book> {
    using B = dl::Book;
    static constexpr auto table = ls::table("books", ls::column<&B::id>("id", ls::primary_key),
        ls::column<&B::title>("title"), ls::column<&B::author_id>("author_id", ls::foreign_key<&dl::Author::id>),
        ls::column<&B::publisher_id>("publisher_id", ls::foreign_key<&dl::Publisher::id>),
        ls::belongs_to<&B::author>(&B::author_id, ls::default_loader<ls::strategy::joined>),
        ls::belongs_to<&B::publisher>(&B::publisher_id, ls::default_loader<ls::strategy::joined>));
};

TEST_CASE("default_loader applies to every statement that loads the entity", "[loader][default_loader]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto books = s.query<dl::Book>().order_by(col<&dl::Book::id>).all();
    REQUIRE(c.count() == 1);
    CHECK(c.statements()[0].find("LEFT OUTER JOIN publishers AS publishers_2") != std::string::npos);
    REQUIRE(books[0]->publisher->name == "T. Egerton");
    REQUIRE(books[0]->author->name == "Jane Austen");
    REQUIRE(c.count() == 1);

    SECTION("in a lazy load") {
        ls::session s2{f.engine};
        c.reset();
        auto jane = s2.get<dl::Author>(1);
        REQUIRE(jane->books.size() == 2);
        REQUIRE(c.count() == 2);
        CHECK(c.statements()[1].find("LEFT OUTER JOIN publishers AS publishers_2") != std::string::npos);
        REQUIRE(jane->books[0]->author.get() == jane);  // cycle cut: lazy, identity-map hit
        REQUIRE(c.count() == 2);
    }
    SECTION("an option overrides it; raiseload_all too") {
        ls::session s2{f.engine};
        c.reset();
        auto lazy = s2.query<dl::Book>().options(ls::lazyload<&dl::Book::publisher>).all();
        CHECK(c.statements()[0].find("publishers") == std::string::npos);
        auto strict = s2.query<dl::Book>().options(ls::raiseload_all).populate_existing().all();
        REQUIRE_THROWS_AS(strict[0]->publisher.get(), ls::raise_load_error);
    }
}
