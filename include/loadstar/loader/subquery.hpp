// loadstar/loader/subquery.hpp - the subquery strategy: a second statement selects the children
// joined to the parents' own statement as a subquery of their keys ("tail"), so it needs
// nothing from the parents' rows (and can share their round trip where the driver pipelines).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <memory>
#include <string>
#include <vector>

namespace loadstar::detail {

/// The subquery load of a relationship (rd.ops) of a node's objects (`objs`, whose rows `t`
/// selects): claims the holders it fills; the job runs its statement and fills them.
/// A template only so that a header-only translation unit compiles it only where a plan names
/// the strategy (see selectin_begin).
template <class = void>
std::unique_ptr<followup_job> subquery_begin(load_context& ctx, const rel_desc& rd, const object_list& objs, const tail* t);
#if defined(LOADSTAR_SEPARATE_COMPILATION)
extern template std::unique_ptr<followup_job> subquery_begin<>(load_context&, const rel_desc&, const object_list&,
                                                                const tail*);
#endif
/// Its key source and statement from the parents' tail (what subquery_begin computes, before
/// the parents' rows are read; sent with the parents' statement where the driver pipelines):
/// "SELECT anon_d.k, <child columns> FROM (SELECT <parent key> AS k FROM ...) AS anon_d JOIN
/// child ON ..." with the child's eager joins.
LOADSTAR_DECL void subquery_prefetch(const rel_desc& rd, const tail& t, tail& ct, std::string& sql);

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/subquery.ipp>
#endif
