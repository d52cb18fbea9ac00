// loadstar/loader/selectin.hpp - the selectin strategy: after the parents' statement, a second
// statement selects the children of all of them by key (`WHERE fk IN (?, ...)` in batches
// within the driver's bind limit, or `= ANY(?)` with one array where the driver binds arrays).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace loadstar::detail {

/// The statements of a selectin load over `keys` after `head` (the statement up to its key
/// condition): one `= ANY(?)` where the driver binds arrays (integral keys), else `IN (?, ...)`
/// batches of at most `batch_size` keys within the driver's bind limit, each written with
/// in_list_length() placeholders (the last key repeated) so that the statement cache sees a few
/// texts per relationship, not one per number of keys. A template on the key type only: every
/// relationship keyed by the same type shares it.
template <class Key>
void selectin_batches(load_context& ctx, const std::vector<Key>& keys, const std::string& head, std::size_t batch_size,
                      std::vector<batch>& out) {
    if (keys.empty()) return;
    const dialect& d = ctx.s.eng->sql_dialect();
    if constexpr (std::is_integral_v<Key>) {
        if (d.supports_arrays) {
            out.push_back({head + " = ANY(?)", {value{std::vector<std::int64_t>(keys.begin(), keys.end())}}, " = ANY(?)"});
            return;
        }
    }
    const std::size_t size = std::max<std::size_t>(1, std::min(batch_size, d.max_bind_parameters));
    for (std::size_t b = 0; b < keys.size(); b += size) {
        const std::size_t e = std::min(keys.size(), b + size);
        const std::size_t len = in_list_length(e - b, size);
        batch bt;
        bt.keys_sql.reserve(6 + 3 * len);
        bt.keys_sql += " IN (";
        bt.params.reserve(len);
        for (std::size_t j = 0; j < len; ++j) {
            bt.keys_sql += j == 0 ? "?" : ", ?";
            bt.params.push_back(to_value(keys[std::min(b + j, e - 1)]));
        }
        bt.keys_sql += ')';
        bt.sql = head + bt.keys_sql;
        out.push_back(std::move(bt));
    }
}

/// What a selectin load of relationship I of E has claimed before its statements run: the
/// owners, and the keys to select. Depends on the relationship, not on the plan (every plan
/// that selectin-loads Author.books shares it).
template <class E, std::size_t I>
struct selectin_claim {
    using K = rel_keys<E, I>;
    using R = typename K::R;
    using T = typename R::target;
    using key_type = typename K::key_type;

    std::vector<E*> owners;
    std::vector<E*> waiting;                  // to-one: owners whose target is not mapped
    std::unordered_map<key_type, E*> by_key;  // to-many: owner by its key

    /// Claims the holders this load fills (among `objs`) and returns the keys to select.
    std::vector<key_type> claim_keys(load_context& ctx, const std::vector<ptr<E>>& objs) {
        owners = claim<E, I>(objs);
        std::vector<key_type> keys;
        if (owners.empty()) return keys;
        if constexpr (K::kind == relation::belongs_to) {
            // To-one: the distinct foreign keys whose target is not in the identity map.
            auto& tmap = ctx.map<T>();
            for (E* o : owners) {
                key_type k{};
                auto& holder = o->*(R::member);
                if (!K::parent_key(*o, k)) {
                    holder_access<typename R::holder>::clear(holder);
                    continue;
                }
                if (auto* hit = tmap.find(k); hit && ctx.dedupe && !ctx.populate_existing) {
                    holder_access<typename R::holder>::add(holder, *hit);
                    continue;
                }
                keys.push_back(k);
                waiting.push_back(o);
            }
            std::sort(keys.begin(), keys.end());
            keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        } else {
            // To-many and one-to-one: keyed by the parent's primary key, in result order.
            by_key.reserve(owners.size());
            keys.reserve(owners.size());
            for (E* o : owners) {
                key_type k{};
                K::parent_key(*o, k);
                if (by_key.emplace(k, o).second) keys.push_back(k);
            }
        }
        return keys;
    }
};

