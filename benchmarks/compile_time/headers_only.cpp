// benchmarks/compile_time/headers_only.cpp - the loadstar headers (core and SQLite driver) and
// nothing else: what every translation unit of an application pays before it maps anything.
// Compiled by benchmarks/compile_time.sh; not built by CMake.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

int main() { return 0; }
