// tests/session/graph_test.cpp - object graphs the unit of work must get right (issue 11):
// has_one with cascade_delete, bulk_insert of key-only rows, holder moves.
// SPDX-License-Identifier: MIT
#include "support/alloc_faults.hpp"
#include "support/backend.hpp"
#include "support/model.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace graph {
struct Passport;
struct Person {
    std::int64_t id{};
    std::string name;
    ls::one<Passport> passport;
};
struct Passport {
    std::int64_t id{};
    std::int64_t person_id{};
    std::string number;
    ls::one<Person> person;
};
/// Nothing but a generated key.
struct Ticket {
    std::int64_t id{};
};
}  // namespace graph

template <>
struct loadstar::mapping<graph::Person> {
    using P = graph::Person;
    static constexpr auto table = ls::table("persons",
        ls::column<&P::id>("id", ls::primary_key),
        ls::column<&P::name>("name"),
        ls::has_one<&P::passport>(&graph::Passport::person_id, ls::back_populates<&graph::Passport::person>,
                                  ls::cascade_delete));
};
template <>
struct loadstar::mapping<graph::Passport> {
    using P = graph::Passport;
    static constexpr auto table = ls::table("passports",
        ls::column<&P::id>("id", ls::primary_key),
        ls::column<&P::person_id>("person_id", ls::unique, ls::foreign_key<&graph::Person::id>),
        ls::column<&P::number>("number"),
        ls::belongs_to<&P::person>(&P::person_id, ls::back_populates<&graph::Person::passport>));
};
template <>
struct loadstar::mapping<graph::Ticket> {
    static constexpr auto table = ls::table("tickets", ls::column<&graph::Ticket::id>("id", ls::primary_key));
};

using graph::Passport;
using graph::Person;
using graph::Ticket;

namespace {
std::vector<std::string> counted_writes(const ls::statement_counter& c) {
    std::vector<std::string> out;
    for (auto& s : c.statements())
        if (s.rfind("SELECT", 0) != 0) out.push_back(s);
    return out;
}
}  // namespace

TEST_CASE("graph: has_one with cascade_delete deletes the owned object with its owner", "[session][uow][cascade]") {
    auto e = model::test_engine();
    ls::create_all<Person, Passport>(e);
    {
        ls::session s{e};
        for (int i = 1; i <= 2; ++i) {
            auto p = std::make_shared<Person>(Person{.name = "p" + std::to_string(i)});
            p->passport = std::make_shared<Passport>(Passport{.number = "N" + std::to_string(i)});
            s.add(p);
        }
        s.commit();
    }
    ls::statement_counter c{e};
    {
        // Not loaded: the delete loads it (one SELECT), deletes it, then the owner.
        ls::session s{e};
        auto p = s.query<Person>().where(ls::col<&Person::name> == "p1").one();
        c.reset();
        s.remove(p);
        s.commit();
        CHECK(c.statements() == std::vector<std::string>{
                                    "SELECT passports.id, passports.person_id, passports.number FROM passports "
                                    "WHERE passports.person_id = ?",
                                    "DELETE FROM passports WHERE id = ?",
                                    "DELETE FROM persons WHERE id = ?"});
    }
    {
        // Loaded: no SELECT.
        ls::session s{e};
        auto p = s.query<Person>().where(ls::col<&Person::name> == "p2").one();
        auto pass = p->passport.get();
        REQUIRE(pass);
        c.reset();
        s.remove(p);
        s.commit();
        CHECK(counted_writes(c) ==
              std::vector<std::string>{"DELETE FROM passports WHERE id = ?", "DELETE FROM persons WHERE id = ?"});
        CHECK(c.count() == 2);
        CHECK(s.state(pass) == ls::object_state::detached);
    }
    ls::session s{e};
    CHECK(s.query<Person>().count() == 0);
    CHECK(s.query<Passport>().count() == 0);
}

TEST_CASE("graph: bulk_insert of an entity with only a generated key", "[session][uow][bulk]") {
    auto e = model::test_engine();
    ls::create_all<Ticket>(e);
    ls::statement_counter c{e};
    ls::session s{e};
    std::vector<Ticket> rows(3);
    CHECK(s.bulk_insert(rows) == 3);
    CHECK(c.statements() == std::vector<std::string>(3, "INSERT INTO tickets DEFAULT VALUES"));
    // With explicit keys the key is the one column (a VALUES list, or COPY on PostgreSQL).
    std::vector<Ticket> keyed{Ticket{.id = 100}, Ticket{.id = 101}};
    CHECK(s.bulk_insert(keyed) == 2);
    s.commit();
    ls::session check{e};
    auto all = check.query<Ticket>().order_by(ls::col<&Ticket::id>).all();
    REQUIRE(all.size() == 5);
    CHECK(all[0]->id == 1);
    CHECK(all[2]->id == 3);
    CHECK(all[3]->id == 100);
    CHECK(all[4]->id == 101);
}

