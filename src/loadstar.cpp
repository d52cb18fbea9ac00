// src/loadstar.cpp - the core's non-template code, compiled once (CMake target
// loadstar_compiled, built when LOADSTAR_SEPARATE_COMPILATION is ON; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#include <loadstar/src.hpp>
