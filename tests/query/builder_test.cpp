// tests/query/builder_test.cpp - every query builder feature, with the exact SQL it renders, the
// values it binds and the rows it returns: predicates, ordering, paging, terminal operations,
// projections and aggregates, streaming, bulk update / delete, keyset pagination, get().
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/model.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

using model::Author;
using model::Book;
using model::Publisher;

namespace builder_test {

const std::string author_cols = "SELECT authors.id, authors.name, authors.email FROM authors";
const std::string book_cols =
    "SELECT books.id, books.title, books.author_id, books.publisher_id FROM books";

/// authors: 1 Jane Austen <jane@example.org>, 2 Charles Dickens, 3 Anne Bronte <anne@example.org>,
///          4 John Keats
/// books:   1 Emma (1, pub 1), 2 Persuasion (1), 3 Sense and Sensibility (1, pub 2),
///          4 Oliver Twist (2, pub 1), 5 Bleak House (2), 6 Agnes Grey (3)
struct library {
    ls::engine engine = model::test_engine();

    library() {
        model::create_schema(engine);
        ls::session s{engine};
        s.add(author(1, "Jane Austen", "jane@example.org"));
        s.add(author(2, "Charles Dickens"));
        s.add(author(3, "Anne Bronte", "anne@example.org"));
        s.add(author(4, "John Keats"));
        for (std::int64_t id : {1, 2}) {
            auto p = std::make_shared<Publisher>();
            p->id = id;
            p->name = id == 1 ? "T. Egerton" : "Chapman";
            s.add(p);
        }
        s.flush();
        s.add(book(1, "Emma", 1, 1));
        s.add(book(2, "Persuasion", 1, std::nullopt));
        s.add(book(3, "Sense and Sensibility", 1, 2));
        s.add(book(4, "Oliver Twist", 2, 1));
        s.add(book(5, "Bleak House", 2, std::nullopt));
        s.add(book(6, "Agnes Grey", 3, std::nullopt));
        s.commit();
        model::sync_identity(engine, {"authors", "publishers", "books"});
    }

    static ls::ptr<Author> author(std::int64_t id, std::string name, std::optional<std::string> email = std::nullopt) {
        auto a = std::make_shared<Author>();
        a->id = id;
        a->name = std::move(name);
        a->email = std::move(email);
        return a;
    }
    static ls::ptr<Book> book(std::int64_t id, std::string title, std::int64_t author_id,
                              std::optional<std::int64_t> publisher_id) {
        auto b = std::make_shared<Book>();
        b->id = id;
        b->title = std::move(title);
        b->author_id = author_id;
        b->publisher_id = publisher_id;
        return b;
    }
};

template <class T>
std::vector<std::int64_t> ids(const std::vector<ls::ptr<T>>& v) {
    std::vector<std::int64_t> out;
    for (const auto& p : v) out.push_back(p->id);
    return out;
}
using id_list = std::vector<std::int64_t>;

}  // namespace builder_test

using namespace builder_test;

TEST_CASE("query builder: comparison operators", "[query][where]") {
    library lib;
    ls::session s{lib.engine};
    ls::statement_counter counter{lib.engine};
    auto run = [&](auto q, const std::string& where, const id_list& expected) {
        INFO(where);
        CHECK(q.sql() == author_cols + " WHERE " + where + " ORDER BY authors.id");
        CHECK(ids(q.all()) == expected);
    };
    constexpr auto id = ls::col<&Author::id>;
    run(s.query<Author>().where(id == 2).order_by(id), "authors.id = ?", {2});
    run(s.query<Author>().where(id != 2).order_by(id), "authors.id != ?", {1, 3, 4});
    run(s.query<Author>().where(id < 3).order_by(id), "authors.id < ?", {1, 2});
    run(s.query<Author>().where(id <= 3).order_by(id), "authors.id <= ?", {1, 2, 3});
    run(s.query<Author>().where(id > 3).order_by(id), "authors.id > ?", {4});
    run(s.query<Author>().where(id >= 3).order_by(id), "authors.id >= ?", {3, 4});
    // The value may stand on the left; it is still bound.
    run(s.query<Author>().where(2 < id).order_by(id), "? < authors.id", {3, 4});
    // Integral values of any width compare with an int64 column.
    run(s.query<Author>().where(id == std::uint8_t{4}).order_by(id), "authors.id = ?", {4});
    // Text and optional text.
    run(s.query<Author>().where(ls::col<&Author::name> == std::string("John Keats")).order_by(id),
        "authors.name = ?", {4});
    run(s.query<Author>().where(ls::col<&Author::email> == "anne@example.org").order_by(id), "authors.email = ?", {3});
    run(s.query<Author>().where(ls::col<&Author::name> > "J").order_by(id), "authors.name > ?", {1, 4});
    CHECK(counter.count() == 11);
    // Every statement bound its value: one '?' each, no literal.
    for (const auto& sql : counter.statements()) {
        CHECK(std::count(sql.begin(), sql.end(), '?') == 1);
        CHECK(sql.find("John") == std::string::npos);
        CHECK(sql.find("anne@") == std::string::npos);
    }
}

