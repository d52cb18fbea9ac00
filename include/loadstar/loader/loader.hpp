// loadstar/loader/loader.hpp - the plan walk: a plan type described once at run time (its
// constant data, plan_data, turned into a plan_desc by build_desc at its first use: desc_of),
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

// ---- strong cycles: the type graph (compile time) and the close-time sweep ---------------------

template <class From, class To, int Depth>
constexpr bool strong_reach();
template <class From, class To, int Depth, std::size_t... I>
constexpr bool strong_reach_any(std::index_sequence<I...>) {
    return ((!weak_target<From, I>() &&
             (std::is_same_v<typename entity_meta<From>::template relationship_t<I>::target, To> ||
              strong_reach<typename entity_meta<From>::template relationship_t<I>::target, To, Depth - 1>())) ||
            ... || false);
}
/// Whether `To` is reachable from `From` through strong holders (every relationship but the
/// weak many-to-ones) in at most Depth steps; past Depth it answers true (a sweep too many
/// costs time, a sweep too few leaks).
template <class From, class To, int Depth>
constexpr bool strong_reach() {
    if constexpr (Depth == 0) return true;
    else return strong_reach_any<From, To, Depth>(std::make_index_sequence<entity_meta<From>::relationship_count>{});
}
/// Objects of E can keep themselves alive through strong holders (many-to-many mapped on both
/// sides, a self-referential collection, ...): the sweep at close must look at them. The
/// common Author.books / Book.author (weak) mapping answers false and costs nothing.
template <class E>
constexpr bool strong_cycle() {
    return strong_reach<E, E, 6>();
}
template <class E>
void strong_edges(const E& obj, sweep_graph& g) {
    using meta = entity_meta<E>;
    for_each_index<meta::relationship_count>([&](auto i) {
        using R = typename meta::template relationship_t<i>;
        holder_access<typename R::holder>::each_strong(obj.*(R::member), [&](const auto& p) {
            if (p) g.add_edge(&obj, p.get());
        });
    });
}
template <class E>
void clear_holders(E& obj) {
    using meta = entity_meta<E>;
    for_each_index<meta::relationship_count>([&](auto i) {
        using R = typename meta::template relationship_t<i>;
        holder_access<typename R::holder>::drop_all(obj.*(R::member));
    });
}
/// Debug builds (LOADSTAR_CHECK_CYCLES): registers E's holders that own objects outside any
/// session, so that a cycle among them that the program lets go of is reported (debug.hpp).
template <class E>
void track_holders([[maybe_unused]] E& obj) noexcept {
#if LOADSTAR_CHECK_CYCLES
    using meta = entity_meta<E>;
    for_each_index<meta::relationship_count>([&](auto i) {
        using R = typename meta::template relationship_t<i>;
        holder_access<typename R::holder>::track(obj.*(R::member));
    });
#endif
}
/// Whether `target`'s collection inverse to E's relationship I holds `obj` strongly.
template <class E, std::size_t I, class T>
bool inverse_holds(const T& target, const E* obj) noexcept {
    bool found = false;
    for_each_index<entity_meta<T>::relationship_count>([&](auto j) {
        if constexpr (is_inverse_of<E, I, T, j.value>()) {
            using RJ = typename entity_meta<T>::template relationship_t<j>;
            holder_access<typename RJ::holder>::each_strong(target.*(RJ::member), [&](const auto& p) {
                if (p.get() == obj) found = true;
            });
        }
    });
    return found;
}
/// At the end of an untracked load (no session owns its objects): a weak many-to-one keeps
/// its target weakly only where the target's inverse collection holds this object (the two
/// would keep each other alive) and what the program holds (the load's results) reaches the
/// target through owning holders (`g`); anywhere else it owns its target again.
template <class E>
void settle_untracked(E& obj, const sweep_graph& g) noexcept {
    using meta = entity_meta<E>;
    for_each_index<meta::relationship_count>([&](auto i) {
        if constexpr (weak_target<E, i.value>()) {
            using R = typename meta::template relationship_t<i>;
            auto& h = obj.*(R::member);
            using H = typename R::holder;
            if (!holder_access<H>::is_weak(h)) return;
            const auto target = holder_access<H>::items(h);
            const bool back = target && inverse_holds<E, i.value>(*target, &obj);
            if (!back || !g.reached_node(target.get())) {
                holder_access<H>::make_strong(h);
                // Reached only through this object (books loaded with their authors and the
                // authors' books): a cycle no session will break. Debug builds report it if
                // the program lets go without breaking it (see debug.hpp).
                if (back) holder_access<H>::track(h);
            }
        }
    });
    // Debug builds: holders of a mapping that can cycle (a many-to-many mapped on both sides)
    // own their objects outside any session from now on.
    if (strong_cycle<E>()) track_holders(obj);
}

