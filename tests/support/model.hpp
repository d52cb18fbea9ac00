// tests/support/model.hpp - the test model: authors, books, publishers, tags (many-to-many),
// profiles (one-to-one) and employees (self-referential). Every relationship is lazy by
// default, as in the SQLAlchemy oracle of tests/differential.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loadstar.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace ls = loadstar;

namespace model {
struct Book;
struct Profile;
struct Author {
    std::int64_t id{};
    std::string name;
    std::optional<std::string> email;
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
struct Book {
    std::int64_t id{};
    std::string title;
    std::int64_t author_id{};
    std::optional<std::int64_t> publisher_id;
    ls::one<Author> author;
    ls::one<Publisher> publisher;
    ls::many<Tag> tags;
};
struct Profile {
    std::int64_t id{};
    std::int64_t author_id{};
    std::string bio;
    ls::one<Author> author;
};
struct Employee {
    std::int64_t id{};
    std::string name;
    std::optional<std::int64_t> manager_id;
    ls::one<Employee> manager;
    ls::many<Employee> reports;
};
}  // namespace model

template <>
struct loadstar::mapping<model::Author> {
    using A = model::Author;
    static constexpr auto table = ls::table("authors",
        ls::column<&A::id>("id", ls::primary_key),
        ls::column<&A::name>("name"),
        ls::column<&A::email>("email", ls::unique),
        ls::has_many<&A::books>(&model::Book::author_id, ls::back_populates<&model::Book::author>),
        ls::has_one<&A::profile>(&model::Profile::author_id, ls::back_populates<&model::Profile::author>));
};
template <>
struct loadstar::mapping<model::Publisher> {
    static constexpr auto table = ls::table("publishers",
        ls::column<&model::Publisher::id>("id", ls::primary_key),
        ls::column<&model::Publisher::name>("name"));
};
template <>
struct loadstar::mapping<model::Tag> {
    static constexpr auto table = ls::table("tags",
        ls::column<&model::Tag::id>("id", ls::primary_key),
        ls::column<&model::Tag::label>("label"));
};
template <>
struct loadstar::mapping<model::Book> {
    using B = model::Book;
    static constexpr auto table = ls::table("books",
        ls::column<&B::id>("id", ls::primary_key),
        ls::column<&B::title>("title"),
        ls::column<&B::author_id>("author_id", ls::foreign_key<&model::Author::id>),
        ls::column<&B::publisher_id>("publisher_id", ls::foreign_key<&model::Publisher::id>),
        ls::belongs_to<&B::author>(&B::author_id, ls::back_populates<&model::Author::books>),
        ls::belongs_to<&B::publisher>(&B::publisher_id),
        ls::many_to_many<&B::tags>(ls::secondary("book_tags", "book_id", "tag_id")));
};
template <>
struct loadstar::mapping<model::Profile> {
    using P = model::Profile;
    static constexpr auto table = ls::table("profiles",
        ls::column<&P::id>("id", ls::primary_key),
        ls::column<&P::author_id>("author_id", ls::unique, ls::foreign_key<&model::Author::id>),
        ls::column<&P::bio>("bio"),
        ls::belongs_to<&P::author>(&P::author_id, ls::back_populates<&model::Author::profile>));
};
template <>
struct loadstar::mapping<model::Employee> {
    using E = model::Employee;
    static constexpr auto table = ls::table("employees",
        ls::column<&E::id>("id", ls::primary_key),
        ls::column<&E::name>("name"),
        ls::column<&E::manager_id>("manager_id", ls::foreign_key<&E::id>),
        ls::belongs_to<&E::manager>(&E::manager_id),
        ls::has_many<&E::reports>(&E::manager_id));
};

namespace model {
/// Creates every table of the model on an engine.
inline void create_schema(ls::engine& e) {
    ls::create_all<Author, Publisher, Tag, Book, Profile, Employee>(e);
}
}  // namespace model
