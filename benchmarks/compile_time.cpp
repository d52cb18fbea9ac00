// benchmarks/compile_time.cpp - what a header-only ORM costs at build time: one translation unit
// with four entities and twenty queries, as an application would write them. scripts/bench
// compiles it (-c, with the release flags of the benchmark binary) and reports the median wall
// time; with -DLOADSTAR_COMPILE_TIME_HEADERS_ONLY it compiles the includes alone, to split the
// figure into parsing the headers and instantiating the queries. Not built by CMake.
// SPDX-License-Identifier: MIT

#include <loadstar/loadstar.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#ifndef LOADSTAR_COMPILE_TIME_HEADERS_ONLY

namespace ls = loadstar;

namespace app {
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
}  // namespace app

template <>
struct loadstar::mapping<app::Author> {
    using A = app::Author;
    static constexpr auto table = ls::table("authors",
        ls::column<&A::id>("id", ls::primary_key),
        ls::column<&A::name>("name"),
        ls::column<&A::email>("email", ls::unique),
        ls::has_many<&A::books>(&app::Book::author_id, ls::back_populates<&app::Book::author>));
};
template <>
struct loadstar::mapping<app::Publisher> {
    static constexpr auto table = ls::table("publishers",
        ls::column<&app::Publisher::id>("id", ls::primary_key),
        ls::column<&app::Publisher::name>("name"));
};
template <>
struct loadstar::mapping<app::Tag> {
    static constexpr auto table = ls::table("tags",
        ls::column<&app::Tag::id>("id", ls::primary_key),
        ls::column<&app::Tag::label>("label"));
};
template <>
struct loadstar::mapping<app::Book> {
    using B = app::Book;
    static constexpr auto table = ls::table("books",
        ls::column<&B::id>("id", ls::primary_key),
        ls::column<&B::title>("title"),
        ls::column<&B::author_id>("author_id", ls::foreign_key<&app::Author::id>),
        ls::column<&B::publisher_id>("publisher_id", ls::foreign_key<&app::Publisher::id>),
        ls::belongs_to<&B::author>(&B::author_id, ls::back_populates<&app::Author::books>),
        ls::belongs_to<&B::publisher>(&B::publisher_id, ls::default_loader<ls::strategy::joined>),
        ls::many_to_many<&B::tags>(ls::secondary("book_tags", "book_id", "tag_id")));
};

namespace app {
using ls::col;

// Twenty queries.
std::vector<ls::ptr<Author>> q01(ls::session& s) { return s.query<Author>().all(); }
std::vector<ls::ptr<Author>> q02(ls::session& s) {
    return s.query<Author>().options(ls::selectinload<&Author::books>).all();
}
std::vector<ls::ptr<Author>> q03(ls::session& s) {
    return s.query<Author>().options(ls::joinedload<&Author::books>).all();
}
std::vector<ls::ptr<Author>> q04(ls::session& s) {
    return s.query<Author>().options(ls::subqueryload<&Author::books>).all();
}
std::vector<ls::ptr<Author>> q05(ls::session& s) {
    return s.query<Author>()
        .options(ls::selectinload<&Author::books>.then(ls::joinedload<&Book::publisher>,
                                                       ls::selectinload<&Book::tags>))
        .all();
}
std::vector<ls::ptr<Author>> q06(ls::session& s) {
    return s.query<Author>()
        .where(col<&Author::name>.like("J%") && col<&Author::id> > 10)
        .order_by(col<&Author::id>.desc())
        .limit(20)
        .offset(40)
        .options(ls::selectinload<&Author::books>, ls::raiseload_all)
        .all();
}
ls::ptr<Author> q07(ls::session& s) { return s.get<Author>(42); }
ls::ptr<Author> q08(ls::session& s) { return s.query<Author>().order_by(col<&Author::id>).first(); }
ls::ptr<Author> q09(ls::session& s) { return s.query<Author>().where(col<&Author::id> == 1).one(); }
std::int64_t q10(ls::session& s) { return s.query<Book>().where(col<&Book::author_id> == 1).count(); }
bool q11(ls::session& s) { return s.query<Book>().where(col<&Book::title> == "Emma").exists(); }
std::vector<std::tuple<std::int64_t, std::string>> q12(ls::session& s) {
    return s.query<Author>().columns<&Author::id, &Author::name>().all();
}
std::vector<ls::ptr<Book>> q13(ls::session& s) {
    return s.query<Book>().options(ls::joinedload<&Book::author>, ls::selectinload<&Book::tags>).all();
}
std::vector<ls::ptr<Book>> q14(ls::session& s) {
    return s.query<Book>()
        .join<&Book::author>()
        .where(col<&Author::name> == "Jane Austen")
        .options(ls::contains_eager<&Book::author>)
        .all();
}
std::vector<ls::ptr<Book>> q15(ls::session& s) { return s.query<Book>().untracked().all(); }
std::vector<ls::ptr<Book>> q16(ls::session& s) {
    return s.query<Book>().where(col<&Book::publisher_id> == 3).options(ls::raiseload<&Book::tags>).all();
}
std::vector<ls::ptr<Publisher>> q17(ls::session& s) {
    return s.query<Publisher>().order_by(col<&Publisher::name>).all();
}
std::vector<ls::ptr<Tag>> q18(ls::session& s) { return s.query<Tag>().where(col<&Tag::label>.like("c%")).all(); }
std::int64_t q19(ls::session& s) {
    return s.query<Book>().where(col<&Book::author_id> == 1).update(ls::set<&Book::title>("x"));
}
std::int64_t q20(ls::session& s) {
    std::int64_t n = 0;
    for (const ls::ptr<Book>& b : s.query<Book>().yield_per(1000)) n += b->id;
    return n;
}
}  // namespace app

#endif
