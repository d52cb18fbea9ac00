// SPDX-License-Identifier: MIT
// A deferred<T> column that load_only / defer leave out does not read on the typed path.
// expect: load_only / defer leave this deferred column out of the query
// expect: column_not_loaded_by_plan<loadstar::detail::member_path<>, &Note::body>
// max-lines: 20
#include <loadstar/loadstar.hpp>

#include <cstdint>
#include <string>

namespace ls = loadstar;
struct Note {
    std::int64_t id{};
    ls::deferred<std::string> body;
};
template <>
struct loadstar::mapping<Note> {
    static constexpr auto table =
        ls::table("notes", ls::column<&Note::id>("id", ls::primary_key), ls::column<&Note::body>("body"));
};

int main() {
    ls::session* s = nullptr;
    auto note = s->query<Note>().options(ls::defer<&Note::body>).typed().first();
    (void)note.get<&Note::body>();
}