TEST_CASE("query builder: and, or, not, several where() calls, column to column", "[query][where][logic]") {
    library lib;
    ls::session s{lib.engine};
    constexpr auto id = ls::col<&Book::id>;
    constexpr auto author = ls::col<&Book::author_id>;

    auto q1 = s.query<Book>().where(author == 1 && id > 1).order_by(id);
    CHECK(q1.sql() == book_cols + " WHERE (books.author_id = ? AND books.id > ?) ORDER BY books.id");
    CHECK(ids(q1.all()) == id_list{2, 3});

    auto q2 = s.query<Book>().where(author == 3 || id == 1).order_by(id);
    CHECK(q2.sql() == book_cols + " WHERE (books.author_id = ? OR books.id = ?) ORDER BY books.id");
    CHECK(ids(q2.all()) == id_list{1, 6});

    auto q3 = s.query<Book>().where(!(author == 1)).order_by(id);
    CHECK(q3.sql() == book_cols + " WHERE NOT (books.author_id = ?) ORDER BY books.id");
    CHECK(ids(q3.all()) == id_list{4, 5, 6});

    // Precedence is explicit in the SQL: a || (b && c).
    auto q4 = s.query<Book>().where(author == 3 || (author == 2 && id > 4)).order_by(id);
    CHECK(q4.sql() ==
          book_cols + " WHERE (books.author_id = ? OR (books.author_id = ? AND books.id > ?)) ORDER BY books.id");
    CHECK(ids(q4.all()) == id_list{5, 6});

    // Two where() calls are joined with AND.
    auto q5 = s.query<Book>().where(author == 1).where(id != 2).order_by(id);
    CHECK(q5.sql() == book_cols + " WHERE (books.author_id = ?) AND books.id != ? ORDER BY books.id");
    CHECK(ids(q5.all()) == id_list{1, 3});
    auto q6 = s.query<Book>().where(author == 1).where(id != 2).where(id != 3);
    CHECK(q6.sql() == book_cols + " WHERE ((books.author_id = ?) AND books.id != ?) AND books.id != ?");
    CHECK(ids(q6.all()) == id_list{1});

    // Column against column: nothing bound.
    auto q7 = s.query<Book>().where(id == author).order_by(id);
    CHECK(q7.sql() == book_cols + " WHERE books.id = books.author_id ORDER BY books.id");
    CHECK(ids(q7.all()) == id_list{1});
    auto q8 = s.query<Book>().where(id > author && !(ls::col<&Book::publisher_id> == id)).order_by(id.desc());
    CHECK(q8.sql() == book_cols +
                          " WHERE (books.id > books.author_id AND NOT (books.publisher_id = books.id)) "
                          "ORDER BY books.id DESC");
    // NOT (NULL = id) is NULL, not true: books 2, 5 and 6 (no publisher) are left out.
    CHECK(ids(q8.all()) == id_list{4, 3});
}

TEST_CASE("query builder: like, in, between, is_null", "[query][where][operators]") {
    library lib;
    ls::session s{lib.engine};
    constexpr auto id = ls::col<&Author::id>;
    constexpr auto name = ls::col<&Author::name>;

    auto like = s.query<Author>().where(name.like("J%")).order_by(id);
    CHECK(like.sql() == author_cols + " WHERE authors.name LIKE ? ORDER BY authors.id");
    CHECK(ids(like.all()) == id_list{1, 4});
    CHECK(ids(s.query<Author>().where(name.like(std::string("%e_"))).order_by(id).all()) == id_list{1});
    CHECK(ids(s.query<Author>().where(name.like("%_e")).order_by(id).all()) == id_list{3});
    CHECK(ids(s.query<Author>().where(ls::col<&Author::email>.like("%@example.org")).order_by(id).all()) ==
          id_list{1, 3});

    auto in = s.query<Author>().where(id.in(std::vector<int>{4, 2, 99})).order_by(id);
    CHECK(in.sql() == author_cols + " WHERE authors.id IN (?, ?, ?) ORDER BY authors.id");
    CHECK(ids(in.all()) == id_list{2, 4});
    CHECK(ids(s.query<Author>().where(id.in({1, 3})).order_by(id).all()) == id_list{1, 3});
    CHECK(ids(s.query<Author>().where(name.in(std::vector<std::string>{"Anne Bronte", "Nobody"})).all()) ==
          id_list{3});
    // An empty IN is false, without placeholders.
    auto empty = s.query<Author>().where(id.in(std::vector<std::int64_t>{}));
    CHECK(empty.sql() == author_cols + " WHERE 1 != 1");
    CHECK(empty.all().empty());
    CHECK(empty.count() == 0);
    auto not_empty = s.query<Author>().where(!id.in(std::vector<std::int64_t>{})).order_by(id);
    CHECK(not_empty.sql() == author_cols + " WHERE NOT (1 != 1) ORDER BY authors.id");
    CHECK(ids(not_empty.all()) == id_list{1, 2, 3, 4});
    // Several INs in one statement keep their values in order.
    auto two = s.query<Author>().where(id.in(std::vector<int>{1, 2, 3}) && id.in(std::vector<int>{3, 4}));
    CHECK(two.sql() == author_cols + " WHERE (authors.id IN (?, ?, ?) AND authors.id IN (?, ?))");
    CHECK(ids(two.all()) == id_list{3});

    auto between = s.query<Author>().where(id.between(2, 3)).order_by(id);
    CHECK(between.sql() == author_cols + " WHERE authors.id BETWEEN ? AND ? ORDER BY authors.id");
    CHECK(ids(between.all()) == id_list{2, 3});
    CHECK(ids(s.query<Author>().where(name.between("B", "K")).order_by(id).all()) == id_list{1, 2, 4});

    auto null = s.query<Author>().where(ls::col<&Author::email>.is_null()).order_by(id);
    CHECK(null.sql() == author_cols + " WHERE authors.email IS NULL ORDER BY authors.id");
    CHECK(ids(null.all()) == id_list{2, 4});
    auto not_null = s.query<Author>().where(ls::col<&Author::email>.is_not_null()).order_by(id);
    CHECK(not_null.sql() == author_cols + " WHERE authors.email IS NOT NULL ORDER BY authors.id");
    CHECK(ids(not_null.all()) == id_list{1, 3});
    CHECK(s.query<Book>().where(ls::col<&Book::publisher_id>.is_null()).count() == 3);
}

