// loadstar/loader/loader.hpp - the plan walk: a plan type described once at run time (its
// constant data, plan_data, turned into a plan_desc by build_desc at its first use: desc_slot_of),
// then, per entity, the columns and eager joins of a plan's statement, hydration of its rows
// through the identity map, arming each relationship's holder for its strategy, and the
// follow-up loads after the statement. Each strategy is a unit of its own, compiled per
// relationship and only where a plan names it: joined.hpp, selectin.hpp, subquery.hpp, lazy.hpp
// (raise is an armed holder that refuses); keys.hpp holds what they share, the runtime plan
// (plan_desc, rel_desc) included.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/convert.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/detail/session_core.hpp>
#include <loadstar/loader/joined.hpp>
#include <loadstar/loader/keys.hpp>
#include <loadstar/loader/lazy.hpp>
#include <loadstar/loader/plan.hpp>
#include <loadstar/loader/selectin.hpp>
#include <loadstar/loader/subquery.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/relationship.hpp>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace loadstar::detail {

template <class E, std::size_t I>
void weaken(typename entity_meta<E>::template relationship_t<I>::holder& h) {
    if constexpr (weak_target<E, I>()) holder_access<std::remove_cvref_t<decltype(h)>>::make_weak(h);
}

// ---- the plan walk: per entity, over a plan described at run time -----------------------------

/// What a statement's rows are handed to after hydration: a reference to the caller's callable
/// (or nothing), so that running a statement is compiled once per entity, not once per caller.
template <class E>
class row_sink {
public:
    row_sink() = default;
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, row_sink>)
    row_sink(F&& f) noexcept  // implicit: callers pass their lambda
        : self_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          fn_([](void* s, statement& st, const ptr<E>& o) { (*static_cast<std::remove_reference_t<F>*>(s))(st, o); }) {}
    void operator()(statement& st, const ptr<E>& o) const {
        if (fn_) fn_(self_, st, o);
    }

private:
    void* self_ = nullptr;
    void (*fn_)(void*, statement&, const ptr<E>&) = nullptr;
};

/// A node's objects as the entity's pointers (what all() and a stream's batch hand out).
template <class E>
std::vector<ptr<E>> typed_objects(object_list&& objs) {
    std::vector<ptr<E>> out;
    out.reserve(objs.size());
    for (auto& o : objs) out.push_back(std::static_pointer_cast<E>(std::move(o)));
    return out;
}

/// Arms each relationship holder of a hydrated object (`obj`, an E*) for the strategy plan `p`
/// gives it: eager ones to be filled by this load, the others to load lazily or to raise when
/// touched. `fresh`: the object was just made (or is read again: populate_existing).
LOADSTAR_DECL void arm_holders(const plan_desc& p, load_context& ctx, void* obj, bool fresh);

/// The joined children of a hydrated object (`obj`, an E*) in the current row, from column
/// `col` on: each through its entity's table (entity_ops::hydrate_joined), into node `n`'s
/// child nodes.
LOADSTAR_DECL void hydrate_joined_children(load_context& ctx, statement& st, int& col, const plan_desc& p, load_node& n,
                                           void* obj);

/// Sends the subquery loads of plan `p` (whose rows `t` selects) with the statement itself.
LOADSTAR_DECL std::unique_ptr<prefetch_scope, void (*)(prefetch_scope*)> prefetch_subqueries(
    load_context& ctx, std::string_view sql, std::span<const value> params, const plan_desc& p, const tail& t);

/// Runs one statement of plan `p` into node `n`: `rows(self, c)` reads its rows (the entity's
/// hydration loop: one call per statement, not per row), then the follow-up loads of what
/// they hydrated. Where the driver pipelines, the subquery loads hanging off this node go to
/// the server with this statement, in its round trip (their SQL needs nothing from its rows).
/// Ordinary code, for every entity.
LOADSTAR_DECL void run_statement(load_context& ctx, std::string_view sql, std::span<const value> params,
                                 const plan_desc& p, load_node& n, const tail* t, void* self,
                                 void (*rows)(void* self, cursor& c));

