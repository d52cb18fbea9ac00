// loadstar/detail/config.hpp - header-only (the default) or separately compiled.
// SPDX-License-Identifier: MIT
//
// By default loadstar is header-only: every function is defined in the headers, and each
// translation unit that calls one compiles it again. The code that is the same for every
// program (the engine and its pool, the drivers, the session's transaction, flush and sweep,
// DDL ordering, SQL rendering) can instead be compiled once, as Asio
// (ASIO_SEPARATE_COMPILATION) and spdlog (SPDLOG_COMPILED_LIB) offer:
//
//   - define LOADSTAR_SEPARATE_COMPILATION in every translation unit of the program, and
//   - compile exactly one source file that includes <loadstar/src.hpp> and, per driver used,
//     <loadstar/sqlite/src.hpp> or <loadstar/postgres/src.hpp>.
//
// CMake does both with -DLOADSTAR_SEPARATE_COMPILATION=ON. Templates (mappings, queries,
// loaders, writes) stay in the headers either way.
#pragma once

#if defined(LOADSTAR_SEPARATE_COMPILATION)
/// Declares (in a header) and defines (in an .ipp file) a function compiled once, in src.hpp.
#define LOADSTAR_DECL
#else
#define LOADSTAR_DECL inline
#define LOADSTAR_HEADER_ONLY 1
#endif
