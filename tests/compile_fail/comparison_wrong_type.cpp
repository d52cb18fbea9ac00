// SPDX-License-Identifier: MIT
// Comparing a text column with an integer fails to compile, naming both types.
// expect: a column is compared with a value \(or column\) of another type
// expect: comparison_check<std::(__cxx11::)?basic_string<char>, int>
// max-lines: 20
#include "../support/model.hpp"

int main() {
    auto predicate = ls::col<&model::Author::name> == 42;
    (void)predicate;
}
