// src/sqlite.cpp - the SQLite driver's code, compiled once (CMake target
// loadstar_sqlite_compiled, built when LOADSTAR_SEPARATE_COMPILATION is ON).
// SPDX-License-Identifier: MIT
#include <loadstar/sqlite/src.hpp>
