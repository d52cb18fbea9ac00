// loadstar/impl/rows.ipp - the write statements of one object over its table_info. Included by
// unit/rows.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/rows.hpp>

#include <loadstar/detail/session_core.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/unit/common.hpp>

#include <mutex>

namespace loadstar::detail {

LOADSTAR_DECL table_info::table_info(std::string_view entity, std::string_view table,
                                     std::initializer_list<std::string_view> columns,
                                     std::initializer_list<getter> getters, std::initializer_list<setter> setters,
                                     std::size_t pk, std::size_t version)
    : entity_(entity), table_(table), quoted_table_(quote_ident(table)), getters_(getters), setters_(setters), pk_(pk),
      version_(version) {
    columns_.reserve(columns.size());
    for (std::string_view c : columns) columns_.push_back(quote_ident(c));
    auto insert = [&](bool with_pk) {
        std::string cols, marks;
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            if (!with_pk && i == pk_) continue;
            cols += (cols.empty() ? "" : ", ") + columns_[i];
            marks += marks.empty() ? "?" : ", ?";
        }
        std::string sql = "INSERT INTO " + quoted_table_;
        sql += cols.empty() ? std::string(" DEFAULT VALUES") : " (" + cols + ") VALUES (" + marks + ")";
        return sql;
    };
    insert_all_ = insert(true);
    insert_generated_ = insert(false);
    insert_returning_ = insert_generated_ + " RETURNING " + columns_[pk_];
    delete_ = "DELETE FROM " + quoted_table_ + " WHERE " + columns_[pk_] + " = ?";
    if (version_ != npos) delete_ += " AND " + columns_[version_] + " = ?";
}

LOADSTAR_DECL table_info::~table_info() = default;

LOADSTAR_DECL void table_info::append_params(const void* obj, bool with_pk, std::vector<value>& out) const {
    for (std::size_t i = 0; i < getters_.size(); ++i)
        if (with_pk || i != pk_) out.push_back(getters_[i](obj));
}

LOADSTAR_DECL const std::string& table_info::update_sql(std::uint64_t mask) const {
    {
        std::shared_lock lock(mutex_);
        auto it = updates_.find(mask);
        if (it != updates_.end()) return it->second;
    }
    std::string sql = "UPDATE " + quoted_table_ + " SET ";
    bool first = true;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
        if (!(mask & (std::uint64_t{1} << i)) || i == version_) continue;
        sql += (first ? "" : ", ") + columns_[i] + " = ?";
        first = false;
    }
    if (version_ != npos) sql += (first ? "" : ", ") + columns_[version_] + " = " + columns_[version_] + " + 1";
    sql += " WHERE " + columns_[pk_] + " = ?";
    if (version_ != npos) sql += " AND " + columns_[version_] + " = ?";
    // The map's nodes never move: the string returned stays where it is.
    std::unique_lock lock(mutex_);
    return updates_.emplace(mask, std::move(sql)).first->second;
}

LOADSTAR_DECL const std::string& table_info::null_key_sql(std::size_t column) const {
    {
        std::shared_lock lock(mutex_);
        auto it = null_keys_.find(column);
        if (it != null_keys_.end()) return it->second;
    }
    std::string sql = "UPDATE " + quoted_table_ + " SET " + columns_[column] + " = NULL WHERE " + columns_[pk_] + " = ?";
    std::unique_lock lock(mutex_);
    return null_keys_.emplace(column, std::move(sql)).first->second;
}

LOADSTAR_DECL void insert_row(session_core& s, const table_info& t, const void* obj, bool generate,
                              void (*read_key)(statement& row, void* key), void* key) {
    std::vector<value> params;
    params.reserve(t.column_count());
    t.append_params(obj, !generate, params);
    // Generated keys come only from RETURNING, one row at a time: nothing assumes keys are
    // assigned in order (distributed engines do not).
    const bool returning = generate && s.eng->sql_dialect().supports_returning;
    const std::string& sql = t.insert_sql(!generate, returning);
    naming_table(t.table(), [&] {
        cursor c(*s.eng, s.write_connection(), sql, params);
        if (returning) {
            if (!c.next()) throw error("loadstar: INSERT ... RETURNING returned no row");
            read_key(c.row(), key);
            c.run();
        } else {
            c.run();
            if (generate) throw usage_error("loadstar: this driver cannot return generated keys (no RETURNING)");
        }
    });
}

LOADSTAR_DECL void update_row(session_core& s, const table_info& t, const void* obj, std::uint64_t mask) {
    std::vector<value> params;
    for (std::size_t i = 0; i < t.column_count(); ++i)
        if ((mask & (std::uint64_t{1} << i)) && i != t.version()) params.push_back(t.get(i, obj));
    params.push_back(t.get(t.pk(), obj));
    if (t.version() != npos) params.push_back(t.get(t.version(), obj));
    const std::string& sql = t.update_sql(mask);
    const std::int64_t n = naming_table(t.table(), [&] {
        cursor c(*s.eng, s.write_connection(), sql, params);
        return c.run();
    });
    if (t.version() != npos && n == 0)
        throw stale_data_error("loadstar: UPDATE of " + t.entity() + " matched no row: its version moved (" + sql + ")");
}

