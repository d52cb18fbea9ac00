// tests/session/unit_of_work_test.cpp - states, dirty tracking, flush order, cascades,
// transactions, savepoints, optimistic locking, bulk insert.
// SPDX-License-Identifier: MIT
#include "support/fixture.hpp"
#include "support/uow_model.hpp"

#include <catch2/catch.hpp>

using namespace model;
using ls::col;

namespace {
std::vector<std::string> writes(const ls::statement_counter& c) {
    std::vector<std::string> out;
    for (auto& s : c.statements())
        if (s.rfind("SELECT", 0) != 0) out.push_back(s);
    return out;
}
struct uow_fixture {
    ls::engine engine = test_engine();
    uow_fixture() { uow::create_schema(engine); }
};
}  // namespace

TEST_CASE("the seeds' example: authors and books added through relationships", "[session][uow]") {
    ls::engine engine = test_engine();
    create_schema(engine);
    ls::statement_counter c{engine};
    {
        ls::session s{engine};
        auto jane = std::make_shared<Author>(Author{.name = "Jane Austen"});
        auto charles = std::make_shared<Author>(Author{.name = "Charles Dickens"});
        auto pp = std::make_shared<Book>(Book{.title = "Pride and Prejudice"});
        auto ss = std::make_shared<Book>(Book{.title = "Sense and Sensibility"});
        auto ot = std::make_shared<Book>(Book{.title = "Oliver Twist"});
        jane->books.push_back(pp);
        jane->books.push_back(ss);
        ot->author = charles;  // from the other side
        REQUIRE(s.state(jane) == ls::object_state::transient);
        s.add(jane);
        s.add(ot);
        REQUIRE(s.state(jane) == ls::object_state::pending);
        s.commit();
        REQUIRE(s.state(jane) == ls::object_state::persistent);
        REQUIRE(jane->id != 0);
        REQUIRE(pp->author_id == jane->id);
        REQUIRE(pp->author.get() == jane);  // back_populates
        REQUIRE(ot->author_id == charles->id);
        REQUIRE(s.contains(charles));  // reached through ot->author
    }
    REQUIRE(writes(c) == std::vector<std::string>{
                             "INSERT INTO authors (name, email) VALUES (?, ?) RETURNING id",
                             "INSERT INTO books (title, author_id, publisher_id) VALUES (?, ?, ?) RETURNING id",
                             "INSERT INTO books (title, author_id, publisher_id) VALUES (?, ?, ?) RETURNING id",
                             "INSERT INTO authors (name, email) VALUES (?, ?) RETURNING id",
                             "INSERT INTO books (title, author_id, publisher_id) VALUES (?, ?, ?) RETURNING id"});
    ls::session s{engine};
    auto rows = s.query<Book>().order_by(col<&Book::id>).columns<&Book::title, &Book::author_id>().all();
    REQUIRE(rows == std::vector<std::tuple<std::string, std::int64_t>>{
                        {"Pride and Prejudice", 1}, {"Sense and Sensibility", 1}, {"Oliver Twist", 2}});
}

TEST_CASE("dirty tracking: one UPDATE with the changed columns only, nothing when unchanged", "[session][uow]") {
    fixture f;
    ls::session s{f.engine};
    auto jane = s.get<Author>(1);
    std::vector<std::string> events;
    auto id = f.engine.on_statement([&](const ls::statement_event& e) { events.emplace_back(e.sql); });
    s.flush();
    REQUIRE(events.empty());  // nothing changed: not even a SAVEPOINT
    jane->name = "Jane Austen (1775)";
    s.flush();
    f.engine.remove_listener(id);
    REQUIRE(events == std::vector<std::string>{"SAVEPOINT loadstar_sp_1", "UPDATE authors SET name = ? WHERE id = ?",
                                               "RELEASE SAVEPOINT loadstar_sp_1"});
    ls::statement_counter c{f.engine};
    s.flush();  // the snapshot moved with the flush
    REQUIRE(c.count() == 0);
    s.commit();
    ls::session s2{f.engine};
    REQUIRE(s2.get<Author>(1)->name == "Jane Austen (1775)");
}

