// benchmarks/compile_time/core_only.cpp - the core headers without a driver: what a translation
// unit of an application pays that maps entities and runs queries on a session it is handed,
// but does not open the engine (only the TU that opens it includes <loadstar/sqlite.hpp>, whose
// URL-scheme registration compiles the whole driver into every TU that includes it).
// Compiled by benchmarks/compile_time.sh; not built by CMake.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>

int main() { return 0; }
