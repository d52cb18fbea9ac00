// loadstar/unit/common.hpp - what the writes share beside impl/insert.ipp: binding a persistent
// object's holders, naming the table in an integrity error, whether an object is persistent in
// a session (session::add and remove), and the compile-time check that some INSERT order exists.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/names.hpp>
#include <loadstar/detail/session_core.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/loader/loader.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/relationship.hpp>

#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

namespace loadstar::detail {

template <class E>
using default_plan = plan<E, type_list<>, false, type_list<>>;

/// Binds a persistent object's holders to the session (lazy, default plan); loaded ones stay.
template <class E>
void bind_holders(session_core& s, E& o) {
    using meta = entity_meta<E>;
    for_each_index<meta::relationship_count>([&](auto i) {
        using R = typename meta::template relationship_t<i>;
        auto& link = holder_access<typename R::holder>::link(o.*(R::member));
        link.core = &s;
        link.owner = &o;
        link.vt = &lazy_loader<E, i, typename rel_plan<default_plan<E>, i>::lazy_plan>::vt;
        link.mode = holder_mode::lazy;
        link.recorded = false;
        weaken<E, i.value>(o.*(R::member));
    });
}

/// bind_holders of the object at `obj` (rows.hpp's rebind_fn: a deleted object brought back).
template <class E>
void bind_erased(session_core& s, void* obj) {
    bind_holders(s, *static_cast<E*>(obj));
}

/// Runs a write of `table`; an integrity_error the driver raised without naming its table
/// (SQLite's FOREIGN KEY failures) is raised again naming it.
template <class F>
decltype(auto) naming_table(std::string_view table, F&& write) {
    try {
        return write();
    } catch (const integrity_error& e) {
        if (!e.table().empty()) throw;
        throw integrity_error(std::string(e.what()) + " [table " + std::string(table) + "]", e.native_code(),
                              e.sqlstate(), std::string(table), e.constraint(), e.column());
    }
}

// ---- foreign-key cycles that no order of INSERTs can satisfy ---------------------------------

template <class E, std::size_t I>
constexpr bool required_parent() {
    using R = typename entity_meta<E>::template relationship_t<I>;
    if constexpr (R::kind == relation::belongs_to)
        return !is_optional_v<std::remove_cvref_t<member_type_t<entity_meta<E>::template relationship<I>().key>>>;
    else
        return false;
}
template <class E, class T, std::size_t... J>
constexpr bool requires_parent_of_type(std::index_sequence<J...>) {
    return ((required_parent<T, J>() && std::is_same_v<typename entity_meta<T>::template relationship_t<J>::target, E>) || ... || false);
}
template <class E, std::size_t I>
constexpr bool required_cycle_at() {
    if constexpr (!required_parent<E, I>()) return false;
    else {
        using T = typename entity_meta<E>::template relationship_t<I>::target;
        if constexpr (std::is_same_v<T, E>) return true;
        else return requires_parent_of_type<E, T>(std::make_index_sequence<entity_meta<T>::relationship_count>{});
    }
}
template <class E, std::size_t... I>
constexpr bool has_required_cycle(std::index_sequence<I...>) {
    return (required_cycle_at<E, I>() || ... || false);
}
/// Some order of INSERTs can write rows of E: no cycle of NOT NULL foreign keys runs through it.
template <class E>
inline constexpr bool insertable = !has_required_cycle<E>(std::make_index_sequence<entity_meta<E>::relationship_count>{});
template <class Entity>
struct insert_cycle_check {
    static_assert(insertable<Entity>,
                  "loadstar: NOT NULL foreign keys form a cycle through this entity (it needs a parent that "
                  "needs it, or itself): no row could be inserted first; make one foreign key std::optional "
                  "(see insert_cycle_check<Entity> below)");
    static constexpr bool ok = true;
};

/// Where an object of E stands in a session: is its key set, is it the object the identity map
/// holds for that key.
template <class E>
struct entity_state {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;

    static bool key_set(const E& obj) {
        if constexpr (meta::pk_column::generated) return obj.*(meta::pk_member) != 0;
        else return true;
    }
    static bool is_persistent(session_core& s, const E& obj) {
        if (!key_set(obj)) return false;
        auto* hit = s.map<E>().find_entry(obj.*(meta::pk_member));
        return hit && hit->obj.get() == &obj;
    }
    static ptr<E> persistent_ptr(session_core& s, const E* obj) {
        if (!key_set(*obj)) return nullptr;
        auto* hit = s.map<E>().find_entry(obj->*(meta::pk_member));
        return hit && hit->obj.get() == obj ? identity_map<E>::shared(*hit) : nullptr;
    }
};

}  // namespace loadstar::detail