TEST_CASE("query builder: order_by, limit, offset", "[query][order][paging]") {
    library lib;
    ls::session s{lib.engine};
    ls::statement_counter counter{lib.engine};

    auto multi = s.query<Book>().order_by(ls::col<&Book::author_id>.desc(), ls::col<&Book::title>.asc());
    CHECK(multi.sql() == book_cols + " ORDER BY books.author_id DESC, books.title");
    CHECK(ids(multi.all()) == id_list{6, 5, 4, 1, 2, 3});
    // order_by() calls accumulate.
    auto acc = s.query<Book>().order_by(ls::col<&Book::author_id>).order_by(ls::col<&Book::id>.desc());
    CHECK(acc.sql() == book_cols + " ORDER BY books.author_id, books.id DESC");
    CHECK(ids(acc.all()) == id_list{3, 2, 1, 5, 4, 6});

    auto limited = s.query<Book>().order_by(ls::col<&Book::id>).limit(2);
    CHECK(limited.sql() == book_cols + " ORDER BY books.id LIMIT ?");
    CHECK(ids(limited.all()) == id_list{1, 2});
    auto paged = s.query<Book>().order_by(ls::col<&Book::id>).limit(2).offset(3);
    CHECK(paged.sql() == book_cols + " ORDER BY books.id LIMIT ? OFFSET ?");
    CHECK(ids(paged.all()) == id_list{4, 5});
    // SQLite needs a LIMIT before OFFSET: -1 is "no limit". PostgreSQL takes OFFSET alone.
    auto offset_only = s.query<Book>().order_by(ls::col<&Book::id>).offset(4);
    if (model::is_postgres(lib.engine))
        CHECK(offset_only.sql() == book_cols + " ORDER BY books.id OFFSET ?");
    else
        CHECK(offset_only.sql() == book_cols + " ORDER BY books.id LIMIT -1 OFFSET ?");
    CHECK(ids(offset_only.all()) == id_list{5, 6});
    CHECK(ids(s.query<Book>().order_by(ls::col<&Book::id>).limit(0).all()) == id_list{});
    CHECK(ids(s.query<Book>().order_by(ls::col<&Book::id>).offset(10).all()) == id_list{});
    // The later call wins.
    CHECK(ids(s.query<Book>().order_by(ls::col<&Book::id>).limit(1).limit(3).all()) == id_list{1, 2, 3});

    // for_update() is left out on SQLite (no row locks there).
    auto locked = s.query<Book>().where(ls::col<&Book::id> == 1).for_update();
    if (model::is_postgres(lib.engine))
        CHECK(locked.sql() == book_cols + " WHERE books.id = ? FOR UPDATE");
    else
        CHECK(locked.sql() == book_cols + " WHERE books.id = ?");
    CHECK(ids(locked.all()) == id_list{1});

    // Limits and offsets are bound, never spliced (SQLite's "LIMIT -1" is the only literal).
    for (auto sql : counter.statements()) {
        if (const auto at = sql.find(" LIMIT -1 "); at != std::string::npos) sql.erase(at, 9);
        CHECK(sql.find_first_of("0123456789") == std::string::npos);
    }
}

