// loadstar/loader/loader.hpp - the loader engine: SQL for a plan, hydration through the
// identity map, and the follow-up statements of selectin and subquery loads, per statement.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/convert.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/detail/session_core.hpp>
#include <loadstar/loader/plan.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/relationship.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

namespace loadstar::detail {

// ---- names and keys of one relationship -------------------------------------------------------

template <class E, class Key, bool BelongsTo>
struct key_type_sel {
    using type = typename entity_meta<E>::pk_type;
};
template <class E, class Key>
struct key_type_sel<E, Key, true> {
    using type = unwrap_optional_t<typename member_traits<Key>::member_type>;
};

template <class E, std::size_t I>
struct rel_keys {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using tmeta = entity_meta<T>;
    static constexpr relation kind = R::kind;
    static constexpr auto key = meta::template relationship<I>().key;

    static constexpr std::size_t fk_col = [] {
        if constexpr (kind == relation::has_many || kind == relation::has_one) return tmeta::template column_of<key>();
        else if constexpr (kind == relation::belongs_to) return meta::template column_of<key>();
        else return std::size_t{0};
    }();
    static_assert(fk_col != npos,
                  "loadstar: a relationship's foreign key member is not a mapped column "
                  "(see rel_keys<Entity, index> below)");

    /// The type of the value that links parent and child (parent pk, or the parent's fk).
    using key_type = typename key_type_sel<E, std::remove_cv_t<decltype(key)>, kind == relation::belongs_to>::type;

    /// The association table's name (quoted), or empty if not many-to-many.
    static std::string secondary_name() {
        if constexpr (kind == relation::many_to_many) return quote_ident(key.table);
        else return {};
    }

    static bool parent_key(const E& e, key_type& out) {
        if constexpr (kind == relation::belongs_to) {
            const auto& v = e.*key;
            if constexpr (is_optional_v<std::remove_cvref_t<decltype(v)>>) {
                if (!v) return false;
                out = *v;
            } else {
                out = v;
            }
        } else {
            out = e.*(meta::pk_member);
        }
        return true;
    }

    static std::string col(const std::string& alias, std::string_view column) { return alias + "." + quote_ident(column); }
    static std::string pk_sql(const std::string& alias) { return col(alias, meta::template column_name<meta::pk_index>()); }
    static std::string tpk_sql(const std::string& alias) { return col(alias, tmeta::template column_name<tmeta::pk_index>()); }

    /// The parent-side key expression (what a subquery selects from the parent's rows).
    static std::string parent_key_sql(const std::string& p) {
        if constexpr (kind == relation::belongs_to) return col(p, meta::template column_name<fk_col>());
        else return pk_sql(p);
    }
    /// The child-side key expression (what a selectin IN list and a subquery join compare).
    static std::string child_key_sql(const std::string& c, const std::string& s) {
        if constexpr (kind == relation::has_many || kind == relation::has_one) return col(c, tmeta::template column_name<fk_col>());
        else if constexpr (kind == relation::belongs_to) return tpk_sql(c);
        else return col(s, key.local);
    }
    /// FROM-clause text that reaches the child table (aliased `c`) from the parent's key source.
    /// `join` is "LEFT OUTER JOIN" or "JOIN"; `pkey` the parent key expression.
    static std::string join_sql(std::string_view join, const std::string& c, const std::string& s,
                                const std::string& pkey) {
        const std::string t = quote_ident(tmeta::table_name());
        const std::string tas = c == t ? t : t + " AS " + c;
        if constexpr (kind == relation::many_to_many) {
            const std::string st = quote_ident(key.table);
            const std::string sas = s == st ? st : st + " AS " + s;
            return " " + std::string(join) + " " + sas + " ON " + col(s, key.local) + " = " + pkey + " " +
                   std::string(join) + " " + tas + " ON " + tpk_sql(c) + " = " + col(s, key.remote);
        } else {
            return " " + std::string(join) + " " + tas + " ON " + child_key_sql(c, s) + " = " + pkey;
        }
    }
    /// "FROM child [JOIN secondary]" for statements keyed on the child side (selectin, lazy).
    static std::string from_child(const std::string& c, const std::string& s) {
        const std::string t = quote_ident(tmeta::table_name());
        if constexpr (kind == relation::many_to_many) {
            const std::string st = quote_ident(key.table);
            return t + " JOIN " + (s == st ? st : st + " AS " + s) + " ON " + tpk_sql(c) + " = " + col(s, key.remote);
        } else {
            (void)c;
            (void)s;
            return t;
        }
    }
};

template <class E, std::size_t I>
const std::string& column_label() {
    static const std::string s = std::string(entity_meta<E>::table_name()) + "." +
                                 std::string(entity_meta<E>::template column_name<I>());
    return s;
}

/// Per-load state: the session, and what the statements of this load are filling.
struct load_context {
    session_core& s;
    bool tracked = true;
    bool dedupe = true;
    bool populate_existing = false;
    std::vector<holder_link*> joined_loading;
    std::vector<std::unique_ptr<identity_map_base>> local_maps;

