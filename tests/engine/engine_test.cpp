// tests/engine/engine_test.cpp - engines (sqlite, create_engine URLs), echo, statement events,
// statement_counter, the statement cache, integrity errors, create_all / drop_all, the pool and
// the bind limit; plus an ls::engine over the recording fake driver of tests/support.
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/fake_driver.hpp"
#include "support/model.hpp"

#include <loadstar/sqlite.hpp>

#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using model::Author;
using model::Book;
using model::Publisher;
using model::Tag;

namespace engine_test {

/// A file path in the temp directory, removed (with SQLite's side files) on destruction.
struct temp_db {
    std::filesystem::path path;
    explicit temp_db(const std::string& stem) {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("loadstar-engine-" + stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".db");
        remove_all();
    }
    ~temp_db() { remove_all(); }
    void remove_all() const {
        std::error_code ec;
        for (const char* suffix : {"", "-journal", "-wal", "-shm"})
            std::filesystem::remove(path.string() + suffix, ec);
    }
};

/// A record of every statement event of an engine.
struct recorded {
    std::string sql;
    std::vector<ls::value> params;
    std::int64_t rows;
    bool counted;
    std::chrono::nanoseconds duration;
};
struct recorder {
    ls::engine engine;
    ls::listener_id id;
    std::vector<recorded> events;
    explicit recorder(ls::engine e) : engine(std::move(e)) {
        id = engine.on_statement([this](const ls::statement_event& ev) {
            events.push_back({std::string(ev.sql), {ev.params.begin(), ev.params.end()}, ev.rows, ev.counted, ev.duration});
        });
    }
    ~recorder() { engine.remove_listener(id); }
    std::vector<std::string> sqls() const {
        std::vector<std::string> out;
        for (const auto& e : events) out.push_back(e.sql);
        return out;
    }
};

/// Runs `fn` with the process's stderr redirected to a file; returns what was written.
template <class F>
std::string capture_stderr(F&& fn) {
    std::fflush(stderr);
    const auto file = std::filesystem::temp_directory_path() / ("loadstar-stderr-" + std::to_string(::getpid()) + ".txt");
    std::FILE* f = std::fopen(file.c_str(), "w+");
    REQUIRE(f != nullptr);
    const int saved = ::dup(2);
    ::dup2(::fileno(f), 2);
    try {
        fn();
    } catch (...) {
        std::fflush(stderr);
        ::dup2(saved, 2);
        ::close(saved);
        std::fclose(f);
        throw;
    }
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    std::fclose(f);
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::filesystem::remove(file);
    return ss.str();
}

ls::ptr<Author> new_author(std::string name, std::optional<std::string> email = std::nullopt) {
    auto a = std::make_shared<Author>();
    a->name = std::move(name);
    a->email = std::move(email);
    return a;
}
ls::ptr<Book> new_book(std::string title, std::int64_t author_id) {
    auto b = std::make_shared<Book>();
    b->title = std::move(title);
    b->author_id = author_id;
    return b;
}

/// Authors 1..n named "a1".."an", committed.
void seed_authors(ls::engine& e, int n) {
    ls::session s{e};
    for (int i = 1; i <= n; ++i) s.add(new_author("a" + std::to_string(i)));
    s.commit();
}

// An entity over the authors table whose name may be NULL: the schema (from Author) says
// NOT NULL, so inserting one without a name violates it.
struct LooseAuthor {
    std::int64_t id{};
    std::optional<std::string> name;
};

}  // namespace engine_test

template <>
struct loadstar::mapping<engine_test::LooseAuthor> {
    using L = engine_test::LooseAuthor;
    static constexpr auto table = ls::table("authors", ls::column<&L::id>("id", ls::primary_key),
                                            ls::column<&L::name>("name"));
};

using namespace engine_test;

// ---- engines and URLs -----------------------------------------------------------------------

TEST_CASE("engine: sqlite ':memory:' engine is private and shared by its own connections", "[engine][sqlite]") {
    auto e1 = ls::sqlite::engine(":memory:");
    auto e2 = ls::sqlite::engine(":memory:");
    model::create_schema(e1);
    seed_authors(e1, 2);

    // A second session (another pooled connection) of the same engine sees the rows...
    ls::session s{e1};
    CHECK(s.query<Author>().count() == 2);
    // ...another ":memory:" engine is another database: it has no tables at all.
    ls::session other{e2};
    CHECK_THROWS_AS(other.query<Author>().count(), ls::error);
    CHECK(e1.sql_dialect().name == "sqlite");
    CHECK(e1.sql_dialect().supports_returning == (sqlite3_libversion_number() >= 3035000));
    CHECK_FALSE(e1.sql_dialect().supports_for_update);
    CHECK_FALSE(e1.sql_dialect().supports_arrays);

    // Engines are cheap handles: a copy is the same database and the same listeners.
    ls::engine copy = e1;
    ls::statement_counter counter{copy};
    ls::session s2{e1};
    CHECK(s2.query<Author>().count() == 2);
    CHECK(counter.count() == 1);
}