TEST_CASE("query builder: all, first, one", "[query][terminal]") {
    library lib;
    ls::session s{lib.engine};
    ls::statement_counter counter{lib.engine};

    auto first = s.query<Book>().where(ls::col<&Book::author_id> == 2).order_by(ls::col<&Book::id>.desc()).first();
    REQUIRE(first);
    CHECK(first->id == 5);
    CHECK(first->title == "Bleak House");
    CHECK(counter.statements().back() == book_cols + " WHERE books.author_id = ? ORDER BY books.id DESC LIMIT ?");
    CHECK(s.query<Book>().where(ls::col<&Book::author_id> == 4).first() == nullptr);

    auto one = s.query<Author>().where(ls::col<&Author::name> == "Anne Bronte").one();
    CHECK(one->id == 3);
    CHECK(one->email == "anne@example.org");
    CHECK_THROWS_AS(s.query<Author>().where(ls::col<&Author::id> > 10).one(), ls::no_result_error);
    CHECK_THROWS_WITH(s.query<Author>().where(ls::col<&Author::id> > 10).one(), Catch::Contains("Author"));
    CHECK_THROWS_AS(s.query<Author>().where(ls::col<&Author::id> > 2).one(), ls::multiple_results_error);
    CHECK_THROWS_WITH(s.query<Author>().where(ls::col<&Author::id> > 2).one(), Catch::Contains("found 2"));
    // Both derive from ls::error.
    CHECK_THROWS_AS(s.query<Author>().one(), ls::error);

    auto all = s.query<Book>().all();
    CHECK(all.size() == 6);
    static_assert(std::is_same_v<decltype(all), std::vector<ls::ptr<Book>>>);
    // A query is a value: it can be kept and run again.
    auto q = s.query<Author>().where(ls::col<&Author::id> <= 2).order_by(ls::col<&Author::id>);
    CHECK(ids(q.all()) == id_list{1, 2});
    CHECK(ids(q.limit(1).all()) == id_list{1});
}

TEST_CASE("query builder: count and exists", "[query][count][exists]") {
    library lib;
    ls::session s{lib.engine};
    ls::statement_counter counter{lib.engine};

    CHECK(s.query<Book>().count() == 6);
    CHECK(s.query<Book>().where(ls::col<&Book::author_id> == 1).count() == 3);
    CHECK(s.query<Book>().where(ls::col<&Book::author_id> == 9).count() == 0);
    // With paging, the count is of the page.
    CHECK(s.query<Book>().order_by(ls::col<&Book::id>).limit(4).offset(3).count() == 3);
    // With a join.
    CHECK(s.query<Book>().join<&Book::author>().where(ls::col<&Author::name>.like("%Dickens")).count() == 2);
    CHECK(counter.statements() ==
          std::vector<std::string>{
              "SELECT count(*) FROM books",
              "SELECT count(*) FROM books WHERE books.author_id = ?",
              "SELECT count(*) FROM books WHERE books.author_id = ?",
              "SELECT count(*) FROM (SELECT books.id FROM books ORDER BY books.id LIMIT ? OFFSET ?) AS anon_1",
              "SELECT count(*) FROM (SELECT books.id FROM books JOIN authors ON authors.id = books.author_id "
              "WHERE authors.name LIKE ?) AS anon_1",
          });

    counter.reset();
    CHECK(s.query<Book>().where(ls::col<&Book::title> == "Emma").exists());
    CHECK_FALSE(s.query<Book>().where(ls::col<&Book::title> == "Ulysses").exists());
    CHECK(s.query<Author>().exists());
    CHECK(counter.statements() == std::vector<std::string>{
                                      "SELECT EXISTS (SELECT 1 FROM books WHERE books.title = ?)",
                                      "SELECT EXISTS (SELECT 1 FROM books WHERE books.title = ?)",
                                      "SELECT EXISTS (SELECT 1 FROM authors)",
                                  });
    // count / exists load nothing into the identity map.
    CHECK(s.identity_size() == 0);
}

TEST_CASE("query builder: join for filtering", "[query][join]") {
    library lib;
    ls::session s{lib.engine};
    auto q = s.query<Book>()
                 .join<&Book::author>()
                 .where(ls::col<&Author::name> == "Jane Austen" && ls::col<&Book::publisher_id>.is_not_null())
                 .order_by(ls::col<&Book::id>);
    CHECK(q.sql() == book_cols +
                         " JOIN authors ON authors.id = books.author_id WHERE (authors.name = ? AND "
                         "books.publisher_id IS NOT NULL) ORDER BY books.id");
    CHECK(ids(q.all()) == id_list{1, 3});
    auto by_author = s.query<Author>().join<&Author::books>().where(ls::col<&Book::title> == "Emma");
    CHECK(by_author.sql() == author_cols + " JOIN books ON books.author_id = authors.id WHERE books.title = ?");
    CHECK(ids(by_author.all()) == id_list{1});
}

