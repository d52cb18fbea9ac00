// SPDX-License-Identifier: MIT
// A loader option naming a relationship of another entity than the queried one.
// expect: a loader option names a member that is not a relationship of the entity at its place in the path
// expect: option_path_check<model::Author, &model::Book::tags>
// max-lines: 20
// (options() checks the plan where it is written.)
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    (void)s->query<model::Author>().options(ls::selectinload<&model::Book::tags>).all();
}