TEST_CASE("graph: holder moves neither copy nor allocate, and move-assignment may throw instead of terminating",
          "[session][holders][nodb]") {
    static_assert(std::is_nothrow_move_constructible_v<ls::many<model::Tag>>);
    static_assert(std::is_nothrow_move_constructible_v<ls::one<model::Author>>);
    static_assert(std::is_nothrow_move_constructible_v<model::Book>);
    // Move-assignment of a bound holder loads and records the original: it may throw.
    static_assert(!std::is_nothrow_move_assignable_v<ls::many<model::Tag>>);

    const bool counting = alloc_faults::available();  // not under AddressSanitizer
    ls::many<model::Tag> tags;
    for (int i = 0; i < 100; ++i) tags.push_back(std::make_shared<model::Tag>(model::Tag{.id = i}));
    const auto* first = tags[0].get();
    long before = alloc_faults::allocations();
    ls::many<model::Tag> moved(std::move(tags));
    CHECK((!counting || alloc_faults::allocations() == before));
    CHECK(moved.size() == 100);
    CHECK(moved[0].get() == first);
    CHECK(tags.size() == 0);  // NOLINT(bugprone-use-after-move): an unbound source is emptied
    ls::many<model::Tag> assigned;
    before = alloc_faults::allocations();
    assigned = std::move(moved);
    CHECK((!counting || alloc_faults::allocations() == before));
    CHECK(assigned.size() == 100);

    // Growing a vector of entities moves their collections.
    std::vector<model::Book> books(8);
    for (auto& b : books)
        for (int i = 0; i < 10; ++i) b.tags.push_back(std::make_shared<model::Tag>(model::Tag{.id = i}));
    before = alloc_faults::allocations();
    books.reserve(64);
    CHECK((!counting || alloc_faults::allocations() == before + 1));  // the new buffer, nothing else
    CHECK(books[7].tags.size() == 10);

    ls::one<model::Author> a = std::make_shared<model::Author>(model::Author{.id = 1});
    ls::one<model::Author> b(std::move(a));
    CHECK(b.get()->id == 1);
    CHECK(!a);  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("graph: move-assigning into an unloaded raise-mode holder throws raise_load_error", "[session][holders]") {
    auto e = model::test_engine();
    model::create_schema(e);
    {
        ls::session s{e};
        auto jane = std::make_shared<model::Author>(model::Author{.name = "Jane"});
        jane->books.push_back(std::make_shared<model::Book>(model::Book{.title = "Emma"}));
        s.add(jane);
        s.commit();
    }
    ls::session s{e};
    auto jane = s.query<model::Author>().options(ls::raiseload_all).one();
    ls::many<model::Book> replacement;
    replacement.push_back(std::make_shared<model::Book>(model::Book{.title = "Persuasion"}));
    CHECK_THROWS_AS(jane->books = std::move(replacement), ls::raise_load_error);
    CHECK(replacement.size() == 1);  // nothing was taken
    ls::session s2{e};
    auto book = s2.query<model::Book>().options(ls::raiseload_all).one();
    CHECK_THROWS_AS(book->author = ls::one<model::Author>(nullptr), ls::raise_load_error);
    CHECK(book->author_id == jane->id);
}

TEST_CASE("graph: removing a child from a collection without delete-orphan writes its key NULL", "[session][uow]") {
    auto e = model::test_engine();
    model::create_schema(e);
    std::int64_t jane_id = 0, charles_id = 0;
    {
        ls::session s{e};
        auto jane = std::make_shared<model::Author>(model::Author{.name = "Jane"});
        jane->books.push_back(std::make_shared<model::Book>(model::Book{.title = "Emma"}));
        jane->books.push_back(std::make_shared<model::Book>(model::Book{.title = "Persuasion"}));
        auto charles = std::make_shared<model::Author>(model::Author{.name = "Charles"});
        s.add(jane);
        s.add(charles);
        s.commit();
        jane_id = jane->id;
        charles_id = charles->id;
    }
    auto author_of = [&](const std::string& title) {
        ls::session s{e};
        return s.query<model::Book>().where(ls::col<&model::Book::title> == title).one()->author_id;
    };
    {
        // Book.author_id is NOT NULL: the database refuses the NULL, the flush is undone.
        ls::session s{e};
        auto jane = s.get<model::Author>(jane_id);
        auto emma = jane->books[0];
        REQUIRE(emma->title == "Emma");
        ls::statement_counter c{e};
        jane->books.erase(jane->books.begin());
        try {
            s.commit();
            FAIL("the removal was dropped silently");
        } catch (const ls::integrity_error& err) {
            CHECK(err.table() == "books");
            CHECK(err.column() == "author_id");
        }
        CHECK(c.statements() == std::vector<std::string>{"UPDATE books SET author_id = NULL WHERE id = ?"});
        CHECK(emma->author_id == jane_id);
        CHECK(s.state(emma) == ls::object_state::persistent);
        // Put back, nothing is left to write.
        jane->books.push_back(emma);
        c.reset();
        s.commit();
        CHECK(c.count() == 0);
        CHECK(author_of("Emma") == jane_id);
    }
    {
        // Moved to another parent in the same flush: no NULL, one UPDATE to the new parent.
        ls::session s{e};
        auto jane = s.get<model::Author>(jane_id);
        auto charles = s.get<model::Author>(charles_id);
        (void)charles->books.size();
        auto emma = jane->books[0];
        ls::statement_counter c{e};
        jane->books.erase(jane->books.begin());
        charles->books.push_back(emma);
        s.commit();
        CHECK(c.statements() == std::vector<std::string>{"UPDATE books SET author_id = ? WHERE id = ?"});
        CHECK(author_of("Emma") == charles_id);
        CHECK(author_of("Persuasion") == jane_id);
    }
}

namespace graph {
struct Post;
struct Comment;
struct User {
    std::int64_t id{};
    std::string name;
    ls::many<Post> posts;
    ls::many<Comment> comments;
};
struct Post {
    std::int64_t id{};
    std::int64_t user_id{};
    std::string title;
    ls::one<User> user;
    ls::many<Comment> comments;
};
struct Comment {
    std::int64_t id{};
    std::int64_t user_id{};
    std::int64_t post_id{};
    std::string body;
};
}  // namespace graph
template <>
struct loadstar::mapping<graph::User> {
    using U = graph::User;
    static constexpr auto table = ls::table("users",
        ls::column<&U::id>("id", ls::primary_key),
        ls::column<&U::name>("name"),
        ls::has_many<&U::posts>(&graph::Post::user_id, ls::back_populates<&graph::Post::user>),
        ls::has_many<&U::comments>(&graph::Comment::user_id));
};
template <>
struct loadstar::mapping<graph::Post> {
    using P = graph::Post;
    static constexpr auto table = ls::table("posts",
        ls::column<&P::id>("id", ls::primary_key),
        ls::column<&P::user_id>("user_id", ls::foreign_key<&graph::User::id>),
        ls::column<&P::title>("title"),
        ls::belongs_to<&P::user>(&P::user_id, ls::back_populates<&graph::User::posts>),
        ls::has_many<&P::comments>(&graph::Comment::post_id));
};
template <>
struct loadstar::mapping<graph::Comment> {
    using C = graph::Comment;
    static constexpr auto table = ls::table("comments",
        ls::column<&C::id>("id", ls::primary_key),
        ls::column<&C::user_id>("user_id", ls::foreign_key<&graph::User::id>),
        ls::column<&C::post_id>("post_id", ls::foreign_key<&graph::Post::id>),
        ls::column<&C::body>("body"));
};

TEST_CASE("graph: a child of two new parents carries both keys when it is inserted", "[session][uow]") {
    using graph::Comment;
    using graph::Post;
    using graph::User;
    auto e = model::test_engine();
    ls::create_all<User, Post, Comment>(e);
    ls::statement_counter counter{e};
    ls::session s{e};
    auto u = std::make_shared<User>(User{.name = "u"});
    auto p = std::make_shared<Post>(Post{.title = "p"});
    auto c = std::make_shared<Comment>(Comment{.body = "c"});
    u->posts.push_back(p);
    p->comments.push_back(c);
    u->comments.push_back(c);
    s.add(u);
    s.commit();
    CHECK(counter.statements() == std::vector<std::string>{
                                      "INSERT INTO users (name) VALUES (?) RETURNING id",
                                      "INSERT INTO posts (user_id, title) VALUES (?, ?) RETURNING id",
                                      "INSERT INTO comments (user_id, post_id, body) VALUES (?, ?, ?) RETURNING id"});
    CHECK(c->user_id == u->id);
    CHECK(c->post_id == p->id);
    ls::session check{e};
    auto row = check.query<Comment>().one();
    CHECK(row->user_id == u->id);
    CHECK(row->post_id == p->id);
    CHECK(check.query<Post>().one()->user_id == u->id);
}