template <class E>
struct entity_loader {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    static constexpr std::size_t nrel = meta::relationship_count;
    /// Only a deferred<T> column can be left out of a statement (deferred_type_check): an
    /// entity without one compiles no code for a plan that leaves columns out.
    static constexpr bool can_defer = [] {
        bool any = false;
        for_each_index<meta::column_count>([&](auto i) { any = any || meta::template column_t<i>::is_deferred; });
        return any;
    }();
    static bool deferring(const plan_desc& p) noexcept {
        if constexpr (can_defer) return p.any_deferred;
        else return false;
    }

    // ---- hydration -------------------------------------------------------------------------------
    template <std::size_t I>
    static void read_one(statement& st, int at, E& obj, const pk_type* pk) {
        using C = typename meta::template column_t<I>;
        if constexpr (I == meta::pk_index && std::is_same_v<typename C::type, pk_type>) {
            if (pk) {
                obj.*(C::member) = *pk;
                return;
            }
        }
        read_column(st, at, obj.*(C::member), column_label<E, I>());
    }
    template <std::size_t... I>
    static void read_all(statement& st, int base, E& obj, const pk_type* pk, std::index_sequence<I...>) {
        (read_one<I>(st, base + static_cast<int>(I), obj, pk), ...);
    }
    /// Reads the selected columns into obj; `pk`, when given, is the primary key already read
    /// from this row (hydrate reads it first to look the object up), so it is not read twice.
    static void read_columns(const plan_desc& p, statement& st, int base, E& obj, const pk_type* pk = nullptr) {
        if (!deferring(p)) {
            read_all(st, base, obj, pk, std::make_index_sequence<meta::column_count>{});
        } else {
            for_each_index<meta::column_count>([&](auto i) {
                if (p.sel[i] >= 0) read_one<i>(st, base + p.sel[i], obj, pk);
            });
        }
    }
    /// Arms the deferred columns the plan leaves out, so they load on first touch.
    static void arm_deferred(const plan_desc& p, load_context& ctx, E& obj) {
        for_each_index<meta::column_count>([&](auto i) {
            using C = typename meta::template column_t<i>;
            // A plain member left out was reported once (deferred_type_check): nothing to arm.
            if constexpr (C::is_deferred) {
                if (p.sel[i] >= 0) return;
                auto& link = holder_access<typename C::type>::link(obj.*(C::member));
                link.state = holder_state::unloaded;
                link.vt = &deferred_loader<E, i.value>::vt;
                link.owner = &obj;
                link.mode = holder_mode::lazy;
                link.core = ctx.tracked ? &ctx.s : nullptr;
            }
        });
    }

    /// Reads one entity (and its joined children) from the row at `col`; nullptr if the row has
    /// no entity there (an outer join that matched nothing).
    static ptr<E> hydrate(load_context& ctx, statement& st, int& col, const plan_desc& p, load_node& n) {
        const int base = col;
        col += p.selected;
        pk_type pk{};
        const int pk_at = deferring(p) ? p.sel[meta::pk_index] : static_cast<int>(meta::pk_index);
        if (!read_key(st, base + pk_at, pk, column_label<E, meta::pk_index>())) {
            col = base + p.width;
            return nullptr;
        }
        ptr<E> obj;
        bool fresh = false;
        bool first_in_node = true;
        if (ctx.dedupe) {
            auto& m = ctx.map<E>();
            // One probe: a miss leaves an empty entry to fill (nothing touches the map while
            // the row is read; a failed read drops the entry again).
            auto [e, added] = m.find_or_add(pk);
            if (!added && e->obj) {
                obj = m.shared(*e);
                if (n.use_seen)
                    first_in_node = !(!n.objs.empty() && n.objs.back().get() == obj.get()) && n.seen.emplace(obj.get(), 0).second;
                if (ctx.populate_existing && first_in_node) {
                    read_columns(p, st, base, *obj);
                    if (ctx.tracked) m.resnap(pk);
                }
            } else {
                try {
                    obj = std::make_shared<E>();
                    read_columns(p, st, base, *obj, &pk);
                    m.fill(*e, obj, ctx.tracked);
                } catch (...) {
                    if (added) m.drop(pk);
                    throw;
                }
                fresh = true;
                if (n.use_seen) n.seen.emplace(obj.get(), 0);
            }
        } else {
            obj = std::make_shared<E>();
            read_columns(p, st, base, *obj, &pk);
            fresh = true;
        }
        if (first_in_node) {
            if (n.keep_objs) n.objs.push_back(obj);
            if constexpr (nrel != 0) arm_holders(p, ctx, obj.get(), fresh);
            if constexpr (can_defer)
                if (p.any_deferred && (fresh || ctx.populate_existing)) arm_deferred(p, ctx, *obj);
        }
        if constexpr (nrel != 0)
            if (p.any_joined) hydrate_joined_children(ctx, st, col, p, n, obj.get());
        return obj;
    }
    /// A joined child's row (entity_ops::hydrate_joined): hydrated into node `n`, and attached to
    /// the holder `w` of `owner` while that holder is being loaded.
    static void hydrate_joined(load_context& ctx, statement& st, int& col, const plan_desc& p, load_node& n,
                               const holder_walk& w, void* owner) {
        const ptr<E> child = hydrate(ctx, st, col, p, n);
        if (child && w.link(owner).state == holder_state::loading) w.kind->attach(w.at(owner), &child, true);
    }

