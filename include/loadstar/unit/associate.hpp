// loadstar/unit/associate.hpp - the rows of a many-to-many association table: one link written
// or deleted, or every link of an object deleted before the object.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/common.hpp>

#include <string>

namespace loadstar::detail {

/// Writes (add) or deletes one row of the association table of many-to-many I of E.
template <class E, std::size_t I>
void associate(session_core& s, const E& o, const typename entity_meta<E>::template relationship_t<I>::target& t,
               bool add) {
    using meta = entity_meta<E>;
    using K = rel_keys<E, I>;
    using T = typename meta::template relationship_t<I>::target;
    const secondary_t sec = K::key;
    static const std::string ins = "INSERT INTO " + quote_ident(sec.table) + " (" + quote_ident(sec.local) + ", " +
                                   quote_ident(sec.remote) + ") VALUES (?, ?)";
    static const std::string del = "DELETE FROM " + quote_ident(sec.table) + " WHERE " + quote_ident(sec.local) +
                                   " = ? AND " + quote_ident(sec.remote) + " = ?";
    const value params[] = {to_value(o.*(meta::pk_member)), to_value(t.*(entity_meta<T>::pk_member))};
    naming_table(sec.table, [&] {
        cursor c(*s.eng, s.write_connection(), add ? ins : del, params);
        c.run();
    });
}

/// Deletes every row of the association table of many-to-many I that names `o` (before `o`
/// itself is deleted).
template <class E, std::size_t I>
void unlink_all(session_core& s, const E& o) {
    using meta = entity_meta<E>;
    const secondary_t sec = rel_keys<E, I>::key;
    static const std::string sql = "DELETE FROM " + quote_ident(sec.table) + " WHERE " + quote_ident(sec.local) + " = ?";
    const value params[] = {to_value(o.*(meta::pk_member))};
    cursor c(*s.eng, s.write_connection(), sql, params);
    c.run();
}

}  // namespace loadstar::detail