    template <class E>
    identity_map<E>& map() {
        if (tracked) return s.map<E>();
        const std::size_t i = entity_index<E>;
        if (i >= local_maps.size()) local_maps.resize(i + 1);
        if (!local_maps[i]) local_maps[i] = std::make_unique<identity_map<E>>();
        return static_cast<identity_map<E>&>(*local_maps[i]);
    }
    void finish_joined() {
        for (auto* l : joined_loading)
            if (l->state == holder_state::loading) l->state = holder_state::loaded;
        joined_loading.clear();
    }
};

/// The text a subquery load builds on: "FROM ... WHERE ..." selecting a node's rows, with the
/// node's table reachable under its own name, and the values it binds.
struct tail {
    std::string sql;
    std::vector<value> params;
    int depth = 0;
};

template <class Plan>
struct loader;

/// Adds a loaded child to a holder being filled (to-many: once; to-one: set).
template <class R>
void attach(typename R::holder& holder, ptr<typename R::target> child) {
    if constexpr (R::to_many) {
        auto& items = holder_access<typename R::holder>::items(holder);
        if (!items.empty() && items.back() == child) return;
        if (std::find(items.begin(), items.end(), child) != items.end()) return;
        items.push_back(std::move(child));
    } else {
        holder_access<typename R::holder>::set(holder, std::move(child));
    }
}

// ---- which many-to-one holders hold their target weakly ---------------------------------------

template <class E, std::size_t I, class T, std::size_t J>
constexpr bool is_inverse_of() {
    using RT = typename entity_meta<T>::template relationship_t<J>;
    if constexpr ((RT::kind == relation::has_many || RT::kind == relation::has_one) &&
                  std::is_same_v<typename RT::target, E>)
        return same_member<entity_meta<T>::template relationship<J>().key, entity_meta<E>::template relationship<I>().key>();
    else
        return false;
}
template <class E, std::size_t I, class T, std::size_t... J>
constexpr bool has_inverse(std::index_sequence<J...>) {
    return (is_inverse_of<E, I, T, J>() || ... || false);
}
/// A many-to-one whose target maps the inverse one-to-many / one-to-one (Book.author with
/// Author.books): holding it strongly would make a shared_ptr cycle, so it is held weakly.
template <class E, std::size_t I>
constexpr bool weak_target() {
    using R = typename entity_meta<E>::template relationship_t<I>;
    if constexpr (R::kind != relation::belongs_to) return false;
    else {
        using T = typename R::target;
        return has_inverse<E, I, T>(std::make_index_sequence<entity_meta<T>::relationship_count>{});
    }
}
template <class E, std::size_t I>
void weaken(typename entity_meta<E>::template relationship_t<I>::holder& h) {
    if constexpr (weak_target<E, I>()) holder_access<std::remove_cvref_t<decltype(h)>>::make_weak(h);
}

/// Called at flush for an owner whose relationship I was modified (defined in session.hpp).
template <class E, std::size_t I>
void cascade_changed(session_core& s, void* owner, const std::shared_ptr<void>& original);
/// Keeps the back_populates side of relationship I in step in memory (defined in session.hpp).
template <class E, std::size_t I>
void back_link(session_core& s, void* owner, const void* item, bool added);

template <class E, std::size_t I, class LazyPlan>
struct lazy_loader {
    static void load(session_core& s, void* owner, const std::source_location& where);
    static const std::string& name() { return member_name<entity_meta<E>::template relationship_t<I>::member>(); }
    static constexpr rel_vtable vt{&name, &load, &cascade_changed<E, I>, &back_link<E, I>};
};

/// Loads one deferred column on first touch: SELECT col FROM table WHERE pk = ?.
template <class E, std::size_t I>
struct deferred_loader {
    using meta = entity_meta<E>;
    using C = typename meta::template column_t<I>;
    static const std::string& name() { return member_name<C::member>(); }
    static void load(session_core& s, void* owner, const std::source_location&) {
        E& obj = *static_cast<E*>(owner);
        static const std::string sql = "SELECT " + quote_ident(meta::template column_name<I>()) + " FROM " +
                                       quote_ident(meta::table_name()) + " WHERE " +
                                       quote_ident(meta::template column_name<meta::pk_index>()) + " = ?";
        const value params[] = {to_value(obj.*(meta::pk_member))};
        cursor c(*s.eng, s.connection(), sql, params);
        if (!c.next())
            throw no_result_error("loadstar: cannot load deferred column " + name() + ": the row is gone");
        read_column(c.row(), 0, obj.*(C::member), column_label<E, I>());
    }
    static constexpr rel_vtable vt{&name, &load, nullptr, nullptr};
};

template <class E>
void detach_holders(E& obj) {
    using meta = entity_meta<E>;
    for_each_index<meta::column_count>([&](auto i) {
        using C = typename meta::template column_t<i>;
        if constexpr (C::is_deferred) {
            auto& link = holder_access<typename C::type>::link(obj.*(C::member));
            link.core = nullptr;
            if (link.mode == holder_mode::lazy) link.mode = holder_mode::unbound;
        }
    });
    for_each_index<meta::relationship_count>([&](auto i) {
        using R = typename meta::template relationship_t<i>;
        auto& link = holder_access<typename R::holder>::link(obj.*(R::member));
        link.core = nullptr;
        if (link.mode == holder_mode::lazy) link.mode = holder_mode::unbound;
    });
}

template <class Plan>
struct loader {
    using E = typename Plan::entity;
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    static constexpr std::size_t nrel = meta::relationship_count;

