// loadstar/unit/insert.hpp - the flush's walks of the graph (INSERT in dependency order, the
// writes of a changed holder, back_populates in memory, DELETE children first) as ordinary
// code over the loader's erased tables, entity_ops and rel_ops (loader/keys.hpp), and the
// typed entry points session::add and session::remove hand it.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/loader.hpp>
#include <loadstar/unit/common.hpp>
#include <loadstar/unit/rows.hpp>

#include <memory>

namespace loadstar::detail {

// The walk of the graph at flush (which object goes first, whose key a child copies, which
// association rows follow) and every step of it (a key copied through table_info's setters,
// a row inserted, a back_populates holder set through holder_ops) is ordinary code
// (impl/insert.ipp), compiled once. What it needs per entity and relationship is constant data
// and a few holder functions the loader's tables already carry: a program that only reads
// compiles no write code, and one that writes compiles none of its own (issue 10).

/// Whether the object at `obj` (of entity `e`) is the one the session's identity map holds for
/// its key.
LOADSTAR_DECL bool is_persistent(session_core& s, const entity_ops& e, const void* obj);
/// The identity map's pointer to the object at `obj` if it is persistent, else null.
LOADSTAR_DECL std::shared_ptr<void> persistent_ptr(session_core& s, const entity_ops& e, const void* obj);
/// Saves `obj` (a new object of `e`) and what its loaded holders reach, parents first; see
/// impl/insert.ipp. `defer`: as in save_object.
LOADSTAR_DECL void save_object(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj,
                               session_core::defer_list* defer = nullptr);
/// Before a flush inserts anything: records, for each new child held in a loaded one-to-many
/// / one-to-one holder of the graph around `obj`, how to save its parent first.
LOADSTAR_DECL void index_parents(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj);
/// Deletes `obj` (a persistent object of `e`) after its cascaded children; children it does
/// not own lose their link.
LOADSTAR_DECL void remove_object(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj);

/// session::remove's entry for E (object_ref::run).
template <class E>
void remove_erased(session_core& s, const std::shared_ptr<void>& p) {
    remove_object(s, entity_ops_for<E>::table, p);
}

/// session::add's entry for E (object_ref::run, entity_ops::save): indexes the graph around a
/// new object before the flush inserts anything, then saves it.
template <class E>
void save_erased(session_core& s, const std::shared_ptr<void>& p) {
    if (s.flush_indexing) index_parents(s, entity_ops_for<E>::table, p);
    else save_object(s, entity_ops_for<E>::table, p);
}

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/insert.ipp>
#endif