TEST_CASE("query builder: columns() projections", "[query][columns]") {
    library lib;
    ls::session s{lib.engine};

    auto q = s.query<Author>().columns<&Author::id, &Author::name>().order_by(ls::col<&Author::id>);
    CHECK(q.sql() == "SELECT authors.id, authors.name FROM authors ORDER BY authors.id");
    auto rows = q.all();
    static_assert(std::is_same_v<decltype(rows), std::vector<std::tuple<std::int64_t, std::string>>>);
    CHECK(rows == std::vector<std::tuple<std::int64_t, std::string>>{
                      {1, "Jane Austen"}, {2, "Charles Dickens"}, {3, "Anne Bronte"}, {4, "John Keats"}});
    CHECK(s.identity_size() == 0);  // no objects

    // Nullable columns come back as optional; where / limit / offset apply.
    auto emails = s.query<Author>()
                      .where(ls::col<&Author::id> >= 2)
                      .columns<&Author::email, &Author::id>()
                      .order_by(ls::col<&Author::id>)
                      .limit(2)
                      .offset(1);
    CHECK(emails.sql() ==
          "SELECT authors.email, authors.id FROM authors WHERE authors.id >= ? ORDER BY authors.id LIMIT ? OFFSET ?");
    auto e = emails.all();
    static_assert(std::is_same_v<decltype(e), std::vector<std::tuple<std::optional<std::string>, std::int64_t>>>);
    CHECK(e == std::vector<std::tuple<std::optional<std::string>, std::int64_t>>{{"anne@example.org", 3},
                                                                                  {std::nullopt, 4}});

    auto first = s.query<Book>().columns(ls::col<&Book::title>).order_by(ls::col<&Book::title>).first();
    static_assert(std::is_same_v<decltype(first), std::optional<std::tuple<std::string>>>);
    REQUIRE(first);
    CHECK(std::get<0>(*first) == "Agnes Grey");
    CHECK_FALSE(s.query<Book>().where(ls::col<&Book::id> > 100).columns<&Book::id>().first().has_value());
}

TEST_CASE("query builder: aggregates with group_by and having", "[query][aggregate]") {
    library lib;
    ls::session s{lib.engine};
    ls::statement_counter counter{lib.engine};

    // As in API.md: (author_id, count(), max(id)) per author with more than two books.
    auto per_author = s.query<Book>()
                          .columns(ls::col<&Book::author_id>, ls::count(), ls::max(ls::col<&Book::id>))
                          .group_by(ls::col<&Book::author_id>)
                          .having(ls::count() > 2);
    CHECK(per_author.sql() ==
          "SELECT books.author_id, count(*), max(books.id) FROM books GROUP BY books.author_id HAVING count(*) > ?");
    auto rows = per_author.all();
    static_assert(std::is_same_v<decltype(rows), std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>>);
    CHECK(rows == std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{{1, 3, 3}});

    // Every group, ordered by an aggregate.
    auto all_groups = s.query<Book>()
                          .columns(ls::col<&Book::author_id>, ls::count(), ls::min(ls::col<&Book::id>))
                          .group_by(ls::col<&Book::author_id>)
                          .order_by(ls::count().desc(), ls::col<&Book::author_id>);
    CHECK(all_groups.sql() ==
          "SELECT books.author_id, count(*), min(books.id) FROM books GROUP BY books.author_id "
          "ORDER BY count(*) DESC, books.author_id");
    CHECK(all_groups.all() ==
          std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{{1, 3, 1}, {2, 2, 4}, {3, 1, 6}});

    // sum / avg are optional (NULL over no rows); count(col) counts non-NULL values.
    auto stats = s.query<Book>().columns(ls::count(ls::col<&Book::publisher_id>), ls::sum(ls::col<&Book::id>),
                                         ls::avg(ls::col<&Book::id>), ls::max(ls::col<&Book::publisher_id>));
    CHECK(stats.sql() == "SELECT count(books.publisher_id), sum(books.id), avg(books.id), max(books.publisher_id) FROM books");
    auto st = stats.all();
    static_assert(std::is_same_v<decltype(st), std::vector<std::tuple<std::int64_t, std::optional<std::int64_t>,
                                                                      std::optional<double>, std::optional<std::int64_t>>>>);
    REQUIRE(st.size() == 1);
    CHECK(std::get<0>(st[0]) == 3);
    CHECK(std::get<1>(st[0]) == 21);
    CHECK(std::get<2>(st[0]) == 3.5);
    CHECK(std::get<3>(st[0]) == 2);

    auto none = s.query<Book>().where(ls::col<&Book::id> > 100).columns(ls::count(), ls::sum(ls::col<&Book::id>),
                                                                        ls::avg(ls::col<&Book::id>));
    CHECK(none.all() == std::vector<std::tuple<std::int64_t, std::optional<std::int64_t>, std::optional<double>>>{
                            {0, std::nullopt, std::nullopt}});
    // max of a NOT NULL column over no rows is NULL: reading it into int64_t is refused, not 0.
    CHECK_THROWS_AS(s.query<Book>().where(ls::col<&Book::id> > 100).columns(ls::max(ls::col<&Book::id>)).all(),
                    ls::conversion_error);

    // Two aggregates of one type in one statement render as themselves (no shared cache).
    auto having_max = s.query<Book>()
                          .columns(ls::col<&Book::author_id>, ls::max(ls::col<&Book::id>), ls::count())
                          .group_by(ls::col<&Book::author_id>)
                          .having(ls::max(ls::col<&Book::id>) > 4 && ls::count() >= 1)
                          .order_by(ls::col<&Book::author_id>);
    CHECK(having_max.sql() ==
          "SELECT books.author_id, max(books.id), count(*) FROM books GROUP BY books.author_id "
          "HAVING (max(books.id) > ? AND count(*) >= ?) ORDER BY books.author_id");
    CHECK(having_max.all() == std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{{2, 5, 2}, {3, 6, 1}});
    // Where, group_by, having and paging together; where values come before having values.
    counter.reset();
    std::vector<ls::value> bound;
    const auto id = lib.engine.on_statement([&](const ls::statement_event& ev) {
        if (ev.counted) bound.assign(ev.params.begin(), ev.params.end());
    });
    auto paged = s.query<Book>()
                     .where(ls::col<&Book::id> != 2)
                     .columns(ls::col<&Book::author_id>, ls::count())
                     .group_by(ls::col<&Book::author_id>)
                     .having(ls::count() > 1)
                     .order_by(ls::col<&Book::author_id>)
                     .limit(1)
                     .offset(1);
    CHECK(paged.all() == std::vector<std::tuple<std::int64_t, std::int64_t>>{{2, 2}});
    lib.engine.remove_listener(id);
    CHECK(counter.statements() ==
          std::vector<std::string>{"SELECT books.author_id, count(*) FROM books WHERE books.id != ? GROUP BY "
                                   "books.author_id HAVING count(*) > ? ORDER BY books.author_id LIMIT ? OFFSET ?"});
    CHECK(bound == std::vector<ls::value>{std::int64_t{2}, std::int64_t{1}, std::int64_t{1}, std::int64_t{1}});
}

