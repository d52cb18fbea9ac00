// benchmarks/compile_time/one_query.cpp - one entity, one query: the smallest useful program.
// Compiled by benchmarks/compile_time.sh; not built by CMake.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include <cstdint>
#include <string>

namespace ls = loadstar;

struct Note {
    std::int64_t id{};
    std::string text;
};
template <>
struct loadstar::mapping<Note> {
    static constexpr auto table = ls::table("notes",
        ls::column<&Note::id>("id", ls::primary_key),
        ls::column<&Note::text>("text"));
};

int main() {
    auto engine = ls::sqlite::engine(":memory:");
    ls::create_all<Note>(engine);
    ls::session s{engine};
    return static_cast<int>(s.query<Note>().where(ls::col<&Note::id> > 0).all().size());
}
