// loadstar/impl/refresh.ipp - the statements of a refresh after a rollback. Included by
// unit/refresh.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/refresh.hpp>

namespace loadstar::detail {

LOADSTAR_DECL refresh_info make_refresh_info(const table_info& t, const plan_desc& p, const entity_ops& ops) {
    refresh_info r{&t, &p, &ops, {}, p.uses_tail};
    r.prefix = "SELECT " + p.cols + " FROM " + t.quoted_table() + p.joins + " WHERE " + t.quoted_table() + "." +
               t.quoted_column(t.pk());
    return r;
}

LOADSTAR_DECL const refresh_info& refresh_info_of(refresh_slot& slot) {
    std::call_once(slot.once, [&] { slot.info = new refresh_info(make_refresh_info(slot.ops->table(), desc(*slot.plan), *slot.ops)); });
    return *slot.info;
}

LOADSTAR_DECL void run_refresh(load_context& ctx, const refresh_info& r, const std::vector<batch>& batches,
                               std::unordered_set<const void*>& seen) {
    const table_info& t = *r.table;
    auto on_row = [&](statement&, const void* obj) {
        if (obj) seen.insert(r.ops->address(obj));
    };
    for (const batch& b : batches) {
        tail k;
        if (r.with_tail) {
            k.sql = "FROM " + t.quoted_table() + " WHERE " + t.quoted_table() + "." + t.quoted_column(t.pk()) + b.keys_sql;
            k.params = b.params;
        }
        r.ops->run(ctx, b.sql, b.params, 0, *r.plan, &k, on_row);
    }
}

#if defined(LOADSTAR_SEPARATE_COMPILATION)
template void refresh_map<std::int64_t>(session_core&, keyed_map<std::int64_t>&, const refresh_info&);
#endif

}  // namespace loadstar::detail
