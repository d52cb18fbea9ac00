// SPDX-License-Identifier: MIT
// col<> of a member that is a relationship, not a mapped column.
// expect: this member is not a mapped column of its entity
// expect: column_member_check<&model::Author::books>
// max-lines: 20
#include "../support/model.hpp"

int main() {
    auto c = ls::col<&model::Author::books>;
    (void)c;
}
