// SPDX-License-Identifier: MIT
// then() continues from the related entity (Book): an option for Author's own relationship there
// is misplaced.
// expect: a loader option names a member that is not a relationship of the entity at its place in the path
// expect: option_path_check<model::Book, &model::Author::profile>
// max-lines: 20
// (options() checks the whole option tree where it is written: no all() is needed.)
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    (void)s->query<model::Author>().options(
        ls::selectinload<&model::Author::books>.then(ls::joinedload<&model::Author::profile>));
}
