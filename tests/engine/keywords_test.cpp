// tests/engine/keywords_test.cpp - identifiers that are keywords of SQLite or PostgreSQL are
// quoted wherever loadstar writes them: a mapped entity with keyword table and column names
// round-trips, and every keyword the database itself lists (sqlite3_keyword_name, or
// pg_get_keywords() minus the unreserved ones) works as a table and a column name.
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/model.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

namespace keywords {
struct Clause {
    std::int64_t id{};
    std::int64_t except{};
    std::string foreign;
    std::optional<std::int64_t> window;
};
}  // namespace keywords
template <>
struct loadstar::mapping<keywords::Clause> {
    using C = keywords::Clause;
    static constexpr auto table = ls::table("analyze",
        ls::column<&C::id>("id", ls::primary_key),
        ls::column<&C::except>("except"),
        ls::column<&C::foreign>("foreign", ls::unique),
        ls::column<&C::window>("window"));
};

using keywords::Clause;

TEST_CASE("keywords: an entity whose table and columns are keywords round-trips", "[engine][schema][keywords]") {
    auto e = model::test_engine();
    ls::create_all<Clause>(e);
    ls::statement_counter c{e};
    ls::session s{e};
    s.add(std::make_shared<Clause>(Clause{.except = 1, .foreign = "f1"}));
    s.add(std::make_shared<Clause>(Clause{.except = 2, .foreign = "f2", .window = 7}));
    s.commit();
    CHECK(c.statements().front() ==
          R"(INSERT INTO "analyze" ("except", "foreign", "window") VALUES (?, ?, ?) RETURNING id)");
    auto two = s.query<Clause>().where(ls::col<&Clause::except> == 2).one();
    CHECK(two->foreign == "f2");
    CHECK(two->window == 7);
    two->foreign = "g2";
    two->window.reset();
    s.commit();
    ls::session check{e};
    auto all = check.query<Clause>().order_by(ls::col<&Clause::except>.desc()).all();
    REQUIRE(all.size() == 2);
    CHECK(all[0]->foreign == "g2");
    CHECK(!all[0]->window);
    CHECK(check.query<Clause>().where(ls::col<&Clause::foreign> == "f1").count() == 1);
    check.remove(all[1]);
    check.commit();
    CHECK(check.query<Clause>().count() == 1);
}

TEST_CASE("keywords: every keyword of the database works as a table and a column name", "[engine][schema][keywords]") {
    auto e = model::test_engine();
    std::vector<std::string> words;
    ls::detail::lease l(e.state());
    if (model::is_postgres(e)) {
        ls::detail::cursor c(*e.state(), l.get(), "SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'", {});
        while (c.next()) words.emplace_back(c.row().get_text(0));
    } else {
        for (int i = 0; i < sqlite3_keyword_count(); ++i) {
            const char* z = nullptr;
            int n = 0;
            sqlite3_keyword_name(i, &z, &n);
            std::string w(z, static_cast<std::size_t>(n));
            std::transform(w.begin(), w.end(), w.begin(), [](unsigned char ch) { return std::tolower(ch); });
            words.push_back(w);
        }
    }
    REQUIRE(words.size() > 100);
    for (const auto& w : words) {
        CAPTURE(w);
        CHECK(ls::detail::is_sql_keyword(w));
        const std::string t = ls::detail::quote_ident(w);
        CHECK(t == "\"" + w + "\"");
        ls::detail::execute_control(*e.state(), l.get(), "CREATE TABLE " + t + " (id INTEGER PRIMARY KEY, " + t + " INTEGER)");
        const ls::value params[] = {std::int64_t{1}, std::int64_t{42}};
        {
            ls::detail::cursor c(*e.state(), l.get(), "INSERT INTO " + t + " (id, " + t + ") VALUES (?, ?)", params);
            CHECK(c.run() == 1);
        }
        {
            ls::detail::cursor c(*e.state(), l.get(), "SELECT " + t + "." + t + " FROM " + t + " WHERE " + t + "." + t + " = ?",
                                 std::span<const ls::value>(params + 1, 1));
            REQUIRE(c.next());
            CHECK(c.row().get_int(0) == 42);
        }
        ls::detail::execute_control(*e.state(), l.get(), "DROP TABLE " + t);
    }
    // Ordinary names stay unquoted (the SQL loadstar writes stays as readable as before).
    CHECK(ls::detail::quote_ident("authors") == "authors");
    CHECK(ls::detail::quote_ident("author_id") == "author_id");
    CHECK(ls::detail::quote_ident("Authors") == "\"Authors\"");
    CHECK(ls::detail::quote_ident("1st") == "\"1st\"");
}
