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

LOADSTAR_DECL void followups_serial(load_context& ctx, const plan_desc& p, node_base& n, const tail* t) {
    for (std::size_t i = 0; i < p.rels.size(); ++i) {
        const rel_desc& r = p.rels[i];
        if (r.begin) r.begin(ctx, r, n.objects(), t)->end(ctx);
        else if (r.joined_followups) r.joined_followups(ctx, r, *n.children[i], t);
    }
}

LOADSTAR_DECL void followups_pipelined(load_context& ctx, const plan_desc& p, node_base& n, const tail* t) {
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
        else if (r.joined_followups) r.joined_followups(ctx, r, *n.children[i], t);
    }
}

}  // namespace loadstar::detail
