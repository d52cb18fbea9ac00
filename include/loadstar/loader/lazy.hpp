// loadstar/loader/lazy.hpp - the lazy strategy: a relationship loads itself on first touch
// (one statement keyed by the owner, with the nested options of its plan), many at once for
// session::load; and deferred columns, which load themselves the same way.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <mutex>
#include <source_location>
#include <span>
#include <string>
#include <vector>

namespace loadstar::detail {

/// rel_vtable::changed of every relationship: at flush, writes the adds and removes of an
/// owner's modified holder against `original`, its content before the change (impl/insert.ipp).
LOADSTAR_DECL void holder_changed(session_core& s, const rel_vtable& vt, void* owner,
                                  const std::shared_ptr<void>& original);
/// rel_vtable::linked: keeps the back_populates side in step in memory, and makes a new target
/// of a weakly held many-to-one pending (impl/insert.ipp).
LOADSTAR_DECL void holder_linked(session_core& s, const rel_vtable& vt, void* owner, const std::shared_ptr<void>& item,
                                 bool added);

/// What a holder armed with a lazy plan loads with: the relationship, the plan, and the
/// statements of one load.
struct lazy_plan_info {
    const rel_ops* rel;
    const plan_desc* plan;
    std::string sql;       // SELECT child columns FROM child ... WHERE child key = ?
    std::string tail_sql;  // its FROM/WHERE, where a subquery load below needs it
};
/// Per (relationship, lazy plan): its constant part, and its statements built at first use
/// (lazy_slot_info: once, under the once_flag). Constant-initialised, so it has no
/// initialisation code of its own; the statements live as long as the program, like those
/// of a function-local static (and, being reachable, are no leak).
struct lazy_slot {
    const rel_ops* rel;
    desc_slot* plan;
    std::once_flag once{};
    const lazy_plan_info* info = nullptr;
};
/// The statements of slot's load, built at its first use (thread-safe).
LOADSTAR_DECL const lazy_plan_info& lazy_slot_info(lazy_slot& slot);
/// rel_vtable::lazy_load of every lazily loaded relationship: its data is a lazy_slot. Loads
/// one unloaded holder on first touch, with the slot's plan applied to the statement. A
/// template only so that a header-only translation unit compiles it only where some plan arms a
/// holder (see selectin_begin); compiled separately, it is compiled once, in src.hpp.
template <class = void>
void lazy_touch(session_core& s, const rel_vtable& vt, void* owner, const std::source_location& where);
/// Explicit loading of many holders (session::load, rel_vtable::lazy_load_many): the
/// statements each lazy load would issue, sent together where the driver pipelines (one round
/// trip for all of them), then hydrated one holder at a time exactly as on touch. Elsewhere,
/// one after another.
template <class = void>
void lazy_touch_many(session_core& s, const rel_vtable& vt, std::span<void* const> owners,
                     const std::source_location& where);
#if defined(LOADSTAR_SEPARATE_COMPILATION)
extern template void lazy_touch<>(session_core&, const rel_vtable&, void*, const std::source_location&);
extern template void lazy_touch_many<>(session_core&, const rel_vtable&, std::span<void* const>,
                                       const std::source_location&);
#endif

/// The relationship's erased table (loader.hpp).
template <class E, std::size_t I>
struct rel_ops_for;

/// The vtable of a holder armed to load lazily with `LazyPlan`: per plan, only constant data
/// (the loading code is lazy_touch, the same for every relationship and plan).
template <class E, std::size_t I, class LazyPlan>
struct lazy_loader {
    static inline constinit lazy_slot slot{&rel_ops_for<E, I>::table, &desc_slot_of<LazyPlan>};
    static constexpr rel_vtable vt{&member_name<entity_meta<E>::template relationship_t<I>::member>,
                                   &lazy_touch<>,
                                   &holder_changed,
                                   &holder_linked,
                                   &lazy_touch_many<>,
                                   &record_holder_change,
                                   &slot};
};

/// Loads one deferred column on first touch: SELECT col FROM table WHERE pk = ?.
template <class E, std::size_t I>
struct deferred_loader {
    using meta = entity_meta<E>;
    using C = typename meta::template column_t<I>;
    static const std::string& name() { return member_name<C::member>(); }
    static void load(session_core& s, const rel_vtable&, void* owner, const std::source_location&) {
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

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/lazy.ipp>
#endif
