// loadstar/driver.hpp - the driver concept: what a database backend provides to loadstar.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/errors.hpp>
#include <loadstar/value.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace loadstar {

/// The storage class of one column of the current row.
enum class column_kind { null, integer, real, text, blob };

/// What the SQL generator needs to know about a database.
struct dialect {
    std::string name;                    ///< "sqlite", "postgresql", or a user driver's name:
                                         ///< for messages only, the SQL never depends on it
    bool dollar_placeholders = false;    ///< `$1, $2` (libpq) instead of `?` (SQLite); the
                                         ///< generator always writes `?`, the driver rewrites
    bool supports_returning = true;      ///< INSERT/UPDATE/DELETE ... RETURNING
    bool supports_for_update = false;    ///< SELECT ... FOR UPDATE
    bool supports_arrays = false;        ///< an int64 array bound as one parameter (`= ANY(?)`)
    bool pipelining = false;             ///< connection::pipeline() can share one round trip
                                         ///< among several statements (libpq 14+ pipeline mode)
    std::size_t max_bind_parameters = 999;  ///< read from the database at run time
    /// DDL type names, indexed by detail::sql_type.
    std::string type_integer = "INTEGER", type_bigint = "INTEGER", type_smallint = "INTEGER",
                type_boolean = "INTEGER", type_real = "REAL", type_double = "REAL",
                type_text = "TEXT", type_blob = "BLOB", type_timestamp = "TIMESTAMP";
    /// Appended to an integral primary key's column definition so the database generates it.
    std::string generated_key = "PRIMARY KEY";
    /// Transaction control, chosen by the session when its transaction begins:
    /// `begin_read` when its first statement reads, `begin_write` when the transaction is
    /// known to write (its first statement writes, `run_transaction`, or
    /// `session_options::transaction == transaction_mode::write`), `begin_read_only` for a
    /// read-only session. SQLite's `BEGIN IMMEDIATE` takes the write lock at the start, waiting
    /// out the busy timeout, where a transaction that read first would be refused at once when
    /// it tries to write (SQLITE_BUSY: a reader cannot wait for the write lock).
    std::string begin_read = "BEGIN", begin_write = "BEGIN", begin_read_only = "BEGIN";
    /// The column type of a generated integral key whatever the member's width (SQLite:
    /// "INTEGER", so that the key is the rowid); empty: the member's type, as for any column.
    std::string generated_key_type;
    /// Written before ` OFFSET ?` when a query has an offset and no limit (SQLite accepts no
    /// OFFSET without LIMIT: " LIMIT -1"); empty: OFFSET alone, as standard SQL has it.
    std::string offset_without_limit;
    /// Appended to `DROP TABLE IF EXISTS <table>` by drop_all (PostgreSQL: " CASCADE", so a
    /// cycle of foreign keys goes with its tables).
    std::string drop_table_suffix;
    /// For a database that resolves REFERENCES when CREATE TABLE runs (PostgreSQL): the
    /// statement that adds a foreign key to a table created later, once both exist, and does
    /// nothing when the constraint is already there (create_all is idempotent). `table` and
    /// `constraint` come quoted, `clause` is `FOREIGN KEY (...) REFERENCES ...`. Null: every
    /// key stays in its CREATE TABLE (SQLite checks references only when rows are written).
    std::string (*add_foreign_key)(std::string_view table, std::string_view constraint,
                                   std::string_view clause) = nullptr;
};

