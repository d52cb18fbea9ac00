// SPDX-License-Identifier: MIT
// The path counts: Book.tags is not loaded under Author.books, and the error names the path.
// expect: relationship is not loaded by the query's plan
// expect: relationship_not_loaded_by_plan<loadstar::detail::member_path<&model::Author::books>, &model::Book::tags>
// max-lines: 20
#include "../support/model.hpp"

int main() {
    ls::session* s = nullptr;
    auto authors = s->query<model::Author>()
                       .options(ls::selectinload<&model::Author::books>.then(ls::joinedload<&model::Book::publisher>))
                       .typed()
                       .all();
    for (auto a : authors)
        for (auto b : a.get<&model::Author::books>())
            for (auto t : b.get<&model::Book::tags>()) (void)t;
}
