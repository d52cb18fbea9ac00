// SPDX-License-Identifier: MIT
// Two loader options for one relationship: which strategy would load it is ambiguous.
// expect: two loader options name the same relationship
// expect: option_unique_check<model::Author, &model::Author::books, 2>
// max-lines: 20
// (options() checks the plan where it is written.)
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    (void)s->query<model::Author>().options(ls::selectinload<&model::Author::books>,
                                            ls::joinedload<&model::Author::books>).all();
}
