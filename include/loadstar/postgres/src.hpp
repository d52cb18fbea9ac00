// loadstar/postgres/src.hpp - the PostgreSQL driver's code, for a program that compiles it once.
// SPDX-License-Identifier: MIT
//
// With LOADSTAR_SEPARATE_COMPILATION, exactly one source file of the program includes this
// (beside <loadstar/src.hpp>); see detail/config.hpp.
#pragma once

#include <loadstar/detail/config.hpp>

#if !defined(LOADSTAR_SEPARATE_COMPILATION)
#error "loadstar/postgres/src.hpp is for LOADSTAR_SEPARATE_COMPILATION builds; header-only builds need no source file"
#endif

#include <loadstar/postgres/driver.hpp>

#include <loadstar/postgres/impl/driver.ipp>