TEST_CASE("engine: create_engine URLs", "[engine][url][sqlite]") {
    SECTION("sqlite:/// + absolute path opens (and creates) the file; data persists across engines") {
        temp_db db("url");
        const std::string url = "sqlite:///" + db.path.string();  // "sqlite:////tmp/..."
        {
            auto e = ls::create_engine(url);
            model::create_schema(e);
            seed_authors(e, 3);
        }
        CHECK(std::filesystem::exists(db.path));
        auto e = ls::create_engine(url);
        ls::session s{e};
        CHECK(s.query<Author>().count() == 3);
        // The same file through the driver's own factory.
        auto direct = ls::sqlite::engine(db.path.string());
        ls::session s2{direct};
        CHECK(s2.query<Author>().order_by(ls::col<&Author::id>).first()->name == "a1");
    }
    SECTION("sqlite:// and sqlite:///:memory: are private in-memory databases") {
        for (const char* url : {"sqlite://", "sqlite:///:memory:"}) {
            INFO(url);
            auto e = ls::create_engine(url);
            model::create_schema(e);
            seed_authors(e, 1);
            ls::session s{e};
            CHECK(s.query<Author>().count() == 1);
            auto fresh = ls::create_engine(url);
            ls::session s2{fresh};
            CHECK_THROWS_AS(s2.query<Author>().count(), ls::error);
        }
    }
    SECTION("a driver suffix after '+' selects the same driver") {
        auto e = ls::create_engine("sqlite+native://");
        CHECK(e.sql_dialect().name == "sqlite");
    }
    SECTION("unknown schemes and non-URLs throw ls::error") {
        CHECK_THROWS_AS(ls::create_engine("mysql://root@localhost/db"), ls::error);
        CHECK_THROWS_WITH(ls::create_engine("mysql://root@localhost/db"),
                          Catch::Contains("no driver for scheme 'mysql'"));
        CHECK_THROWS_WITH(ls::create_engine("oracle://scott@tiger/db"), Catch::Contains("'oracle'"));
        CHECK_THROWS_WITH(ls::create_engine("app.db"), Catch::Contains("not a database URL"));
        CHECK_THROWS_AS(ls::create_engine(""), ls::error);
    }
    SECTION("a file that cannot be opened is a connection_error") {
        CHECK_THROWS_AS(ls::sqlite::engine("/nonexistent-dir-loadstar/x/y.db"), ls::connection_error);
        CHECK_THROWS_AS(ls::create_engine("sqlite:////nonexistent-dir-loadstar/x/y.db"), ls::connection_error);
    }
}

// ---- echo, events, counter ------------------------------------------------------------------

TEST_CASE("engine: echo prints statements, parameters and rows to stderr", "[engine][echo]") {
    auto e = model::test_engine();
    model::create_schema(e);
    seed_authors(e, 2);
    CHECK_FALSE(e.echo());
    e.echo(true);
    CHECK(e.echo());
    const std::string out = capture_stderr([&] {
        ls::session s{e};
        auto rows = s.query<Author>().where(ls::col<&Author::name> == "a'2").all();
        CHECK(rows.empty());
        CHECK(s.query<Author>().where(ls::col<&Author::id> >= 1).all().size() == 2);
    });
    CHECK_THAT(out, Catch::Contains("[loadstar] BEGIN\n"));
    CHECK_THAT(out, Catch::Contains(
                        "[loadstar] SELECT authors.id, authors.name, authors.email FROM authors WHERE authors.name = ?\n"
                        "[loadstar]   params ('a''2')\n"
                        "[loadstar]   -> 0 rows in "));
    CHECK_THAT(out, Catch::Contains("WHERE authors.id >= ?\n[loadstar]   params (1)\n[loadstar]   -> 2 rows in "));
    CHECK_THAT(out, Catch::Contains("[loadstar] ROLLBACK\n"));

    e.echo(false);
    CHECK_FALSE(e.echo());
    const std::string quiet = capture_stderr([&] {
        ls::session s{e};
        CHECK(s.query<Author>().count() == 2);
    });
    CHECK(quiet.empty());
}

