// tests/query/typed_test.cpp - typed views: the plan in the type. What the plan loads reads
// through get<>() with no further statement; the views are the untyped query's objects (same
// addresses); every way of loading counts (joined, selectin, subquery, contains_eager, default
// loaders, nesting, session::load, allow_lazy); yield_per, first, one and get come typed too.
// What the plan does not load is a compile error: tests/compile_fail/typed_*.cpp.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>

#include "support/fixture.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <type_traits>
#include <vector>

using namespace model;
using ls::col;

namespace typed_test {
// Authors again, with a deferred column and a default eager loader on the collection.
struct Book;
struct Author {
    std::int64_t id{};
    ls::deferred<std::string> name;
    std::optional<std::string> email;
    ls::many<Book> books;
};
struct Book {
    std::int64_t id{};
    std::string title;
    std::int64_t author_id{};
    ls::one<Author> author;
};
}  // namespace typed_test
template <>
struct loadstar::mapping<typed_test::Author> {
    using A = typed_test::Author;
    static constexpr auto table = ls::table("authors", ls::column<&A::id>("id", ls::primary_key),
                                            ls::column<&A::name>("name"), ls::column<&A::email>("email"),
                                            ls::has_many<&A::books>(&typed_test::Book::author_id,
                                                                    ls::default_loader<ls::strategy::selectin>));
};
template <>
struct loadstar::mapping<typed_test::Book> {
    using B = typed_test::Book;
    static constexpr auto table = ls::table("books", ls::column<&B::id>("id", ls::primary_key),
                                            ls::column<&B::title>("title"), ls::column<&B::author_id>("author_id"),
                                            ls::belongs_to<&B::author>(&B::author_id));
};

namespace typed_test {
// Two collections of one parent, for the cartesian-product check.
struct Pet;
struct Car;
struct Person {
    std::int64_t id{};
    std::string name;
    ls::many<Pet> pets;
    ls::many<Car> cars;
};
struct Pet {
    std::int64_t id{};
    std::string name;
    std::int64_t person_id{};
};
struct Car {
    std::int64_t id{};
    std::string name;
    std::int64_t person_id{};
};
}  // namespace typed_test
template <>
struct loadstar::mapping<typed_test::Person> {
    using P = typed_test::Person;
    static constexpr auto table = ls::table("typed_people", ls::column<&P::id>("id", ls::primary_key),
                                            ls::column<&P::name>("name"),
                                            ls::has_many<&P::pets>(&typed_test::Pet::person_id),
                                            ls::has_many<&P::cars>(&typed_test::Car::person_id));
};
template <>
struct loadstar::mapping<typed_test::Pet> {
    using T = typed_test::Pet;
    static constexpr auto table = ls::table("typed_pets", ls::column<&T::id>("id", ls::primary_key),
                                            ls::column<&T::name>("name"), ls::column<&T::person_id>("person_id"));
};
template <>
struct loadstar::mapping<typed_test::Car> {
    using T = typed_test::Car;
    static constexpr auto table = ls::table("typed_cars", ls::column<&T::id>("id", ls::primary_key),
                                            ls::column<&T::name>("name"), ls::column<&T::person_id>("person_id"));
};

namespace typed_test {
/// "Author: title, title | Author: ..." walking the plan Author.books.publisher.
template <class Results>
std::string walk_books(const Results& authors) {
    std::string out;
    for (auto a : authors) {
        out += a->name + ":";
        for (auto b : a.template get<&model::Author::books>()) {
            out += " " + b->title;
            if (auto p = b.template get<&model::Book::publisher>()) out += " (" + p->name + ")";
        }
        out += " |";
    }
    return out;
}
const std::string expected_books =
    "Jane Austen: Pride and Prejudice (T. Egerton) Sense and Sensibility |Charles Dickens: Oliver Twist (Richard "
    "Bentley) |Anne Nobody: |";
}  // namespace typed_test
using namespace typed_test;

