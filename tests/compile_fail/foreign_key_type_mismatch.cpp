// SPDX-License-Identifier: MIT
// A foreign key whose type differs from the key it references (int32 -> int64) names the check,
// the foreign-key member and the key.
// expect: the type of this foreign key column differs from the type of the key it references
// expect: foreign_key_check<&Book::author_id, &Author::id>
// max-lines: 20
#include <loadstar/loadstar.hpp>

#include <cstdint>

namespace ls = loadstar;

struct Author {
    std::int64_t id{};
};
struct Book {
    std::int64_t id{};
    std::int32_t author_id{};
};

template <>
struct loadstar::mapping<Author> {
    static constexpr auto table = ls::table("authors", ls::column<&Author::id>("id", ls::primary_key));
};
template <>
struct loadstar::mapping<Book> {
    static constexpr auto table = ls::table("books", ls::column<&Book::id>("id", ls::primary_key),
                                            ls::column<&Book::author_id>("author_id", ls::foreign_key<&Author::id>));
};

int main() { return static_cast<int>(ls::entity_meta<Book>::column_count); }