    template <std::size_t I>
    using rp = rel_plan<Plan, I>;

    // ---- columns: which are selected, and where each sits among the selected ----------------
    template <std::size_t I>
    static constexpr bool selected = !column_deferred<Plan, I>();
    static constexpr std::size_t selected_count = [] {
        std::size_t n = 0;
        for_each_index<meta::column_count>([&](auto i) { n += selected<i.value> ? 1 : 0; });
        return n;
    }();
    template <std::size_t I>
    static constexpr int sel_index = [] {
        int n = 0;
        for_each_index<I>([&](auto i) { n += selected<i.value> ? 1 : 0; });
        return n;
    }();
    template <std::size_t I>
    static constexpr bool is_joined = rp<I>::kind == load_kind::joined || rp<I>::kind == load_kind::contains;

    // ---- the node: what one statement hydrated at this place in the plan ----------------------
    template <bool Joined, std::size_t I>
    struct child_node_sel {
        using type = std::monostate;
    };
    template <std::size_t I>
    struct child_node_sel<true, I> {
        using type = typename loader<typename rp<I>::child_plan>::node;
    };
    template <std::size_t... I>
    static auto children_tuple(std::index_sequence<I...>)
        -> std::tuple<typename child_node_sel<is_joined<I>, I>::type...>;

    struct node {
        std::vector<ptr<E>> objs;
        std::unordered_set<const E*> seen;
        // Only a node whose objects feed further eager loads needs each object once (the
        // root decides for itself); de-duplicating the rest is pure cost.
        bool use_seen = has_eager<Plan>();
        decltype(children_tuple(std::make_index_sequence<nrel>{})) children;
    };

    static constexpr int width() {
        int w = static_cast<int>(selected_count);
        for_each_index<nrel>([&](auto i) {
            if constexpr (is_joined<i>) w += loader<typename rp<i>::child_plan>::width();
        });
        return w;
    }

