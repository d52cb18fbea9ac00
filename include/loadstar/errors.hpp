// loadstar/errors.hpp - the exception hierarchy; every runtime failure derives from loadstar::error.
// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>

namespace loadstar {

/// Base of every loadstar exception. Errors raised by a driver carry the driver's native
/// code (SQLite extended result code, or 0) and, on PostgreSQL, the SQLSTATE.
class error : public std::runtime_error {
public:
    explicit error(const std::string& message, int native_code = 0, std::string sqlstate = {})
        : std::runtime_error(message), native_code_(native_code), sqlstate_(std::move(sqlstate)) {}
    /// The driver's own error code (e.g. SQLITE_CONSTRAINT_UNIQUE = 2067), 0 if none.
    int native_code() const noexcept { return native_code_; }
    /// The five-character SQLSTATE on PostgreSQL; empty on SQLite.
    const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
    int native_code_;
    std::string sqlstate_;
};

#define LOADSTAR_DEFINE_ERROR(name) \
    class name : public error {     \
    public:                         \
        using error::error;         \
    };

/// A constraint failed: UNIQUE, NOT NULL, FOREIGN KEY, CHECK, PRIMARY KEY. Names the table, and
/// the constraint or column(s), where the database says (empty where it does not: SQLite names
/// no constraint, and no column of a FOREIGN KEY failure).
class integrity_error : public error {
public:
    using error::error;
    integrity_error(const std::string& message, int native_code, std::string sqlstate, std::string table,
                    std::string constraint, std::string column)
        : error(message, native_code, std::move(sqlstate)), table_(std::move(table)),
          constraint_(std::move(constraint)), column_(std::move(column)) {}
    /// The table whose constraint failed, e.g. "books".
    const std::string& table() const noexcept { return table_; }
    /// The constraint's name, e.g. "books_author_id_fkey" (PostgreSQL).
    const std::string& constraint() const noexcept { return constraint_; }
    /// The column, or the columns separated by ", ", e.g. "email" or "a, b".
    const std::string& column() const noexcept { return column_; }

private:
    std::string table_, constraint_, column_;
};
/// `one()` found no row.
LOADSTAR_DEFINE_ERROR(no_result_error)
/// `one()` found more than one row.
LOADSTAR_DEFINE_ERROR(multiple_results_error)
/// A relationship under the `raise` strategy was touched; the message names it ("Author.books").
LOADSTAR_DEFINE_ERROR(raise_load_error)
/// An unloaded relationship was touched after its session was closed (or was never attached).
LOADSTAR_DEFINE_ERROR(detached_error)
/// A stored value does not fit the C++ member it is read into (type, range, NULL).
LOADSTAR_DEFINE_ERROR(conversion_error)
/// The database could not be reached, or the connection was lost.
LOADSTAR_DEFINE_ERROR(connection_error)
/// The connection was lost while COMMIT was under way: the server may have committed the
/// transaction or not, and the client cannot tell (SQLSTATE 40003, statement_completion_unknown).
/// The session treats it as not committed (objects it inserted are transient again); find out by
/// reading the rows back. `run_transaction` never retries it: running the work again could apply
/// it twice.
class commit_unknown_error : public connection_error {
public:
    using connection_error::connection_error;
};
/// No pooled connection became free within the pool's timeout.
LOADSTAR_DEFINE_ERROR(pool_timeout_error)
/// An UPDATE or DELETE guarded by a version column matched no row.
LOADSTAR_DEFINE_ERROR(stale_data_error)
/// The database aborted the transaction for serialization (SQLSTATE 40001 / 40P01); retry it.
LOADSTAR_DEFINE_ERROR(serialization_error)
/// The database was busy or locked and did not free up in time: SQLite's SQLITE_BUSY /
/// SQLITE_LOCKED (the busy timeout ran out, or a read transaction could not become a write
/// transaction because another connection wrote since it began), PostgreSQL's lock_not_available
/// (SQLSTATE 55P03, e.g. `lock_timeout` or NOWAIT). The transaction can be run again:
/// `run_transaction` does so.
LOADSTAR_DEFINE_ERROR(busy_error)
/// The session's N+1 detector, in `raise` mode, saw one relationship lazy-load too often.
LOADSTAR_DEFINE_ERROR(n_plus_one_error)
/// Misuse of the API that the types could not catch (e.g. flushing an object of another session).
LOADSTAR_DEFINE_ERROR(usage_error)

#undef LOADSTAR_DEFINE_ERROR

}  // namespace loadstar