TEST_CASE("relationship changes of persistent objects: adopt, orphan, many-to-many", "[session][uow]") {
    fixture f;
    ls::session s{f.engine};
    auto jane = s.get<Author>(1);
    auto charles = s.get<Author>(2);
    auto emma = std::make_shared<Book>(Book{.title = "Emma"});
    jane->books.push_back(emma);
    REQUIRE(emma->author.get() == jane);  // back_populates, in memory, at once
    auto ot = charles->books[0];
    jane->books.push_back(ot);  // moves Oliver Twist to Jane
    ls::statement_counter c{f.engine};
    s.flush();
    REQUIRE(emma->id != 0);
    REQUIRE(emma->author_id == 1);
    REQUIRE(ot->author_id == 1);
    CHECK(writes(c) == std::vector<std::string>{
                           "INSERT INTO books (title, author_id, publisher_id) VALUES (?, ?, ?) RETURNING id",
                           "UPDATE books SET author_id = ? WHERE id = ?"});
    // many-to-many: association rows follow the collection
    auto pp = s.get<Book>(1);
    auto romance = s.get<Tag>(1);
    auto fresh = std::make_shared<Tag>(Tag{.label = "classic"});
    pp->tags.remove(romance);
    pp->tags.push_back(fresh);
    c.reset();
    s.commit();
    CHECK(writes(c) == std::vector<std::string>{"INSERT INTO tags (label) VALUES (?) RETURNING id",
                                                "INSERT INTO book_tags (book_id, tag_id) VALUES (?, ?)",
                                                "DELETE FROM book_tags WHERE book_id = ? AND tag_id = ?"});
    ls::session s2{f.engine};
    REQUIRE(sorted_ids(s2.get<Book>(1)->tags) == std::vector<std::int64_t>{2, fresh->id});
    // a nullable foreign key: removing from the collection sets it NULL
    auto boss = s2.get<Employee>(1);
    auto ann = s2.get<Employee>(2);
    boss->reports.remove(ann);
    s2.commit();
    ls::session s3{f.engine};
    REQUIRE_FALSE(s3.get<Employee>(2)->manager_id.has_value());
}

TEST_CASE("cascade delete-orphan, delete, and passive deletes", "[session][uow][cascade]") {
    uow_fixture f;
    ls::session s{f.engine};
    auto o = std::make_shared<uow::Order>(uow::Order{.code = "A-1", .total = 10});
    for (auto sku : {"apple", "pear", "plum"}) o->lines.push_back(std::make_shared<uow::Line>(uow::Line{.sku = sku}));
    auto folder = std::make_shared<uow::Folder>(uow::Folder{.name = "inbox"});
    folder->docs.push_back(std::make_shared<uow::Doc>(uow::Doc{.title = "a"}));
    folder->docs.push_back(std::make_shared<uow::Doc>(uow::Doc{.title = "b"}));
    s.add(o);
    s.add(folder);
    s.commit();
    REQUIRE(o->version == 1);

    auto pear = o->lines[1];
    o->lines.erase(o->lines.begin() + 1);  // orphan: deleted at flush
    ls::statement_counter c{f.engine};
    s.flush();
    REQUIRE(writes(c) == std::vector<std::string>{"DELETE FROM lines WHERE id = ?"});
    REQUIRE(s.state(pear) == ls::object_state::detached);
    REQUIRE(s.query<uow::Line>().count() == 2);

    c.reset();
    s.remove(o);  // cascade: lines first, then the order (with its version)
    s.flush();
    REQUIRE(writes(c) == std::vector<std::string>{"DELETE FROM lines WHERE id = ?", "DELETE FROM lines WHERE id = ?",
                                                  "DELETE FROM orders WHERE id = ? AND version = ?"});
    REQUIRE(s.query<uow::Line>().count() == 0);
    s.commit();  // an in-memory SQLite database shares one cache: one writer at a time

    c.reset();
    ls::session s2{f.engine};
    auto inbox = s2.get<uow::Folder>(folder->id);
    s2.remove(inbox);  // passive: the database's ON DELETE CASCADE removes the docs
    s2.commit();
    REQUIRE(writes(c) == std::vector<std::string>{"DELETE FROM folders WHERE id = ?"});
    REQUIRE(s2.query<uow::Doc>().count() == 0);
}

