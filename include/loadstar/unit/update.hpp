// loadstar/unit/update.hpp - UPDATE of the changed columns of persistent objects (against
// their snapshots), the version counter, and the NULL written into a removed child's key.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/common.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

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

    /// The UPDATE for one set of changed columns. Built once per set and kept for the
    /// program's life, shared by every session and thread: guarded (the map's nodes, so the
    /// strings returned, never move).
    static const std::string& update_sql(mask_t mask) {
        static std::shared_mutex mutex;
        static std::unordered_map<mask_t, std::string> cache;
        {
            std::shared_lock lock(mutex);
            auto it = cache.find(mask);
            if (it != cache.end()) return it->second;
        }
        std::string sql = "UPDATE " + quote_ident(meta::table_name()) + " SET ";
        bool first = true;
        for_each_index<meta::column_count>([&](auto i) {
            if (!(mask & (mask_t{1} << i)) || i == meta::version_index) return;
            sql += (first ? "" : ", ") + quote_ident(meta::template column_name<i>()) + " = ?";
            first = false;
        });
        if constexpr (has_version) {
            const std::string v = quote_ident(meta::template column_name<meta::version_index>());
            sql += (first ? "" : ", ") + v + " = " + v + " + 1";
        }
        sql += " WHERE " + quote_ident(meta::template column_name<meta::pk_index>()) + " = ?";
        if constexpr (has_version) sql += " AND " + quote_ident(meta::template column_name<meta::version_index>()) + " = ?";
        std::unique_lock lock(mutex);
        return cache.emplace(mask, std::move(sql)).first->second;
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
        E& o = *e.obj;
        std::vector<value> params;
        for_each_index<meta::column_count>([&](auto i) {
            if (!(mask & (mask_t{1} << i)) || i == meta::version_index) return;
            params.push_back(to_value(o.*(meta::template column_t<i>::member)));
        });
        params.push_back(to_value(o.*(meta::pk_member)));
        if constexpr (has_version) params.push_back(to_value(o.*(meta::template column_t<meta::version_index>::member)));
        const std::string& sql = update_sql(mask);
        const std::int64_t n = naming_table(meta::table_name(), [&] {
            cursor c(*s.eng, s.write_connection(), sql, params);
            return c.run();
        });
        if constexpr (has_version) {
            if (n == 0)
                throw stale_data_error("loadstar: UPDATE of " + type_name<E>() + " matched no row: its version moved (" +
                                       sql + ")");
            auto& ver = o.*(meta::template column_t<meta::version_index>::member);
            set_undoable(s, ver, ver + 1);
        }
        // The new snapshot is taken now (allocating, in the map's arena, which never moves or
        // frees it while the map lives), and only takes the old one's place after the flush.
        auto obj = e.obj;
        std::byte* snap = s.map<E>().capture(o);
        s.on_success.push_back([&s, obj, snap] {
            auto& m = s.map<E>();
            if (auto* en = m.find_entry((*obj).*(meta::pk_member)); en && en->obj == obj) m.replace_snapshot(*en, snap);
        });
    }

    /// A child left its parent's collection (no delete-orphan) but its foreign key column J
    /// cannot hold NULL in C++: write the NULL, as SQLAlchemy does. The database refuses it
    /// (the column is NOT NULL) with an integrity_error naming it, and the flush is undone;
    /// the removal is never silently dropped.
    template <std::size_t J>
    static void write_null_key(session_core& s, const E& o) {
        static const std::string sql = "UPDATE " + quote_ident(meta::table_name()) + " SET " +
                                       quote_ident(meta::template column_name<J>()) + " = NULL WHERE " +
                                       quote_ident(meta::template column_name<meta::pk_index>()) + " = ?";
        const value params[] = {to_value(o.*(meta::pk_member))};
        naming_table(meta::table_name(), [&] {
            cursor c(*s.eng, s.write_connection(), sql, params);
            c.run();
        });
    }

};

}  // namespace loadstar::detail
