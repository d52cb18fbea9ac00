// SPDX-License-Identifier: MIT
// Links loadstar::sqlite and opens a session: the headers, the targets and their
// dependencies (SQLite3, C++20) all reach a consumer.
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

int main() {
    auto e = loadstar::sqlite::engine(":memory:");
    loadstar::session s{e};
    return 0;
}