    // ---- SQL -----------------------------------------------------------------------------------
    static void build_sql(std::string& cols, std::string& joins, int& counter, const std::string& alias) {
        for_each_index<meta::column_count>([&](auto i) {
            if constexpr (selected<i.value>) {
                if (!cols.empty()) cols += ", ";
                cols += alias + "." + quote_ident(meta::template column_name<i>());
            }
        });
        for_each_index<nrel>([&](auto i) {
            using RP = rp<i>;
            using K = rel_keys<E, i>;
            if constexpr (RP::kind == load_kind::joined) {
                const int n = ++counter;
                const std::string c = quote_ident(std::string(K::tmeta::table_name()) + "_" + std::to_string(n));
                std::string s;
                if constexpr (K::kind == relation::many_to_many)
                    s = quote_ident(std::string(K::key.table) + "_" + std::to_string(n));
                joins += K::join_sql("LEFT OUTER JOIN", c, s, K::parent_key_sql(alias));
                loader<typename RP::child_plan>::build_sql(cols, joins, counter, c);
            } else if constexpr (RP::kind == load_kind::contains) {
                // Columns come from the query's explicit join of the target's own table.
                loader<typename RP::child_plan>::build_sql(cols, joins, counter, quote_ident(K::tmeta::table_name()));
            }
        });
    }
    struct select_sql {
        std::string cols, joins;
    };
    /// Column list and eager joins for a statement rooted at this plan: built once per plan type.
    static const select_sql& sql() {
        static const select_sql s = [] {
            select_sql r;
            int counter = 0;
            build_sql(r.cols, r.joins, counter, quote_ident(meta::table_name()));
            return r;
        }();
        return s;
    }

    // ---- hydration -------------------------------------------------------------------------------
    static void read_columns(statement& st, int base, E& obj) {
        for_each_index<meta::column_count>([&](auto i) {
            using C = typename meta::template column_t<i>;
            if constexpr (selected<i.value>)
                read_column(st, base + sel_index<i.value>, obj.*(C::member), column_label<E, i>());
        });
    }
    /// Arms the deferred columns this plan leaves out, so they load on first touch.
    static void arm_deferred(load_context& ctx, E& obj) {
        for_each_index<meta::column_count>([&](auto i) {
            if constexpr (!selected<i.value>) {
                using C = typename meta::template column_t<i>;
                auto& link = holder_access<typename C::type>::link(obj.*(C::member));
                link.state = holder_state::unloaded;
                link.vt = &deferred_loader<E, i.value>::vt;
                link.owner = &obj;
                link.mode = holder_mode::lazy;
                link.core = ctx.tracked ? &ctx.s : nullptr;
            }
        });
    }

    static void arm(load_context& ctx, E& obj, bool fresh) {
        for_each_index<nrel>([&](auto i) {
            using RP = rp<i>;
            using R = typename RP::R;
            auto& holder = obj.*(R::member);
            auto& link = holder_access<typename R::holder>::link(holder);
            const bool reload = fresh || ctx.populate_existing;
            if (ctx.tracked && fresh) weaken<E, i.value>(holder);
            if constexpr (is_eager(RP::kind)) {
                if (reload || link.state == holder_state::unloaded) {
                    holder_access<typename R::holder>::clear(holder);
                    link.state = holder_state::loading;
                    if constexpr (is_joined<i>) ctx.joined_loading.push_back(&link);
                    bind(ctx, link, obj, &lazy_loader<E, i, typename RP::lazy_plan>::vt, holder_mode::lazy);
                }
            } else if (reload) {
                holder_access<typename R::holder>::clear(holder);
                link.state = holder_state::unloaded;
                bind(ctx, link, obj, &lazy_loader<E, i, typename RP::lazy_plan>::vt,
                     RP::kind == load_kind::raise ? holder_mode::raise : holder_mode::lazy);
            }
        });
    }
    static void bind(load_context& ctx, holder_link& link, E& obj, const rel_vtable* vt, holder_mode mode) {
        link.vt = vt;
        link.owner = &obj;
        link.mode = mode;
        link.core = ctx.tracked ? &ctx.s : nullptr;
    }

