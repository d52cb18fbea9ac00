// SPDX-License-Identifier: MIT
// A typed view reads only what its query's plan loads: Author.profile is not in this plan.
// expect: relationship is not loaded by the query's plan
// expect: relationship_not_loaded_by_plan<loadstar::detail::member_path<>, &model::Author::profile>
// max-lines: 20
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    auto authors = s->query<model::Author>().options(ls::selectinload<&model::Author::books>).typed().all();
    for (auto a : authors) (void)a.get<&model::Author::profile>()->bio;
}
