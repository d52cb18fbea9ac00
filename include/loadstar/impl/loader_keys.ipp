// loadstar/impl/loader_keys.ipp - what every load does after its statement: claiming holders, follow-ups.
// Included by loader/keys.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <map>
#include <unordered_map>

namespace loadstar::detail {

LOADSTAR_DECL std::vector<void*> rel_ops::claim(const object_list& objs) const {
    std::vector<void*> out;
    out.reserve(objs.size());
    for (const auto& o : objs) {
        holder_link& link = holder->link(o.get());
        if (link.state != holder_state::loading) continue;
        link.state = holder_state::claimed;
        out.push_back(o.get());
    }
    return out;
}

LOADSTAR_DECL plan_desc::plan_desc() = default;
LOADSTAR_DECL plan_desc::plan_desc(plan_desc&&) noexcept = default;
LOADSTAR_DECL plan_desc::~plan_desc() = default;

LOADSTAR_DECL load_node::load_node(const plan_desc& p, bool keep) : use_seen(p.eager && keep), keep_objs(keep) {
    if (!p.any_joined) return;
    children.resize(p.rels.size());
    for (std::size_t i = 0; i < p.rels.size(); ++i)
        if (p.rels[i].joined) children[i] = std::make_unique<load_node>(*p.rels[i].child, p.rels[i].child->eager);
}

LOADSTAR_DECL load_node::~load_node() = default;

LOADSTAR_DECL untracked_maps::~untracked_maps() {
    sweep_graph g;
    bool targets = false;
    for (auto& m : *this)
        if (m && m->any_weak_target()) {
            targets = true;
            break;
        }
    if (targets) {
        try {
            for (auto& m : *this)
                if (m) m->sweep_nodes(g);
            for (auto& m : *this)
                if (m) m->sweep_edges(g);
            g.mark();
        } catch (...) {
            g = sweep_graph{};  // out of memory: every weak holder owns its target again
        }
    }
    for (auto& m : *this)
        if (m) m->settle_untracked(g);
}

LOADSTAR_DECL identity_map_base& load_context::local_map(std::size_t i, identity_map_base* (*make)()) {
    if (i >= local_maps.size()) local_maps.resize(i + 1);
    if (!local_maps[i]) local_maps[i].reset(make());
    return *local_maps[i];
}

// ---- keys as the strategies hold them: 64-bit integers (rel_ops::int_keys), else values -------

template <class Key>
constexpr bool int_key = std::is_same_v<Key, std::int64_t>;

/// The owner's key for relationship r; false where its foreign key is NULL.
template <class Key>
bool owner_key(const rel_ops& r, const void* owner, Key& out) {
    if constexpr (int_key<Key>) return r.key_int(owner, out);
    else return r.key_value(owner, out);
}
/// Reads the relationship key from column c of a follow-up statement's row.
template <class Key>
void read_rel_key(const rel_ops& r, statement& st, int c, Key& out) {
    if constexpr (int_key<Key>) read_column(st, c, out, "relationship key");
    else r.read_key(st, c, out);
}
/// The entry of target map m under key k, or null.
template <class Key>
map_entry* find_key(const entity_ops& t, identity_map_base& m, const Key& k) {
    if constexpr (int_key<Key>) return t.find_int(m, k);
    else return t.find_value(m, k);
}
/// An object's primary key.
template <class Key>
Key object_key(const entity_ops& t, const void* obj) {
    if constexpr (int_key<Key>) return t.key_int(obj);
    else return t.key_value(obj);
}
/// Maps from keys: hashed for integers, ordered for values (value has no hash; non-integral
/// keys are rare).
template <class Key, class V>
using key_map = std::conditional_t<int_key<Key>, std::unordered_map<std::int64_t, V>, std::map<value, V>>;
template <class Key, class V>
using key_multimap = std::conditional_t<int_key<Key>, std::unordered_multimap<std::int64_t, V>, std::multimap<value, V>>;
template <class Map>
void reserve_keys(Map& m, std::size_t n) {
    if constexpr (requires { m.reserve(n); }) m.reserve(n);
}

LOADSTAR_DECL void post_load(load_context& ctx, const plan_desc& p, load_node& n, const tail* t) {
    if (p.followups_fn && !n.empty()) p.followups_fn(ctx, p, n, t);
}

/// `alias.column`, the column quoted where it needs it.
inline std::string rel_col(const std::string& alias, std::string_view column) { return alias + "." + quote_ident(column); }

LOADSTAR_DECL std::string secondary_name(const rel_names& r) {
    return r.kind == relation::many_to_many ? quote_ident(r.secondary) : std::string();
}

LOADSTAR_DECL std::string parent_key_sql(const rel_names& r, const std::string& p) {
    return rel_col(p, r.kind == relation::belongs_to ? r.fk : r.pk);
}

LOADSTAR_DECL std::string child_key_sql(const rel_names& r, const std::string& c, const std::string& s) {
    switch (r.kind) {
    case relation::has_many:
    case relation::has_one: return rel_col(c, r.fk);
    case relation::belongs_to: return rel_col(c, r.target_pk);
    default: return rel_col(s, r.local);
    }
}

LOADSTAR_DECL std::string join_sql(const rel_names& r, std::string_view join, const std::string& c, const std::string& s,
                                   const std::string& pkey) {
    const std::string t = quote_ident(r.target);
    const std::string tas = c == t ? t : t + " AS " + c;
    if (r.kind == relation::many_to_many) {
        const std::string st = quote_ident(r.secondary);
        const std::string sas = s == st ? st : st + " AS " + s;
        return " " + std::string(join) + " " + sas + " ON " + rel_col(s, r.local) + " = " + pkey + " " + std::string(join) +
               " " + tas + " ON " + rel_col(c, r.target_pk) + " = " + rel_col(s, r.remote);
    }
    return " " + std::string(join) + " " + tas + " ON " + child_key_sql(r, c, s) + " = " + pkey;
}

LOADSTAR_DECL std::string from_child(const rel_names& r, const std::string& c, const std::string& s) {
    const std::string t = quote_ident(r.target);
    if (r.kind != relation::many_to_many) return t;
    const std::string st = quote_ident(r.secondary);
    return t + " JOIN " + (s == st ? st : st + " AS " + s) + " ON " + rel_col(c, r.target_pk) + " = " + rel_col(s, r.remote);
}

LOADSTAR_DECL tail child_tail(const rel_names& r, const tail& t) {
    tail out;
    out.depth = t.depth + 1;
    const std::string anon = "anon_" + std::to_string(out.depth);
    const std::string tbl = quote_ident(r.target);
    const std::string sec = secondary_name(r);
    out.sql = "FROM (SELECT " + parent_key_sql(r, quote_ident(r.table)) + " AS k " + t.sql + ") AS " + anon +
              join_sql(r, "JOIN", tbl, sec, anon + ".k");
    out.params = t.params;
    // Children repeat when their parents' rows do, and a many-to-one's or a
    // many-to-many's target can be reached from several parents.
    out.may_repeat = t.may_repeat || r.kind == relation::belongs_to || r.kind == relation::many_to_many;
    return out;
}

LOADSTAR_DECL std::string lazy_sql(const rel_names& r, const plan_desc& lp) {
    const std::string t = quote_ident(r.target);
    const std::string sec = secondary_name(r);
    return "SELECT " + lp.cols + " FROM " + from_child(r, t, sec) + lp.joins + " WHERE " + child_key_sql(r, t, sec) + " = ?";
}

LOADSTAR_DECL std::string lazy_tail_sql(const rel_names& r) {
    const std::string t = quote_ident(r.target);
    const std::string sec = secondary_name(r);
    return "FROM " + from_child(r, t, sec) + " WHERE " + child_key_sql(r, t, sec) + " = ?";
}

}  // namespace loadstar::detail
