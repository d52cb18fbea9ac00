// examples/01_quickstart.cpp - the loadstar tour, part 1: map two classes, store a few objects,
// then watch the N+1 select problem happen, and make it go away with one loader option.
// SPDX-License-Identifier: MIT
//
// Run it and read stderr next to stdout: every statement loadstar sends to the database is
// echoed there ("[loadstar] SELECT ..."), so you can count them yourself.

#include <loadstar/loadstar.hpp>  // the core: mappings, queries, options, sessions
#include <loadstar/sqlite.hpp>    // the SQLite driver: ls::sqlite::engine(...)

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ls = loadstar;

// -----------------------------------------------------------------------------------------
// 1. Classes
//
// An entity is a plain struct. Nothing to inherit from, no macros: columns are ordinary
// members, and relationships are held by two small holder types:
//   ls::many<T>  a to-many relationship (a range of ls::ptr<T>, i.e. std::shared_ptr<T>)
//   ls::one<T>   a to-one relationship
// Book is declared first because Author refers to it before it is complete.
// -----------------------------------------------------------------------------------------
struct Book;

struct Author {
    std::int64_t id{};                 // the primary key; 0 means "let the database pick one"
    std::string name;
    std::optional<std::string> email;  // std::optional<T> maps to a nullable column
    ls::many<Book> books;              // an author has many books
};

struct Book {
    std::int64_t id{};
    std::string title;
    std::int64_t author_id{};          // the foreign key column...
    ls::one<Author> author;            // ...and the object it refers to
};

// -----------------------------------------------------------------------------------------
// 2. Mappings
//
// loadstar learns the table behind a struct from a specialization of ls::mapping<T>. It is
// all compile-time data: a typo in a member, or a foreign key whose type does not match the
// key it points at, is a compile error, not a surprise at run time.
// -----------------------------------------------------------------------------------------
template <> struct ls::mapping<Author> {
    static constexpr auto table = ls::table("authors",
        ls::column<&Author::id>("id", ls::primary_key),
        ls::column<&Author::name>("name"),
        ls::column<&Author::email>("email", ls::unique),
        // books.author_id refers to authors.id; Book::author is the other side of the same
        // relationship, so loadstar keeps the two in step.
        ls::has_many<&Author::books>(&Book::author_id, ls::back_populates<&Book::author>));
};

template <> struct ls::mapping<Book> {
    static constexpr auto table = ls::table("books",
        ls::column<&Book::id>("id", ls::primary_key),
        ls::column<&Book::title>("title"),
        ls::column<&Book::author_id>("author_id", ls::foreign_key<&Author::id>),
        ls::belongs_to<&Book::author>(&Book::author_id, ls::back_populates<&Author::books>));
};

namespace {

// Prints one author and the titles of her books. Touching `author.books` is what may cost a
// SELECT: the holder loads itself the first time it is used, unless the query loaded it.
// (The line is built first and printed whole, so an echoed SELECT never lands mid-line.)
void print_author(const Author& author) {
    std::string line = "  " + author.name + ":";
    const char* sep = " ";
    for (const ls::ptr<Book>& book : author.books) {
        line += sep + book->title;
        sep = ", ";
    }
    std::cout << line << '\n';
}

void heading(const std::string& text) {
    std::cout << "\n== " << text << " ==\n";
}

}  // namespace