    // ---- statements ------------------------------------------------------------------------------
    /// Runs one statement of plan `p` (run_statement): hydrates each row after `key_columns`
    /// leading key columns and hands it to `on_row`.
    static void run(load_context& ctx, std::string_view sql, std::span<const value> params, int key_columns,
                    const plan_desc& p, load_node& n, const tail* t, row_sink<E> on_row = {}) {
        struct step {
            load_context& ctx;
            const plan_desc& p;
            load_node& n;
            int key_columns;
            row_sink<E> on_row;
        } self{ctx, p, n, key_columns, on_row};
        run_statement(ctx, sql, params, p, n, t, &self, [](void* v, cursor& c) {
            auto& s = *static_cast<step*>(v);
            while (c.next()) {
                int col = s.key_columns;
                auto obj = hydrate(s.ctx, c.row(), col, s.p, s.n);
                s.on_row(c.row(), obj);
            }
        });
    }

    /// Runs a query's statement into node `n`: select_into's runner.
    static void run_node(load_context& ctx, std::string_view sql, std::span<const value> params, const plan_desc& p,
                         load_node& n, const tail* t) {
        run(ctx, sql, params, 0, p, n, t);
    }
};

// ---- the erased tables the strategies run on (keys.hpp) -----------------------------------------

/// A key read back from a value (an identity-map lookup by a key the strategies hold as a
/// value); false if the value cannot be one.
template <class K>
bool key_from_value(const value& v, K& out) {
    if constexpr (std::is_integral_v<K>) {
        const auto* i = get_if<std::int64_t>(&v);
        if (!i) return false;
        out = static_cast<K>(*i);
        return true;
    } else if constexpr (std::is_same_v<K, time_point>) {
        const auto* t = get_if<std::string>(&v);
        return t && parse_time(*t, out);
    } else {
        const auto* p = get_if<K>(&v);
        if (!p) return false;
        out = *p;
        return true;
    }
}
/// Whether keys of type K travel as 64-bit integers (the rest as values: to_value refuses an
/// unsigned 64-bit key past INT64_MAX, a cast would not).
template <class K>
constexpr bool int_key_type = std::is_integral_v<K> && !std::is_same_v<K, bool> &&
                              (std::is_signed_v<K> || sizeof(K) < sizeof(std::int64_t));

/// Reads a relationship key of type K from column c as a value (one function per key type).
template <class K>
void read_key_value(statement& st, int c, value& out) {
    K k{};
    read_column(st, c, k, "relationship key");
    out = to_value(k);
}

/// Binds a persistent object's holders (unit/common.hpp), and session::add's entry for E
/// (unit/insert.hpp); E's table_info (unit/rows.hpp).
template <class E>
void bind_erased(session_core& s, void* obj);
template <class E>
void save_erased(session_core& s, const std::shared_ptr<void>& p);
template <class E>
const table_info& table_of();

