// SPDX-License-Identifier: MIT
// Two to-many relationships joined at one level multiply each other's rows: refused where
// typed() is written, with advice, unless acknowledged with ls::allow_cartesian.
// expect: two to-many relationships are joined at one level of the plan
// expect: joined_collections_multiply_rows<Person, &Person::pets, &Person::cars>
// max-lines: 20
#include <loadstar/loadstar.hpp>

#include <cstdint>

namespace ls = loadstar;
struct Pet {
    std::int64_t id{};
    std::int64_t person_id{};
};
struct Car {
    std::int64_t id{};
    std::int64_t person_id{};
};
struct Person {
    std::int64_t id{};
    ls::many<Pet> pets;
    ls::many<Car> cars;
};
template <>
struct loadstar::mapping<Pet> {
    static constexpr auto table = ls::table("pets", ls::column<&Pet::id>("id", ls::primary_key),
                                            ls::column<&Pet::person_id>("person_id"));
};
template <>
struct loadstar::mapping<Car> {
    static constexpr auto table = ls::table("cars", ls::column<&Car::id>("id", ls::primary_key),
                                            ls::column<&Car::person_id>("person_id"));
};
template <>
struct loadstar::mapping<Person> {
    static constexpr auto table =
        ls::table("people", ls::column<&Person::id>("id", ls::primary_key),
                  ls::has_many<&Person::pets>(&Pet::person_id), ls::has_many<&Person::cars>(&Car::person_id));
};

int main() {
    ls::session* s = nullptr;
    (void)s->query<Person>().options(ls::joinedload<&Person::pets>, ls::joinedload<&Person::cars>).typed();
}
