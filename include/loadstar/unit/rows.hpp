// loadstar/unit/rows.hpp - the rows a flush writes (INSERT, UPDATE, DELETE of one object, the
// NULL written into a removed child's key), built and bound by ordinary code over a
// table_info: an entity's table and columns, derived once from its mapping, with a getter and
// a setter per column. The statement text, the parameters, the keys copied and the version
// counted up are then compiled once for every entity, not once per entity.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/convert.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/value.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace loadstar {
class statement;
}  // namespace loadstar

namespace loadstar::detail {

struct session_core;
struct identity_map_base;
struct link_slot;  // loader/keys.hpp

/// An entity's table as the write statements need it: its names (quoted once), and per column
/// a function giving an object's bind value. One per entity (table_of<E>()), for the
/// program's life, shared by every session and thread: the UPDATE texts it keeps are guarded.
class table_info {
public:
    /// Column J of the object at `obj` as a bind value.
    using getter = value (*)(const void* obj);
    /// Stores a value into column J of the object at `obj` (assign_value: a key copied from
    /// another object, a generated key, NULL, the version counted up).
    using setter = void (*)(void* obj, const value& v);

    LOADSTAR_DECL table_info(std::string_view entity, std::string_view table, std::initializer_list<std::string_view> columns,
                             std::initializer_list<getter> getters, std::initializer_list<setter> setters,
                             std::size_t pk, std::size_t version);
    LOADSTAR_DECL ~table_info();
    table_info(const table_info&) = delete;
    table_info& operator=(const table_info&) = delete;

    /// The entity's type name ("Book"), for messages.
    const std::string& entity() const noexcept { return entity_; }
    /// The table's name as mapped (unquoted), for messages.
    std::string_view table() const noexcept { return table_; }
    /// The table's and column J's names as written in SQL (quoted where they need it).
    const std::string& quoted_table() const noexcept { return quoted_table_; }
    const std::string& quoted_column(std::size_t column) const noexcept { return columns_[column]; }
    std::size_t column_count() const noexcept { return columns_.size(); }
    std::size_t pk() const noexcept { return pk_; }
    /// The index of the version column, or npos.
    std::size_t version() const noexcept { return version_; }
    value get(std::size_t column, const void* obj) const { return getters_[column](obj); }
    void set(std::size_t column, void* obj, const value& v) const { setters_[column](obj, v); }
    /// The bind values of an INSERT of the object at `obj` (every column, or all but the key).
    LOADSTAR_DECL void append_params(const void* obj, bool with_pk, std::vector<value>& out) const;

