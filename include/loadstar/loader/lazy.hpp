// loadstar/loader/lazy.hpp - the lazy strategy: a relationship loads itself on first touch
// (one statement keyed by the owner, with the nested options of its plan), many at once for
// session::load; and deferred columns, which load themselves the same way.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <iterator>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

namespace loadstar::detail {

/// Called at flush for an owner whose relationship I was modified (defined in session.hpp).
template <class E, std::size_t I>
void cascade_changed(session_core& s, void* owner, const std::shared_ptr<void>& original);
/// Keeps the back_populates side of relationship I in step in memory (defined in session.hpp).
template <class E, std::size_t I>
void back_link(session_core& s, void* owner, const void* item, bool added);

/// What a holder armed with a lazy plan loads with: the plan, and the statement of one load.
struct lazy_plan_info {
    const plan_desc* plan;
    std::string sql;
};

/// The lazy load of relationship I of E, with any plan for the children: the code is per
/// relationship; the plan (default loaders of the related entity, nested options) is data.
template <class E, std::size_t I>
struct lazy_load {
    static const std::string& name() { return member_name<entity_meta<E>::template relationship_t<I>::member>(); }
    static std::string sql(const plan_desc& lp);
    static void load_one(session_core& s, void* owner, const std::source_location& where, bool note,
                         const lazy_plan_info& info);
    static void load_many(session_core& s, std::span<void* const> owners, const std::source_location& where,
                          const lazy_plan_info& info);
};

/// The vtable of a holder armed to load lazily with `LazyPlan`: per plan, only this table and
/// two calls into lazy_load<E, I>.
template <class E, std::size_t I, class LazyPlan>
struct lazy_loader {
    static const lazy_plan_info& info() {
        static const lazy_plan_info i{&desc_of<LazyPlan>(), lazy_load<E, I>::sql(desc_of<LazyPlan>())};
        return i;
    }
    static void load(session_core& s, void* owner, const std::source_location& where) {
        lazy_load<E, I>::load_one(s, owner, where, true, info());
    }
    static void load_many(session_core& s, std::span<void* const> owners, const std::source_location& where) {
        lazy_load<E, I>::load_many(s, owners, where, info());
    }
    static constexpr rel_vtable vt{&lazy_load<E, I>::name, &load, &cascade_changed<E, I>, &back_link<E, I>, &load_many,
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

template <class E, std::size_t I>
std::string lazy_load<E, I>::sql(const plan_desc& lp) {
    return lazy_sql(rel_keys<E, I>::names, lp);
}

/// Loads one unloaded holder on first touch (the lazy strategy), with the plan of `info`
/// applied to the statement. `note`: count it for N+1 detection (an implicit load on touch,
/// not an explicit session::load).
template <class E, std::size_t I>
void lazy_load<E, I>::load_one(session_core& s, void* owner, const std::source_location& where, bool note,
                               const lazy_plan_info& info) {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    using key_type = typename K::key_type;
    const plan_desc& lp = *info.plan;
    E& obj = *static_cast<E*>(owner);
    auto& holder = obj.*(R::member);
    auto& link = holder_access<typename R::holder>::link(holder);
    key_type k{};
    if (!K::parent_key(obj, k)) {  // a NULL foreign key: nothing to load
        holder_access<typename R::holder>::clear(holder);
        link.state = holder_state::loaded;
        return;
    }
    if constexpr (K::kind == relation::belongs_to) {
        auto& tmap = s.map<T>();
        if (auto* hit = tmap.find_entry(k)) {  // identity map first: no SQL
            holder_access<typename R::holder>::add(holder, tmap.shared(*hit));
            link.state = holder_state::loaded;
            return;
        }
    }
    if (note) s.note_lazy_load(name(), R::to_many, where);
    const value params[] = {to_value(k)};
    tail ct;
    if (lp.uses_tail) {
        static const std::string tail_sql = lazy_tail_sql(K::names);  // per relationship, like the statement
        ct.sql = tail_sql;
        ct.params.assign(std::begin(params), std::end(params));
        ct.may_repeat = K::kind == relation::many_to_many;
    }
    load_context ctx{s};
    // The node's object list feeds only follow-up loads (and the seen check of eager ones):
    // without any, collecting it costs a vector grown per touch and a reference count per row.
    load_node<T> cn(lp, lp.eager);
    holder_access<typename R::holder>::clear(holder);
    link.state = holder_state::loading;
    const bool may_repeat = children_may_repeat<K>(lp);
    entity_loader<T>::run(ctx, info.sql, params, 0, lp, cn, &ct, [&](statement&, const ptr<T>& child) {
        if (child) attach<R>(holder, child, may_repeat);
    });
    link.state = holder_state::loaded;
}

/// Explicit loading of many holders (session::load): the statements each lazy load would
/// issue, sent together where the driver pipelines (one round trip for all of them), then
/// hydrated one holder at a time exactly as on touch. Elsewhere, one after another.
template <class E, std::size_t I>
void lazy_load<E, I>::load_many(session_core& s, std::span<void* const> owners, const std::source_location& where,
                                const lazy_plan_info& info) {
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
                if (s.map<T>().contains(k)) continue;
            }
            if (seen.insert(k).second) keys.push_back(to_value(k));
        }
    }
    std::vector<prefetch_request> requests;
    requests.reserve(keys.size());
    for (auto& k : keys) requests.push_back({info.sql, std::span<const value>(&k, 1)});
    std::optional<prefetch_scope> scope;
    if (requests.size() > 1) scope.emplace(*s.eng, s.connection(), requests);
    for (void* owner : owners) {
        auto& link = holder_access<typename R::holder>::link(static_cast<E*>(owner)->*(R::member));
        if (link.state == holder_state::unloaded) load_one(s, owner, where, false, info);
    }
}

}  // namespace loadstar::detail
