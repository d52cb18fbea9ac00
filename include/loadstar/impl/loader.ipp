// loadstar/impl/loader.ipp - the plan walk's follow-ups: serial, pipelined, subquery prefetch.
// Included by loader/loader.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/loader.hpp>

namespace loadstar::detail {

LOADSTAR_DECL std::unique_ptr<prefetch_scope, void (*)(prefetch_scope*)> prefetch_subqueries(
    load_context& ctx, std::string_view sql, std::span<const value> params, const plan_desc& p, const tail& t) {
    std::vector<tail> tails;
    std::vector<std::string> sqls;
    tails.reserve(p.subqueries);
    sqls.reserve(p.subqueries);
    std::vector<prefetch_request> requests{{sql, params}};
    for (const rel_desc& r : p.rels) {
        if (!r.prefetch) continue;
        tails.emplace_back();
        sqls.emplace_back();
        r.prefetch(r, t, tails.back(), sqls.back());
        requests.push_back({sqls.back(), tails.back().params});
    }
    return {new prefetch_scope(*ctx.s.eng, ctx.s.connection(), requests), [](prefetch_scope* ps) { delete ps; }};
}

LOADSTAR_DECL void run_statement(load_context& ctx, std::string_view sql, std::span<const value> params,
                                 const plan_desc& p, load_node& n, const tail* t, void* self,
                                 void (*rows)(void* self, cursor& c)) {
    std::unique_ptr<prefetch_scope, void (*)(prefetch_scope*)> scope{nullptr, nullptr};
    if (p.prefetch_fn && t && ctx.s.eng->sql_dialect().pipelining) scope = p.prefetch_fn(ctx, sql, params, p, *t);
    {
        auto& pc = ctx.s.connection();
        cursor c(*ctx.s.eng, pc, sql, params);
        rows(self, c);
    }
    ctx.finish_joined();
    post_load(ctx, p, n, t);
}

LOADSTAR_DECL void followups_serial(load_context& ctx, const plan_desc& p, load_node& n, const tail* t) {
    for (std::size_t i = 0; i < p.rels.size(); ++i) {
        const rel_desc& r = p.rels[i];
        if (r.begin) r.begin(ctx, r, n.objects(), t)->end(ctx);
        else if (r.joined) joined_followups(ctx, r, *n.children[i], t);
    }
}

LOADSTAR_DECL void followups_pipelined(load_context& ctx, const plan_desc& p, load_node& n, const tail* t) {
    if (!ctx.s.eng->sql_dialect().pipelining) return followups_serial(ctx, p, n, t);
    const std::size_t nrel = p.rels.size();
    std::vector<std::unique_ptr<followup_job>> jobs(nrel);
    std::vector<prefetch_request> requests;
    for (std::size_t i = 0; i < nrel; ++i) {
        const rel_desc& r = p.rels[i];
        if (!r.begin) continue;
        jobs[i] = r.begin(ctx, r, n.objects(), t);
        jobs[i]->requests(requests);
    }
    prefetch_scope scope(*ctx.s.eng, ctx.s.connection(), requests);
    for (std::size_t i = 0; i < nrel; ++i) {
        const rel_desc& r = p.rels[i];
        if (jobs[i]) jobs[i]->end(ctx);
        else if (r.joined) joined_followups(ctx, r, *n.children[i], t);
    }
}

LOADSTAR_DECL void arm_holders(const plan_desc& p, load_context& ctx, void* obj, bool fresh) {
    const bool reload = fresh || ctx.populate_existing;
    // Untracked loads with an identity map of their own weaken too (a load in both directions
    // would otherwise form cycles); settle_untracked decides at the end.
    const bool weaken = fresh && (ctx.tracked || ctx.dedupe);
    session_core* core = ctx.tracked ? &ctx.s : nullptr;
    auto bind = [&](holder_link& link, const rel_vtable* vt, holder_mode mode) {
        link.vt = vt;
        link.owner = obj;
        link.mode = mode;
        link.core = core;
    };
    for (const rel_desc& rd : p.rels) {
        const holder_kind& k = *rd.hold->kind;
        void* const h = rd.hold->at(obj);  // once per holder: the kind's calls take its address
        holder_link& link = k.link(h);
        if (weaken && rd.hold->weak) k.make_weak(h);
        if (is_eager(rd.kind)) {
            if (reload || link.state == holder_state::unloaded) {
                k.clear(h);
                link.state = holder_state::loading;
                if (rd.joined) ctx.joined_loading.push_back(&link);
                bind(link, rd.vt, holder_mode::lazy);
            }
        } else if (reload) {
            k.clear(h);
            link.state = holder_state::unloaded;
            bind(link, rd.vt, rd.kind == load_kind::raise ? holder_mode::raise : holder_mode::lazy);
        }
    }
}

LOADSTAR_DECL void hydrate_joined_children(load_context& ctx, statement& st, int& col, const plan_desc& p, load_node& n,
                                           void* obj) {
    for (std::size_t i = 0; i < p.rels.size(); ++i) {
        const rel_desc& rd = p.rels[i];
        if (rd.joined) rd.ops->target->hydrate_joined(ctx, st, col, *rd.child, *n.children[i], *rd.hold, obj);
    }
}

LOADSTAR_DECL const plan_desc& build_slot_desc(desc_slot& slot) {
    // Built outside any lock (a plan's children are built first, through their own slots):
    // two threads may both build; the first to publish wins and the other's copy is dropped.
    auto built = std::make_unique<plan_desc>(build_desc(slot.spec()));
    const plan_desc* expected = nullptr;
    if (slot.desc.compare_exchange_strong(expected, built.get(), std::memory_order_acq_rel, std::memory_order_acquire))
        return *built.release();
    return *expected;
}

LOADSTAR_DECL plan_desc build_desc(const plan_spec& spec) {
    plan_desc d;
    d.sel.resize(spec.deferred.size());
    for (std::size_t i = 0; i < spec.deferred.size(); ++i) {
        if (spec.deferred[i]) {
            d.sel[i] = -1;
            d.any_deferred = true;
        } else {
            d.sel[i] = d.selected++;
        }
    }
    d.width = d.selected;
    d.rels.resize(spec.rels.size());
    for (std::size_t i = 0; i < spec.rels.size(); ++i) {
        const rel_spec& s = spec.rels[i];
        rel_desc& r = d.rels[i];
        r.kind = s.kind;
        r.batch = s.batch;
        r.vt = s.vt;
        r.hold = s.hold;
        if (is_eager(s.kind)) {
            r.child = &desc(*s.child);
            r.ops = s.ops;
            r.names = s.ops->names;
            r.may_repeat = r.names->kind == relation::many_to_many || r.child->joined_many;
        }
        if (s.kind == load_kind::joined || s.kind == load_kind::contains) {
            r.joined = true;
            d.width += r.child->width;
            d.any_joined = true;
        } else if (s.kind == load_kind::selectin) {
            r.begin = s.begin;
            r.sql = selectin_prefix(*r.names, *r.child);
        } else if (s.kind == load_kind::subquery) {
            r.begin = s.begin;
            r.prefetch = s.prefetch;
            ++d.subqueries;
        }
    }
    d.joined_many = spec.joined_many;
    d.uses_tail = spec.uses_tail;
    d.eager = spec.eager;
    d.followups_fn = spec.followups_fn;
    d.prefetch_fn = spec.prefetch_fn;
    d.columns = spec.columns;
    int counter = 0;
    const std::string table = quote_ident(spec.table);
    build_sql(d, d.cols, d.joins, counter, table);
    if (d.joined_many) {
        // Paged in a subquery (a joined to-many under a limit): every column of the entity.
        for (const std::string_view c : spec.columns) {
            if (!d.root_cols.empty()) d.root_cols += ", ";
            d.root_cols += table + "." + quote_ident(c);
        }
    }
    return d;
}

}  // namespace loadstar::detail
