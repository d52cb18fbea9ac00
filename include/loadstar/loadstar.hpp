// loadstar/loadstar.hpp - the core umbrella: mapping, expressions, query, options, session.
// Includes no driver header (add <loadstar/sqlite.hpp> or <loadstar/postgres.hpp>).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/debug.hpp>
#include <loadstar/driver.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/expr.hpp>
#include <loadstar/fwd.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/options.hpp>
#include <loadstar/query.hpp>
#include <loadstar/relationship.hpp>
#include <loadstar/schema.hpp>
#include <loadstar/session.hpp>
#include <loadstar/value.hpp>

namespace loadstar {
/// A `std::shared_ptr` alias kept for readers of SQLAlchemy code: `ls::ptr<Author>`.
}  // namespace loadstar