    /// Reads one entity (and its joined children) from the row at `col`; nullptr if the row has
    /// no entity there (an outer join that matched nothing).
    static ptr<E> hydrate(load_context& ctx, statement& st, int& col, node& n) {
        const int base = col;
        col += static_cast<int>(selected_count);
        pk_type pk{};
        if (!read_key(st, base + sel_index<meta::pk_index>, pk, column_label<E, meta::pk_index>())) {
            col = base + width();
            return nullptr;
        }
        ptr<E> obj;
        bool fresh = false;
        bool first_in_node = true;
        if (ctx.dedupe) {
            auto& m = ctx.map<E>();
            if (auto* hit = m.find(pk)) {
                obj = *hit;
                if (n.use_seen) first_in_node = n.seen.insert(obj.get()).second;
                if (ctx.populate_existing && first_in_node) {
                    read_columns(st, base, *obj);
                    if (ctx.tracked) m.resnap(pk);
                }
            } else {
                obj = std::make_shared<E>();
                read_columns(st, base, *obj);
                if (ctx.tracked) m.insert(pk, obj);
                else m.insert_untracked(pk, obj);
                fresh = true;
                if (n.use_seen) n.seen.insert(obj.get());
            }
        } else {
            obj = std::make_shared<E>();
            read_columns(st, base, *obj);
            fresh = true;
        }
        if (first_in_node) {
            n.objs.push_back(obj);
            arm(ctx, *obj, fresh);
            if constexpr (selected_count != meta::column_count)
                if (fresh || ctx.populate_existing) arm_deferred(ctx, *obj);
        }
        for_each_index<nrel>([&](auto i) {
            if constexpr (is_joined<i>) {
                using RP = rp<i>;
                using R = typename RP::R;
                auto child = loader<typename RP::child_plan>::hydrate(ctx, st, col, std::get<i>(n.children));
                auto& holder = (*obj).*(R::member);
                auto& link = holder_access<typename R::holder>::link(holder);
                if (child && link.state == holder_state::loading) attach<R>(holder, std::move(child));
            }
        });
        return obj;
    }

    // ---- statements ------------------------------------------------------------------------------
    /// Runs one statement of this plan: hydrates each row (after `key_columns` leading key
    /// columns, handed to `on_row`), then the follow-up loads of what it hydrated.
    template <class OnRow>
    static void run(load_context& ctx, std::string_view sql, std::span<const value> params, int key_columns,
                    node& n, const tail* t, OnRow&& on_row) {
        {
            auto& pc = ctx.s.connection();
            cursor c(*ctx.s.eng, pc, sql, params);
            while (c.next()) {
                int col = key_columns;
                auto obj = hydrate(ctx, c.row(), col, n);
                on_row(c.row(), obj);
            }
        }
        ctx.finish_joined();
        post_load(ctx, n, t);
    }

    /// The follow-up statements (selectin, subquery) for the objects of one node, recursively.
    static void post_load(load_context& ctx, node& n, const tail* t) {
        if (n.objs.empty()) return;
        for_each_index<nrel>([&](auto i) {
            using RP = rp<i>;
            if constexpr (RP::kind == load_kind::selectin) selectin_load<i>(ctx, n);
            else if constexpr (RP::kind == load_kind::subquery) subquery_load<i>(ctx, n, *t);
            else if constexpr (is_joined<i>) {
                using CL = loader<typename RP::child_plan>;
                auto& cn = std::get<i>(n.children);
                if constexpr (needs_tail<typename RP::child_plan>()) {
                    tail ct = child_tail<i>(*t);
                    CL::post_load(ctx, cn, &ct);
                } else {
                    CL::post_load(ctx, cn, nullptr);
                }
            }
        });
    }

    /// The tail of the child node of relationship I, built from this node's tail.
    template <std::size_t I>
    static tail child_tail(const tail& t) {
        using K = rel_keys<E, I>;
        tail r;
        r.depth = t.depth + 1;
        const std::string anon = "anon_" + std::to_string(r.depth);
        const std::string tbl = quote_ident(K::tmeta::table_name());
        const std::string sec = K::secondary_name();
        r.sql = "FROM (SELECT " + K::parent_key_sql(quote_ident(meta::table_name())) + " AS k " + t.sql + ") AS " +
                anon + K::join_sql("JOIN", tbl, sec, anon + ".k");
        r.params = t.params;
        return r;
    }

    /// Claims the holders of relationship I that this load fills; returns their owners.
    template <std::size_t I>
    static std::vector<E*> claim(node& n) {
        using R = typename rp<I>::R;
        std::vector<E*> out;
        out.reserve(n.objs.size());
        for (auto& o : n.objs) {
            auto& link = holder_access<typename R::holder>::link((*o).*(R::member));
            if (link.state == holder_state::loading) {
                link.state = holder_state::claimed;
                out.push_back(o.get());
            }
        }
        return out;
    }
    template <std::size_t I>
    static void mark_loaded(const std::vector<E*>& owners) {
        using R = typename rp<I>::R;
        for (E* o : owners) {
            auto& link = holder_access<typename R::holder>::link(o->*(R::member));
            if (link.state == holder_state::claimed) link.state = holder_state::loaded;
        }
    }

    template <std::size_t I>
    static std::size_t batch_limit(load_context& ctx) {
        const std::size_t driver_limit = ctx.s.eng->sql_dialect().max_bind_parameters;
        return std::max<std::size_t>(1, std::min(rp<I>::batch, driver_limit));
    }

