// examples/02_loader_strategies.cpp - the loadstar tour, part 2: the five loader strategies
// side by side (statements, rows, objects, time), then the guard rails that keep an N+1 from
// reaching production: the N+1 detector, raiseload and raiseload_all.
// SPDX-License-Identifier: MIT
//
// Part 1 echoes the SQL of each strategy on a tiny data set (2 authors), so you can read it.
// Part 2 runs the same loads on 200 authors x 5 books with echo off, and prints a table.
// Part 3 shows the errors loadstar raises instead of silently running 1 + N statements.

#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ls = loadstar;

// -----------------------------------------------------------------------------------------
// The model: authors write books; a book has one publisher and many tags (many-to-many,
// through the association table book_tags). The same model as the README.
// -----------------------------------------------------------------------------------------
struct Book;
struct Author {
    std::int64_t id{};
    std::string name;
    std::optional<std::string> email;
    ls::many<Book> books;
};
struct Publisher {
    std::int64_t id{};
    std::string name;
};
struct Tag {
    std::int64_t id{};
    std::string label;
};
struct Book {
    std::int64_t id{};
    std::string title;
    std::int64_t author_id{};
    std::optional<std::int64_t> publisher_id;
    ls::one<Author> author;
    ls::one<Publisher> publisher;
    ls::many<Tag> tags;
};

template <> struct ls::mapping<Author> {
    static constexpr auto table = ls::table("authors",
        ls::column<&Author::id>("id", ls::primary_key),
        ls::column<&Author::name>("name"),
        ls::column<&Author::email>("email", ls::unique),
        ls::has_many<&Author::books>(&Book::author_id,
                                     ls::back_populates<&Book::author>,
                                     ls::cascade_delete_orphan));
};
template <> struct ls::mapping<Publisher> {
    static constexpr auto table = ls::table("publishers",
        ls::column<&Publisher::id>("id", ls::primary_key),
        ls::column<&Publisher::name>("name"));
};
template <> struct ls::mapping<Tag> {
    static constexpr auto table = ls::table("tags",
        ls::column<&Tag::id>("id", ls::primary_key),
        ls::column<&Tag::label>("label"));
};
template <> struct ls::mapping<Book> {
    static constexpr auto table = ls::table("books",
        ls::column<&Book::id>("id", ls::primary_key),
        ls::column<&Book::title>("title"),
        ls::column<&Book::author_id>("author_id", ls::foreign_key<&Author::id>),
        ls::column<&Book::publisher_id>("publisher_id", ls::foreign_key<&Publisher::id>),
        ls::belongs_to<&Book::author>(&Book::author_id, ls::back_populates<&Author::books>),
        // Every statement that loads books joins their publisher, unless an option says
        // otherwise: a to-one is one extra column set on the same row, never extra rows.
        ls::belongs_to<&Book::publisher>(&Book::publisher_id,
                                         ls::default_loader<ls::strategy::joined>),
        ls::many_to_many<&Book::tags>(ls::secondary("book_tags", "book_id", "tag_id")));
};

