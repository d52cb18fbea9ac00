// SPDX-License-Identifier: MIT
// Links loadstar::sqlite and opens a session: the headers, the targets and their
// dependencies (SQLite3, C++20) all reach a consumer.
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#if defined(LOADSTAR_EXPECT_SEPARATE) && !defined(LOADSTAR_SEPARATE_COMPILATION)
#error "loadstar was built with LOADSTAR_SEPARATE_COMPILATION, but the macro did not reach its consumer"
#endif

int main() {
    auto e = loadstar::sqlite::engine(":memory:");
    loadstar::session s{e};
    return 0;
}
