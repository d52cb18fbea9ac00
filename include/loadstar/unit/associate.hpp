// loadstar/unit/associate.hpp - the rows of a many-to-many association table: one link written
// or deleted, or every link of an object deleted before the object.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/common.hpp>
#include <loadstar/unit/rows.hpp>

namespace loadstar::detail {

/// The statements of the association table of many-to-many I of E, built once.
template <class E, std::size_t I>
const link_statements& links_of() {
    static const link_statements sql = link_sql(rel_keys<E, I>::key);
    return sql;
}

/// Writes (add) or deletes one row of the association table of many-to-many I of E.
template <class E, std::size_t I>
void associate(session_core& s, const E& o, const typename entity_meta<E>::template relationship_t<I>::target& t,
               bool add) {
    using T = typename entity_meta<E>::template relationship_t<I>::target;
    const value params[] = {to_value(o.*(entity_meta<E>::pk_member)), to_value(t.*(entity_meta<T>::pk_member))};
    const link_statements& sql = links_of<E, I>();
    link_row(s, rel_keys<E, I>::key.table, add ? sql.insert : sql.remove, params);
}

/// Deletes every row of the association table of many-to-many I that names `o` (before `o`
/// itself is deleted).
template <class E, std::size_t I>
void unlink_all(session_core& s, const E& o) {
    const value params[] = {to_value(o.*(entity_meta<E>::pk_member))};
    link_row(s, rel_keys<E, I>::key.table, links_of<E, I>().remove_all, params);
}

}  // namespace loadstar::detail
