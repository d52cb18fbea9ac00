// loadstar/impl/selectin.ipp - the statements of a selectin load (and of a refresh) over a set
// of keys. Included by loader/selectin.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/selectin.hpp>

#include <loadstar/impl/loader_keys.ipp>

#include <algorithm>

namespace loadstar::detail {

/// A selectin load between claiming its holders and running its statements.
template <class Key>
struct selectin_job final : followup_job {
    const rel_desc* rd = nullptr;
    std::vector<void*> owners;
    std::vector<void*> waiting;        // to-one: owners whose target is not mapped
    key_map<Key, void*> by_key;        // to-many and one-to-one: owner by its key
    std::vector<batch> batches;

    void requests(std::vector<prefetch_request>& out) const override {
        for (auto& b : batches) out.push_back({b.sql, b.params});
    }

    /// Claims the holders this load fills (among `objs`) and returns the keys to select.
    std::vector<Key> claim_keys(load_context& ctx, const object_list& objs) {
        const rel_ops& r = *rd->ops;
        owners = r.claim(objs);
        std::vector<Key> keys;
        if (owners.empty()) return keys;
        if (r.names->kind == relation::belongs_to) {
            // To-one: the distinct foreign keys whose target is not in the identity map.
            identity_map_base& tmap = r.target->ctx_map(ctx);
            for (void* o : owners) {
                Key k{};
                if (!owner_key(r, o, k)) {
                    r.holder->clear(o);
                    continue;
                }
                if (auto* hit = find_key(*r.target, tmap, k); hit && ctx.dedupe && !ctx.populate_existing) {
                    r.set(o, hit->obj);
                    continue;
                }
                keys.push_back(std::move(k));
                waiting.push_back(o);
            }
            std::sort(keys.begin(), keys.end());
            keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        } else {
            // To-many and one-to-one: keyed by the parent's primary key, in result order.
            reserve_keys(by_key, owners.size());
            keys.reserve(owners.size());
            for (void* o : owners) {
                Key k{};
                owner_key(r, o, k);
                if (by_key.emplace(k, o).second) keys.push_back(std::move(k));
            }
        }
        return keys;
    }

