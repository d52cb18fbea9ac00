// SPDX-License-Identifier: MIT
// load_only<> leaves the other columns out, so each must be a deferred<T>: reported once, at
// options(), naming the first plain column it leaves out.
// expect: must be declared loadstar::deferred<T>
// expect: Profile::author_id
// max-lines: 20
#include "../support/model.hpp"
#include <loadstar/sqlite.hpp>

int main() {
    auto e = ls::sqlite::engine(":memory:");
    ls::session s{e};
    (void)s.query<model::Profile>().options(ls::load_only<&model::Profile::bio>).all();
}