TEST_CASE("optimistic locking: a moved version raises stale_data_error", "[session][uow][version]") {
    uow_fixture f;
    {
        ls::session s{f.engine};
        s.add(std::make_shared<uow::Order>(uow::Order{.code = "V", .total = 1}));
        s.commit();
    }
    ls::session a{f.engine};
    auto mine = a.query<uow::Order>().one();
    a.commit();  // ends the read transaction (SQLite: one writer)
    {
        ls::session b{f.engine};
        auto theirs = b.query<uow::Order>().one();
        theirs->total = 2;
        b.commit();
        REQUIRE(theirs->version == 2);
    }
    mine->total = 3;
    REQUIRE_THROWS_AS(a.flush(), ls::stale_data_error);
    REQUIRE(mine->version == 1);  // unchanged by the failed flush
    a.refresh(mine);
    REQUIRE(mine->total == 2);
    mine->total = 3;
    a.commit();
    ls::session c{f.engine};
    auto now = c.query<uow::Order>().one();
    REQUIRE(now->total == 3);
    REQUIRE(now->version == 3);
}

TEST_CASE("a failed flush loses nothing and leaves the session usable", "[session][uow][failure]") {
    fixture f;
    ls::session s{f.engine};
    auto jane = s.get<Author>(1);
    jane->name = "J. Austen";
    auto clash = std::make_shared<Author>(Author{.name = "Impostor", .email = "jane@example.org"});
    auto book = std::make_shared<Book>(Book{.title = "Forgery"});
    clash->books.push_back(book);
    s.add(clash);
    REQUIRE_THROWS_AS(s.flush(), ls::integrity_error);
    REQUIRE(clash->id == 0);  // generated key undone
    REQUIRE(book->author_id == 0);
    REQUIRE(s.state(clash) == ls::object_state::pending);
    REQUIRE(jane->name == "J. Austen");  // still a pending change
    REQUIRE(s.query<Author>().count() == 3);  // the database is as before the flush
    REQUIRE(s.query<Author>().where(col<&Author::name> == "J. Austen").count() == 0);  // the UPDATE was undone too
    clash->email = "impostor@example.org";
    s.commit();
    ls::session check{f.engine};
    REQUIRE(check.query<Author>().count() == 4);
    REQUIRE(check.get<Author>(1)->name == "J. Austen");
    REQUIRE(check.query<Book>().where(col<&Book::title> == "Forgery").one()->author_id == clash->id);
}

TEST_CASE("rollback: inserted objects turn transient, deleted come back, the rest is re-read", "[session][uow][rollback]") {
    fixture f;
    ls::session s{f.engine};
    auto charles = s.get<Author>(2);
    auto anne = s.get<Author>(3);
    auto added = std::make_shared<Author>(Author{.name = "New"});
    s.add(added);
    charles->name = "Boz";
    s.remove(anne);
    s.flush();
    REQUIRE(added->id != 0);
    REQUIRE_FALSE(s.contains(anne));
    s.rollback();
    REQUIRE(added->id == 0);
    REQUIRE(s.state(added) == ls::object_state::transient);
    REQUIRE(charles->name == "Charles Dickens");
    REQUIRE(s.contains(anne));
    REQUIRE(s.get<Author>(3) == anne);
    REQUIRE(s.query<Author>().count() == 3);
}

TEST_CASE("savepoints: begin_nested as an RAII guard", "[session][uow][savepoint]") {
    fixture f;
    ls::session s{f.engine};
    auto kept = std::make_shared<Author>(Author{.name = "Kept"});
    s.add(kept);
    {
        auto sp = s.begin_nested();  // flushes `kept` first
        auto dropped = std::make_shared<Author>(Author{.name = "Dropped"});
        s.add(dropped);
        s.get<Author>(1)->name = "changed";
        s.flush();
        REQUIRE(s.query<Author>().count() == 5);
        sp.rollback();
        REQUIRE(dropped->id == 0);
        REQUIRE(s.get<Author>(1)->name == "Jane Austen");
    }
    {
        auto sp = s.begin_nested();
        s.add(std::make_shared<Author>(Author{.name = "Nested"}));
        sp.commit();
    }
    {
        auto sp = s.begin_nested();
        s.add(std::make_shared<Author>(Author{.name = "Abandoned"}));
        s.flush();
    }  // no commit: rolled back by the guard
    s.commit();
    ls::session check{f.engine};
    auto names = check.query<Author>().order_by(col<&Author::id>).columns<&Author::name>().all();
    REQUIRE(names.size() == 5);
    REQUIRE(std::get<0>(names[3]) == "Kept");
    REQUIRE(std::get<0>(names[4]) == "Nested");
}

