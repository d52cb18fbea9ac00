// loadstar/unit/update.hpp - UPDATE of the changed columns of persistent objects (against
// their snapshots), the version counter, and the NULL written into a removed child's key.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/common.hpp>
#include <loadstar/unit/rows.hpp>

#include <cstdint>

namespace loadstar::detail {

/// Writes the changes of persistent objects of E: one UPDATE per object, of its changed columns.
template <class E>
struct updater {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    using S = entity_state<E>;
    static constexpr bool has_version = meta::version_index != npos;
    static_assert(meta::column_count <= 64, "loadstar: an entity may map at most 64 columns");
    using mask_t = std::uint64_t;

    /// The columns of the entry's object that differ from its snapshot; `key` is the key the
    /// entry is stored under (the primary key is not in the snapshot: the key is its copy).
    static mask_t changed_columns(session_core& s, const pk_type& key, typename identity_map<E>::entry& e) {
        return s.map<E>().changed_columns(key, e);
    }

    static void flush_dirty(session_core& s, identity_map<E>& m) {
        for (auto& [key, e] : m.objects) {
            if (s.flush_deleted.count(e.obj.get())) continue;
            mask_t mask = m.changed_columns(key, e);
            if constexpr (has_version) mask &= ~(mask_t{1} << meta::version_index);
            if (!mask) continue;
            if (mask & (mask_t{1} << meta::pk_index))
                throw usage_error("loadstar: the primary key of a persistent " + type_name<E>() +
                                  " was changed; delete it and add a new object instead");
            update_row(s, e, mask);
        }
    }

    static void update_row(session_core& s, typename identity_map<E>::entry& e, mask_t mask) {
        E& o = identity_map<E>::object(e);
        detail::update_row(s, table_of<E>(), &o, mask);
        if constexpr (has_version) {
            auto& ver = o.*(meta::template column_t<meta::version_index>::member);
            set_undoable(s, ver, ver + 1);
        }
        // The new snapshot is taken now (allocating, in the map's arena, which never moves or
        // frees it while the map lives), and only takes the old one's place after the flush.
        note_updated(s, entity_index<E>, e.obj, s.map<E>().capture(o));
    }

    /// A child left its parent's collection (no delete-orphan) but its foreign key column J
    /// cannot hold NULL in C++: write the NULL, as SQLAlchemy does. The database refuses it
    /// (the column is NOT NULL) with an integrity_error naming it, and the flush is undone;
    /// the removal is never silently dropped.
    template <std::size_t J>
    static void write_null_key(session_core& s, const E& o) {
        static const std::string sql = table_of<E>().null_key_sql(J);
        null_key(s, table_of<E>(), sql, &o);
    }
};

}  // namespace loadstar::detail
