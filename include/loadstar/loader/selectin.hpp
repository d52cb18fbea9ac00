// loadstar/loader/selectin.hpp - the selectin strategy: after the parents' statement, a second
// statement selects the children of all of them by key (`WHERE fk IN (?, ...)` in batches
// within the driver's bind limit, or `= ANY(?)` with one array where the driver binds arrays).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace loadstar::detail {

/// The statements of a selectin load over `keys` after `head` (the statement up to its key
/// condition): one `= ANY(?)` where the driver binds arrays (integral keys), else `IN (?, ...)`
/// batches of at most `batch_size` keys within the driver's bind limit, each written with
/// in_list_length() placeholders (the last key repeated) so that the statement cache sees a few
/// texts per relationship, not one per number of keys. Ordinary code: integral keys of any
/// type arrive as 64-bit integers, other keys as bind values.
LOADSTAR_DECL void selectin_batches(load_context& ctx, std::vector<std::int64_t> keys, const std::string& head,
                                    std::size_t batch_size, std::vector<batch>& out);
LOADSTAR_DECL void selectin_batches(load_context& ctx, const std::vector<value>& keys, const std::string& head,
                                    std::size_t batch_size, std::vector<batch>& out);
/// "SELECT [child key,] child columns FROM child ... WHERE child key": the statement of a
/// selectin load of relationship `r` up to its key condition, the child's plan `cp`.
LOADSTAR_DECL std::string selectin_prefix(const rel_names& r, const plan_desc& cp);
/// The tail a subquery load nested under a selectin load builds on: the FROM/WHERE of batch `b`.
LOADSTAR_DECL tail selectin_tail(const rel_names& r, const batch& b);

template <class Key>
    requires(!std::is_same_v<Key, std::int64_t> && !std::is_same_v<Key, value>)
void selectin_batches(load_context& ctx, const std::vector<Key>& keys, const std::string& head, std::size_t batch_size,
                      std::vector<batch>& out) {
    if constexpr (std::is_integral_v<Key>) {
        std::vector<std::int64_t> ints;
        ints.reserve(keys.size());
        for (const Key& k : keys) ints.push_back(std::get<std::int64_t>(to_value(k)));
        selectin_batches(ctx, std::move(ints), head, batch_size, out);
    } else {
        std::vector<value> values;
        values.reserve(keys.size());
        for (const Key& k : keys) values.push_back(to_value(k));
        selectin_batches(ctx, values, head, batch_size, out);
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
                if (auto* hit = tmap.find_entry(k); hit && ctx.dedupe && !ctx.populate_existing) {
                    holder_access<typename R::holder>::add(holder, tmap.shared(*hit));
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
    static std::string prefix(const plan_desc& cp) { return selectin_prefix(K::names, cp); }

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
        auto child_tail_of = [&](const batch& b) { return cp.uses_tail ? selectin_tail(K::names, b) : tail{}; };
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

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/selectin.ipp>
#endif
