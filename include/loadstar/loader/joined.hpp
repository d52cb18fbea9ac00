// loadstar/loader/joined.hpp - the joined strategy (and contains_eager): the children come in
// the parents' own statement, through a LEFT OUTER JOIN (or the query's own join), so they add
// columns and joins to it; their follow-up loads hang off the same statement.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <string>

namespace loadstar::detail {

/// Adds the columns a plan reads under `alias`, and its joined children's columns and joins
/// (`counter` numbers the aliases of the statement's joins).
LOADSTAR_DECL void build_sql(const plan_desc& p, std::string& cols, std::string& joins, int& counter,
                             const std::string& alias);

/// Adds the children of a joined (or contains-eager) relationship `rd` to a statement whose
/// parent rows are `alias`: their columns, and for joined their LEFT OUTER JOIN (`counter`
/// numbers the aliases of the statement's joins).
LOADSTAR_DECL void joined_sql(const rel_desc& rd, std::string& cols, std::string& joins, int& counter,
                              const std::string& alias);

/// The follow-up loads of the children a statement hydrated for `rd` (`cn`), given the tail of
/// the parents' rows when a subquery load below needs it.
LOADSTAR_DECL void joined_followups(load_context& ctx, const rel_desc& rd, load_node& cn, const tail* t);

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/joined.ipp>
#endif
