// loadstar/sqlite.hpp - the SQLite3 driver (CMake target loadstar::sqlite).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/sqlite/driver.hpp>