TEST_CASE("savepoint names are configurable", "[session][uow][savepoint]") {
    fixture f;
    ls::session s{f.engine, {.savepoint_prefix = "app_sp_"}};
    std::vector<std::string> events;
    auto id = f.engine.on_statement([&](const ls::statement_event& e) {
        if (!e.counted) events.emplace_back(e.sql);
    });
    auto sp = s.begin_nested();
    sp.commit();
    f.engine.remove_listener(id);
    REQUIRE(events == std::vector<std::string>{"BEGIN", "SAVEPOINT app_sp_1", "RELEASE SAVEPOINT app_sp_1"});
}

TEST_CASE("bulk_insert: few statements, no identity map", "[session][uow][bulk]") {
    fixture f;
    std::vector<Book> books;
    for (int i = 0; i < 1200; ++i) books.push_back(Book{.title = "b" + std::to_string(i), .author_id = 1 + i % 3});
    ls::session s{f.engine};
    ls::statement_counter c{f.engine};
    REQUIRE(s.bulk_insert(std::span<const Book>(books)) == 1200);
    if (is_postgres(f.engine))  // the driver's bulk path: one COPY, whatever the number of rows
        REQUIRE(c.statements() == std::vector<std::string>{"COPY books (title, author_id, publisher_id) FROM STDIN"});
    else
        REQUIRE(c.count() == 3);  // 500 rows per statement
    REQUIRE(s.identity_size() == 0);
    s.commit();
    REQUIRE(s.query<Book>().count() == 1203);
}

TEST_CASE("expunge and the state of objects", "[session][uow]") {
    fixture f;
    ls::session s{f.engine};
    auto jane = s.get<Author>(1);
    REQUIRE(s.state(jane) == ls::object_state::persistent);
    s.remove(jane);
    REQUIRE(s.state(jane) == ls::object_state::deleted);
    s.add(jane);  // takes the mark back
    REQUIRE(s.state(jane) == ls::object_state::persistent);
    s.expunge(jane);
    REQUIRE(s.state(jane) == ls::object_state::detached);
    REQUIRE(s.get<Author>(1) != jane);
}

namespace cyc {
struct B;
struct A {
    std::int64_t id{};
    std::optional<std::int64_t> b_id;
    ls::one<B> b;
};
struct B {
    std::int64_t id{};
    std::optional<std::int64_t> a_id;
    ls::one<A> a;
};
}  // namespace cyc
template <>
struct loadstar::mapping<cyc::A> {
    static constexpr auto table = ls::table("cyc_a", ls::column<&cyc::A::id>("id", ls::primary_key),
        ls::column<&cyc::A::b_id>("b_id", ls::foreign_key<&cyc::B::id>), ls::belongs_to<&cyc::A::b>(&cyc::A::b_id));
};
template <>
struct loadstar::mapping<cyc::B> {
    static constexpr auto table = ls::table("cyc_b", ls::column<&cyc::B::id>("id", ls::primary_key),
        ls::column<&cyc::B::a_id>("a_id", ls::foreign_key<&cyc::A::id>), ls::belongs_to<&cyc::B::a>(&cyc::B::a_id));
};

TEST_CASE("a cycle between new objects is reported clearly, and nothing is written", "[session][uow][cycle]") {
    ls::engine engine = test_engine();
    ls::create_all<cyc::A, cyc::B>(engine);
    ls::session s{engine};
    auto a = std::make_shared<cyc::A>();
    auto b = std::make_shared<cyc::B>();
    a->b = b;
    b->a = a;
    s.add(a);
    REQUIRE_THROWS_WITH(s.flush(), Catch::Contains("flush cycle") && Catch::Contains("B.a refers to a new A"));
    REQUIRE(a->id == 0);
    REQUIRE(s.query<cyc::B>().count() == 0);
    b->a = nullptr;  // break it: b first, then a
    s.flush();
    b->a = a;        // and link them with an UPDATE
    s.commit();
    REQUIRE(b->a_id == a->id);
    REQUIRE(a->b_id == b->id);
    // Two many-to-ones pointing at each other hold each other strongly (neither side maps an
    // inverse collection): unlink them so they can be freed.
    s.close();
    a->b = nullptr;
    b->a = nullptr;
}