namespace {

using clock_type = std::chrono::steady_clock;
using authors_t = std::vector<ls::ptr<Author>>;

void heading(const std::string& text) {
    std::cout << "\n==================================================================\n"
              << "  " << text << "\n"
              << "==================================================================\n";
}
void subheading(const std::string& text) { std::cout << "\n-- " << text << " --\n"; }

// ---- data -----------------------------------------------------------------------------------

/// The tiny data set: two authors, three books, two publishers, two tags.
void seed_small(ls::engine& engine) {
    ls::session s{engine};
    auto penguin = std::make_shared<Publisher>(Publisher{.name = "Penguin Classics"});
    auto oxford = std::make_shared<Publisher>(Publisher{.name = "Oxford World's Classics"});
    auto novel = std::make_shared<Tag>(Tag{.label = "novel"});
    auto romance = std::make_shared<Tag>(Tag{.label = "romance"});

    auto book = [&](std::string title, const ls::ptr<Publisher>& pub, std::vector<ls::ptr<Tag>> tags) {
        auto b = std::make_shared<Book>(Book{.title = std::move(title)});
        b->publisher = pub;
        for (auto& t : tags) b->tags.push_back(t);
        return b;
    };
    auto jane = std::make_shared<Author>(Author{.name = "Jane Austen"});
    jane->books.push_back(book("Pride and Prejudice", penguin, {novel, romance}));
    jane->books.push_back(book("Sense and Sensibility", oxford, {novel, romance}));
    auto charles = std::make_shared<Author>(Author{.name = "Charles Dickens"});
    charles->books.push_back(book("Oliver Twist", penguin, {novel}));

    s.add(jane);
    s.add(charles);
    s.commit();
    s.close();
}

/// The big data set: `authors` authors with `per_author` books each; 20 publishers; 10 tags,
/// two per book. Written through one session and one COMMIT.
void seed_big(ls::engine& engine, int authors, int per_author) {
    ls::session s{engine};
    std::vector<ls::ptr<Publisher>> publishers;
    for (int i = 0; i < 20; ++i)
        publishers.push_back(std::make_shared<Publisher>(Publisher{.name = "Publisher " + std::to_string(i + 1)}));
    std::vector<ls::ptr<Tag>> tags;
    for (int i = 0; i < 10; ++i) tags.push_back(std::make_shared<Tag>(Tag{.label = "tag-" + std::to_string(i + 1)}));

    std::vector<ls::ptr<Author>> all;
    for (int a = 0; a < authors; ++a) {
        auto author = std::make_shared<Author>(Author{.name = "Author " + std::to_string(a + 1)});
        for (int b = 0; b < per_author; ++b) {
            auto book = std::make_shared<Book>(
                Book{.title = "Book " + std::to_string(a + 1) + "." + std::to_string(b + 1)});
            book->publisher = publishers[static_cast<std::size_t>((a + b) % 20)];
            book->tags.push_back(tags[static_cast<std::size_t>((a + b) % 10)]);
            book->tags.push_back(tags[static_cast<std::size_t>((a + b + 3) % 10)]);
            author->books.push_back(book);
        }
        s.add(author);
        all.push_back(author);
    }
    s.commit();
    s.close();
}

// ---- the five strategies ----------------------------------------------------------------------
//
// Each function runs the same query, "all authors by id", with one strategy for Author.books.
// The option is part of the query's *type*: the plan is fixed when the code compiles.

authors_t load_lazy(ls::session& s) {
    return s.query<Author>().order_by(ls::col<&Author::id>).options(ls::lazyload<&Author::books>).all();
}
authors_t load_joined(ls::session& s) {
    return s.query<Author>().order_by(ls::col<&Author::id>).options(ls::joinedload<&Author::books>).all();
}
authors_t load_selectin(ls::session& s) {
    return s.query<Author>().order_by(ls::col<&Author::id>).options(ls::selectinload<&Author::books>).all();
}
authors_t load_subquery(ls::session& s) {
    return s.query<Author>().order_by(ls::col<&Author::id>).options(ls::subqueryload<&Author::books>).all();
}
authors_t load_raise(ls::session& s) {
    return s.query<Author>().order_by(ls::col<&Author::id>).options(ls::raiseload<&Author::books>).all();
}
// Two variations on selectin: smaller IN batches, and a nested option for the books' tags.
authors_t load_selectin_batch50(ls::session& s) {
    return s.query<Author>()
        .order_by(ls::col<&Author::id>)
        .options(ls::selectinload<&Author::books>.batch_size<50>())
        .all();
}
authors_t load_selectin_tags(ls::session& s) {
    return s.query<Author>()
        .order_by(ls::col<&Author::id>)
        .options(ls::selectinload<&Author::books>.then(ls::selectinload<&Book::tags>))
        .all();
}

struct strategy_case {
    std::string name;
    std::function<authors_t(ls::session&)> load;
    int touch_depth;  ///< 0: read names only; 1: touch every author's books; 2: and their tags
    std::string expected;  ///< the statement count, as DESIGN.md states it for N = authors
};

/// What the program does with the objects: the part that triggers lazy loads.
std::size_t touch(const authors_t& authors, int depth) {
    std::size_t seen = 0;
    for (const auto& a : authors) {
        seen += a->name.size() > 0;
        if (depth < 1) continue;
        for (const auto& b : a->books) {
            seen += b->title.size() > 0;
            if (depth < 2) continue;
            for (const auto& t : b->tags) seen += t->label.size() > 0;
        }
    }
    return seen;
}

struct measurement {
    std::size_t statements = 0;
    std::int64_t rows = 0;        ///< rows the database returned, all statements together
    std::size_t objects = 0;      ///< objects in the identity map afterwards
    double milliseconds = 0;      ///< best of several runs, without any listener attached
};

measurement measure(ls::engine& engine, const strategy_case& c) {
    measurement m;
    {
        // One run with listeners: count statements and rows.
        ls::statement_counter counter{engine};
        std::int64_t rows = 0;
        const auto id = engine.on_statement([&](const ls::statement_event& e) {
            if (e.counted) rows += e.rows;
        });
        ls::session s{engine};
        auto authors = c.load(s);
        touch(authors, c.touch_depth);
        m.statements = counter.count();
        m.rows = rows;
        m.objects = s.identity_size();
        engine.remove_listener(id);
    }
    // Timed runs with nothing listening (events cost a clock read per statement).
    double best = 1e300;
    for (int run = 0; run < 5; ++run) {
        ls::session s{engine};
        const auto t0 = clock_type::now();
        auto authors = c.load(s);
        touch(authors, c.touch_depth);
        const auto t1 = clock_type::now();
        best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    m.milliseconds = best;
    return m;
}

}  // namespace

int main() {
    std::cout << std::unitbuf;  // keep our lines and the echoed SQL (stderr) in order
    bool ok = true;
    auto expect = [&](bool condition, const std::string& what) {
        if (!condition) {
            std::cout << "UNEXPECTED: " << what << '\n';
            ok = false;
        }
    };

    // =========================================================================================
    // Part 1: each strategy on two authors, with the SQL echoed
    // =========================================================================================
    heading("Part 1: the five strategies on 2 authors (SQL on stderr)");
    ls::engine small = ls::sqlite::engine(":memory:");
    ls::create_all<Author, Publisher, Tag, Book>(small);
    seed_small(small);
    small.echo(true);

    const std::vector<strategy_case> small_cases = {
        {"lazy", load_lazy, 1, "1 + N"},
        {"joined", load_joined, 1, "1"},
        {"selectin", load_selectin, 1, "1 + ceil(N / 500)"},
        {"subquery", load_subquery, 1, "2"},
        {"raise", load_raise, 0, "1"},
    };
    for (const auto& c : small_cases) {
        subheading(c.name + " (expected statements: " + c.expected + ")");
        ls::statement_counter counter{small};
        ls::session s{small};
        auto authors = c.load(s);
        for (const auto& a : authors) {
            std::string line = "  " + a->name + ":";
            if (c.touch_depth == 0) {
                line += " (books not touched)";
            } else {
                for (const auto& b : a->books) line += " [" + b->title + "]";
            }
            std::cout << line << '\n';
        }
        std::cout << "  => statements: " << counter.count() << '\n';
    }
    std::cout << "\nNotes on what you just read:\n"
                 "  - lazy: one SELECT per author, on first touch of author->books.\n"
                 "  - joined: one SELECT ... LEFT OUTER JOIN books; an author repeats once per book\n"
                 "    and the identity map folds the repeats into one object.\n"
                 "  - selectin: the authors, then books WHERE author_id IN (the authors' keys).\n"
                 "  - subquery: the authors, then books JOINed to the authors query re-run as a\n"
                 "    subquery (its WHERE / ORDER BY / LIMIT kept).\n"
                 "  - raise: only the authors; touching author->books would throw (see Part 3).\n"
                 "  - Book.publisher has default_loader<joined>: every statement that loads books\n"
                 "    LEFT OUTER JOINs publishers too.\n";
    small.echo(false);

    // =========================================================================================
    // Part 2: the same loads on 200 authors x 5 books, measured
    // =========================================================================================
    constexpr int n_authors = 200;
    constexpr int per_author = 5;
    heading("Part 2: 200 authors x 5 books (echo off)");
    ls::engine big = ls::sqlite::engine(":memory:");
    ls::create_all<Author, Publisher, Tag, Book>(big);
    {
        const auto t0 = clock_type::now();
        seed_big(big, n_authors, per_author);
        const auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
        std::cout << "seeded " << n_authors << " authors, " << n_authors * per_author
                  << " books, 20 publishers, 10 tags (2 per book) in " << static_cast<long>(ms) << " ms\n";
    }

    const std::vector<strategy_case> big_cases = {
        {"lazy", load_lazy, 1, "1 + N = 201"},
        {"joined", load_joined, 1, "1"},
        {"selectin", load_selectin, 1, "1 + ceil(200/500) = 2"},
        {"subquery", load_subquery, 1, "2"},
        {"raise", load_raise, 0, "1 (books never loaded)"},
        {"selectin, batch_size<50>", load_selectin_batch50, 1, "1 + ceil(200/50) = 5"},
        {"selectin.then(selectin tags)", load_selectin_tags, 2, "1 + 1 + ceil(1000/500) = 4"},
    };
    std::cout << "\nEach row: all authors by id, then touch every author's books (and, in the\n"
                 "last row, every book's tags). A fresh session per run; time is the best of 5.\n\n";
    std::printf("%-30s | %10s | %-15s | %12s | %s\n", "strategy", "statements", "rows (objects)",
                "milliseconds", "expected statements");
    std::printf("%s\n", std::string(30, '-').append(" | ").append(10, '-').append(" | ")
                            .append(15, '-').append(" | ").append(12, '-').append(" | ")
                            .append(26, '-').c_str());
    std::fflush(stdout);
    std::vector<measurement> results;
    for (const auto& c : big_cases) {
        const measurement m = measure(big, c);
        results.push_back(m);
        const std::string rows = std::to_string(m.rows) + " (" + std::to_string(m.objects) + ")";
        std::printf("%-30s | %10zu | %-15s | %12.2f | %s\n", c.name.c_str(), m.statements, rows.c_str(),
                    m.milliseconds, c.expected.c_str());
        std::fflush(stdout);
    }
    std::cout << "\nrows: rows the database returned over all statements; objects: entities in the\n"
                 "session afterwards (authors + books + the publishers joined with them + tags).\n"
                 "joined returns fewer rows but repeats each author's columns on every book row.\n"
                 "This is SQLite in the same process: a statement costs microseconds, so lazy\n"
                 "looks cheap here. Over a network each of its 201 statements is a round trip.\n";
    expect(results[0].statements == 1 + n_authors, "lazy should take 1 + N statements");
    expect(results[1].statements == 1, "joined should take 1 statement");
    expect(results[2].statements == 2, "selectin should take 2 statements");
    expect(results[3].statements == 2, "subquery should take 2 statements");
    expect(results[4].statements == 1, "raise should take 1 statement");
    expect(results[5].statements == 5, "selectin with batch_size<50> should take 5 statements");

    // =========================================================================================
    // Part 3: guard rails
    // =========================================================================================
    heading("Part 3: catching N+1 before production does");

    // ---- The N+1 detector ----------------------------------------------------------------------
    // A session can count lazy loads per relationship. Past the threshold it warns once on
    // stderr (n_plus_one_mode::warn) or throws ls::n_plus_one_error (raise): turn it on in
    // tests and in development, and the quickstart's loop fails on its 11th author.
    subheading("the N+1 detector (n_plus_one_mode::raise, threshold 10)");
    {
        ls::session strict{big, {.n_plus_one = ls::n_plus_one_mode::raise, .n_plus_one_threshold = 10}};
        auto authors = strict.query<Author>().order_by(ls::col<&Author::id>).all();
        std::size_t printed = 0;
        bool caught = false;
        try {
            for (const auto& author : authors) {
                std::size_t titles = 0;
                for (const auto& book : author->books) titles += !book->title.empty();
                ++printed;
            }
        } catch (const ls::n_plus_one_error& e) {
            caught = true;
            std::cout << "after " << printed << " authors, ls::n_plus_one_error:\n  " << e.what() << '\n';
        }
        expect(caught, "the strict session should throw n_plus_one_error");
    }
    {
        // The same loop, with the relationship loaded up front, is 2 statements and passes.
        ls::session strict{big, {.n_plus_one = ls::n_plus_one_mode::raise, .n_plus_one_threshold = 10}};
        ls::statement_counter counter{big};
        auto authors = load_selectin(strict);
        std::size_t books = 0;
        for (const auto& author : authors) books += author->books.size();
        std::cout << "with selectinload<&Author::books>: " << books << " books in " << counter.count()
                  << " statements, no error\n";
    }

    // ---- raiseload -----------------------------------------------------------------------------
    // raiseload<&M> says "this query's code must not touch M". Touching it anyway throws
    // ls::raise_load_error naming the relationship and the line that touched it, instead of
    // quietly running a SELECT. SQL is echoed again (the tiny data set).
    subheading("raiseload<&Author::books>");
    small.echo(true);
    {
        ls::session s{small};
        auto authors = load_raise(s);
        try {
            const std::size_t n = authors.front()->books.size();  // throws: nothing is sent
            std::cout << authors.front()->name << " has " << n << " books\n";
            expect(false, "touching a raiseload relationship should throw");
        } catch (const ls::raise_load_error& e) {
            std::cout << "ls::raise_load_error:\n  " << e.what() << '\n';
            expect(std::string(e.what()).find("Author.books") != std::string::npos,
                   "the message should name Author.books");
        }
    }

    // ---- raiseload_all -------------------------------------------------------------------------
    // raiseload_all: every relationship that no option names refuses to load, at any depth,
    // default loaders included. Here: books with their author joined, and nothing else.
    subheading("joinedload<&Book::author> + raiseload_all");
    {
        ls::session s{small};
        auto books = s.query<Book>()
                         .order_by(ls::col<&Book::id>)
                         .options(ls::joinedload<&Book::author>, ls::raiseload_all)
                         .all();
        std::cout << "\"" << books.front()->title << "\" by " << books.front()->author->name
                  << " (Book.author was named: loaded by the join)\n";
        auto attempt = [&](const std::string& what, const std::function<void()>& fn) {
            try {
                fn();
                expect(false, what + " should throw under raiseload_all");
            } catch (const ls::raise_load_error& e) {
                std::cout << what << " -> ls::raise_load_error:\n  " << e.what() << '\n';
            }
        };
        attempt("book->tags", [&] { (void)books.front()->tags.size(); });
        attempt("book->publisher (default_loader<joined> is overridden)",
                [&] { (void)books.front()->publisher.get(); });
        attempt("book->author->books (depth 2)", [&] { (void)books.front()->author->books.size(); });
    }
    small.echo(false);

    std::cout << '\n' << (ok ? "all statement counts as expected" : "SOME COUNTS WERE UNEXPECTED") << '\n';
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