TEST_CASE("query builder: yield_per streams in batches", "[query][yield_per]") {
    library lib;
    ls::session s{lib.engine};
    ls::statement_counter counter{lib.engine};

    SECTION("one statement, stepped while the caller iterates") {
        std::vector<std::int64_t> seen;
        std::vector<std::size_t> finished_statements;
        for (ls::ptr<Book> b : s.query<Book>().order_by(ls::col<&Book::id>).yield_per(4)) {
            seen.push_back(b->id);
            finished_statements.push_back(counter.count());
        }
        CHECK(seen == id_list{1, 2, 3, 4, 5, 6});
        // The SELECT is reported when it finishes: it was still running while the first batch
        // was handed out, and had finished once the second (and last) batch was read.
        CHECK(finished_statements == std::vector<std::size_t>{0, 0, 0, 0, 1, 1});
        CHECK(counter.statements() == std::vector<std::string>{book_cols + " ORDER BY books.id"});
        // Streamed objects are in the identity map.
        CHECK(s.get<Book>(3)->title == "Sense and Sensibility");
        CHECK(counter.count() == 1);
    }
    SECTION("follow-up loads run per batch") {
        std::vector<std::size_t> at;
        for (ls::ptr<Book> b :
             s.query<Book>().order_by(ls::col<&Book::id>).options(ls::selectinload<&Book::author>).yield_per(4)) {
            CHECK(b->author.loaded());
            at.push_back(counter.count());
        }
        // Batch 1 (books 1-4, authors 1, 2), batch 2 (books 5-6: author 2 is known, 3 is not).
        CHECK(at == std::vector<std::size_t>{1, 1, 1, 1, 3, 3});
        if (model::is_postgres(lib.engine))  // one int64 array parameter, whatever the number of keys
            CHECK(counter.statements() == std::vector<std::string>{author_cols + " WHERE authors.id = ANY(?)",
                                                                   book_cols + " ORDER BY books.id",
                                                                   author_cols + " WHERE authors.id = ANY(?)"});
        else
            CHECK(counter.statements() == std::vector<std::string>{author_cols + " WHERE authors.id IN (?, ?)",
                                                                   book_cols + " ORDER BY books.id",
                                                                   author_cols + " WHERE authors.id IN (?)"});
    }
    SECTION("a batch size of 0 is 1; an empty result yields nothing") {
        std::size_t n = 0;
        for (const auto& b : s.query<Book>().yield_per(0)) n += b != nullptr;
        CHECK(n == 6);
        for (const auto& b : s.query<Book>().where(ls::col<&Book::id> > 100).yield_per(10)) {
            (void)b;
            FAIL("no rows expected");
        }
        CHECK(counter.count() == 2);
    }
    SECTION("leaving the loop early: the session goes on, the statement ends with the stream") {
        {
            auto stream = s.query<Book>().order_by(ls::col<&Book::id>).yield_per(2);
            for (const auto& b : stream) {
                CHECK(b->id == 1);
                break;
            }
            CHECK(ids(s.query<Book>().where(ls::col<&Book::id> < 3).order_by(ls::col<&Book::id>).all()) ==
                  id_list{1, 2});
            CHECK(counter.count() == 1);  // the streamed SELECT is still open
        }
        CHECK(counter.count() == 2);
        CHECK(counter.statements()[1] == book_cols + " ORDER BY books.id");
        // The same SQL runs again from the start in a new stream.
        std::vector<std::int64_t> again;
        for (const auto& b : s.query<Book>().order_by(ls::col<&Book::id>).yield_per(2)) again.push_back(b->id);
        CHECK(again == id_list{1, 2, 3, 4, 5, 6});
    }
}

