// A column left out by defer<> must be a deferred<T>: a plain member cannot load when touched.
// expect: must be declared loadstar::deferred<T>
// expect: Profile::bio
// max-lines: 20
#include "../support/model.hpp"
#include <loadstar/sqlite.hpp>

int main() {
    auto e = ls::sqlite::engine(":memory:");
    ls::session s{e};
    (void)s.query<model::Profile>().options(ls::defer<&model::Profile::bio>).all();
}
