// tests/loader/columns_test.cpp - load_only / defer: deferred<T> columns load on first touch.
// SPDX-License-Identifier: MIT
#include "support/fixture.hpp"

#include <catch2/catch.hpp>

using namespace model;
using ls::col;

namespace cols {
// The authors table again, with the columns that may be left out declared deferred<T>.
struct Author {
    std::int64_t id{};
    ls::deferred<std::string> name;
    ls::deferred<std::optional<std::string>> email;
};
}  // namespace cols
template <>
struct loadstar::mapping<cols::Author> {
    static constexpr auto table = ls::table("authors", ls::column<&cols::Author::id>("id", ls::primary_key),
                                            ls::column<&cols::Author::name>("name"),
                                            ls::column<&cols::Author::email>("email", ls::unique));
};

TEST_CASE("defer leaves a column out and loads it on first touch", "[loader][defer]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto a = s.query<cols::Author>().where(col<&cols::Author::id> == 1).options(ls::defer<&cols::Author::email>).one();
    REQUIRE(c.count() == 1);
    CHECK(c.statements()[0] == "SELECT authors.id, authors.name FROM authors WHERE authors.id = ?");
    REQUIRE(a->name.loaded());
    REQUIRE_FALSE(a->email.loaded());
    REQUIRE(a->email.get() == std::optional<std::string>("jane@example.org"));
    REQUIRE(c.count() == 2);
    CHECK(c.statements()[1] == "SELECT email FROM authors WHERE id = ?");
    REQUIRE(a->email.get().has_value());
    REQUIRE(c.count() == 2);
}

TEST_CASE("load_only selects the listed columns and the key", "[loader][defer]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto all = s.query<cols::Author>().order_by(col<&cols::Author::id>).options(ls::load_only<&cols::Author::email>).all();
    CHECK(c.statements()[0] == "SELECT authors.id, authors.email FROM authors ORDER BY authors.id");
    REQUIRE(all.size() == 3);
    const std::string& name = all[1]->name;  // touch through the conversion
    REQUIRE(name == "Charles Dickens");
    REQUIRE(c.count() == 2);
}

TEST_CASE("a deferred column never reads as a silent default after close", "[loader][defer]") {
    fixture f;
    ls::ptr<cols::Author> a;
    {
        ls::session s{f.engine};
        a = s.query<cols::Author>().options(ls::defer<&cols::Author::name>).first();
    }
    REQUIRE_THROWS_AS(a->name.get(), ls::detached_error);
    REQUIRE_THROWS_WITH(a->name.get(), Catch::Contains("Author.name"));
}
