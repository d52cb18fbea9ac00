// NOT NULL foreign keys in a cycle: no row could ever be inserted first.
// expect: NOT NULL foreign keys form a cycle
// expect: insert_cycle_check<(cyc::)?Egg>
// max-lines: 20
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

namespace ls = loadstar;
namespace cyc {
struct Hen;
struct Egg {
    std::int64_t id{};
    std::int64_t hen_id{};
    ls::one<Hen> hen;
};
struct Hen {
    std::int64_t id{};
    std::int64_t egg_id{};
    ls::one<Egg> egg;
};
}  // namespace cyc
template <>
struct loadstar::mapping<cyc::Egg> {
    static constexpr auto table = ls::table("eggs", ls::column<&cyc::Egg::id>("id", ls::primary_key),
        ls::column<&cyc::Egg::hen_id>("hen_id", ls::foreign_key<&cyc::Hen::id>),
        ls::belongs_to<&cyc::Egg::hen>(&cyc::Egg::hen_id));
};
template <>
struct loadstar::mapping<cyc::Hen> {
    static constexpr auto table = ls::table("hens", ls::column<&cyc::Hen::id>("id", ls::primary_key),
        ls::column<&cyc::Hen::egg_id>("egg_id", ls::foreign_key<&cyc::Egg::id>),
        ls::belongs_to<&cyc::Hen::egg>(&cyc::Hen::egg_id));
};

int main() {
    auto e = ls::sqlite::engine(":memory:");
    ls::session s{e};
    s.add(std::make_shared<cyc::Egg>());
}
