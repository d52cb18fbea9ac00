// loadstar/impl/query.ipp - the statement text shared by every query: WHERE, ORDER BY, paging, SELECT, COUNT, EXISTS.
// Included by query.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/query.hpp>

namespace loadstar::detail {

LOADSTAR_DECL query_state::query_state() noexcept = default;
LOADSTAR_DECL query_state::query_state(const query_state&) = default;
LOADSTAR_DECL query_state::query_state(query_state&&) noexcept = default;
LOADSTAR_DECL query_state& query_state::operator=(const query_state&) = default;
LOADSTAR_DECL query_state& query_state::operator=(query_state&&) noexcept = default;
LOADSTAR_DECL query_state::~query_state() = default;

LOADSTAR_DECL void add_condition(std::string& clause, const std::string& text) {
    if (!clause.empty()) clause = "(" + clause + ") AND ";
    clause += text;
}

LOADSTAR_DECL void add_list_item(std::string& list, const std::string& text) {
    if (!list.empty()) list += ", ";
    list += text;
}

LOADSTAR_DECL void query_state::render_paging(std::string& sql, std::vector<value>& params) const {
    if (limit) {
        sql += " LIMIT ?";
        params.emplace_back(*limit);
    }
    if (offset) {
        if (!limit) sql += sql_dialect().offset_without_limit;
        sql += " OFFSET ?";
        params.emplace_back(*offset);
    }
}

LOADSTAR_DECL void query_state::render_where(std::string& sql, std::vector<value>& params) const {
    if (!where.empty()) {
        sql += " WHERE ";
        sql += where;
        params.insert(params.end(), where_params.begin(), where_params.end());
    }
}

LOADSTAR_DECL void append_order(const query_state& st, std::string& sql) {
    if (!st.order.empty()) sql += " ORDER BY " + st.order;
}

LOADSTAR_DECL std::string render_select(const query_state& st, const select_parts& p, std::vector<value>& params) {
    std::string sql;
    if (!p.paged_columns) {
        sql.reserve(64 + p.columns.size() + p.eager_joins.size() + st.where.size() + st.order.size());
        sql += "SELECT ";
        sql += p.columns;
        sql += " FROM ";
        sql += p.table;
        sql += st.joins;
        sql += p.eager_joins;
        st.render_where(sql, params);
        append_order(st, sql);
        st.render_paging(sql, params);
    } else {
        // The limit counts parents, not joined rows: page the parents in a subquery that keeps
        // the table's own name, then join the children to it.
        sql = "SELECT " + p.columns + " FROM (SELECT " + *p.paged_columns + " FROM " + p.table + st.joins;
        st.render_where(sql, params);
        append_order(st, sql);
        st.render_paging(sql, params);
        sql += ") AS " + p.table + p.eager_joins;
        append_order(st, sql);
    }
    if (st.for_update && st.sql_dialect().supports_for_update) sql += " FOR UPDATE";
    return sql;
}

LOADSTAR_DECL void select_into(const query_state& st, const plan_desc& p, const std::string& table,
                               const std::string* paged_columns, bool repeats, bool with_tail, load_node& n,
                               void (*run)(load_context&, std::string_view, std::span<const value>, const plan_desc&,
                                           load_node&, const tail*)) {
    std::vector<value> params;
    const std::string text = render_select(st, {p.cols, table, p.joins, paged_columns}, params);
    // FOR UPDATE says the transaction will write: begin it as a write transaction (on SQLite,
    // which has no row locks, that is where the write lock is taken).
    if (st.for_update) st.s->connection(true);
    tail t;
    if (with_tail) t = render_tail(st, table);
    load_context ctx{*st.s};
    ctx.tracked = !st.untracked;
    ctx.dedupe = ctx.tracked || p.eager || repeats;
    ctx.populate_existing = st.populate_existing;
    // The joined children's nodes let go of their objects before the load context settles an
    // untracked load's weak holders (its destructor counts who else holds each object: only
    // the results may).
    struct release_children {
        load_node& n;
        ~release_children() { n.children.clear(); }
    } release{n};
    run(ctx, text, params, p, n, &t);
}

LOADSTAR_DECL tail render_tail(const query_state& st, const std::string& table) {
    tail t;
    t.sql = "FROM " + table + st.joins;
    t.may_repeat = !st.joins.empty();  // an explicit join can repeat a parent row
    st.render_where(t.sql, t.params);
    if (st.limit || st.offset) append_order(st, t.sql);
    st.render_paging(t.sql, t.params);
    return t;
}

LOADSTAR_DECL std::string render_count(const query_state& st, const std::string& table, const std::string& pk,
                                       std::vector<value>& params) {
    std::string from = " FROM " + table + st.joins;
    st.render_where(from, params);
    if (!st.limit && !st.offset && st.joins.empty()) return "SELECT count(*)" + from;
    std::string inner = "SELECT " + pk + from;
    if (st.limit || st.offset) append_order(st, inner);
    st.render_paging(inner, params);
    return "SELECT count(*) FROM (" + inner + ") AS anon_1";
}

LOADSTAR_DECL std::string render_exists(const query_state& st, const std::string& table, std::vector<value>& params) {
    std::string inner = "SELECT 1 FROM " + table + st.joins;
    st.render_where(inner, params);
    st.render_paging(inner, params);
    return "SELECT EXISTS (" + inner + ")";
}

}  // namespace loadstar::detail
