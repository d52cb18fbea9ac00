// SPDX-License-Identifier: MIT
// col<> of a relationship member used in a query: one message, not the loader's cascade.
// expect: this member is not a mapped column of its entity
// expect: column_member_check<&model::Author::books>
// max-lines: 20
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    (void)s->query<model::Author>()
        .where(ls::col<&model::Author::books> == 1)
        .order_by(ls::col<&model::Author::books>)
        .all();
}