TEST_CASE("engine: on_statement reports sql, params, rows, duration and counted", "[engine][events]") {
    auto e = model::test_engine();
    model::create_schema(e);
    recorder rec{e};
    {
        ls::session s{e};
        s.add(new_author("Jane", "jane@example.com"));
        s.add(new_author("Anne"));
        s.commit();
        CHECK(s.query<Author>().order_by(ls::col<&Author::id>).all().size() == 2);
        CHECK(s.query<Author>().where(ls::col<&Author::id> == 2).update(ls::set<&Author::name>("Emily")) == 1);
        s.commit();
    }
    // Transaction control (BEGIN, COMMIT, and the SAVEPOINT a flush runs in) is reported, not
    // counted, and has no parameters or rows.
    std::vector<recorded> ev, control;
    for (const auto& x : rec.events) (x.counted ? ev : control).push_back(x);
    REQUIRE(control.size() >= 4);
    // The session's first statement writes: a write transaction (SQLite: BEGIN IMMEDIATE);
    // after the first COMMIT it reads first: a read transaction (BEGIN).
    const auto& d = e.sql_dialect();
    CHECK(control.front().sql == d.begin_write);
    CHECK(std::count_if(control.begin(), control.end(), [&](const recorded& x) { return x.sql == d.begin_read; }) >= 1);
    CHECK(control.back().sql == "COMMIT");
    CHECK(std::count_if(control.begin(), control.end(), [](const recorded& x) { return x.sql == "COMMIT"; }) == 2);
    for (const auto& c : control) {
        INFO(c.sql);
        const bool is_control = c.sql == d.begin_read || c.sql == d.begin_write || c.sql == "COMMIT" || c.sql.rfind("SAVEPOINT ", 0) == 0 ||
                                c.sql.rfind("RELEASE SAVEPOINT ", 0) == 0;
        CHECK(is_control);
        CHECK(c.params.empty());
        CHECK(c.rows == 0);
    }
    std::vector<std::string> counted;
    for (const auto& x : ev) counted.push_back(x.sql);
    REQUIRE(counted == std::vector<std::string>{
                           "INSERT INTO authors (name, email) VALUES (?, ?) RETURNING id",
                           "INSERT INTO authors (name, email) VALUES (?, ?) RETURNING id",
                           "SELECT authors.id, authors.name, authors.email FROM authors ORDER BY authors.id",
                           "UPDATE authors SET name = ? WHERE authors.id = ? RETURNING authors.id",
                       });
    // The events come in execution order: BEGIN first, each COMMIT after the writes it commits.
    CHECK(rec.events.front().sql == d.begin_write);
    CHECK(rec.events.back().sql == "COMMIT");
    auto position = [&](const std::string& sql, std::size_t nth = 0) {
        for (std::size_t i = 0; i < rec.events.size(); ++i)
            if (rec.events[i].sql == sql && nth-- == 0) return i;
        return rec.events.size();
    };
    const std::string insert = "INSERT INTO authors (name, email) VALUES (?, ?) RETURNING id";
    CHECK(position(insert, 1) < position("COMMIT"));
    CHECK(position("COMMIT") < position(counted[2]));
    CHECK(position(counted[3]) < position("COMMIT", 1));
    CHECK(ev[0].counted);
    CHECK(ev[0].params == std::vector<ls::value>{std::string("Jane"), std::string("jane@example.com")});
    CHECK(ev[0].rows == 1);  // the RETURNING row
    CHECK(ev[1].params == std::vector<ls::value>{std::string("Anne"), ls::value{}});
    CHECK(ev[2].params.empty());
    CHECK(ev[2].rows == 2);
    CHECK(ev[2].duration.count() > 0);
    CHECK(ev[3].params == std::vector<ls::value>{std::string("Emily"), std::int64_t{2}});
    CHECK(ev[3].rows == 1);

    // A removed listener hears nothing more.
    const std::size_t heard = rec.events.size();
    e.remove_listener(rec.id);
    ls::session s{e};
    CHECK(s.query<Author>().count() == 2);
    CHECK(rec.events.size() == heard);
}

TEST_CASE("engine: statement_counter counts reads and writes, not transaction control", "[engine][counter]") {
    auto e = model::test_engine();
    model::create_schema(e);
    ls::statement_counter outer{e};
    {
        ls::statement_counter counter{e};
        ls::session s{e};
        s.add(new_author("Jane"));
        s.commit();  // BEGIN, INSERT, COMMIT: one counted
        CHECK(counter.count() == 1);
        CHECK(counter.statements() ==
              std::vector<std::string>{"INSERT INTO authors (name, email) VALUES (?, ?) RETURNING id"});
        counter.reset();
        CHECK(counter.count() == 0);
        CHECK(s.query<Author>().count() == 1);
        CHECK(s.query<Author>().exists());
        s.commit();
        CHECK(counter.statements() == std::vector<std::string>{"SELECT count(*) FROM authors",
                                                               "SELECT EXISTS (SELECT 1 FROM authors)"});
    }
    // The inner counter unregistered itself; the outer one saw everything.
    ls::session s{e};
    CHECK(s.query<Author>().count() == 1);
    CHECK(outer.count() == 4);
    // DDL is not counted either.
    ls::create_all<Author, Book, Publisher, Tag>(e);
    CHECK(outer.count() == 4);
}