LOADSTAR_DECL void update_object(session_core& s, const table_info& t, identity_map_base& m, std::size_t map,
                                 const std::shared_ptr<void>& obj, std::uint64_t mask) {
    if (t.version() != npos) mask &= ~(std::uint64_t{1} << t.version());
    if (!mask) return;
    if (mask & (std::uint64_t{1} << t.pk()))
        throw usage_error("loadstar: the primary key of a persistent " + t.entity() +
                          " was changed; delete it and add a new object instead");
    update_row(s, t, obj.get(), mask);
    if (t.version() != npos) {
        const value v = t.get(t.version(), obj.get());
        set_undoable(s, t, t.version(), obj.get(), value{get<std::int64_t>(v) + 1});
    }
    // The new snapshot is taken now (allocating, in the map's arena, which never moves or
    // frees it while the map lives), and only takes the old one's place after the flush.
    note_updated(s, map, obj, m.capture_of(obj.get()));
}

LOADSTAR_DECL void delete_row(session_core& s, const table_info& t, const void* obj) {
    std::vector<value> params{t.get(t.pk(), obj)};
    if (t.version() != npos) params.push_back(t.get(t.version(), obj));
    const std::int64_t n = naming_table(t.table(), [&] {
        cursor c(*s.eng, s.write_connection(), t.delete_sql(), params);
        return c.run();
    });
    if (n == 0 && t.version() != npos)
        throw stale_data_error("loadstar: DELETE of " + t.entity() + " matched no row: its version moved");
}

LOADSTAR_DECL void null_key(session_core& s, const table_info& t, std::size_t column, const void* obj) {
    const std::string& sql = t.null_key_sql(column);
    const value params[] = {t.get(t.pk(), obj)};
    naming_table(t.table(), [&] {
        cursor c(*s.eng, s.write_connection(), sql, params);
        c.run();
    });
}

LOADSTAR_DECL bool set_undoable(session_core& s, const table_info& t, std::size_t column, void* obj, const value& v) {
    value old = t.get(column, obj);
    if (old == v) return false;
    s.undo.push_back([&t, column, obj, old = std::move(old)] { t.set(column, obj, old); });
    t.set(column, obj, v);
    return true;
}

LOADSTAR_DECL const link_statements& link_sql(link_slot& slot, std::string_view table, std::string_view local,
                                             std::string_view remote) {
    std::call_once(slot.once, [&] {
        const std::string t = quote_ident(table), l = quote_ident(local), r = quote_ident(remote);
        slot.sql = new link_statements{"INSERT INTO " + t + " (" + l + ", " + r + ") VALUES (?, ?)",
                                       "DELETE FROM " + t + " WHERE " + l + " = ? AND " + r + " = ?",
                                       "DELETE FROM " + t + " WHERE " + l + " = ?"};
    });
    return *slot.sql;
}

LOADSTAR_DECL void link_row(session_core& s, std::string_view table, const std::string& sql, std::span<const value> params) {
    naming_table(table, [&] {
        cursor c(*s.eng, s.write_connection(), sql, params);
        c.run();
    });
}

LOADSTAR_DECL void note_inserted(session_core& s, std::size_t map, const std::shared_ptr<void>& obj) {
    // The undo first: if registering it fails, nothing is left to undo.
    s.undo.push_back([&s, map, obj] { s.maps[map]->forget(obj.get(), false); });
    // What runs after the flush is written must not fail halfway: everything it needs is
    // allocated now (the vector it goes to is reserved before the flush's RELEASE).
    std::function<void()> back_out = [&s, map, obj] { s.maps[map]->forget(obj.get(), true); };
    s.on_success.push_back([&s, f = std::move(back_out)]() mutable { s.tx_inserted.push_back(std::move(f)); });
}

LOADSTAR_DECL void note_updated(session_core& s, std::size_t map, const std::shared_ptr<void>& obj, std::byte* snap) {
    s.on_success.push_back([&s, map, obj, snap] { s.maps[map]->adopt_snapshot(obj.get(), snap); });
}

LOADSTAR_DECL void forgotten(session_core& s, std::size_t map, const std::shared_ptr<void>& obj,
                             std::function<void()>& back) noexcept {
    s.forget_changes_of(obj.get());
    s.maps[map]->detach(obj.get());
    s.tx_deleted.push_back(std::move(back));
}

LOADSTAR_DECL void note_deleted(session_core& s, std::size_t map, const std::shared_ptr<void>& obj, rebind_fn rebind) {
    // The undo is registered (allocated) before the entry leaves the map.
    auto snap = std::make_shared<std::byte*>(nullptr);
    s.undo.push_back([&s, map, obj, snap] { s.maps[map]->put_back(obj, *snap); });
    if (!s.maps[map]->take_out(obj.get(), *snap)) s.undo.pop_back();
    std::function<void()> back = [&s, map, obj, rebind] {
        s.maps[map]->bring_back(obj);
        rebind(s, obj.get());
    };
    s.on_success.push_back([&s, map, obj, f = std::move(back)]() mutable { forgotten(s, map, obj, f); });
}

LOADSTAR_DECL void note_deleted_by_database(session_core& s, std::size_t map, const std::shared_ptr<void>& obj,
                                            rebind_fn rebind) {
    std::function<void()> back = [&s, map, obj, rebind] {
        s.maps[map]->bring_back(obj);
        rebind(s, obj.get());
    };
    s.on_success.push_back([&s, map, obj, f = std::move(back)]() mutable {
        std::byte* snap = nullptr;
        if (s.maps[map]->take_out(obj.get(), snap)) forgotten(s, map, obj, f);
    });
}

}  // namespace loadstar::detail
