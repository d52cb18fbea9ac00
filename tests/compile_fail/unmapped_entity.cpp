// SPDX-License-Identifier: MIT
// Querying a type without an ls::mapping<> specialization names the type in the error.
// expect: is not mapped
#include <loadstar/loadstar.hpp>

struct Foo {
    int id;
};

int main() {
    loadstar::session* s = nullptr;
    (void)s->query<Foo>();
}
