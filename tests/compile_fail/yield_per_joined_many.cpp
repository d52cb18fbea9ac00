// SPDX-License-Identifier: MIT
// yield_per with a joined to-many load: one parent's rows could straddle two batches.
// expect: yield_per cannot be combined with a joined load of a to-many relationship
// expect: &model::Author::books
// max-lines: 20
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    (void)s->query<model::Author>().options(ls::joinedload<&model::Author::books>).yield_per(100);
}
