// src/postgres.cpp - the PostgreSQL driver's code, compiled once (CMake target
// loadstar_postgres_compiled, built when LOADSTAR_SEPARATE_COMPILATION is ON).
// SPDX-License-Identifier: MIT
#include <loadstar/postgres/src.hpp>