    /// Runs the statements and fills the claimed holders.
    void end(load_context& ctx) override {
        if (owners.empty()) return;
        const rel_ops& r = *rd->ops;
        const plan_desc& cp = *rd->child;
        // The tail a subquery load nested under this one builds on: this statement's FROM/WHERE.
        auto child_tail_of = [&](const batch& b) { return cp.uses_tail ? selectin_tail(*r.names, b) : tail{}; };
        if (r.names->kind == relation::belongs_to) {
            key_map<Key, std::shared_ptr<void>> found;
            auto on_row = [&](statement&, const void* child) {
                if (!child) return;
                auto sp = r.target->share(child);
                found.emplace(object_key<Key>(*r.target, sp.get()), std::move(sp));
            };
            for (auto& b : batches) {
                tail ct = child_tail_of(b);
                r.target->run(ctx, b.sql, b.params, 0, cp, &ct, on_row);
            }
            for (void* o : waiting) {
                Key k{};
                owner_key(r, o, k);
                auto it = found.find(k);
                r.set(o, it == found.end() ? std::shared_ptr<void>{} : it->second);
            }
        } else {
            // Each owner's key is in exactly one batch.
            const bool may_repeat = rd->may_repeat;
            auto on_row = [&](statement& st, const void* child) {
                if (!child) return;
                Key k{};
                read_rel_key(r, st, 0, k);
                auto it = by_key.find(k);
                if (it != by_key.end()) r.attach(it->second, child, may_repeat);
            };
            for (auto& b : batches) {
                tail ct = child_tail_of(b);
                r.target->run(ctx, b.sql, b.params, 1, cp, &ct, on_row);
            }
        }
        mark_loaded(r, owners);
    }
};

template <class Key>
std::unique_ptr<followup_job> selectin_start(load_context& ctx, const rel_desc& rd, const object_list& objs) {
    auto j = std::make_unique<selectin_job<Key>>();
    j->rd = &rd;
    selectin_batches(ctx, j->claim_keys(ctx, objs), rd.sql, rd.batch, j->batches);
    return j;
}

/// `IN (?, ...)` batches of the n keys key(0) .. key(n - 1).
template <class KeyAt>
void in_list_batches(const dialect& d, std::size_t n, KeyAt key, const std::string& head, std::size_t batch_size,
                     std::vector<batch>& out) {
    const std::size_t size = std::max<std::size_t>(1, std::min(batch_size, d.max_bind_parameters));
    for (std::size_t b = 0; b < n; b += size) {
        const std::size_t e = std::min(n, b + size);
        const std::size_t len = in_list_length(e - b, size);
        batch bt;
        bt.keys_sql.reserve(6 + 3 * len);
        bt.keys_sql += " IN (";
        bt.params.reserve(len);
        for (std::size_t j = 0; j < len; ++j) {
            bt.keys_sql += j == 0 ? "?" : ", ?";
            bt.params.push_back(key(std::min(b + j, e - 1)));
        }
        bt.keys_sql += ')';
        bt.sql = head + bt.keys_sql;
        out.push_back(std::move(bt));
    }
}

LOADSTAR_DECL void selectin_batches(load_context& ctx, std::vector<std::int64_t> keys, const std::string& head,
                                    std::size_t batch_size, std::vector<batch>& out) {
    if (keys.empty()) return;
    const dialect& d = ctx.s.eng->sql_dialect();
    if (d.supports_arrays) {
        out.push_back({head + " = ANY(?)", {value{std::move(keys)}}, " = ANY(?)"});
        return;
    }
    in_list_batches(d, keys.size(), [&](std::size_t i) { return value{keys[i]}; }, head, batch_size, out);
}

LOADSTAR_DECL void selectin_batches(load_context& ctx, const std::vector<value>& keys, const std::string& head,
                                    std::size_t batch_size, std::vector<batch>& out) {
    if (keys.empty()) return;
    in_list_batches(ctx.s.eng->sql_dialect(), keys.size(), [&](std::size_t i) { return keys[i]; }, head, batch_size,
                    out);
}

LOADSTAR_DECL std::string selectin_prefix(const rel_names& r, const plan_desc& cp) {
    const std::string t = quote_ident(r.target);
    const std::string s = secondary_name(r);
    if (r.kind == relation::belongs_to) return "SELECT " + cp.cols + " FROM " + t + cp.joins + " WHERE " + child_key_sql(r, t, s);
    return "SELECT " + child_key_sql(r, t, s) + ", " + cp.cols + " FROM " + from_child(r, t, s) + cp.joins + " WHERE " +
           child_key_sql(r, t, s);
}

LOADSTAR_DECL tail selectin_tail(const rel_names& r, const batch& b) {
    const std::string t = quote_ident(r.target);
    const std::string s = secondary_name(r);
    const std::string from = r.kind == relation::belongs_to ? t : from_child(r, t, s);
    tail ct;
    ct.sql = "FROM " + from + " WHERE " + child_key_sql(r, t, s) + b.keys_sql;
    ct.params = b.params;
    ct.may_repeat = r.kind == relation::many_to_many;
    return ct;
}

template <class>
std::unique_ptr<followup_job> selectin_begin(load_context& ctx, const rel_desc& rd, const object_list& objs, const tail*) {
    if (rd.ops->int_keys) return selectin_start<std::int64_t>(ctx, rd, objs);
    return selectin_start<value>(ctx, rd, objs);
}
#if defined(LOADSTAR_SEPARATE_COMPILATION)
template std::unique_ptr<followup_job> selectin_begin<>(load_context&, const rel_desc&, const object_list&, const tail*);
#endif

}  // namespace loadstar::detail
