// SPDX-License-Identifier: MIT
// typed(...) takes allowances, not loader options (those go to options()).
// expect: typed\(\.\.\.\) takes ls::allow_lazy
// max-lines: 20
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    (void)s->query<model::Author>().typed(ls::selectinload<&model::Author::books>);
}
