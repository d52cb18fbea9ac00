// SPDX-License-Identifier: MIT
// like() on an integer column fails to compile, naming the column.
// expect: like\(\) needs a text \(std::string\) column
// expect: column_ref<&model::Author::id>
// max-lines: 20
#include "../support/model.hpp"

int main() {
    auto predicate = ls::col<&model::Author::id>.like("1%");
    (void)predicate;
}