TEST_CASE("query builder: update() and remove()", "[query][update][remove]") {
    library lib;
    ls::statement_counter counter{lib.engine};
    {
        ls::session s{lib.engine};
        auto janes = s.query<Book>().where(ls::col<&Book::author_id> == 1).order_by(ls::col<&Book::id>).all();
        auto twist = s.get<Book>(4);
        counter.reset();

        const std::int64_t n = s.query<Book>()
                                   .where(ls::col<&Book::author_id> == 1 && ls::col<&Book::id> != 2)
                                   .update(ls::set<&Book::title>("Retitled"), ls::set<&Book::publisher_id>(std::nullopt));
        CHECK(n == 2);
        CHECK(counter.statements() ==
              std::vector<std::string>{"UPDATE books SET title = ?, publisher_id = ? WHERE (books.author_id = ? AND "
                                       "books.id != ?) RETURNING books.id"});
        // Objects of the identity map that matched carry the new values; the others are untouched.
        CHECK(janes[0]->title == "Retitled");
        CHECK_FALSE(janes[0]->publisher_id.has_value());
        CHECK(janes[1]->title == "Persuasion");
        CHECK(janes[2]->title == "Retitled");
        CHECK(twist->title == "Oliver Twist");
        CHECK(twist->publisher_id == 1);
        // Rows not loaded were updated too.
        CHECK(s.query<Book>().where(ls::col<&Book::title> == "Retitled").count() == 2);
        CHECK(s.query<Book>().update(ls::set<&Book::publisher_id>(2)) == 6);
        CHECK(twist->publisher_id == 2);
        CHECK(s.query<Book>().where(ls::col<&Book::id> > 100).update(ls::set<&Book::title>("none")) == 0);

        counter.reset();
        const std::int64_t removed = s.query<Book>().where(ls::col<&Book::author_id> == 2).remove();
        CHECK(removed == 2);
        CHECK(counter.statements() ==
              std::vector<std::string>{"DELETE FROM books WHERE books.author_id = ? RETURNING books.id"});
        // The deleted object left the identity map: get() asks the database, which has nothing.
        CHECK_FALSE(s.contains(twist));
        CHECK(s.get<Book>(4) == nullptr);
        CHECK(counter.count() == 2);
        CHECK(s.contains(janes[0]));
        CHECK(s.query<Book>().where(ls::col<&Book::id> > 100).remove() == 0);
        s.commit();
    }
    ls::session s{lib.engine};
    CHECK(s.query<Book>().columns<&Book::id, &Book::title, &Book::publisher_id>().order_by(ls::col<&Book::id>).all() ==
          std::vector<std::tuple<std::int64_t, std::string, std::optional<std::int64_t>>>{
              {1, "Retitled", 2}, {2, "Persuasion", 2}, {3, "Retitled", 2}, {6, "Agnes Grey", 2}});
    // remove() without a filter deletes every row.
    CHECK(s.query<Book>().remove() == 4);
    CHECK(s.query<Book>().count() == 0);
}

TEST_CASE("query builder: keyset pagination", "[query][keyset]") {
    library lib;
    ls::session s{lib.engine};
    ls::statement_counter counter{lib.engine};
    std::vector<id_list> pages;
    std::int64_t last = 0;
    for (;;) {
        auto page = s.query<Book>().where(ls::col<&Book::id> > last).order_by(ls::col<&Book::id>).limit(4).all();
        if (page.empty()) break;
        pages.push_back(ids(page));
        last = page.back()->id;
    }
    CHECK(pages == std::vector<id_list>{{1, 2, 3, 4}, {5, 6}});
    CHECK(counter.statements() == std::vector<std::string>(3, book_cols + " WHERE books.id > ? ORDER BY books.id LIMIT ?"));

    // Descending, on a (author_id, id) key.
    pages.clear();
    std::int64_t last_author = 1000, last_id = 1000;
    for (;;) {
        constexpr auto a = ls::col<&Book::author_id>;
        constexpr auto i = ls::col<&Book::id>;
        auto page = s.query<Book>()
                        .where(a < last_author || (a == last_author && i < last_id))
                        .order_by(a.desc(), i.desc())
                        .limit(2)
                        .all();
        if (page.empty()) break;
        pages.push_back(ids(page));
        last_author = page.back()->author_id;
        last_id = page.back()->id;
    }
    CHECK(pages == std::vector<id_list>{{6, 5}, {4, 3}, {2, 1}});
}