TEST_CASE("typed: what the plan loads reads with no statement, for every eager strategy", "[typed]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    auto base = s.query<model::Author>().order_by(col<&model::Author::id>);
    SECTION("selectin, then joined") {
        auto authors =
            base.options(ls::selectinload<&model::Author::books>.then(ls::joinedload<&model::Book::publisher>))
                .typed()
                .all();
        CHECK(c.count() == 2);
        CHECK(walk_books(authors) == expected_books);
        CHECK(c.count() == 2);
    }
    SECTION("joined, then selectin") {
        auto authors =
            base.options(ls::joinedload<&model::Author::books>.then(ls::selectinload<&model::Book::publisher>))
                .typed()
                .all();
        CHECK(c.count() == 2);
        CHECK(walk_books(authors) == expected_books);
        CHECK(c.count() == 2);
    }
    SECTION("subquery, then subquery") {
        auto authors =
            base.options(ls::subqueryload<&model::Author::books>.then(ls::subqueryload<&model::Book::publisher>))
                .typed()
                .all();
        CHECK(walk_books(authors) == expected_books);
        CHECK(c.count() == 3);
    }
    SECTION("under raiseload_all, only what is named") {
        auto authors = base.options(ls::raiseload_all,
                                    ls::selectinload<&model::Author::books>.then(ls::joinedload<&model::Book::publisher>))
                           .typed()
                           .all();
        CHECK(walk_books(authors) == expected_books);
        CHECK(c.count() == 2);
    }
}

TEST_CASE("typed: views are the untyped query's objects, at the same addresses", "[typed]") {
    fixture f;
    ls::session s{f.engine};
    auto q = s.query<model::Author>().order_by(col<&model::Author::id>).options(ls::selectinload<&model::Author::books>);
    auto plain = q.all();
    auto typed = q.typed().all();
    REQUIRE(typed.size() == plain.size());
    for (std::size_t i = 0; i < plain.size(); ++i) {
        CHECK(typed[i].object() == plain[i]);
        CHECK(&*typed[i] == plain[i].get());
        ls::ptr<model::Author> back = typed[i];  // converts to the plain pointer
        CHECK(back == plain[i]);
        auto books = typed[i].get<&model::Author::books>();
        REQUIRE(books.size() == plain[i]->books.size());
        for (std::size_t j = 0; j < books.size(); ++j) CHECK(books[j].object() == plain[i]->books[j]);
    }
    // A view is one pointer; a to-one view holds the target's ls::ptr.
    static_assert(sizeof(decltype(typed[0])) == sizeof(void*));
    static_assert(sizeof(decltype(typed[0].get<&model::Author::books>()[0])) == sizeof(void*));
    CHECK(typed.objects() == plain);
}

TEST_CASE("typed: an object already in the identity map still gets what the plan loads", "[typed]") {
    fixture f;
    ls::session s{f.engine};
    auto jane = s.get<model::Author>(std::int64_t{1});  // books not loaded
    REQUIRE_FALSE(jane->books.loaded());
    ls::statement_counter c{f.engine};
    auto authors = s.query<model::Author>().options(ls::selectinload<&model::Author::books>).typed().all();
    CHECK(c.count() == 2);
    std::size_t books = 0;
    for (auto a : authors) books += a.get<&model::Author::books>().size();
    CHECK(books == 3);
    CHECK(c.count() == 2);  // no lazy load: Jane's books came with the selectin load
}

TEST_CASE("typed: contains_eager, default loaders and deferred columns", "[typed]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    SECTION("contains_eager fills from the explicit join") {
        auto q = s.query<model::Author>();
        auto authors = q.join<&model::Author::books>()
                           .where(col<&model::Book::title> == "Oliver Twist")
                           .options(ls::contains_eager<&model::Author::books>)
                           .typed()
                           .all();
        REQUIRE(authors.size() == 1);
        auto books = authors[0].get<&model::Author::books>();
        REQUIRE(books.size() == 1);
        CHECK(books[0]->title == "Oliver Twist");
        CHECK(c.count() == 1);
    }
    SECTION("the mapping's default loader counts, and a loaded deferred column reads") {
        auto authors = s.query<typed_test::Author>().order_by(col<&typed_test::Author::id>).typed().all();
        REQUIRE(authors.size() == 3);
        CHECK(authors[0].get<&typed_test::Author::name>() == "Jane Austen");  // deferred<T>, loaded
        CHECK(authors[0].get<&typed_test::Author::books>().size() == 2);      // default_loader<selectin>
        CHECK(c.count() == 2);
    }
    SECTION("allow_lazy admits a deferred column the plan leaves out: it loads on read") {
        auto a = s.query<typed_test::Author>()
                     .where(col<&typed_test::Author::id> == 2)
                     .options(ls::defer<&typed_test::Author::name>)
                     .typed(ls::allow_lazy<&typed_test::Author::name>)
                     .one();
        CHECK(c.count() == 2);  // the author, its default selectin load of books
        CHECK(a.get<&typed_test::Author::name>() == "Charles Dickens");
        CHECK(c.count() == 3);
        CHECK(c.statements()[2] == "SELECT name FROM authors WHERE id = ?");
    }
}

