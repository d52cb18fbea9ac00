// loadstar/unit/refresh.hpp - after a rollback: every object of the identity map read again
// (its columns and the default loads of its relationships), and the ones whose rows are gone
// forgotten. Runs the loader's statements itself: the write path does not go back through the
// query builder.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/selectin.hpp>
#include <loadstar/unit/common.hpp>

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

namespace loadstar::detail {

template <class E>
struct refresher {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    using L = entity_loader<E>;

    /// "SELECT columns FROM table [default joins] WHERE table.pk": the statement up to its
    /// key condition (the batches add `IN (?, ...)` or `= ANY(?)`), built once.
    static const std::string& prefix() {
        static const std::string text = [] {
            const std::string t = quote_ident(meta::table_name());
            const plan_desc& p = desc_of<default_plan<E>>();
            return "SELECT " + p.cols + " FROM " + t + p.joins + " WHERE " + t + "." +
                   quote_ident(meta::template column_name<meta::pk_index>());
        }();
        return text;
    }

    static void refresh_all(session_core& s, identity_map<E>& m) {
        // A mapping no INSERT order can satisfy was reported once (insert_cycle_check): the
        // loads below would only report it again for every entity they reach.
        if constexpr (insertable<E>) refresh(s, m);
        else (void)s, (void)m;
    }

private:
    static void refresh(session_core& s, identity_map<E>& m) {
        if (m.objects.empty()) return;
        std::vector<pk_type> keys;
        keys.reserve(m.objects.size());
        for (auto& [k, e] : m.objects) keys.push_back(k);
        load_context ctx{s, /*tracked*/ true, /*dedupe*/ true, /*populate_existing*/ true, {}, {}};
        std::vector<batch> batches;
        selectin_batches(ctx, keys, prefix(), 500, batches);
        std::unordered_set<pk_type> seen;
        const plan_desc& p = desc_of<default_plan<E>>();
        for (auto& b : batches) {
            load_node<E> n(p);
            tail t;
            if constexpr (needs_tail<default_plan<E>>()) {
                t.sql = "FROM " + quote_ident(meta::table_name()) + " WHERE " + quote_ident(meta::table_name()) + "." +
                        quote_ident(meta::template column_name<meta::pk_index>()) + b.keys_sql;
                t.params = b.params;
            }
            L::run(ctx, b.sql, b.params, 0, p, n, &t, [&](statement&, const ptr<E>& obj) {
                if (obj) seen.insert((*obj).*(meta::pk_member));
            });
        }
        for (auto it = m.objects.begin(); it != m.objects.end();) {
            if (seen.count(it->first)) {
                ++it;
                continue;
            }
            detach_holders(*it->second.obj);
            s.forget_changes_of(it->second.obj.get());
            it = m.objects.erase(it);
        }
    }
};

}  // namespace loadstar::detail