template <class E>
struct entity_ops_for {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    static constexpr bool int_pk = int_key_type<pk_type>;
    static void run(load_context& ctx, std::string_view sql, std::span<const value> params, int key_columns,
                    const plan_desc& p, const tail* t, child_sink sink) {
        load_node n(p, p.eager);  // its objects feed only follow-up loads (see lazy.hpp)
        entity_loader<E>::run(ctx, sql, params, key_columns, p, n, t,
                              [&](statement& st, const ptr<E>& o) { sink(st, o ? &o : nullptr); });
    }
    static std::span<const rel_ops* const> rels();
    static constexpr entity_ops table = [] {
        entity_ops o;
        o.ctx_map = [](load_context& ctx) -> identity_map_base& { return ctx.map<E>(); };
        o.session_map = [](session_core& s) -> identity_map_base& { return s.map<E>(); };
        if constexpr (int_pk) {
            o.find_int = [](identity_map_base& m, std::int64_t k) {
                return static_cast<identity_map<E>&>(m).find_entry(static_cast<pk_type>(k));
            };
            o.key_int = [](const void* obj) { return static_cast<std::int64_t>(key_of<E>(obj)); };
        }
        o.find_value = [](identity_map_base& m, const value& k) -> map_entry* {
            pk_type key{};
            return key_from_value(k, key) ? static_cast<identity_map<E>&>(m).find_entry(key) : nullptr;
        };
        o.key_value = [](const void* obj) { return to_value(key_of<E>(obj)); };
        o.share = [](const void* obj) -> std::shared_ptr<void> { return *static_cast<const ptr<E>*>(obj); };
        o.address = [](const void* obj) noexcept -> const void* { return static_cast<const ptr<E>*>(obj)->get(); };
        o.run = &run;
        o.hydrate_joined = &entity_loader<E>::hydrate_joined;
        o.type_name = &type_name<E>;
        o.table = &table_of<E>;
        o.map_index = &entity_index<E>;
        o.generated_key = meta::pk_column::generated;
        o.bind = &bind_erased<E>;
        o.save = &save_erased<E>;
        o.rels = &rels;
        return o;
    }();
};

template <class E, std::size_t I>
struct rel_ops_for {
    using K = rel_keys<E, I>;
    using R = typename K::R;
    using T = typename R::target;
    using H = typename R::holder;
    using key_type = typename K::key_type;
    // A to-one's key is compared with its target's primary key: integers only if both are.
    static constexpr bool int_keys =
        int_key_type<key_type> && (K::kind != relation::belongs_to || entity_ops_for<T>::int_pk);
    static constexpr rel_ops table = [] {
        rel_ops o;
        o.names = &K::names;
        o.target = &entity_ops_for<T>::table;
        o.int_keys = int_keys;
        o.to_many = R::to_many;
        o.name = &member_name<R::member>;
        if constexpr (int_keys) {
            o.key_int = [](const void* owner, std::int64_t& out) {
                key_type k{};
                if (!K::parent_key(*static_cast<const E*>(owner), k)) return false;
                out = static_cast<std::int64_t>(k);
                return true;
            };
        } else {
            o.read_key = &read_key_value<key_type>;
        }
        o.key_value = [](const void* owner, value& out) {
            key_type k{};
            if (!K::parent_key(*static_cast<const E*>(owner), k)) return false;
            out = to_value(k);
            return true;
        };
        o.holder = &holder_hooks_of<E>::walks[I];
        o.owner = &entity_ops_for<E>::table;
        if constexpr (R::back::present)
            o.back = []() -> const rel_ops& {
                return rel_ops_for<T, entity_meta<T>::template relationship_of<R::back::member>()>::table;
            };
        o.delete_orphan = R::delete_orphan;
        o.cascade_delete = R::cascade_delete;
        o.passive_deletes = R::passive_deletes;
        o.weak = weak_target<E, I>();
        if constexpr (K::kind != relation::many_to_many) {
            o.fk_col = K::fk_col;
            using F = std::remove_cvref_t<member_type_t<K::key>>;
            o.fk_nullable = is_optional_v<F>;
        } else {
            o.links = &link_slot_of<E, I>;
        }
        return o;
    }();
};

template <class E>
std::span<const rel_ops* const> entity_ops_for<E>::rels() {
    static constexpr auto table = []<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<const rel_ops*, sizeof...(I)>{&rel_ops_for<E, I>::table...};
    }(std::make_index_sequence<entity_meta<E>::relationship_count>{});
    return table;
}

/// The follow-up statements (selectin, subquery) for the objects of one node, recursively.
/// Each load claims its holders (begin), then runs (end): each sibling is begun and run in
/// turn (so a to-one load finds what an earlier sibling mapped).
LOADSTAR_DECL void followups_serial(load_context& ctx, const plan_desc& p, load_node& n, const tail* t);
/// The same for a plan with several follow-up loads: where the driver pipelines, every sibling
/// is begun first and their statements share one round trip.
LOADSTAR_DECL void followups_pipelined(load_context& ctx, const plan_desc& p, load_node& n, const tail* t);