    template <std::size_t I>
    static void selectin_load(load_context& ctx, node& n) {
        using RP = rp<I>;
        using R = typename RP::R;
        using T = typename R::target;
        using K = rel_keys<E, I>;
        using CL = loader<typename RP::child_plan>;
        using key_type = typename K::key_type;
        auto owners = claim<I>(n);
        if (owners.empty()) return;

        const std::string t = quote_ident(K::tmeta::table_name());
        const std::string s = K::secondary_name();
        const std::size_t batch = batch_limit<I>(ctx);

        if constexpr (K::kind == relation::belongs_to) {
            // To-one: load the distinct foreign keys whose target is not in the identity map.
            std::vector<key_type> keys;
            std::vector<E*> waiting;
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
            static const std::string prefix = "SELECT " + CL::sql().cols + " FROM " + t + CL::sql().joins +
                                              " WHERE " + K::child_key_sql(t, s);
            std::unordered_map<key_type, ptr<T>> found;
            auto run_batch = [&](const std::string& sql, std::vector<value>& params) {
                typename CL::node cn;
                tail ct;
                if constexpr (needs_tail<typename RP::child_plan>()) {
                    ct.sql = "FROM " + t + " WHERE " + K::child_key_sql(t, s) + sql.substr(prefix.size());
                    ct.params = params;
                }
                CL::run(ctx, sql, params, 0, cn, &ct, [&](statement&, const ptr<T>& child) {
                    if (child) found.emplace(child.get()->*(K::tmeta::pk_member), child);
                });
            };
            bool done = keys.empty();
            if constexpr (std::is_integral_v<key_type>) {
                if (!done && ctx.s.eng->sql_dialect().supports_arrays) {
                    std::vector<value> params{value{std::vector<std::int64_t>(keys.begin(), keys.end())}};
                    run_batch(prefix + " = ANY(?)", params);
                    done = true;
                }
            }
            for (std::size_t b = 0; !done && b < keys.size(); b += batch) {
                const std::size_t e = std::min(keys.size(), b + batch);
                std::string sql = prefix + " IN (";
                std::vector<value> params;
                params.reserve(e - b);
                for (std::size_t j = b; j < e; ++j) {
                    sql += j == b ? "?" : ", ?";
                    params.push_back(to_value(keys[j]));
                }
                sql += ')';
                run_batch(sql, params);
            }
            for (E* o : waiting) {
                key_type k{};
                K::parent_key(*o, k);
                auto it = found.find(k);
                holder_access<typename R::holder>::add(o->*(R::member), it == found.end() ? ptr<T>{} : it->second);
            }
        } else {
            // To-many and one-to-one: keyed by the parent's primary key, in result order.
            std::unordered_map<key_type, E*> by_key;
            std::vector<key_type> keys;
            for (E* o : owners) {
                key_type k{};
                K::parent_key(*o, k);
                if (by_key.emplace(k, o).second) keys.push_back(k);
            }
            static const std::string prefix = "SELECT " + K::child_key_sql(t, s) + ", " + CL::sql().cols + " FROM " +
                                              K::from_child(t, s) + CL::sql().joins + " WHERE " +
                                              K::child_key_sql(t, s);
            auto run_batch = [&](const std::string& sql, std::vector<value>& params) {
                typename CL::node cn;
                tail ct;
                if constexpr (needs_tail<typename RP::child_plan>()) {
                    ct.sql = "FROM " + K::from_child(t, s) + " WHERE " + K::child_key_sql(t, s) + sql.substr(prefix.size());
                    ct.params = params;
                }
                CL::run(ctx, sql, params, 1, cn, &ct, [&](statement& st, const ptr<T>& child) {
                    if (!child) return;
                    key_type k{};
                    read_column(st, 0, k, "relationship key");
                    auto it = by_key.find(k);
                    if (it != by_key.end()) attach<R>(it->second->*(R::member), child);
                });
            };
            if constexpr (std::is_integral_v<key_type>) {
                // One statement with an array parameter where the driver binds arrays
                // (PostgreSQL: `= ANY($1)`): the bind limit never applies.
                if (ctx.s.eng->sql_dialect().supports_arrays) {
                    std::vector<std::int64_t> arr(keys.begin(), keys.end());
                    std::vector<value> params{value{std::move(arr)}};
                    run_batch(prefix + " = ANY(?)", params);
                    mark_loaded<I>(owners);
                    return;
                }
            }
            for (std::size_t b = 0; b < keys.size(); b += batch) {
                const std::size_t e = std::min(keys.size(), b + batch);
                std::string sql = prefix + " IN (";
                std::vector<value> params;
                params.reserve(e - b);
                for (std::size_t j = b; j < e; ++j) {
                    sql += j == b ? "?" : ", ?";
                    params.push_back(to_value(keys[j]));
                }
                sql += ')';
                run_batch(sql, params);
            }
        }
        mark_loaded<I>(owners);
    }

