// SPDX-License-Identifier: MIT
// back_populates naming a column, not a relationship of the target: reported at the mapping,
// once, and the query and the write path that use the mapping add nothing.
// expect: back_populates names a member that is not a relationship
// expect: back_populates_check<
// max-lines: 20
#include <loadstar/loadstar.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace ls = loadstar;
struct Book;
struct Author {
    std::int64_t id{};
    ls::many<Book> books;
};
struct Book {
    std::int64_t id{};
    std::string title;
    std::int64_t author_id{};
    ls::one<Author> author;
};
template <>
struct loadstar::mapping<Author> {
    static constexpr auto table = ls::table("authors",
        ls::column<&Author::id>("id", ls::primary_key),
        ls::has_many<&Author::books>(&Book::author_id, ls::back_populates<&Book::title>));
};
template <>
struct loadstar::mapping<Book> {
    static constexpr auto table = ls::table("books",
        ls::column<&Book::id>("id", ls::primary_key),
        ls::column<&Book::title>("title"),
        ls::column<&Book::author_id>("author_id", ls::foreign_key<&Author::id>),
        ls::belongs_to<&Book::author>(&Book::author_id));
};

int main() {
    ls::session* s = nullptr;
    (void)s->query<Author>().all();
    s->add(std::make_shared<Author>());
}