// ---- describing a plan ---------------------------------------------------------------------------

/// How one relationship of a plan loads, as constant data (build_desc turns it into a rel_desc).
struct rel_spec {
    load_kind kind = load_kind::lazy;
    std::size_t batch = default_batch_size;
    const rel_vtable* vt = nullptr;
    const holder_ops* hold = nullptr;
    // Eager kinds: the child plan's description, and the relationship's erased table (its
    // names: whether its children can repeat, the selectin statement).
    desc_slot* child = nullptr;
    const rel_ops* ops = nullptr;
    std::unique_ptr<followup_job> (*begin)(load_context&, const rel_desc&, const object_list& objs, const tail*) = nullptr;
    void (*prefetch)(const rel_desc&, const tail& parents, tail& ct, std::string& sql) = nullptr;
};

/// A plan as constant data, decided at compile time; build_desc describes it at run time.
struct plan_spec {
    std::string_view table;
    std::span<const std::string_view> columns;  // the column names, in mapping order
    std::span<const bool> deferred;             // per column: left out of the statement
    std::span<const rel_spec> rels;  // per relationship
    bool joined_many = false;
    bool uses_tail = false;
    bool eager = false;
    void (*followups_fn)(load_context&, const plan_desc&, load_node&, const tail*) = nullptr;
    std::unique_ptr<prefetch_scope, void (*)(prefetch_scope*)> (*prefetch_fn)(
        load_context&, std::string_view sql, std::span<const value> params, const plan_desc&, const tail&) = nullptr;
};

/// The run-time description of a plan (ordinary code: per plan there is only its data).
LOADSTAR_DECL plan_desc build_desc(const plan_spec& spec);

template <class P, std::size_t I>
constexpr rel_spec rel_spec_of() {
    using E = typename P::entity;
    using RP = rel_plan<P, I>;
    rel_spec r;
    r.kind = RP::kind;
    r.batch = RP::batch;
    r.vt = &lazy_loader<E, I, typename RP::lazy_plan>::vt;
    r.hold = &holder_hooks_of<E>::walks[I];
    if constexpr (is_eager(RP::kind)) {
        r.child = &desc_slot_of<typename RP::child_plan>;
        r.ops = &rel_ops_for<E, I>::table;
    }
    if constexpr (RP::kind == load_kind::selectin) {
        r.begin = &selectin_begin<>;
    } else if constexpr (RP::kind == load_kind::subquery) {
        r.begin = &subquery_begin<>;
        r.prefetch = &subquery_prefetch;
    }
    return r;
}

/// Plan P as data: its columns left out, its relationships, its traits.
template <class P>
struct plan_data {
    using E = typename P::entity;
    using meta = entity_meta<E>;
    static constexpr auto columns = []<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<std::string_view, sizeof...(I)>{meta::template column_name<I>()...};
    }(std::make_index_sequence<meta::column_count>{});
    static constexpr auto deferred = []<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<bool, sizeof...(I)>{column_deferred<P, I>()...};
    }(std::make_index_sequence<meta::column_count>{});
    static constexpr auto rels = []<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<rel_spec, sizeof...(I)>{rel_spec_of<P, I>()...};
    }(std::make_index_sequence<meta::relationship_count>{});
    static constexpr plan_spec spec = [] {
        using traits = plan_traits<P>;
        plan_spec s;
        s.table = meta::table_name();
        s.columns = columns;
        s.deferred = deferred;
        s.rels = rels;
        s.joined_many = has_joined_many<P>();
        s.uses_tail = needs_tail<P>();
        s.eager = has_eager<P>();
        // Decided at compile time: a program whose plans have no follow-ups compiles none of this.
        if constexpr (traits::followups > 1) s.followups_fn = &followups_pipelined;
        else if constexpr (traits::followups == 1 || traits::joined) s.followups_fn = &followups_serial;
        if constexpr (traits::subqueries > 0) s.prefetch_fn = &prefetch_subqueries;
        return s;
    }();
};

template <class P>
const plan_spec& spec_of() noexcept {
    return plan_data<P>::spec;
}

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/loader.ipp>
#endif