int main() {
    // stdout (our prints) and stderr (the echoed SQL) should interleave in the order they
    // happen, even when both are piped into a file: flush stdout after every write.
    std::cout << std::unitbuf;

    // ---------------------------------------------------------------------------------------
    // 3. The engine
    //
    // An engine is a handle to one database: its driver and a pool of connections. ":memory:"
    // is a private in-memory SQLite database, shared by the engine's connections and gone
    // when the program ends. echo(true) prints each statement, its parameters, how many rows
    // it returned and how long it took.
    // ---------------------------------------------------------------------------------------
    ls::engine engine = ls::sqlite::engine(":memory:");
    engine.echo(true);

    // CREATE TABLE for both entities, with their foreign keys and an index on books.author_id.
    heading("create_all: the schema");
    ls::create_all<Author, Book>(engine);

    // statement_counter listens to the engine and counts the statements that read or write
    // rows. BEGIN, COMMIT and SAVEPOINT are echoed but not counted (SQLAlchemy counts the
    // same way). A flush runs inside a SAVEPOINT, so that a failed flush undoes only itself.
    ls::statement_counter counter{engine};

    // ---------------------------------------------------------------------------------------
    // 4. Storing objects
    //
    // A session is one unit of work: it tracks the objects you add or load, and writes them
    // at flush (commit flushes, then COMMITs). Adding Jane also adds her books: the session
    // follows her relationships. Each book's author_id is filled in from Jane's generated id.
    // ---------------------------------------------------------------------------------------
    heading("storing two authors and three books");
    {
        ls::session s{engine};

        auto jane = std::make_shared<Author>(Author{.name = "Jane Austen"});
        jane->books.push_back(std::make_shared<Book>(Book{.title = "Pride and Prejudice"}));
        jane->books.push_back(std::make_shared<Book>(Book{.title = "Sense and Sensibility"}));

        auto charles = std::make_shared<Author>(Author{.name = "Charles Dickens"});
        charles->books.push_back(std::make_shared<Book>(Book{.title = "Oliver Twist"}));

        s.add(jane);
        s.add(charles);
        s.commit();  // INSERT authors, then books (parents first), then COMMIT

        std::cout << "stored: Jane Austen has id " << jane->id << ", Charles Dickens has id "
                  << charles->id << " (" << counter.count() << " INSERT statements)\n";

        s.close();  // gives the connection back to the pool (the destructor would, too)
    }

    // ---------------------------------------------------------------------------------------
    // 5. The N+1 select problem
    //
    // A fresh session, so nothing is cached yet. One SELECT loads the authors. Their `books`
    // are not loaded: by default a relationship is *lazy*, and the first touch of each
    // author's collection sends its own SELECT. With N authors that is 1 + N statements,
    // which nobody notices with 2 authors and everybody notices with 2000.
    // ---------------------------------------------------------------------------------------
    heading("lazy loading: the N+1 select problem");
    std::size_t lazy_count = 0;
    {
        ls::session s{engine};
        counter.reset();

        std::vector<ls::ptr<Author>> authors = s.query<Author>().order_by(ls::col<&Author::id>).all();
        for (const ls::ptr<Author>& author : authors) print_author(*author);  // one SELECT each

        lazy_count = counter.count();
        std::cout << "statements: " << lazy_count << "  (1 for the authors + 1 per author)\n";
    }  // a session closed without commit rolls back: the ROLLBACK you see, harmless after reads

    // ---------------------------------------------------------------------------------------
    // 6. The fix: say what you are going to touch
    //
    // A loader option tells the query to load a relationship *eagerly*, along with the
    // authors. selectinload sends one more SELECT, `... WHERE books.author_id IN (?, ?)`, for
    // all the authors at once: 2 statements whether there are 2 authors or 500. The loop is
    // unchanged; the collections are simply already there when it touches them.
    //
    // The option is a value of its own type, so the loading plan is fixed at compile time,
    // and `ls::selectinload<&Author::title>` (not a relationship) would not compile.
    // ---------------------------------------------------------------------------------------
    heading("selectinload: two statements, whatever the number of authors");
    std::size_t selectin_count = 0;
    {
        ls::session s{engine};
        counter.reset();

        auto authors = s.query<Author>()
                           .order_by(ls::col<&Author::id>)
                           .options(ls::selectinload<&Author::books>)
                           .all();
        for (const auto& author : authors) print_author(*author);  // no SQL in the loop

        selectin_count = counter.count();
        std::cout << "statements: " << selectin_count << "  (1 for the authors + 1 for all their books)\n";

        // A bonus of the identity map: each book's `author` is lazy, but the author it points
        // at is already in this session, so following it costs no SQL at all.
        counter.reset();
        const ls::ptr<Book>& first_book = authors.front()->books[0];
        std::cout << "\"" << first_book->title << "\" was written by " << first_book->author->name
                  << "  (statements: " << counter.count() << ", found in the identity map)\n";

        s.close();
    }

    // ---------------------------------------------------------------------------------------
    // 7. Summary
    // ---------------------------------------------------------------------------------------
    heading("summary");
    std::cout << "lazy (default):  " << lazy_count << " statements\n"
              << "selectinload:    " << selectin_count << " statements\n"
              << "examples/02_loader_strategies.cpp compares all five strategies on 200 authors.\n";

    // The numbers are the point of this example: fail loudly if they ever change.
    return lazy_count == 3 && selectin_count == 2 ? EXIT_SUCCESS : EXIT_FAILURE;
}
