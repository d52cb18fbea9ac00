// loadstar/postgres.hpp - the PostgreSQL driver over libpq (CMake target loadstar::postgres).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/postgres/driver.hpp>
