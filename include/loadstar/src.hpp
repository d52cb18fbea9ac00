// loadstar/src.hpp - the core's non-template code, for a program that compiles it once.
// SPDX-License-Identifier: MIT
//
// With LOADSTAR_SEPARATE_COMPILATION defined in every translation unit, exactly one source
// file of the program includes this header (and <loadstar/sqlite/src.hpp> for the SQLite
// driver); the other translation units then compile only declarations of this code. See
// detail/config.hpp. CMake: -DLOADSTAR_SEPARATE_COMPILATION=ON builds it as a library.
#pragma once

#include <loadstar/detail/config.hpp>

#if !defined(LOADSTAR_SEPARATE_COMPILATION)
#error "loadstar/src.hpp is for LOADSTAR_SEPARATE_COMPILATION builds; header-only builds need no source file"
#endif

#include <loadstar/loadstar.hpp>

// In the order of the layers (README, Architecture).
#include <loadstar/impl/value.ipp>
#include <loadstar/impl/names.ipp>
#include <loadstar/impl/convert.ipp>
#include <loadstar/impl/relationship.ipp>
#include <loadstar/impl/sweep_graph.ipp>
#include <loadstar/impl/holder_walk.ipp>
#include <loadstar/impl/engine.ipp>
#include <loadstar/impl/session_core.ipp>
#include <loadstar/impl/loader_keys.ipp>
#include <loadstar/impl/loader.ipp>
#include <loadstar/impl/joined.ipp>
#include <loadstar/impl/selectin.ipp>
#include <loadstar/impl/subquery.ipp>
#include <loadstar/impl/lazy.ipp>
#include <loadstar/impl/query.ipp>
#include <loadstar/impl/schema.ipp>
#include <loadstar/impl/rows.ipp>
#include <loadstar/impl/insert.ipp>
#include <loadstar/impl/refresh.ipp>
#include <loadstar/impl/session.ipp>
#include <loadstar/impl/cycle_registry.ipp>
#include <loadstar/impl/debug.ipp>