/// A prepared statement. Parameter and column indexes are 0-based. Drivers translate their
/// failures into loadstar::error subclasses (integrity_error for constraint failures, ...).
class statement {
public:
    virtual ~statement() = default;
    virtual void bind_null(int index) = 0;
    virtual void bind_int(int index, std::int64_t v) = 0;
    virtual void bind_real(int index, double v) = 0;
    virtual void bind_text(int index, std::string_view v) = 0;
    virtual void bind_blob(int index, std::span<const std::byte> v) = 0;
    /// Only called when the dialect says `supports_arrays`.
    virtual void bind_int_array(int /*index*/, std::span<const std::int64_t> /*v*/) {
        throw error("loadstar: this driver does not bind arrays");
    }
    /// Executes on the first call; true while a row is available.
    virtual bool step() = 0;
    /// Makes the statement reusable and clears its bindings.
    virtual void reset() = 0;
    virtual int column_count() = 0;
    virtual column_kind kind(int column) = 0;
    virtual std::int64_t get_int(int column) = 0;
    virtual double get_real(int column) = 0;
    virtual std::string_view get_text(int column) = 0;
    virtual std::span<const std::byte> get_blob(int column) = 0;
    /// The column's kind and, if it is an integer, its value: kind() and get_int() in one
    /// call, for drivers that can answer both with one lookup of the column (hydration asks
    /// both of every integer column of every row).
    virtual column_kind read_int(int column, std::int64_t& out) {
        const column_kind k = kind(column);
        if (k == column_kind::integer) out = get_int(column);
        return k;
    }
    /// The column's kind and, if it is text, its value (valid until the next step()).
    virtual column_kind read_text(int column, std::string_view& out) {
        const column_kind k = kind(column);
        if (k == column_kind::text) out = get_text(column);
        return k;
    }
    /// Rows changed by the last INSERT/UPDATE/DELETE.
    virtual std::int64_t affected_rows() = 0;

    /// Binds a loadstar::value.
    void bind(int index, const value& v) {
        switch (v.index()) {
        case 0: bind_null(index); break;
        case 1: bind_int(index, get<1>(v)); break;
        case 2: bind_real(index, get<2>(v)); break;
        case 3: bind_text(index, get<3>(v)); break;
        case 4: bind_blob(index, get<4>(v)); break;
        default: bind_int_array(index, get<5>(v)); break;
        }
    }
};

/// One open connection to a database.
class connection {
public:
    virtual ~connection() = default;
    /// Prepares `sql` (always written with `?` placeholders). Throws loadstar::error.
    virtual std::unique_ptr<statement> prepare(std::string_view sql) = 0;
    /// Runs a statement without parameters or rows (BEGIN, COMMIT, SAVEPOINT, DDL).
    virtual void execute(std::string_view sql) = 0;
    /// True if the connection still works, cheaply (no round trip): checked when the pool
    /// takes a connection back and before it hands one out.
    virtual bool alive() = 0;
    /// A real check with the server (a round trip where there is one), for `pre_ping`.
    virtual bool ping() { return alive(); }
    /// Pipelining: executes `statements` (prepared on this connection, bound, not yet stepped)
    /// so that they share one round trip, in order; each then steps through its own rows on
    /// the following step() calls. Throws the first failing statement's error (the others are
    /// then not executed). Returns false when the driver has no pipeline: nothing was executed
    /// and each statement runs on its own first step(). Only called when the dialect says
    /// `pipelining`.
    virtual bool pipeline(std::span<statement* const> /*statements*/) { return false; }
    /// Takes a statement the engine's statement cache evicted (no cursor is using it) and frees
    /// it with whatever the database keeps for it (PostgreSQL: DEALLOCATE of its server-side
    /// statement). Never throws; a driver that cannot free it now does so later. Default:
    /// destroys it.
    virtual void discard(std::unique_ptr<statement> st) noexcept { st.reset(); }
    /// Loads rows through the driver's bulk path (PostgreSQL: COPY ... FROM STDIN): `values`
    /// holds the rows one after another, `columns.size()` values each. Returns false when the
    /// driver has no bulk path (loadstar then uses multi-row INSERT).
    virtual bool copy_in(std::string_view /*table*/, std::span<const std::string> /*columns*/,
                         std::span<const value> /*values*/) {
        return false;
    }
};

/// A driver is a small value that opens connections and describes its dialect. The engine
/// erases it, so `ls::engine` is one type whatever the backend.
///
/// ```cpp
/// struct my_driver {
///     std::unique_ptr<loadstar::connection> connect();
///     const loadstar::dialect& sql_dialect() const;
///     bool single_connection() const;   // true: the pool hands out one shared connection
/// };
/// static_assert(loadstar::driver<my_driver>);
/// ```
template <class D>
concept driver = std::move_constructible<D> && requires(D& d, const D& cd) {
    { d.connect() } -> std::same_as<std::unique_ptr<connection>>;
    { cd.sql_dialect() } -> std::convertible_to<const dialect&>;
};

}  // namespace loadstar
