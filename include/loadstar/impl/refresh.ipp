// loadstar/impl/refresh.ipp - the statements of a refresh after a rollback. Included by
// unit/refresh.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/refresh.hpp>

namespace loadstar::detail {

LOADSTAR_DECL std::string refresh_prefix(const table_info& t, const plan_desc& p) {
    return "SELECT " + p.cols + " FROM " + t.quoted_table() + p.joins + " WHERE " + t.quoted_table() + "." +
           t.quoted_column(t.pk());
}

LOADSTAR_DECL void run_refresh(load_context& ctx, const table_info& t, const std::vector<batch>& batches, bool with_tail,
                               void (*run)(load_context&, const batch&, const tail*, std::unordered_set<const void*>&),
                               std::unordered_set<const void*>& seen) {
    for (const batch& b : batches) {
        tail k;
        if (with_tail) {
            k.sql = "FROM " + t.quoted_table() + " WHERE " + t.quoted_table() + "." + t.quoted_column(t.pk()) + b.keys_sql;
            k.params = b.params;
        }
        run(ctx, b, &k, seen);
    }
}

}  // namespace loadstar::detail