/// The selectin load of relationship I of the plan's entity.
template <class Plan, std::size_t I>
struct selectin_load {
    using E = typename Plan::entity;
    using RP = rel_plan<Plan, I>;
    using R = typename RP::R;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    using CL = loader<typename RP::child_plan>;
    using key_type = typename K::key_type;

    /// Between claiming the holders and running the statements.
    struct job : selectin_claim<E, I> {
        std::vector<batch> batches;
    };

    /// "SELECT [child key,] child columns FROM child ... WHERE child key": the statement up to
    /// its key condition, built once.
    static const std::string& prefix() {
        static const std::string text = [] {
            const std::string t = quote_ident(K::tmeta::table_name());
            const std::string s = K::secondary_name();
            if constexpr (K::kind == relation::belongs_to)
                return "SELECT " + CL::sql().cols + " FROM " + t + CL::sql().joins + " WHERE " + K::child_key_sql(t, s);
            else
                return "SELECT " + K::child_key_sql(t, s) + ", " + CL::sql().cols + " FROM " + K::from_child(t, s) +
                       CL::sql().joins + " WHERE " + K::child_key_sql(t, s);
        }();
        return text;
    }

    /// Claims the holders this load fills (among `objs`) and computes its statements.
    static void begin(load_context& ctx, const std::vector<ptr<E>>& objs, job& job) {
        const auto keys = job.claim_keys(ctx, objs);
        selectin_batches(ctx, keys, prefix(), RP::batch, job.batches);
    }

    /// Runs the statements and fills the claimed holders.
    static void end(load_context& ctx, job& job) {
        if (job.owners.empty()) return;
        // The tail a subquery load nested under this one builds on: this statement's FROM/WHERE.
        auto child_tail_of = [&](const batch& b) {
            tail ct;
            if constexpr (needs_tail<typename RP::child_plan>()) {
                const std::string t = quote_ident(K::tmeta::table_name());
                const std::string s = K::secondary_name();
                const std::string from = K::kind == relation::belongs_to ? t : K::from_child(t, s);
                ct.sql = "FROM " + from + " WHERE " + K::child_key_sql(t, s) + b.keys_sql;
                ct.params = b.params;
                ct.may_repeat = K::kind == relation::many_to_many;
            } else {
                (void)b;
            }
            return ct;
        };
        if constexpr (K::kind == relation::belongs_to) {
            std::unordered_map<key_type, ptr<T>> found;
            for (auto& b : job.batches) {
                typename CL::node cn;
                cn.keep_objs = has_eager<typename RP::child_plan>();  // see lazy.hpp
                tail ct = child_tail_of(b);
                CL::run(ctx, b.sql, b.params, 0, cn, &ct, [&](statement&, const ptr<T>& child) {
                    if (child) found.emplace(child.get()->*(K::tmeta::pk_member), child);
                });
            }
            for (E* o : job.waiting) {
                key_type k{};
                K::parent_key(*o, k);
                auto it = found.find(k);
                holder_access<typename R::holder>::add(o->*(R::member), it == found.end() ? ptr<T>{} : it->second);
            }
        } else {
            // Each owner's key is in exactly one batch.
            constexpr bool may_repeat = children_may_repeat<K, typename RP::child_plan>();
            for (auto& b : job.batches) {
                typename CL::node cn;
                cn.keep_objs = has_eager<typename RP::child_plan>();  // see lazy.hpp
                tail ct = child_tail_of(b);
                CL::run(ctx, b.sql, b.params, 1, cn, &ct, [&](statement& st, const ptr<T>& child) {
                    if (!child) return;
                    key_type k{};
                    read_column(st, 0, k, "relationship key");
                    auto it = job.by_key.find(k);
                    if (it != job.by_key.end()) attach<R>(it->second->*(R::member), child, may_repeat);
                });
            }
        }
        mark_loaded<E, I>(job.owners);
    }
};

}  // namespace loadstar::detail
