// SPDX-License-Identifier: MIT
// column<> of a member whose type is not a column type.
// expect: this member is not a column type
// expect: column_type_check<&Poll::votes>
// max-lines: 20
#include <loadstar/loadstar.hpp>

#include <cstdint>
#include <vector>

namespace ls = loadstar;

struct Poll {
    std::int64_t id{};
    std::vector<int> votes;
};

template <>
struct loadstar::mapping<Poll> {
    static constexpr auto table =
        ls::table("polls", ls::column<&Poll::id>("id", ls::primary_key), ls::column<&Poll::votes>("votes"));
};

int main() { return static_cast<int>(ls::entity_meta<Poll>::column_count); }