// ---- errors ---------------------------------------------------------------------------------

TEST_CASE("engine: constraint failures are integrity_error with SQLite's extended code", "[engine][errors][sqlite]") {
    auto e = ls::sqlite::engine(":memory:");
    model::create_schema(e);
    {
        ls::session s{e};
        s.add(new_author("Jane", "jane@example.com"));
        s.commit();
    }
    SECTION("UNIQUE: 2067") {
        ls::session s{e};
        s.add(new_author("Impostor", "jane@example.com"));
        try {
            s.commit();
            FAIL("no integrity_error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.native_code() == SQLITE_CONSTRAINT_UNIQUE);
            CHECK(err.native_code() == 2067);
            CHECK(err.sqlstate().empty());
            CHECK_THAT(err.what(), Catch::Contains("UNIQUE constraint failed: authors.email"));
        }
        // The failed flush rolled back: the session still works, nothing was written.
        CHECK(s.query<Author>().count() == 1);
    }
    SECTION("NOT NULL: 1299") {
        ls::session s{e};
        auto loose = std::make_shared<LooseAuthor>();
        s.add(loose);
        try {
            s.commit();
            FAIL("no integrity_error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.native_code() == SQLITE_CONSTRAINT_NOTNULL);
            CHECK(err.native_code() == 1299);
            CHECK_THAT(err.what(), Catch::Contains("NOT NULL constraint failed: authors.name"));
        }
    }
    SECTION("FOREIGN KEY: 787") {
        ls::session s{e};
        s.add(new_book("Orphan", 999));
        try {
            s.commit();
            FAIL("no integrity_error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.native_code() == SQLITE_CONSTRAINT_FOREIGNKEY);
            CHECK(err.native_code() == 787);
            CHECK_THAT(err.what(), Catch::Contains("FOREIGN KEY constraint failed"));
        }
        CHECK(s.query<Book>().count() == 0);
    }
    SECTION("PRIMARY KEY: 1555") {
        ls::session s{e};
        auto dup = new_author("Dup");
        dup->id = 1;
        s.add(dup);
        try {
            s.commit();
            FAIL("no integrity_error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.native_code() == SQLITE_CONSTRAINT_PRIMARYKEY);
            CHECK(err.native_code() == 1555);
        }
    }
    SECTION("other driver errors are ls::error with their code, not integrity_error") {
        ls::drop_all<Author, Book, Publisher, Tag, model::Profile, model::Employee>(e);
        ls::session s{e};
        try {
            (void)s.query<Author>().all();
            FAIL("no error");
        } catch (const ls::integrity_error&) {
            FAIL("not a constraint failure");
        } catch (const ls::error& err) {
            CHECK(err.native_code() == SQLITE_ERROR);
            CHECK_THAT(err.what(), Catch::Contains("no such table: authors"));
        }
    }
}

TEST_CASE("engine: integrity errors name the table and the constraint or column", "[engine][errors]") {
    auto e = model::test_engine();
    model::create_schema(e);
    const bool pg = model::is_postgres(e);
    {
        ls::session s{e};
        s.add(new_author("Jane", "jane@example.com"));
        s.commit();
    }
    SECTION("UNIQUE") {
        ls::session s{e};
        s.add(new_author("Impostor", "jane@example.com"));
        try {
            s.commit();
            FAIL("no integrity_error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.table() == "authors");
            CHECK(err.column() == "email");
            CHECK(err.constraint() == (pg ? "authors_email_key" : ""));
        }
    }
    SECTION("FOREIGN KEY") {
        ls::session s{e};
        s.add(new_book("Orphan", 999));
        try {
            s.commit();
            FAIL("no integrity_error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.table() == "books");
            CHECK_THAT(err.what(), Catch::Contains("books"));
            // SQLite does not say which foreign key failed; PostgreSQL does.
            CHECK(err.constraint() == (pg ? "books_author_id_fkey" : ""));
            CHECK(err.column() == (pg ? "author_id" : ""));
        }
        CHECK(s.query<Book>().count() == 0);
    }
    SECTION("NOT NULL") {
        ls::session s{e};
        s.add(std::make_shared<LooseAuthor>());
        try {
            s.commit();
            FAIL("no integrity_error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.table() == "authors");
            CHECK(err.column() == "name");
        }
    }
    SECTION("a constraint of several columns") {
        ls::detail::lease l(e.state());
        ls::detail::execute_control(*e.state(), l.get(), "CREATE TABLE pairs (a INTEGER, b INTEGER, UNIQUE (a, b))");
        ls::detail::execute_control(*e.state(), l.get(), "INSERT INTO pairs VALUES (1, 2)");
        try {
            ls::detail::execute_control(*e.state(), l.get(), "INSERT INTO pairs VALUES (1, 2)");
            FAIL("no integrity_error");
        } catch (const ls::integrity_error& err) {
            CHECK(err.table() == "pairs");
            CHECK(err.column() == "a, b");
            CHECK(err.constraint() == (pg ? "pairs_a_b_key" : ""));
        }
    }
}

// ---- schema ---------------------------------------------------------------------------------

TEST_CASE("engine: create_all DDL, idempotence and drop_all", "[engine][schema]") {
    auto e = model::test_engine();
    std::vector<std::string> ddl;
    const auto id = e.on_statement([&](const ls::statement_event& ev) {
        CHECK_FALSE(ev.counted);
        ddl.emplace_back(ev.sql);
    });
    ls::create_all<Author, Book, Publisher, Tag>(e);
    // Parents before children; the association table after both of its sides. The types are
    // the dialect's: an int64 key is INTEGER PRIMARY KEY (the rowid) on SQLite, a BIGINT
    // identity on PostgreSQL.
    const bool pg = model::is_postgres(e);
    const std::string key = pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY";
    const std::string int64 = pg ? "BIGINT" : "INTEGER";
    const std::vector<std::string> expected = {
        "CREATE TABLE IF NOT EXISTS authors (\n"
        "    id " + key + ",\n"
        "    name TEXT NOT NULL,\n"
        "    email TEXT UNIQUE\n"
        ")",
        "CREATE TABLE IF NOT EXISTS publishers (\n"
        "    id " + key + ",\n"
        "    name TEXT NOT NULL\n"
        ")",
        "CREATE TABLE IF NOT EXISTS tags (\n"
        "    id " + key + ",\n"
        "    label TEXT NOT NULL\n"
        ")",
        "CREATE TABLE IF NOT EXISTS books (\n"
        "    id " + key + ",\n"
        "    title TEXT NOT NULL,\n"
        "    author_id " + int64 + " NOT NULL,\n"
        "    publisher_id " + int64 + ",\n"
        "    FOREIGN KEY (author_id) REFERENCES authors (id),\n"
        "    FOREIGN KEY (publisher_id) REFERENCES publishers (id)\n"
        ")",
        "CREATE INDEX IF NOT EXISTS ix_books_author_id ON books (author_id)",
        "CREATE INDEX IF NOT EXISTS ix_books_publisher_id ON books (publisher_id)",
        "CREATE TABLE IF NOT EXISTS book_tags (\n"
        "    book_id " + int64 + " NOT NULL,\n"
        "    tag_id " + int64 + " NOT NULL,\n"
        "    PRIMARY KEY (book_id, tag_id),\n"
        "    FOREIGN KEY (book_id) REFERENCES books (id) ON DELETE CASCADE,\n"
        "    FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE\n"
        ")",
        "CREATE INDEX IF NOT EXISTS ix_book_tags_tag_id ON book_tags (tag_id)",
    };
    CHECK(ddl == expected);

    // Idempotent: the same statements again, no error, data kept.
    e.remove_listener(id);
    seed_authors(e, 1);
    REQUIRE_NOTHROW(ls::create_all<Author, Book, Publisher, Tag>(e));
    REQUIRE_NOTHROW(ls::create_all<Book, Tag, Author, Publisher>(e));  // any order of arguments
    {
        ls::session s{e};
        CHECK(s.query<Author>().count() == 1);
    }

    // The schema enforces what the DDL says (checked through the catalog).
    auto names = [&](const std::string& sql) {
        // The catalog, read through a raw statement on a pooled connection.
        std::vector<std::string> out;
        ls::detail::lease l(e.state());
        auto st = l.get().conn->prepare(sql);
        while (st->step()) out.emplace_back(st->get_text(0));
        return out;
    };
    // The indexes create_all made (not those behind a PRIMARY KEY or UNIQUE), and the foreign
    // keys of books as "<referenced table>.<column>".
    const std::string indexes =
        pg ? "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n "
             "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT i.indisprimary AND NOT "
             "i.indisunique ORDER BY 1"
           : "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name";
    const std::string books_fks =
        pg ? "SELECT c.confrelid::regclass::text || '.' || a.attname::text FROM pg_constraint c JOIN pg_attribute a "
             "ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f' AND c.conrelid = "
             "'books'::regclass ORDER BY a.attname"
           : "SELECT \"table\" || '.' || \"from\" FROM pragma_foreign_key_list('books') ORDER BY \"from\"";
    const std::string tables =
        pg ? "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()" : "SELECT name FROM sqlite_master";
    CHECK(names(indexes) ==
          std::vector<std::string>{"ix_book_tags_tag_id", "ix_books_author_id", "ix_books_publisher_id"});
    CHECK(names(books_fks) == std::vector<std::string>{"authors.author_id", "publishers.publisher_id"});

    // drop_all removes every table, children first (foreign keys are on); create_all again works.
    std::vector<std::string> dropped;
    const auto id2 = e.on_statement([&](const ls::statement_event& ev) { dropped.emplace_back(ev.sql); });
    ls::drop_all<Author, Book, Publisher, Tag>(e);
    e.remove_listener(id2);
    // PostgreSQL drops with CASCADE (a deferred foreign key of a cycle may still point at a table).
    const std::string cascade = pg ? " CASCADE" : "";
    CHECK(dropped == std::vector<std::string>{"DROP TABLE IF EXISTS book_tags" + cascade,
                                              "DROP TABLE IF EXISTS books" + cascade,
                                              "DROP TABLE IF EXISTS tags" + cascade,
                                              "DROP TABLE IF EXISTS publishers" + cascade,
                                              "DROP TABLE IF EXISTS authors" + cascade});
    CHECK(names(tables).empty());
    REQUIRE_NOTHROW(ls::drop_all<Author, Book, Publisher, Tag>(e));  // idempotent too
    ls::create_all<Author, Book, Publisher, Tag>(e);
    ls::session s{e};
    CHECK(s.query<Author>().count() == 0);
}

// ---- sessions and the pool ------------------------------------------------------------------

TEST_CASE("engine: a closed session is detached", "[engine][session][detached]") {
    auto e = model::test_engine();
    model::create_schema(e);
    {
        ls::session s{e};
        auto a = new_author("Jane");
        s.add(a);
        s.flush();
        s.add(new_book("Emma", a->id));
        s.commit();
    }
    ls::session s{e};
    auto jane = s.query<Author>().one();
    REQUIRE_FALSE(jane->books.loaded());
    s.close();
    CHECK_THROWS_AS(s.query<Author>().all(), ls::detached_error);
    CHECK_THROWS_AS(s.query<Author>().count(), ls::detached_error);
    CHECK_THROWS_AS(s.add(new_author("Late")), ls::detached_error);
    CHECK_THROWS_AS(s.flush(), ls::detached_error);
    CHECK_THROWS_AS(s.get<Author>(std::int64_t{2}), ls::detached_error);
    CHECK_THROWS_AS(jane->books.size(), ls::detached_error);
    CHECK_THROWS_WITH(jane->books.size(), Catch::Contains("Author.books"));
    s.close();  // closing twice is harmless
    CHECK(jane->name == "Jane");  // loaded columns stay readable
}

TEST_CASE("engine: sessions take a pooled connection and return it on close", "[engine][pool]") {
    auto e = model::test_engine({.pool_size = 1, .max_overflow = 1, .timeout = std::chrono::milliseconds(50)});
    CHECK(e.open_connections() == 0);
    model::create_schema(e);  // borrows one and returns it: kept idle
    CHECK(e.open_connections() == 1);
    {
        ls::session a{e};
        CHECK(e.open_connections() == 1);  // nothing taken before the first statement
        CHECK(a.query<Author>().count() == 0);
        CHECK(e.open_connections() == 1);  // the idle one, reused
        ls::session b{e};
        CHECK(b.query<Author>().count() == 0);
        CHECK(e.open_connections() == 2);  // the overflow connection
        ls::session c{e};
        CHECK_THROWS_AS(c.query<Author>().count(), ls::pool_timeout_error);
        b.close();
        CHECK(e.open_connections() == 2);  // b's connection is back in the pool, idle
        CHECK(c.query<Author>().count() == 0);  // c takes it
        CHECK(e.open_connections() == 2);
        a.close();
        CHECK(e.open_connections() == 2);  // a's is kept idle (pool_size 1)
        c.close();
        CHECK(e.open_connections() == 1);  // one idle already: c's is closed on return
    }
    CHECK(e.open_connections() == 1);
    // Sequential sessions reuse the one idle connection.
    for (int i = 0; i < 3; ++i) {
        ls::session s{e};
        CHECK(s.query<Author>().count() == 0);
        CHECK(e.open_connections() == 1);
    }
}

TEST_CASE("engine: the bind limit is read from SQLite at run time", "[engine][dialect][sqlite]") {
    temp_db db("limit");
    auto e = ls::sqlite::engine(db.path.string());
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.path.c_str(), &raw) == SQLITE_OK);
    const int limit = sqlite3_limit(raw, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
    sqlite3_close(raw);
    INFO("SQLITE_LIMIT_VARIABLE_NUMBER = " << limit);  // 250000 on Debian, 32766 upstream
    CHECK(e.sql_dialect().max_bind_parameters == static_cast<std::size_t>(limit));
    CHECK(e.sql_dialect().max_bind_parameters >= 999);

    // An IN list longer than the old 999 default binds every value.
    model::create_schema(e);
    seed_authors(e, 3);
    std::vector<std::int64_t> ids(2000);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>(i) + 1;
    ls::session s{e};
    CHECK(s.query<Author>().where(ls::col<&Author::id>.in(ids)).count() == 3);
}

// ---- the recording fake driver ----------------------------------------------------------------

namespace {
const std::string author_select = "SELECT authors.id, authors.name, authors.email FROM authors";
}

TEST_CASE("fake driver: an engine over it hydrates scripted rows and records bound values", "[engine][fake][nodb]") {
    fake::driver drv;
    auto log = drv.log();
    log->script(author_select + " WHERE authors.name = ?",
                {{std::int64_t{1}, std::string("Jane"), ls::value{}},
                 {std::int64_t{2}, std::string("Anne"), std::string("anne@example.com")}});
    ls::engine e{drv};
    CHECK(e.sql_dialect().name == "fake");
    CHECK(log->connects == 0);  // connections are opened on demand
    recorder rec{e};

    ls::session s{e};
    auto authors = s.query<Author>().where(ls::col<&Author::name> == "x'); DROP TABLE authors; --").all();
    REQUIRE(authors.size() == 2);
    CHECK(authors[0]->id == 1);
    CHECK(authors[0]->name == "Jane");
    CHECK_FALSE(authors[0]->email.has_value());
    CHECK(authors[1]->email == "anne@example.com");
    CHECK(s.get<Author>(std::int64_t{2}) == authors[1]);  // identity map: no statement

    CHECK(log->connects == 1);
    CHECK(log->executed == std::vector<std::string>{"BEGIN"});
    CHECK(log->prepared == std::vector<std::string>{author_select + " WHERE authors.name = ?"});
    REQUIRE(log->executions.size() == 1);
    CHECK(log->executions[0].params == std::vector<ls::value>{std::string("x'); DROP TABLE authors; --")});
    CHECK(log->resets == 1);  // the cursor resets the statement when done

    // Events come from the engine, whatever the driver.
    REQUIRE(rec.events.size() == 2);
    CHECK(rec.events[0].sql == "BEGIN");
    CHECK_FALSE(rec.events[0].counted);
    CHECK(rec.events[1].counted);
    CHECK(rec.events[1].rows == 2);
    CHECK(rec.events[1].params.size() == 1);

    s.close();
    CHECK(log->executed == std::vector<std::string>{"BEGIN", "ROLLBACK"});
    CHECK(log->open == 1);  // returned to the pool, still open
}

TEST_CASE("fake driver: the engine prepares each SQL text once per connection", "[engine][fake][cache][nodb]") {
    fake::driver drv;
    auto log = drv.log();
    const std::string by_id = author_select + " WHERE authors.id = ?";
    log->script(by_id, {{std::int64_t{7}, std::string("Jane"), ls::value{}}});
    ls::engine e{drv};
    {
        ls::session s{e};
        for (std::int64_t id : {7, 8, 9}) (void)s.query<Author>().where(ls::col<&Author::id> == id).all();
        (void)s.query<Author>().where(ls::col<&Author::id> > 1).all();
    }
    {
        ls::session s{e};  // the same pooled connection, with its statement cache
        (void)s.query<Author>().where(ls::col<&Author::id> == 10).all();
    }
    CHECK(log->connects == 1);
    CHECK(log->prepare_count(by_id) == 1);
    CHECK(log->execution_count(by_id) == 4);
    CHECK(log->prepare_count(author_select + " WHERE authors.id > ?") == 1);
    std::vector<ls::value> bound;
    for (const auto& x : log->executions)
        if (x.sql == by_id) bound.push_back(x.params.at(0));
    CHECK(bound == std::vector<ls::value>{std::int64_t{7}, std::int64_t{8}, std::int64_t{9}, std::int64_t{10}});

    SECTION("a statement still being stepped is not reused: the nested one gets its own") {
        log->clear();
        log->script(author_select, {{std::int64_t{1}, std::string("A"), ls::value{}},
                                    {std::int64_t{2}, std::string("B"), ls::value{}}});
        ls::session s{e};
        std::size_t outer = 0, inner = 0;
        for (const auto& a : s.query<Author>().yield_per(1)) {
            CHECK(a != nullptr);
            ++outer;
            inner += s.query<Author>().all().size();
        }
        CHECK(outer == 2);
        CHECK(inner == 4);
        // The streamed statement is the cached one; each nested execution while it is busy
        // prepares a private copy.
        CHECK(log->prepare_count(author_select) == 3);
        CHECK(log->execution_count(author_select) == 3);
    }
}

TEST_CASE("fake driver: writes, generated keys and scripted failures", "[engine][fake][write][nodb]") {
    fake::driver drv;
    auto log = drv.log();
    const std::string insert = "INSERT INTO authors (name, email) VALUES (?, ?) RETURNING id";
    log->script(insert, {{std::int64_t{42}}});
    ls::engine e{drv};
    ls::session s{e};
    auto a = new_author("Jane", "j@x");
    s.add(a);
    s.commit();
    CHECK(a->id == 42);
    REQUIRE(log->executed.size() >= 2);
    CHECK(log->executed.front() == "BEGIN");
    CHECK(log->executed.back() == "COMMIT");
    REQUIRE(log->executions.size() == 1);
    CHECK(log->executions[0].sql == insert);
    CHECK(log->executions[0].params == std::vector<ls::value>{std::string("Jane"), std::string("j@x")});

    // A dialect without LIMIT -1: OFFSET alone.
    CHECK(s.query<Author>().offset(5).sql() == author_select + " OFFSET ?");

    // update() without rows matched returns 0 (the fake returns no RETURNING rows).
    CHECK(s.query<Author>().update(ls::set<&Author::name>("x")) == 0);

    log->fail(insert, 2067);
    auto b = new_author("Anne");
    s.add(b);
    try {
        s.commit();
        FAIL("no integrity_error");
    } catch (const ls::integrity_error& err) {
        CHECK(err.native_code() == 2067);
    }
    CHECK(b->id == 0);  // the generated key is not kept after the failed flush
    // What the failed flush wrote was rolled back (to its savepoint, or the whole transaction).
    CHECK(std::any_of(log->executed.begin(), log->executed.end(),
                      [](const std::string& x) { return x.rfind("ROLLBACK", 0) == 0; }));
}

TEST_CASE("fake driver: a third-party dialect decides paging, key DDL and DROP", "[engine][fake][dialect][nodb]") {
    // Nothing compares dialect names: a driver written elsewhere gets SQLite's or PostgreSQL's
    // SQL by filling the same fields theirs do.
    fake::driver drv;
    drv.dialect().name = "acme";
    drv.dialect().type_bigint = "BIGINT";
    drv.dialect().generated_key_type = "INTEGER";  // wins over the member's type
    drv.dialect().offset_without_limit = " LIMIT -1";
    drv.dialect().drop_table_suffix = " CASCADE";
    auto log = drv.log();
    ls::engine e{drv};
    ls::session s{e};
    CHECK_THAT(s.query<Author>().offset(5).sql(), Catch::Matchers::EndsWith(" LIMIT -1 OFFSET ?"));
    CHECK_THAT(s.query<Author>().limit(2).offset(5).sql(), Catch::Matchers::EndsWith(" LIMIT ? OFFSET ?"));
    ls::create_all<Author>(e);
    REQUIRE_FALSE(log->executed.empty());
    CHECK_THAT(log->executed.front(), Catch::Matchers::Contains("id INTEGER PRIMARY KEY,"));
    log->clear();
    ls::drop_all<Author>(e);
    CHECK(std::find(log->executed.begin(), log->executed.end(), "DROP TABLE IF EXISTS authors CASCADE") !=
          log->executed.end());
}

TEST_CASE("fake driver: a dialect without RETURNING uses affected rows", "[engine][fake][dialect][nodb]") {
    fake::driver drv;
    drv.dialect().supports_returning = false;
    auto log = drv.log();
    log->script("UPDATE authors SET name = ? WHERE authors.id > ?", {}, 5);
    log->script("DELETE FROM authors WHERE authors.id > ?", {}, 3);
    ls::engine e{drv};
    ls::session s{e};
    CHECK(s.query<Author>().where(ls::col<&Author::id> > 1).update(ls::set<&Author::name>("x")) == 5);
    CHECK(s.query<Author>().where(ls::col<&Author::id> > 1).remove() == 3);
    REQUIRE(log->executions.size() == 2);
    CHECK(log->executions[0].params == std::vector<ls::value>{std::string("x"), std::int64_t{1}});
    CHECK(log->executions[1].params == std::vector<ls::value>{std::int64_t{1}});
}