/// Whether E maps a weak many-to-one at all (compile time).
template <class E>
constexpr bool has_weak_targets() noexcept {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        return (weak_target<E, I>() || ... || false);
    }(std::make_index_sequence<entity_meta<E>::relationship_count>{});
}
/// Whether one of obj's weak many-to-ones holds a target (settle_untracked needs the sweep
/// graph only for those: a weak holder without a target just owns its next one).
template <class E>
bool holds_weak_target(E& obj) noexcept {
    bool any = false;
    for_each_index<entity_meta<E>::relationship_count>([&](auto i) {
        if constexpr (weak_target<E, i.value>()) {
            using R = typename entity_meta<E>::template relationship_t<i>;
            using H = typename R::holder;
            const auto& h = obj.*(R::member);
            if (!any && holder_access<H>::is_weak(h) && holder_access<H>::items(h)) any = true;
        }
    });
    return any;
}

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
    // An object the program keeps across close() whose mapping can cycle (Ada's courses hold
    // Ada): the program must break such a cycle before letting go; debug builds report it.
    if (strong_cycle<E>()) track_holders(obj);
}

// ---- the plan walk: per entity, over a plan described at run time -----------------------------

/// The objects one statement hydrated at one place in a plan.
template <class E>
struct load_node final : node_base {
    std::vector<ptr<E>> objs;
    // Dense (no allocation per object: the node-based set was 5.5% of a 10,000 x 10 joined
    // load); a joined parent's repeated rows mostly come one after another, which hydrate
    // checks against objs.back() before probing.
    dense_map<const void*, char> seen;  // one type for every entity
    // Only a node whose objects feed further eager loads needs each object once (the root
    // decides for itself); de-duplicating the rest is pure cost.
    bool use_seen;
    // Whether hydrate collects objs (a lazy load without follow-ups needs none); when false,
    // use_seen is false too (the seen check reads objs.back()).
    bool keep_objs;

    /// A node for plan `p`; `keep`: collect the objects (a joined child's, a follow-up's and a
    /// lazy load's list feeds only their own follow-up loads: kept only where there are some).
    explicit load_node(const plan_desc& p, bool keep = true) : use_seen(p.eager && keep), keep_objs(keep) {
        make_children(p);
    }
    bool empty() const noexcept override { return objs.empty(); }
    const void* objects() const noexcept override { return &objs; }
};

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

template <class E>
std::unique_ptr<node_base> make_node(const plan_desc& p) {
    return std::make_unique<load_node<E>>(p, p.eager);
}

/// Arms each relationship holder of a hydrated object (`obj`, an E*) for the strategy plan `p`
/// gives it: eager ones to be filled by this load, the others to load lazily or to raise when
/// touched. `fresh`: the object was just made (or is read again: populate_existing).
LOADSTAR_DECL void arm_holders(const plan_desc& p, load_context& ctx, void* obj, bool fresh);

/// Sends the subquery loads of plan `p` (whose rows `t` selects) with the statement itself.
LOADSTAR_DECL std::unique_ptr<prefetch_scope, void (*)(prefetch_scope*)> prefetch_subqueries(
    load_context& ctx, std::string_view sql, std::span<const value> params, const plan_desc& p, const tail& t);