TEST_CASE("typed: allow_lazy and session::load admit a lazy relationship", "[typed]") {
    fixture f;
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    SECTION("allow_lazy: the program accepts a statement per touch") {
        auto authors = s.query<model::Author>()
                           .order_by(col<&model::Author::id>)
                           .typed(ls::allow_lazy<&model::Author::profile>)
                           .all();
        CHECK(c.count() == 1);
        auto p = authors[0].get<&model::Author::profile>();
        REQUIRE(p);
        CHECK(p->bio == "Hampshire");
        CHECK(c.count() == 2);
    }
    SECTION("session::load returns views whose plan has the relationship") {
        auto authors = s.query<model::Author>().order_by(col<&model::Author::id>).typed().all();
        auto loaded = s.load<&model::Author::books>(authors);
        CHECK(c.count() == 4);  // the authors, then what touching each author's books would load
        std::vector<std::string> titles;
        for (auto a : loaded)
            for (auto b : a.get<&model::Author::books>()) titles.push_back(b->title);
        CHECK(titles == std::vector<std::string>{"Pride and Prejudice", "Sense and Sensibility", "Oliver Twist"});
        CHECK(loaded.objects() == authors.objects());
    }
}

TEST_CASE("typed: first, one, get and yield_per", "[typed]") {
    fixture f;
    ls::session s{f.engine};
    auto q = s.query<model::Author>().order_by(col<&model::Author::id>).options(ls::selectinload<&model::Author::books>);
    auto first = q.typed().first();
    REQUIRE(first);
    CHECK(first->name == "Jane Austen");
    CHECK(first.get<&model::Author::books>().size() == 2);
    CHECK_FALSE(s.query<model::Author>().where(col<&model::Author::id> == 99).typed().first());
    CHECK(q.typed().get(2)->name == "Charles Dickens");
    CHECK_FALSE(q.typed().get(99));
    CHECK(s.query<model::Author>().where(col<&model::Author::id> == 3).typed().one()->name == "Anne Nobody");

    ls::session fresh{f.engine};  // (s has the books of authors 1 and 2 loaded by now)
    ls::statement_counter c{f.engine};
    std::size_t books = 0, authors = 0;
    auto stream = fresh.query<model::Author>()
                      .order_by(col<&model::Author::id>)
                      .options(ls::selectinload<&model::Author::books>)
                      .typed()
                      .yield_per(2);
    for (auto a : stream) {
        ++authors;
        books += a.get<&model::Author::books>().size();
    }
    CHECK(authors == 3);
    CHECK(books == 3);
    CHECK(c.count() == 3);  // the authors, one selectin load per batch of two
}

TEST_CASE("typed: two joined collections at one level need allow_cartesian", "[typed]") {
    auto e = model::test_engine();
    ls::create_all<typed_test::Person, typed_test::Pet, typed_test::Car>(e);
    ls::session s{e};
    auto ada = std::make_shared<Person>(Person{.name = "Ada"});
    ada->pets.push_back(std::make_shared<Pet>(Pet{.name = "Rex"}));
    ada->pets.push_back(std::make_shared<Pet>(Pet{.name = "Tom"}));
    ada->cars.push_back(std::make_shared<Car>(Car{.name = "Zoe"}));
    ada->cars.push_back(std::make_shared<Car>(Car{.name = "Kit"}));
    ada->cars.push_back(std::make_shared<Car>(Car{.name = "Ivy"}));
    s.add(ada);
    s.commit();
    s.expunge_all();
    ls::statement_counter c{e};
    // Without allow_cartesian this does not compile (tests/compile_fail/typed_cartesian.cpp):
    // one statement, but 2 x 3 rows for Ada.
    auto people = s.query<Person>()
                      .options(ls::joinedload<&Person::pets>, ls::joinedload<&Person::cars>)
                      .typed(ls::allow_cartesian)
                      .all();
    REQUIRE(people.size() == 1);
    CHECK(people[0].get<&Person::pets>().size() == 2);
    CHECK(people[0].get<&Person::cars>().size() == 3);
    CHECK(c.count() == 1);
}