    template <std::size_t I>
    static void subquery_load(load_context& ctx, node& n, const tail& t) {
        using RP = rp<I>;
        using R = typename RP::R;
        using T = typename R::target;
        using K = rel_keys<E, I>;
        using CL = loader<typename RP::child_plan>;
        using key_type = typename K::key_type;
        auto owners = claim<I>(n);
        if (owners.empty()) return;

        tail ct = child_tail<I>(t);
        const std::string anon = "anon_" + std::to_string(ct.depth);
        // ct.sql is "FROM (SELECT <parent key> AS k FROM ...) AS anon_d JOIN child ON ...": select
        // the key, the child's columns and its eager joins from it.
        std::string sql = "SELECT " + anon + ".k, " + CL::sql().cols + " " + ct.sql + CL::sql().joins;
        typename CL::node cn;
        std::unordered_map<key_type, std::vector<ptr<T>>> by_key;
        const tail* next = needs_tail<typename RP::child_plan>() ? &ct : nullptr;
        CL::run(ctx, sql, ct.params, 1, cn, next, [&](statement& st, const ptr<T>& child) {
            if (!child) return;
            key_type k{};
            read_column(st, 0, k, "relationship key");
            auto& v = by_key[k];
            if (v.empty() || v.back() != child) v.push_back(child);
        });
        for (E* o : owners) {
            key_type k{};
            auto& holder = o->*(R::member);
            if (!K::parent_key(*o, k)) {
                holder_access<typename R::holder>::clear(holder);
                continue;
            }
            auto it = by_key.find(k);
            if (it == by_key.end()) continue;
            for (auto& c : it->second) attach<R>(holder, c);
        }
        mark_loaded<I>(owners);
    }
};

/// Loads one unloaded holder on first touch (the lazy strategy), with `LazyPlan` applied to
/// the statement (default loaders of the related entity, and any nested options).
template <class E, std::size_t I, class LazyPlan>
void lazy_loader<E, I, LazyPlan>::load(session_core& s, void* owner, const std::source_location& where) {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    using CL = loader<LazyPlan>;
    using key_type = typename K::key_type;
    E& obj = *static_cast<E*>(owner);
    auto& holder = obj.*(R::member);
    auto& link = holder_access<typename R::holder>::link(holder);
    load_context ctx{s};
    key_type k{};
    if (!K::parent_key(obj, k)) {  // a NULL foreign key: nothing to load
        holder_access<typename R::holder>::clear(holder);
        link.state = holder_state::loaded;
        return;
    }
    if constexpr (K::kind == relation::belongs_to) {
        if (auto* hit = s.map<T>().find(k)) {  // identity map first: no SQL
            holder_access<typename R::holder>::add(holder, *hit);
            link.state = holder_state::loaded;
            return;
        }
    }
    s.note_lazy_load(name(), R::to_many, where);
    const std::string t = quote_ident(K::tmeta::table_name());
    const std::string sec = K::secondary_name();
    static const std::string from_where = "FROM " + K::from_child(t, sec) + " WHERE " + K::child_key_sql(t, sec) + " = ?";
    static const std::string sql = "SELECT " + CL::sql().cols + " " +
                                   from_where.substr(0, from_where.find(" WHERE ")) + CL::sql().joins +
                                   from_where.substr(from_where.find(" WHERE "));
    std::vector<value> params{to_value(k)};
    tail ct;
    if constexpr (needs_tail<LazyPlan>()) {
        ct.sql = from_where;
        ct.params = params;
    }
    typename CL::node cn;
    holder_access<typename R::holder>::clear(holder);
    link.state = holder_state::loading;
    CL::run(ctx, sql, params, 0, cn, &ct, [&](statement&, const ptr<T>& child) {
        if (child) attach<R>(holder, child);
    });
    link.state = holder_state::loaded;
}

}  // namespace loadstar::detail
