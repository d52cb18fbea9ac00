// SPDX-License-Identifier: MIT
// Querying a type without an ls::mapping<> specialization names the type in the error, and
// that is the only error (the query's all() instantiates nothing more for it).
// expect: is not mapped
// expect: require_mapped<Foo>
// max-lines: 20
#include <loadstar/loadstar.hpp>

struct Foo {
    int id;
};

int main() {
    loadstar::session* s = nullptr;
    (void)s->query<Foo>().all();
}
