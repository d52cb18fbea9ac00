// examples/05_typed_plans.cpp - the loadstar tour, part 5: typed load plans. A query's plan is
// already a type; `.typed()` puts it into the type of the results too, so that the code that
// reads them cannot touch what the query did not load: that is a compile error, with the path
// and the fix in the message, instead of a lazy load (an N+1 waiting to happen) or a
// raise_load_error in production.
// SPDX-License-Identifier: MIT
//
// Part 1 walks a typed result and counts the statements: exactly the plan's.
// Part 2 shows the lines that would not compile (kept in comments, with the compiler's words).
// Part 3 shows the ways to admit more: allow_lazy, session::load, and the cartesian check.

#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace ls = loadstar;

struct Book;
struct Profile;
struct Author {
    std::int64_t id{};
    std::string name;
    ls::many<Book> books;
    ls::one<Profile> profile;
};
struct Publisher {
    std::int64_t id{};
    std::string name;
};
struct Tag {
    std::int64_t id{};
    std::string label;
};
struct Profile {
    std::int64_t id{};
    std::int64_t author_id{};
    std::string bio;
};
struct Book {
    std::int64_t id{};
    std::string title;
    std::int64_t author_id{};
    std::optional<std::int64_t> publisher_id;
    ls::one<Publisher> publisher;
    ls::many<Tag> tags;
};

template <> struct ls::mapping<Author> {
    static constexpr auto table = ls::table("authors",
        ls::column<&Author::id>("id", ls::primary_key),
        ls::column<&Author::name>("name"),
        ls::has_many<&Author::books>(&Book::author_id),
        ls::has_one<&Author::profile>(&Profile::author_id));
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
template <> struct ls::mapping<Profile> {
    static constexpr auto table = ls::table("profiles",
        ls::column<&Profile::id>("id", ls::primary_key),
        ls::column<&Profile::author_id>("author_id", ls::foreign_key<&Author::id>),
        ls::column<&Profile::bio>("bio"));
};
template <> struct ls::mapping<Book> {
    static constexpr auto table = ls::table("books",
        ls::column<&Book::id>("id", ls::primary_key),
        ls::column<&Book::title>("title"),
        ls::column<&Book::author_id>("author_id", ls::foreign_key<&Author::id>),
        ls::column<&Book::publisher_id>("publisher_id", ls::foreign_key<&Publisher::id>),
        ls::belongs_to<&Book::publisher>(&Book::publisher_id),
        ls::many_to_many<&Book::tags>(ls::secondary("book_tags", "book_id", "tag_id")));
};

namespace {

void heading(const std::string& text) {
    std::cout << "\n==================================================================\n"
              << "  " << text << "\n"
              << "==================================================================\n";
}

void seed(ls::engine& engine) {
    ls::session s{engine};
    auto penguin = std::make_shared<Publisher>(Publisher{.name = "Penguin Classics"});
    auto novel = std::make_shared<Tag>(Tag{.label = "novel"});
    auto jane = std::make_shared<Author>(Author{.name = "Jane Austen"});
    jane->profile = std::make_shared<Profile>(Profile{.bio = "Steventon, Hampshire"});
    auto emma = std::make_shared<Book>(Book{.title = "Emma"});
    emma->publisher = penguin;
    emma->tags.push_back(novel);
    jane->books.push_back(emma);
    jane->books.push_back(std::make_shared<Book>(Book{.title = "Persuasion"}));
    auto charles = std::make_shared<Author>(Author{.name = "Charles Dickens"});
    auto twist = std::make_shared<Book>(Book{.title = "Oliver Twist"});
    twist->publisher = penguin;
    charles->books.push_back(twist);
    s.add(jane);
    s.add(charles);
    s.commit();
}

}  // namespace

int main() {
    auto engine = ls::sqlite::engine(":memory:");
    ls::create_all<Author, Publisher, Tag, Profile, Book>(engine);
    seed(engine);
    ls::statement_counter counter{engine};

    heading("1. A typed result reads exactly what its plan loaded");
    ls::session s{engine};
    auto authors = s.query<Author>()
                       .order_by(ls::col<&Author::id>)
                       .options(ls::selectinload<&Author::books>.then(ls::joinedload<&Book::publisher>))
                       .typed()
                       .all();
    std::cout << "statements so far: " << counter.count() << "  (authors; their books joined to publishers)\n";
    for (auto author : authors) {                          // a view: one pointer
        std::cout << author->name << '\n';                 // columns read as usual
        for (auto book : author.get<&Author::books>()) {   // in the plan: compiles
            auto publisher = book.get<&Book::publisher>(); // in the plan (joined): compiles
            std::cout << "  " << book->title << "  (" << (publisher ? publisher->name : "no publisher") << ")\n";
        }
    }
    std::cout << "statements after walking every book and publisher: " << counter.count() << '\n';

    heading("2. What the plan does not load does not compile");
    std::cout << R"(Uncomment either line in the loop above and the build stops with one message:

    author.get<&Author::profile>();
      error: static assertion failed: loadstar: typed view: this relationship is not loaded
      by the query's plan ... load it in options() with joinedload, selectinload or
      subqueryload (under its parent with .then(...)), or accept its lazy load with
      ls::allow_lazy<&T::member> in typed(...)
      In instantiation of 'relationship_not_loaded_by_plan<member_path<>, &Author::profile>'

    book.get<&Book::tags>();
      ... relationship_not_loaded_by_plan<member_path<&Author::books>, &Book::tags>
      (the path says where: Author.books.tags)

The untyped query would have run one SELECT per author (or per book) for these, silently;
raiseload would have thrown at run time. tests/compile_fail/typed_*.cpp hold these cases.
)";

    heading("3. Admitting more: allow_lazy, session::load, allow_cartesian");
    counter.reset();
    // The program accepts one statement per touch of Author.profile:
    auto lazy = s.query<Author>().order_by(ls::col<&Author::id>).typed(ls::allow_lazy<&Author::profile>).all();
    if (auto profile = lazy[0].get<&Author::profile>()) std::cout << lazy[0]->name << ": " << profile->bio << '\n';
    std::cout << "statements: " << counter.count() << " (the authors, then the one profile touched)\n";

    // Or loads it for all of them at once, after deciding which: the views that come back
    // have it in their plan.
    counter.reset();
    ls::session t{engine};
    auto plain = t.query<Author>().order_by(ls::col<&Author::id>).typed().all();
    auto with_books = t.load<&Author::books>(plain);
    std::size_t books = 0;
    for (auto author : with_books) books += author.get<&Author::books>().size();
    std::cout << books << " books through session::load, in " << counter.count() << " statements\n";

    // Two joined collections at one level multiply each other's rows (every book of an
    // author comes back once per tag...): options(joinedload<&Author::books>,
    // joinedload<&Author::...another collection>).typed() is refused at compile time;
    // .typed(ls::allow_cartesian) says it is meant. Loading one with selectinload avoids it.
    std::cout << "\nThe typed path costs nothing at run time: a view is one pointer to the same\n"
                 "ls::ptr<T> the untyped query returns (bench_typed_plans measures both).\n";
    return counter.count() == 3 ? 0 : 1;
}
