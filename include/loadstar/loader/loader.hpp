// loadstar/loader/loader.hpp - the plan walk: the columns and eager joins of a plan's
// statement, hydration of its rows through the identity map, arming each relationship's holder
// for its strategy, and the follow-up loads after the statement. Each strategy is a unit of its
// own: joined.hpp, selectin.hpp, subquery.hpp, lazy.hpp (raise is an armed holder that refuses);
// keys.hpp holds what they share.
// SPDX-License-Identifier: MIT
#pragma once

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

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <unordered_set>
#include <variant>
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
bool strong_cycle() {
    static constexpr bool v = strong_reach<E, E, 6>();
    return v;
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

/// A plan's column list and eager joins (one type for every plan: one destructor, not one per
/// plan).
struct select_sql {
    std::string cols, joins;
};

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
        // Dense (no allocation per object: the node-based set was 5.5% of a 10,000 x 10
        // joined load); a joined parent's repeated rows mostly come one after another, which
        // hydrate checks against objs.back() before probing.
        dense_map<const void*, char> seen;  // one type for every plan
        // Only a node whose objects feed further eager loads needs each object once (the
        // root decides for itself); de-duplicating the rest is pure cost.
        bool use_seen = has_eager<Plan>();
        // Whether hydrate collects objs (a lazy load without follow-ups needs none); when
        // false, use_seen is false too (the seen check reads objs.back()).
        bool keep_objs = true;
        decltype(children_tuple(std::make_index_sequence<nrel>{})) children;

        node() {
            // A joined child's list feeds only its own follow-up loads: none, none kept.
            for_each_index<nrel>([&](auto i) {
                if constexpr (is_joined<i>) std::get<i>(children).keep_objs = has_eager<typename rp<i>::child_plan>();
            });
        }
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
            if constexpr (is_joined<i>) joined_load<Plan, i>::sql(cols, joins, counter, alias);
        });
    }
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
            using C = typename meta::template column_t<i>;
            // A plain member left out was reported once (deferred_type_check): nothing to arm.
            if constexpr (!selected<i.value> && C::is_deferred) {
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
            // Untracked loads with an identity map of their own weaken too (a load in both
            // directions would otherwise form cycles); settle_untracked decides at the end.
            if (fresh && (ctx.tracked || ctx.dedupe)) weaken<E, i.value>(holder);
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
            // One probe: a miss leaves an empty entry to fill (nothing touches the map while
            // the row is read; a failed read drops the entry again).
            auto [e, added] = m.find_or_add(pk);
            if (!added && e->obj) {
                obj = e->obj;
                if (n.use_seen)
                    first_in_node = !(!n.objs.empty() && n.objs.back() == obj) && n.seen.emplace(obj.get(), 0).second;
                if (ctx.populate_existing && first_in_node) {
                    read_columns(st, base, *obj);
                    if (ctx.tracked) m.resnap(pk);
                }
            } else {
                try {
                    obj = std::make_shared<E>();
                    read_columns(st, base, *obj, &pk);
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
            read_columns(st, base, *obj, &pk);
            fresh = true;
        }
        if (first_in_node) {
            if (n.keep_objs) n.objs.push_back(obj);
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
                        tails.push_back(child_tail<E, i>(*t));
                        sqls.push_back(subquery_load<Plan, i>::sql(tails.back()));
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

    template <std::size_t I>
    static auto job_for() {
        if constexpr (rp<I>::kind == load_kind::selectin) return typename selectin_load<Plan, I>::job{};
        else if constexpr (rp<I>::kind == load_kind::subquery) return typename subquery_load<Plan, I>::job{};
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
                        selectin_load<Plan, i>::begin(ctx, n.objs, std::get<i>(jobs));
                        for (auto& b : std::get<i>(jobs).batches) requests.push_back({b.sql, b.params});
                    } else if constexpr (rp<i>::kind == load_kind::subquery) {
                        auto& job = std::get<i>(jobs);
                        subquery_load<Plan, i>::begin(n.objs, *t, job);
                        if (!job.owners.empty()) requests.push_back({job.sql, job.ct.params});
                    }
                });
                prefetch_scope scope(*ctx.s.eng, ctx.s.connection(), requests);
                run_followups(ctx, n, t, jobs);
                return;
            }
            for_each_index<nrel>([&](auto i) {
                if constexpr (rp<i>::kind == load_kind::selectin) {
                    selectin_load<Plan, i>::begin(ctx, n.objs, std::get<i>(jobs));
                    selectin_load<Plan, i>::end(ctx, std::get<i>(jobs));
                } else if constexpr (rp<i>::kind == load_kind::subquery) {
                    subquery_load<Plan, i>::begin(n.objs, *t, std::get<i>(jobs));
                    subquery_load<Plan, i>::end(ctx, std::get<i>(jobs));
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
            if constexpr (rp<i>::kind == load_kind::selectin) selectin_load<Plan, i>::end(ctx, std::get<i>(jobs));
            else if constexpr (rp<i>::kind == load_kind::subquery) subquery_load<Plan, i>::end(ctx, std::get<i>(jobs));
            else joined_followups<i>(ctx, n, t);
        });
    }

    /// The follow-up loads of the objects a joined relationship I hydrated.
    template <std::size_t I>
    static void joined_followups(load_context& ctx, node& n, const tail* t) {
        if constexpr (is_joined<I>) joined_load<Plan, I>::followups(ctx, std::get<I>(n.children), t);
        else (void)ctx, (void)n, (void)t;
    }
};

}  // namespace loadstar::detail