TEST_CASE("query builder: get() and the identity map", "[query][get][identity]") {
    library lib;
    ls::session s{lib.engine};
    ls::statement_counter counter{lib.engine};

    auto jane = s.get<Author>(1);
    REQUIRE(jane);
    CHECK(jane->name == "Jane Austen");
    CHECK(counter.statements() == std::vector<std::string>{author_cols + " WHERE authors.id = ? LIMIT ?"});
    // A hit costs no SQL and is the same object, whatever the key's integer type.
    CHECK(s.get<Author>(std::int64_t{1}) == jane);
    CHECK(s.get<Author>(1u) == jane);
    CHECK(counter.count() == 1);
    // Every query returning that row returns that object.
    auto all = s.query<Author>().order_by(ls::col<&Author::id>).all();
    CHECK(all[0] == jane);
    CHECK(s.query<Author>().where(ls::col<&Author::name> == "Jane Austen").one() == jane);
    CHECK(s.query<Author>().order_by(ls::col<&Author::id>).first() == jane);
    // An object already in the map is not overwritten by a later read (unflushed changes are kept)...
    jane->name = "J. Austen";
    CHECK(s.query<Author>().where(ls::col<&Author::id> == 1).one()->name == "J. Austen");
    // ...unless populate_existing() is asked for.
    CHECK(s.query<Author>().where(ls::col<&Author::id> == 1).populate_existing().one()->name == "Jane Austen");
    CHECK(jane->name == "Jane Austen");
    // Objects loaded by one query are hits for get().
    counter.reset();
    CHECK(s.get<Author>(4) == all[3]);
    CHECK(counter.count() == 0);
    // A missing key is nullptr, and asks again each time.
    CHECK(s.get<Author>(99) == nullptr);
    CHECK(s.get<Author>(99) == nullptr);
    CHECK(counter.count() == 2);

    // untracked(): new objects, not in the identity map.
    auto loose = s.query<Author>().where(ls::col<&Author::id> == 1).untracked().one();
    CHECK(loose != jane);
    CHECK(loose->name == "Jane Austen");
    CHECK_FALSE(s.contains(loose));
    CHECK(s.contains(jane));

    // Another session has its own identity map.
    ls::session other{lib.engine};
    auto jane2 = other.get<Author>(1);
    CHECK(jane2 != jane);
    CHECK(jane2->id == 1);
    // expunge_all() empties it: the next get() reads again and makes a new object.
    s.expunge_all();
    counter.reset();
    auto jane3 = s.get<Author>(1);
    CHECK(jane3 != jane);
    CHECK(counter.count() == 1);
}

TEST_CASE("query builder: values are always bound, never spliced into SQL", "[query][bind]") {
    library lib;
    ls::session s{lib.engine};
    std::vector<std::pair<std::string, std::vector<ls::value>>> seen;
    const auto id = lib.engine.on_statement([&](const ls::statement_event& ev) {
        if (ev.counted) seen.emplace_back(std::string(ev.sql), std::vector<ls::value>(ev.params.begin(), ev.params.end()));
    });
    const std::string evil = "Zebulon' OR '1'='1";
    (void)s.query<Author>().where(ls::col<&Author::name> == evil).all();
    (void)s.query<Author>().where(ls::col<&Author::name>.like(evil)).count();
    (void)s.query<Author>().where(ls::col<&Author::name>.in(std::vector<std::string>{evil, "x"})).exists();
    (void)s.query<Author>().where(ls::col<&Author::name>.between(evil, "zz")).first();
    (void)s.query<Author>().where(ls::col<&Author::id> == 123456).columns<&Author::name>().all();
    (void)s.query<Book>().columns(ls::col<&Book::author_id>, ls::count()).group_by(ls::col<&Book::author_id>)
        .having(ls::count() > 987654).all();
    (void)s.query<Author>().where(ls::col<&Author::id> == 424242).update(ls::set<&Author::name>(evil));
    (void)s.query<Author>().where(ls::col<&Author::name> == evil).remove();
    (void)s.query<Author>().limit(777777).offset(888888).all();
    auto a = std::make_shared<Author>();
    a->name = evil;
    a->email = "Zebulon@example.org";
    s.add(a);
    s.flush();
    lib.engine.remove_listener(id);

    REQUIRE(seen.size() == 10);
    for (const auto& [sql, params] : seen) {
        INFO(sql);
        CHECK(sql.find("Zebulon") == std::string::npos);
        CHECK(sql.find('\'') == std::string::npos);
        for (const char* n : {"123456", "987654", "424242", "777777", "888888"}) CHECK(sql.find(n) == std::string::npos);
        CHECK(static_cast<std::size_t>(std::count(sql.begin(), sql.end(), '?')) == params.size());
        CHECK_FALSE(params.empty());
    }
    CHECK(seen[0].second == std::vector<ls::value>{evil});
    CHECK(seen[2].second == std::vector<ls::value>{evil, std::string("x")});
    CHECK(seen[4].second == std::vector<ls::value>{std::int64_t{123456}});
    CHECK(seen[8].second == std::vector<ls::value>{std::int64_t{777777}, std::int64_t{888888}});
    CHECK(seen[9].second == std::vector<ls::value>{evil, std::string("Zebulon@example.org")});
    // The evil name was stored as text, byte for byte.
    CHECK(s.query<Author>().where(ls::col<&Author::name> == evil).one() == a);
}
