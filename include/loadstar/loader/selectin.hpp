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

/// The selectin load of relationship I of E; the child plan is `rd.child`.
template <class E, std::size_t I>
struct selectin_load {
    using R = typename entity_meta<E>::template relationship_t<I>;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    using key_type = typename K::key_type;

    /// "SELECT [child key,] child columns FROM child ... WHERE child key": the statement up to
    /// its key condition (built once per plan, kept in its rel_desc).
    static std::string prefix(const plan_desc& cp) {
        const std::string t = quote_ident(K::tmeta::table_name());
        const std::string s = K::secondary_name();
        if constexpr (K::kind == relation::belongs_to)
            return "SELECT " + cp.cols + " FROM " + t + cp.joins + " WHERE " + K::child_key_sql(t, s);
        else
            return "SELECT " + K::child_key_sql(t, s) + ", " + cp.cols + " FROM " + K::from_child(t, s) + cp.joins +
                   " WHERE " + K::child_key_sql(t, s);
    }

    /// Between claiming the holders and running the statements.
    struct job final : followup_job, selectin_claim<E, I> {
        const rel_desc* rd = nullptr;
        std::vector<batch> batches;
        void requests(std::vector<prefetch_request>& out) const override {
            for (auto& b : batches) out.push_back({b.sql, b.params});
        }
        void end(load_context& ctx) override { run(ctx, *this); }
    };

    /// Claims the holders this load fills (among `objs`) and computes its statements.
    static std::unique_ptr<followup_job> begin(load_context& ctx, const rel_desc& rd, const void* objs, const tail*) {
        auto j = std::make_unique<job>();
        j->rd = &rd;
        const auto keys = j->claim_keys(ctx, *static_cast<const std::vector<ptr<E>>*>(objs));
        selectin_batches(ctx, keys, rd.sql, rd.batch, j->batches);
        return j;
    }

    /// Runs the statements and fills the claimed holders.
    static void run(load_context& ctx, job& job) {
        if (job.owners.empty()) return;
        const rel_desc& rd = *job.rd;
        const plan_desc& cp = *rd.child;
        using CL = entity_loader<T>;
        // The tail a subquery load nested under this one builds on: this statement's FROM/WHERE.
        auto child_tail_of = [&](const batch& b) {
            tail ct;
            if (cp.uses_tail) {
                const std::string t = quote_ident(K::tmeta::table_name());
                const std::string s = K::secondary_name();
                const std::string from = K::kind == relation::belongs_to ? t : K::from_child(t, s);
                ct.sql = "FROM " + from + " WHERE " + K::child_key_sql(t, s) + b.keys_sql;
                ct.params = b.params;
                ct.may_repeat = K::kind == relation::many_to_many;
            }
            return ct;
        };
        if constexpr (K::kind == relation::belongs_to) {
            std::unordered_map<key_type, ptr<T>> found;
            for (auto& b : job.batches) {
                load_node<T> cn(cp, cp.eager);  // see lazy.hpp
                tail ct = child_tail_of(b);
                CL::run(ctx, b.sql, b.params, 0, cp, cn, &ct, [&](statement&, const ptr<T>& child) {
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
            const bool may_repeat = rd.may_repeat;
            for (auto& b : job.batches) {
                load_node<T> cn(cp, cp.eager);  // see lazy.hpp
                tail ct = child_tail_of(b);
                CL::run(ctx, b.sql, b.params, 1, cp, cn, &ct, [&](statement& st, const ptr<T>& child) {
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