    /// "INSERT INTO t (columns) VALUES (?, ...)": with the key column, or without it (the
    /// database generates it) and then `RETURNING key` if asked.
    const std::string& insert_sql(bool with_pk, bool returning) const noexcept {
        return with_pk ? insert_all_ : returning ? insert_returning_ : insert_generated_;
    }
    /// The UPDATE of the columns in `mask` (bit J for column J; the version column, if any,
    /// is counted up by the statement itself). Built once per set of columns.
    LOADSTAR_DECL const std::string& update_sql(std::uint64_t mask) const;
    const std::string& delete_sql() const noexcept { return delete_; }
    /// "UPDATE t SET column = NULL WHERE key = ?" (built once per column).
    LOADSTAR_DECL const std::string& null_key_sql(std::size_t column) const;

private:
    std::string entity_;
    std::string table_;
    std::string quoted_table_;
    std::vector<std::string> columns_;  // quoted
    std::vector<getter> getters_;
    std::vector<setter> setters_;
    std::size_t pk_;
    std::size_t version_;
    std::string insert_all_, insert_generated_, insert_returning_, delete_;
    mutable std::shared_mutex mutex_;
    mutable std::unordered_map<std::uint64_t, std::string> updates_;
    mutable std::unordered_map<std::size_t, std::string> null_keys_;
};

template <class E, std::size_t J>
value column_value(const void* obj) {
    return to_value(static_cast<const E*>(obj)->*(entity_meta<E>::template column_t<J>::member));
}
template <class E, std::size_t J>
void set_column_value(void* obj, const value& v) {
    assign_value(static_cast<E*>(obj)->*(entity_meta<E>::template column_t<J>::member), v);
}
template <class E, std::size_t... J>
const table_info& make_table_info(std::index_sequence<J...>) {
    using meta = entity_meta<E>;
    static const table_info t(type_name<E>(), meta::table_name(), {meta::template column_name<J>()...},
                              {&column_value<E, J>...}, {&set_column_value<E, J>...}, meta::pk_index,
                              meta::version_index);
    return t;
}
/// The table_info of E, built at first use.
template <class E>
const table_info& table_of() {
    return make_table_info<E>(std::make_index_sequence<entity_meta<E>::column_count>{});
}

/// INSERT of the object at `obj`: every column, or every column but the key when `generate`
/// (the database assigns it; read back through RETURNING by `read_key(row, key)` where the
/// dialect has it, else a usage_error).
LOADSTAR_DECL void insert_row(session_core& s, const table_info& t, const void* obj, bool generate,
                              void (*read_key)(statement& row, void* key), void* key);
/// UPDATE of the columns in `mask` of the object at `obj`, where its key (and version)
/// match; a version that moved raises stale_data_error.
LOADSTAR_DECL void update_row(session_core& s, const table_info& t, const void* obj, std::uint64_t mask);
/// The UPDATE of the columns in `mask` (bit J for column J: changed against its snapshot) of
/// `obj`, a persistent object of map `m` (at index `map`): nothing if only the version column
/// differs; a usage_error if the primary key does. The version is counted up, and after the
/// flush the new snapshot takes the old one's place.
LOADSTAR_DECL void update_object(session_core& s, const table_info& t, identity_map_base& m, std::size_t map,
                                 const std::shared_ptr<void>& obj, std::uint64_t mask);
/// DELETE of the object at `obj` (where its version matches: stale_data_error if not).
LOADSTAR_DECL void delete_row(session_core& s, const table_info& t, const void* obj);
/// Column `column` of the object at `obj` written NULL (UPDATE): a removed child's foreign key.
LOADSTAR_DECL void null_key(session_core& s, const table_info& t, std::size_t column, const void* obj);
/// Column `column` of the object at `obj` set to `v` in memory; a failed flush sets it back.
LOADSTAR_DECL bool set_undoable(session_core& s, const table_info& t, std::size_t column, void* obj, const value& v);
/// The statements of a many-to-many association table's rows, built from its names.
struct link_statements {
    std::string insert;      // INSERT INTO secondary (local, remote) VALUES (?, ?)
    std::string remove;      // DELETE FROM secondary WHERE local = ? AND remote = ?
    std::string remove_all;  // DELETE FROM secondary WHERE local = ?
};
/// The statements of association table `table` (local, remote), built once per slot.
LOADSTAR_DECL const link_statements& link_sql(link_slot& slot, std::string_view table, std::string_view local,
                                             std::string_view remote);
/// Runs `sql` (a link_sql) with `params` on the association table `table`.
LOADSTAR_DECL void link_row(session_core& s, std::string_view table, const std::string& sql, std::span<const value> params);

// ---- the bookkeeping around a row written: the same for every entity, over the identity map
// of the object's type (session_core::maps[map], through identity_map_base). Everything a
// step after the flush needs is allocated while the flush can still fail.

/// `obj` was inserted and entered the map: a failed flush takes it out again; a rollback of
/// the transaction makes it transient again.
LOADSTAR_DECL void note_inserted(session_core& s, std::size_t map, const std::shared_ptr<void>& obj);
/// `obj`'s UPDATE was written: after the flush, `snap` (taken now) is its snapshot.
LOADSTAR_DECL void note_updated(session_core& s, std::size_t map, const std::shared_ptr<void>& obj, std::byte* snap);
/// How a deleted object's holders are bound again when a rollback brings it back
/// (entity_ops::bind: bind_erased<E> in unit/common.hpp).
using rebind_fn = void (*)(session_core& s, void* obj);
/// `obj`'s DELETE was written: out of the map at once (the database may hand its key to a row
/// inserted later in this flush), back if the flush fails; detached after it, persistent
/// again (`rebind`) if the transaction rolls back.
LOADSTAR_DECL void note_deleted(session_core& s, std::size_t map, const std::shared_ptr<void>& obj, rebind_fn rebind);
/// After a successful delete: `obj` is detached, and `back` (a rollback bringing it back)
/// is kept with the transaction. Allocates nothing (tx_deleted is reserved beforehand).
LOADSTAR_DECL void forgotten(session_core& s, std::size_t map, const std::shared_ptr<void>& obj,
                             std::function<void()>& back) noexcept;
/// The database deletes `obj`'s row by itself (ON DELETE CASCADE): after the flush it leaves
/// the map, detached, unless the map no longer holds it.
LOADSTAR_DECL void note_deleted_by_database(session_core& s, std::size_t map, const std::shared_ptr<void>& obj,
                                            rebind_fn rebind);

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/rows.ipp>
#endif
