// SPDX-License-Identifier: MIT
// raiseload (and raiseload_all) mean "not loaded" on the typed path: refused at compile time,
// not at run time.
// expect: relationship is not loaded by the query's plan
// expect: relationship_not_loaded_by_plan<loadstar::detail::member_path<>, &model::Book::author>
// max-lines: 20
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    auto book = s->query<model::Book>().options(ls::raiseload_all).typed().first();
    (void)book.get<&model::Book::author>();
}
