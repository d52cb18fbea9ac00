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
#include <optional>
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
    /// Whether these FROM/WHERE can yield one row more than once (a join to a to-many, a
    /// many-to-one's shared targets). If not, a subquery load built on it cannot deliver a
    /// (parent, child) pair twice and skips the duplicate check per child. True unless known.
    bool may_repeat = true;
};

template <class Plan>
struct loader;

/// Adds a loaded child to a holder being filled (to-many: once; to-one: set). `may_repeat`:
/// the statement can deliver this child to this holder twice, so look for it first (a linear
/// scan; statements that cannot repeat a pair skip it).
template <class R>
void attach(typename R::holder& holder, ptr<typename R::target> child, bool may_repeat = true) {
    if constexpr (R::to_many) {
        auto& items = holder_access<typename R::holder>::items(holder);
        if (may_repeat) {
            if (!items.empty() && items.back() == child) return;
            if (std::find(items.begin(), items.end(), child) != items.end()) return;
        }
        items.push_back(std::move(child));
    } else {
        holder_access<typename R::holder>::set(holder, std::move(child));
    }
}

/// Whether one parent key's statement can deliver the same child twice: a link table may list
/// a pair twice, and a child's own joined to-many repeats its row once per grandchild.
template <class K, class ChildPlan>
constexpr bool children_may_repeat() {
    return K::kind == relation::many_to_many || has_joined_many<ChildPlan>();
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
    static void load(session_core& s, void* owner, const std::source_location& where) {
        load_one(s, owner, where, true);
    }
    static void load_one(session_core& s, void* owner, const std::source_location& where, bool note);
    static void load_many(session_core& s, std::span<void* const> owners, const std::source_location& where);
    static const std::string& sql();
    static const std::string& name() { return member_name<entity_meta<E>::template relationship_t<I>::member>(); }
    static constexpr rel_vtable vt{&name, &load, &cascade_changed<E, I>, &back_link<E, I>, &load_many,
                                   &record_holder_change};
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
    /// Reads the selected columns into obj; `pk`, when given, is the primary key already read
    /// from this row (hydrate reads it first to look the object up), so it is not read twice.
    static void read_columns(statement& st, int base, E& obj, const pk_type* pk = nullptr) {
        for_each_index<meta::column_count>([&](auto i) {
            using C = typename meta::template column_t<i>;
            if constexpr (selected<i.value>) {
                if constexpr (i.value == meta::pk_index && std::is_same_v<typename C::type, pk_type>) {
                    if (pk) {
                        obj.*(C::member) = *pk;
                        return;
                    }
                }
                read_column(st, base + sel_index<i.value>, obj.*(C::member), column_label<E, i>());
            }
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
                read_columns(st, base, *obj, &pk);
                if (ctx.tracked) m.insert(pk, obj);
                else m.insert_untracked(pk, obj);
                fresh = true;
                if (n.use_seen) n.seen.insert(obj.get());
            }
        } else {
            obj = std::make_shared<E>();
            read_columns(st, base, *obj, &pk);
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
    /// columns, handed to `on_row`), then the follow-up loads of what it hydrated. Where the
    /// driver pipelines, the subquery loads hanging off this node go to the server with this
    /// statement, in its round trip (their SQL needs nothing from its rows).
    template <class OnRow>
    static void run(load_context& ctx, std::string_view sql, std::span<const value> params, int key_columns,
                    node& n, const tail* t, OnRow&& on_row) {
        std::optional<prefetch_scope> scope;
        if constexpr (subquery_count > 0) {
            if (t && ctx.s.eng->sql_dialect().pipelining) {
                std::vector<tail> tails;
                std::vector<std::string> sqls;
                tails.reserve(subquery_count);
                sqls.reserve(subquery_count);
                std::vector<prefetch_request> requests{{sql, params}};
                for_each_index<nrel>([&](auto i) {
                    if constexpr (rp<i>::kind == load_kind::subquery) {
                        tails.push_back(child_tail<i>(*t));
                        sqls.push_back(subquery_sql<i>(tails.back()));
                        requests.push_back({sqls.back(), tails.back().params});
                    }
                });
                scope.emplace(*ctx.s.eng, ctx.s.connection(), requests);
            }
        }
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

    static constexpr std::size_t subquery_count = [] {
        std::size_t k = 0;
        for_each_index<nrel>([&](auto i) { k += rp<i>::kind == load_kind::subquery ? 1 : 0; });
        return k;
    }();
    static constexpr std::size_t followup_count = [] {
        std::size_t k = 0;
        for_each_index<nrel>([&](auto i) {
            k += rp<i>::kind == load_kind::subquery || rp<i>::kind == load_kind::selectin ? 1 : 0;
        });
        return k;
    }();

    /// A statement a follow-up load will run: its SQL and values.
    struct batch {
        std::string sql;
        std::vector<value> params;
    };

    /// A selectin load of relationship I, between claiming its holders and running it.
    template <std::size_t I>
    struct selectin_job {
        using K = rel_keys<E, I>;
        using key_type = typename K::key_type;
        std::vector<E*> owners;
        std::vector<E*> waiting;                        // to-one: owners whose target is not mapped
        std::unordered_map<key_type, E*> by_key;        // to-many: owner by its key
        std::vector<batch> batches;
    };
    /// A subquery load of relationship I, between claiming its holders and running it.
    template <std::size_t I>
    struct subquery_job {
        std::vector<E*> owners;
        tail ct;
        std::string sql;
        bool may_repeat = true;  // the statement can deliver one (owner, child) pair twice
    };
    template <std::size_t I>
    static auto job_for() {
        if constexpr (rp<I>::kind == load_kind::selectin) return selectin_job<I>{};
        else if constexpr (rp<I>::kind == load_kind::subquery) return subquery_job<I>{};
        else return std::monostate{};
    }
    template <std::size_t... I>
    static auto jobs_tuple(std::index_sequence<I...>) -> std::tuple<decltype(job_for<I>())...>;
    using jobs_t = decltype(jobs_tuple(std::make_index_sequence<nrel>{}));

    /// The follow-up statements (selectin, subquery) for the objects of one node, recursively.
    /// Each load claims its holders (begin), then runs (end). Where the driver pipelines, every
    /// sibling is begun first and their statements share one round trip; elsewhere each sibling
    /// is begun and run in turn (so a to-one load finds what an earlier sibling mapped).
    static void post_load(load_context& ctx, node& n, const tail* t) {
        if (n.objs.empty()) return;
        if constexpr (followup_count > 0) {
            jobs_t jobs;
            if (followup_count > 1 && ctx.s.eng->sql_dialect().pipelining) {
                std::vector<prefetch_request> requests;
                for_each_index<nrel>([&](auto i) {
                    if constexpr (rp<i>::kind == load_kind::selectin) {
                        selectin_begin<i>(ctx, n, std::get<i>(jobs));
                        for (auto& b : std::get<i>(jobs).batches) requests.push_back({b.sql, b.params});
                    } else if constexpr (rp<i>::kind == load_kind::subquery) {
                        auto& job = std::get<i>(jobs);
                        subquery_begin<i>(ctx, n, *t, job);
                        if (!job.owners.empty()) requests.push_back({job.sql, job.ct.params});
                    }
                });
                prefetch_scope scope(*ctx.s.eng, ctx.s.connection(), requests);
                run_followups(ctx, n, t, jobs);
                return;
            }
            for_each_index<nrel>([&](auto i) {
                if constexpr (rp<i>::kind == load_kind::selectin) {
                    selectin_begin<i>(ctx, n, std::get<i>(jobs));
                    selectin_end<i>(ctx, std::get<i>(jobs));
                } else if constexpr (rp<i>::kind == load_kind::subquery) {
                    subquery_begin<i>(ctx, n, *t, std::get<i>(jobs));
                    subquery_end<i>(ctx, std::get<i>(jobs));
                } else {
                    joined_followups<i>(ctx, n, t);
                }
            });
        } else {
            for_each_index<nrel>([&](auto i) { joined_followups<i>(ctx, n, t); });
        }
    }

    static void run_followups(load_context& ctx, node& n, const tail* t, jobs_t& jobs) {
        for_each_index<nrel>([&](auto i) {
            if constexpr (rp<i>::kind == load_kind::selectin) selectin_end<i>(ctx, std::get<i>(jobs));
            else if constexpr (rp<i>::kind == load_kind::subquery) subquery_end<i>(ctx, std::get<i>(jobs));
            else joined_followups<i>(ctx, n, t);
        });
    }

    /// The follow-up loads of the objects a joined relationship I hydrated.
    template <std::size_t I>
    static void joined_followups(load_context& ctx, node& n, const tail* t) {
        if constexpr (is_joined<I>) {
            using RP = rp<I>;
            using CL = loader<typename RP::child_plan>;
            auto& cn = std::get<I>(n.children);
            if constexpr (needs_tail<typename RP::child_plan>()) {
                tail ct = child_tail<I>(*t);
                CL::post_load(ctx, cn, &ct);
            } else {
                CL::post_load(ctx, cn, nullptr);
            }
        } else {
            (void)ctx, (void)n, (void)t;
        }
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
        // Children repeat when their parents' rows do, and a many-to-one's or a
        // many-to-many's target can be reached from several parents.
        r.may_repeat = t.may_repeat || K::kind == relation::belongs_to || K::kind == relation::many_to_many;
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

    /// The statements of a selectin load over `keys`: one `= ANY(?)` where the driver binds
    /// arrays (integral keys), else `IN (?, ...)` batches within the bind limit, each written
    /// with in_list_length() placeholders (the last key repeated) so that the statement cache
    /// sees a few texts per relationship, not one per number of keys.
    template <std::size_t I, class Key>
    static void selectin_batches(load_context& ctx, const std::string& prefix, const std::vector<Key>& keys,
                                 std::vector<batch>& out) {
        if (keys.empty()) return;
        if constexpr (std::is_integral_v<Key>) {
            if (ctx.s.eng->sql_dialect().supports_arrays) {
                out.push_back({prefix + " = ANY(?)", {value{std::vector<std::int64_t>(keys.begin(), keys.end())}}});
                return;
            }
        }
        const std::size_t size = batch_limit<I>(ctx);
        for (std::size_t b = 0; b < keys.size(); b += size) {
            const std::size_t e = std::min(keys.size(), b + size);
            const std::size_t len = in_list_length(e - b, size);
            batch bt;
            bt.sql.reserve(prefix.size() + 6 + 3 * len);
            bt.sql += prefix;
            bt.sql += " IN (";
            bt.params.reserve(len);
            for (std::size_t j = 0; j < len; ++j) {
                bt.sql += j == 0 ? "?" : ", ?";
                bt.params.push_back(to_value(keys[std::min(b + j, e - 1)]));
            }
            bt.sql += ')';
            out.push_back(std::move(bt));
        }
    }

    template <std::size_t I>
    static const std::string& selectin_prefix() {
        using K = rel_keys<E, I>;
        using CL = loader<typename rp<I>::child_plan>;
        static const std::string prefix = [] {
            const std::string t = quote_ident(K::tmeta::table_name());
            const std::string s = K::secondary_name();
            if constexpr (K::kind == relation::belongs_to)
                return "SELECT " + CL::sql().cols + " FROM " + t + CL::sql().joins + " WHERE " + K::child_key_sql(t, s);
            else
                return "SELECT " + K::child_key_sql(t, s) + ", " + CL::sql().cols + " FROM " + K::from_child(t, s) +
                       CL::sql().joins + " WHERE " + K::child_key_sql(t, s);
        }();
        return prefix;
    }

    /// Claims the holders of selectin relationship I and computes its statements.
    template <std::size_t I>
    static void selectin_begin(load_context& ctx, node& n, selectin_job<I>& job) {
        using R = typename rp<I>::R;
        using T = typename R::target;
        using K = rel_keys<E, I>;
        using key_type = typename K::key_type;
        job.owners = claim<I>(n);
        if (job.owners.empty()) return;
        std::vector<key_type> keys;
        if constexpr (K::kind == relation::belongs_to) {
            // To-one: the distinct foreign keys whose target is not in the identity map.
            auto& tmap = ctx.map<T>();
            for (E* o : job.owners) {
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
                job.waiting.push_back(o);
            }
            std::sort(keys.begin(), keys.end());
            keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        } else {
            // To-many and one-to-one: keyed by the parent's primary key, in result order.
            job.by_key.reserve(job.owners.size());
            keys.reserve(job.owners.size());
            for (E* o : job.owners) {
                key_type k{};
                K::parent_key(*o, k);
                if (job.by_key.emplace(k, o).second) keys.push_back(k);
            }
        }
        selectin_batches<I>(ctx, selectin_prefix<I>(), keys, job.batches);
    }

    /// Runs the statements of selectin relationship I and fills the claimed holders.
    template <std::size_t I>
    static void selectin_end(load_context& ctx, selectin_job<I>& job) {
        using RP = rp<I>;
        using R = typename RP::R;
        using T = typename R::target;
        using K = rel_keys<E, I>;
        using CL = loader<typename RP::child_plan>;
        using key_type = typename K::key_type;
        if (job.owners.empty()) return;
        const std::string& prefix = selectin_prefix<I>();
        // The tail a subquery load nested under this one builds on: this statement's FROM/WHERE.
        auto child_tail_of = [&](const batch& b) {
            tail ct;
            if constexpr (needs_tail<typename RP::child_plan>()) {
                const std::string t = quote_ident(K::tmeta::table_name());
                const std::string s = K::secondary_name();
                const std::string from = K::kind == relation::belongs_to ? t : K::from_child(t, s);
                ct.sql = "FROM " + from + " WHERE " + K::child_key_sql(t, s) + b.sql.substr(prefix.size());
                ct.params = b.params;
                ct.may_repeat = K::kind == relation::many_to_many;
            }
            return ct;
        };
        if constexpr (K::kind == relation::belongs_to) {
            std::unordered_map<key_type, ptr<T>> found;
            for (auto& b : job.batches) {
                typename CL::node cn;
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
        mark_loaded<I>(job.owners);
    }

    /// The statement of subquery relationship I, given its child tail.
    template <std::size_t I>
    static std::string subquery_sql(const tail& ct) {
        using CL = loader<typename rp<I>::child_plan>;
        // ct.sql is "FROM (SELECT <parent key> AS k FROM ...) AS anon_d JOIN child ON ...": select
        // the key, the child's columns and its eager joins from it.
        return "SELECT anon_" + std::to_string(ct.depth) + ".k, " + CL::sql().cols + " " + ct.sql + CL::sql().joins;
    }

    template <std::size_t I>
    static void subquery_begin(load_context&, node& n, const tail& t, subquery_job<I>& job) {
        job.owners = claim<I>(n);
        if (job.owners.empty()) return;
        job.ct = child_tail<I>(t);
        job.sql = subquery_sql<I>(job.ct);
        job.may_repeat = t.may_repeat || children_may_repeat<rel_keys<E, I>, typename rp<I>::child_plan>();
    }

    template <std::size_t I>
    static void subquery_end(load_context& ctx, subquery_job<I>& job) {
        using RP = rp<I>;
        using R = typename RP::R;
        using T = typename R::target;
        using K = rel_keys<E, I>;
        using CL = loader<typename RP::child_plan>;
        using key_type = typename K::key_type;
        if (job.owners.empty()) return;
        typename CL::node cn;
        // The owners by key (a many-to-one's owners share keys); each row's child goes
        // straight into its owners' holders.
        std::unordered_multimap<key_type, E*> by_key;
        by_key.reserve(job.owners.size());
        for (E* o : job.owners) {
            key_type k{};
            if (K::parent_key(*o, k)) by_key.emplace(k, o);
            else holder_access<typename R::holder>::clear(o->*(R::member));
        }
        const tail* next = needs_tail<typename RP::child_plan>() ? &job.ct : nullptr;
        CL::run(ctx, job.sql, job.ct.params, 1, cn, next, [&](statement& st, const ptr<T>& child) {
            if (!child) return;
            key_type k{};
            read_column(st, 0, k, "relationship key");
            for (auto [it, end] = by_key.equal_range(k); it != end; ++it)
                attach<R>(it->second->*(R::member), child, job.may_repeat);
        });
        mark_loaded<I>(job.owners);
    }
};

template <class E, std::size_t I, class LazyPlan>
const std::string& lazy_loader<E, I, LazyPlan>::sql() {
    using K = rel_keys<E, I>;
    using CL = loader<LazyPlan>;
    static const std::string text = [] {
        const std::string t = quote_ident(K::tmeta::table_name());
        const std::string sec = K::secondary_name();
        const std::string from = "FROM " + K::from_child(t, sec);
        return "SELECT " + CL::sql().cols + " " + from + CL::sql().joins + " WHERE " + K::child_key_sql(t, sec) +
               " = ?";
    }();
    return text;
}

/// Loads one unloaded holder on first touch (the lazy strategy), with `LazyPlan` applied to
/// the statement (default loaders of the related entity, and any nested options). `note`:
/// count it for N+1 detection (an implicit load on touch, not an explicit session::load).
template <class E, std::size_t I, class LazyPlan>
void lazy_loader<E, I, LazyPlan>::load_one(session_core& s, void* owner, const std::source_location& where,
                                           bool note) {
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
    if (note) s.note_lazy_load(name(), R::to_many, where);
    std::vector<value> params{to_value(k)};
    tail ct;
    if constexpr (needs_tail<LazyPlan>()) {
        const std::string& text = sql();
        const std::string t = quote_ident(K::tmeta::table_name());
        const std::string sec = K::secondary_name();
        ct.sql = "FROM " + K::from_child(t, sec) + text.substr(text.rfind(" WHERE "));
        ct.params = params;
        ct.may_repeat = K::kind == relation::many_to_many;
    }
    typename CL::node cn;
    holder_access<typename R::holder>::clear(holder);
    link.state = holder_state::loading;
    CL::run(ctx, sql(), params, 0, cn, &ct, [&](statement&, const ptr<T>& child) {
        if (child) attach<R>(holder, child, children_may_repeat<K, LazyPlan>());
    });
    link.state = holder_state::loaded;
}

/// Explicit loading of many holders (session::load): the statements each lazy load would
/// issue, sent together where the driver pipelines (one round trip for all of them), then
/// hydrated one holder at a time exactly as on touch. Elsewhere, one after another.
template <class E, std::size_t I, class LazyPlan>
void lazy_loader<E, I, LazyPlan>::load_many(session_core& s, std::span<void* const> owners,
                                            const std::source_location& where) {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    using key_type = typename K::key_type;
    std::vector<value> keys;  // one statement per distinct key not already mapped
    if (s.eng->sql_dialect().pipelining && owners.size() > 1) {
        std::unordered_set<key_type> seen;
        keys.reserve(owners.size());
        for (void* owner : owners) {
            E& obj = *static_cast<E*>(owner);
            key_type k{};
            if (!K::parent_key(obj, k)) continue;
            if constexpr (K::kind == relation::belongs_to) {
                if (s.map<T>().find(k)) continue;
            }
            if (seen.insert(k).second) keys.push_back(to_value(k));
        }
    }
    std::vector<prefetch_request> requests;
    requests.reserve(keys.size());
    for (auto& k : keys) requests.push_back({sql(), std::span<const value>(&k, 1)});
    std::optional<prefetch_scope> scope;
    if (requests.size() > 1) scope.emplace(*s.eng, s.connection(), requests);
    for (void* owner : owners) {
        auto& link = holder_access<typename R::holder>::link(static_cast<E*>(owner)->*(R::member));
        if (link.state == holder_state::unloaded) load_one(s, owner, where, false);
    }
}

}  // namespace loadstar::detail
