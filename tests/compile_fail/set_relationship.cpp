// SPDX-License-Identifier: MIT
// ls::set<> of a relationship member in a bulk update: one message, not a cascade through the
// value conversion and the UPDATE builder.
// expect: this member is not a mapped column of its entity
// expect: column_member_check<&model::Author::books>
// max-lines: 20
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    (void)s->query<model::Author>().where(ls::col<&model::Author::id> == 1).update(ls::set<&model::Author::books>(1));
}