/// Runs one statement of plan `p` into node `n`: `rows(self, c)` reads its rows (the entity's
/// hydration loop: one call per statement, not per row), then the follow-up loads of what
/// they hydrated. Where the driver pipelines, the subquery loads hanging off this node go to
/// the server with this statement, in its round trip (their SQL needs nothing from its rows).
/// Ordinary code, for every entity.
LOADSTAR_DECL void run_statement(load_context& ctx, std::string_view sql, std::span<const value> params,
                                 const plan_desc& p, node_base& n, const tail* t, void* self,
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
    static ptr<E> hydrate(load_context& ctx, statement& st, int& col, const plan_desc& p, load_node<E>& n) {
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
                    first_in_node = !(!n.objs.empty() && n.objs.back() == obj) && n.seen.emplace(obj.get(), 0).second;
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
        if constexpr (nrel != 0) {
            if (p.any_joined) {
                for_each_index<nrel>([&](auto i) {
                    const rel_desc& rd = p.rels[i];
                    if (!rd.make_node) return;
                    using R = typename meta::template relationship_t<i>;
                    using T = typename R::target;
                    auto child = entity_loader<T>::hydrate(ctx, st, col, *rd.child,
                                                           static_cast<load_node<T>&>(*n.children[i]));
                    auto& holder = (*obj).*(R::member);
                    auto& link = holder_access<typename R::holder>::link(holder);
                    if (child && link.state == holder_state::loading) attach<R>(holder, std::move(child));
                });
            }
        }
        return obj;
    }

    // ---- statements ------------------------------------------------------------------------------
    /// Runs one statement of plan `p` (run_statement): hydrates each row after `key_columns`
    /// leading key columns and hands it to `on_row`.
    static void run(load_context& ctx, std::string_view sql, std::span<const value> params, int key_columns,
                    const plan_desc& p, load_node<E>& n, const tail* t, row_sink<E> on_row = {}) {
        struct step {
            load_context& ctx;
            const plan_desc& p;
            load_node<E>& n;
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

    /// Runs a query's statement into node `n` (a load_node<E>): select_into's runner.
    static void run_node(load_context& ctx, std::string_view sql, std::span<const value> params, const plan_desc& p,
                         node_base& n, const tail* t) {
        run(ctx, sql, params, 0, p, static_cast<load_node<E>&>(n), t);
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
        load_node<E> n(p, p.eager);  // its objects feed only follow-up loads (see lazy.hpp)
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

/// Whether some relationship of the target of relationship I of E names it in back_populates:
/// only then does the flush or back_populates set, relink or search its holder.
template <class E, std::size_t I, class T, std::size_t... J>
constexpr bool named_back(std::index_sequence<J...>) {
    using R = typename entity_meta<E>::template relationship_t<I>;
    auto names_it = []<std::size_t K>(std::integral_constant<std::size_t, K>) {
        using B = typename entity_meta<T>::template relationship_t<K>::back;
        if constexpr (B::present) return same_member<B::member, R::member>();
        else return false;
    };
    (void)names_it;  // T may have no relationships
    return (names_it(std::integral_constant<std::size_t, J>{}) || ... || false);
}
template <class E, std::size_t I>
constexpr bool is_back_of_some() {
    using T = typename entity_meta<E>::template relationship_t<I>::target;
    return named_back<E, I, T>(std::make_index_sequence<entity_meta<T>::relationship_count>{});
}

template <class E, std::size_t I>
struct holder_ops_for {
    using R = typename entity_meta<E>::template relationship_t<I>;
    using H = typename R::holder;
    using T = typename R::target;
    static H& holder(void* owner) noexcept { return static_cast<E*>(owner)->*(R::member); }
    static const H& holder(const void* owner) noexcept { return static_cast<const E*>(owner)->*(R::member); }
    static void items(const void* owner, std::vector<std::shared_ptr<void>>& out) {
        if constexpr (R::to_many) {
            const auto& v = holder_access<H>::items(const_cast<H&>(holder(owner)));
            out.reserve(out.size() + v.size());
            for (const auto& c : v)
                if (c) out.push_back(c);
        } else {
            if (auto c = holder_access<H>::items(holder(owner))) out.push_back(std::move(c));
        }
    }
    static void original_items(const std::shared_ptr<void>& original, std::vector<std::shared_ptr<void>>& out) {
        if constexpr (R::to_many) {
            const auto& v = *static_cast<const std::vector<ptr<T>>*>(original.get());
            out.reserve(out.size() + v.size());
            for (const auto& c : v)
                if (c) out.push_back(c);
        } else {
            if (const auto& c = *static_cast<const ptr<T>*>(original.get())) out.push_back(c);
        }
    }
    static constexpr holder_ops table = [] {
        holder_ops o;
        o.link = [](void* owner) noexcept -> holder_link& { return holder_access<H>::link(holder(owner)); };
        o.clear = [](void* owner) noexcept { holder_access<H>::clear(holder(owner)); };
        if constexpr (weak_target<E, I>())
            o.weaken = [](void* owner) { holder_access<H>::make_weak(holder(owner)); };
        o.items = &items;
        o.original_items = &original_items;
        if constexpr (is_back_of_some<E, I>()) {
            o.holds = [](const void* owner, const void* item) {
                bool holds = false;
                holder_access<H>::each_strong(holder(owner), [&](const auto& p) {
                    if (p.get() == item) holds = true;
                });
                return holds;
            };
            o.relink = [](void* owner, const std::shared_ptr<void>& item, bool added) {
                H& h = holder(owner);
                const auto p = std::static_pointer_cast<T>(item);
                if constexpr (R::to_many) {
                    holder_access<H>::relink(h, p, added);
                } else if (added) {
                    holder_access<H>::set(h, p);
                } else if (holder_access<H>::items(h) == p) {
                    holder_access<H>::clear(h);
                }
            };
            if constexpr (!R::to_many) {
                o.target = [](const void* owner) -> std::shared_ptr<void> { return holder_access<H>::items(holder(owner)); };
                o.assign = [](void* owner, const std::shared_ptr<void>& item) {
                    holder_access<H>::set(holder(owner), std::static_pointer_cast<T>(item));
                };
            }
        }
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
    static H& holder(void* owner) noexcept { return static_cast<E*>(owner)->*(R::member); }
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
        o.holder = &holder_ops_for<E, I>::table;
        o.attach = [](void* owner, const void* child, bool may_repeat) {
            attach<R>(holder(owner), *static_cast<const ptr<T>*>(child), may_repeat);
        };
        o.set = [](void* owner, const std::shared_ptr<void>& child) {
            holder_access<H>::add(holder(owner), std::static_pointer_cast<T>(child));
        };
        o.claim = [](const void* objs) {
            std::vector<void*> out;
            const auto& v = *static_cast<const std::vector<ptr<E>>*>(objs);
            out.reserve(v.size());
            for (const auto& obj : v) {
                auto& link = holder_access<H>::link((*obj).*(R::member));
                if (link.state != holder_state::loading) continue;
                link.state = holder_state::claimed;
                out.push_back(obj.get());
            }
            return out;
        };
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
LOADSTAR_DECL void followups_serial(load_context& ctx, const plan_desc& p, node_base& n, const tail* t);
/// The same for a plan with several follow-up loads: where the driver pipelines, every sibling
/// is begun first and their statements share one round trip.
LOADSTAR_DECL void followups_pipelined(load_context& ctx, const plan_desc& p, node_base& n, const tail* t);

// ---- describing a plan ---------------------------------------------------------------------------

/// How one relationship of a plan loads, as constant data (build_desc turns it into a rel_desc).
struct rel_spec {
    load_kind kind = load_kind::lazy;
    std::size_t batch = default_batch_size;
    const rel_vtable* vt = nullptr;
    const holder_ops* hold = nullptr;
    // Eager kinds: the child plan's description, and the relationship's erased table (its
    // names: whether its children can repeat, the selectin statement).
    const plan_desc& (*child)() = nullptr;
    const rel_ops* ops = nullptr;
    std::unique_ptr<node_base> (*make_node)(const plan_desc&) = nullptr;
    std::unique_ptr<followup_job> (*begin)(load_context&, const rel_desc&, const void* objs, const tail*) = nullptr;
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
    void (*followups_fn)(load_context&, const plan_desc&, node_base&, const tail*) = nullptr;
    std::unique_ptr<prefetch_scope, void (*)(prefetch_scope*)> (*prefetch_fn)(
        load_context&, std::string_view sql, std::span<const value> params, const plan_desc&, const tail&) = nullptr;
};

/// The run-time description of a plan (ordinary code: per plan there is only its data).
LOADSTAR_DECL plan_desc build_desc(const plan_spec& spec);

template <class P, std::size_t I>
constexpr rel_spec rel_spec_of() {
    using E = typename P::entity;
    using RP = rel_plan<P, I>;
    using T = typename RP::T;
    rel_spec r;
    r.kind = RP::kind;
    r.batch = RP::batch;
    r.vt = &lazy_loader<E, I, typename RP::lazy_plan>::vt;
    r.hold = &holder_ops_for<E, I>::table;
    if constexpr (is_eager(RP::kind)) {
        r.child = &desc_of<typename RP::child_plan>;
        r.ops = &rel_ops_for<E, I>::table;
    }
    if constexpr (RP::kind == load_kind::joined || RP::kind == load_kind::contains) {
        r.make_node = &make_node<T>;
    } else if constexpr (RP::kind == load_kind::selectin) {
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
const plan_desc& desc_of() {
    static const plan_desc d = build_desc(plan_data<P>::spec);
    return d;
}

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/loader.ipp>
#endif
