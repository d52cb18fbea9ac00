// loadstar/engine.hpp - the engine: a driver, its connection pool, statement events and echo.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/driver.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/fwd.hpp>
#include <loadstar/value.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace loadstar {

/// Connection pool settings (SQLAlchemy's QueuePool vocabulary).
struct pool_options {
    std::size_t pool_size = 5;       ///< connections kept open when idle
    std::size_t max_overflow = 10;   ///< extra connections opened under load, closed on return
    std::chrono::milliseconds timeout = std::chrono::seconds(30);  ///< wait for a free one
    std::chrono::seconds recycle{0};  ///< close connections older than this (0: never)
    bool pre_ping = false;            ///< test a connection before handing it out
    /// Prepared statements each connection keeps (least recently used first out, finalized on
    /// SQLite, DEALLOCATEd on PostgreSQL). At least 1. URL: `?statement_cache_size=64`.
    std::size_t statement_cache_size = 256;
};

/// What `engine::on_statement` listeners receive, once per statement, after it finished.
struct statement_event {
    std::string_view sql;            ///< the SQL text as loadstar wrote it (`?` placeholders)
    std::span<const value> params;   ///< the bound values, in order
    std::chrono::nanoseconds duration{};  ///< prepare (if not cached) + execute + fetch
    std::int64_t rows = 0;           ///< rows returned, or rows affected for a write
    bool counted = true;             ///< false for BEGIN / COMMIT / ROLLBACK / SAVEPOINT / DDL
    /// Nonzero when the statement went to the server in a pipeline (PostgreSQL): the id that
    /// every statement sharing that one round trip reports. Their `duration` is then an equal
    /// share of the pipeline's round trip plus the statement's own fetch.
    std::uint64_t pipeline = 0;
};

using listener_id = std::uint64_t;

namespace detail {

struct driver_base {
    virtual ~driver_base() = default;
    virtual std::unique_ptr<connection> connect() = 0;
    virtual const dialect& sql_dialect() const = 0;
};

template <driver D>
struct driver_model final : driver_base {
    explicit driver_model(D d) : drv(std::move(d)) {}
    std::unique_ptr<connection> connect() override { return drv.connect(); }
    const dialect& sql_dialect() const override { return drv.sql_dialect(); }
    D drv;
};

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// A pooled connection and its statement cache (prepared once per connection, keyed by SQL,
/// at most `cache_capacity` statements: the least recently used one that no cursor is stepping
/// goes first).
///
/// Always owned by a shared_ptr: the session's lease holds one, and so does every cursor and
/// prefetch_scope while it lives, so a session that lets go of its connection (close(), or a
/// lost connection) never frees the statements a live cursor or prefetch still uses. Such a
/// connection is `revoked`: it never goes back to the pool, and the cursors that still hold it
/// raise a typed error at their next row instead of reading on.
struct pooled_connection : std::enable_shared_from_this<pooled_connection> {
    struct cached {
        std::unique_ptr<statement> st;
        bool busy = false;        // a cursor or a parked prefetch is using it: never evicted
        std::uint64_t used = 0;   // cache_clock at its last use
    };
    /// Why the session let go of the connection while cursors still held it.
    enum class revoked_kind : unsigned char { none, closed, lost };
    /// A statement a pipeline already executed, waiting for the cursor that reads it.
    struct prefetched {
        std::string sql;
        std::vector<value> params;
        statement* st = nullptr;
        std::unique_ptr<statement> own;  // a private statement (the cached one was busy)
        bool* busy_flag = nullptr;
        std::uint64_t pipeline = 0;
        std::chrono::nanoseconds share{};
        bool consumed = false;
        /// Unread, and for this SQL with these values.
        bool waits_for(std::string_view q, std::span<const value> v) const {
            return !consumed && sql == q && std::equal(params.begin(), params.end(), v.begin(), v.end());
        }
    };
    std::unique_ptr<connection> conn;
    std::unordered_map<std::string, cached, string_hash, std::equal_to<>> cache;  // destroyed before conn
    std::size_t cache_capacity = 256;
    std::uint64_t cache_clock = 0;
    revoked_kind revoked = revoked_kind::none;
    std::vector<prefetched> prefetch;  // a stack: nested prefetch_scopes push and pop
    std::size_t prefetch_next = 0;     // where the next lookup starts (cursors consume in order)
    std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
    /// The pool's count of lost connections when this one was opened or last passed a ping:
    /// behind the pool's count, it is pinged before it is handed out again.
    std::uint64_t losses_seen = 0;

    /// The cached statement for `sql`, prepared (after evicting what exceeds the capacity) on
    /// a miss. Throws what prepare() throws.
    cached& statement_for(std::string_view sql);

    /// Evicts the least recently used statement that is not busy (a statement a live cursor
    /// steps is never finalized under it); false when every cached statement is busy.
    bool evict_one() noexcept;
};

/// The number of placeholders an IN list of `n` values is written with: `n` itself up to 8,
/// then the next power of two, at most `cap` (a batch never holds more than `cap` values).
/// The caller pads the list with its last value, which changes nothing an IN (or NOT IN)
/// matches; so a statement cache sees a few texts per list instead of one per length.
inline std::size_t in_list_length(std::size_t n, std::size_t cap) noexcept {
    if (n <= 8) return n;
    std::size_t b = 16;
    while (b < n) b *= 2;
    return std::max(n, std::min(b, cap));
}

class engine_state {
public:
    engine_state(std::unique_ptr<driver_base> d, pool_options o);

    ~engine_state() = default;

    const dialect& sql_dialect() const noexcept { return dialect_; }
    const pool_options& options() const noexcept { return options_; }

    /// Takes a connection from the pool, opening one if allowed; waits up to `timeout`.
    std::shared_ptr<pooled_connection> checkout();

    /// Returns a connection; `discard` closes it (a broken connection is never handed out
    /// again), `lost` says it broke (the idle ones are then pinged before their next use).
    void checkin(std::shared_ptr<pooled_connection> pc, bool discard, bool lost = false);

    std::size_t open_connections() const;

    void set_echo(bool on) noexcept { echo_.store(on, std::memory_order_relaxed); }
    bool echo() const noexcept { return echo_.load(std::memory_order_relaxed); }

    listener_id add_listener(std::function<void(const statement_event&)> fn);
    /// After this returns the listener is not running and is never called again, except
    /// where it is running on this very thread (a listener may remove itself, or another
    /// listener, from inside its call: that call finishes normally).
    void remove_listener(listener_id id);

    /// True when somebody wants statement events (listeners or echo).
    bool observed() const noexcept {
        return has_listeners_.load(std::memory_order_acquire) || echo();
    }

    /// Calls the listeners outside their mutex (a snapshot taken under it), so a listener may
    /// add or remove listeners, and listeners of different threads run concurrently.
    void emit(const statement_event& e);

private:
    bool usable(pooled_connection& pc, bool suspect);

    static void print(const statement_event& e);

    std::unique_ptr<driver_base> driver_;
    pool_options options_;
    dialect dialect_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::shared_ptr<pooled_connection>> idle_;
    std::size_t open_ = 0;
    std::uint64_t losses_ = 0;  // connections found broken at checkin (guarded by mutex_)
    std::atomic<bool> echo_{false};
    struct listener_entry {
        std::function<void(const statement_event&)> fn;
        std::size_t running = 0;  // calls in progress (guarded by listeners_mutex_)
        std::atomic<bool> removed{false};
    };
    /// The listeners this thread is inside of, innermost last.
    static std::vector<const void*>& running_here();
    std::mutex listeners_mutex_;
    std::condition_variable listeners_cv_;
    std::map<listener_id, std::shared_ptr<listener_entry>> listeners_;
    std::atomic<bool> has_listeners_{false};
    listener_id next_listener_ = 0;
};

/// A connection on loan from the pool; returns it (or discards it if broken) when destroyed.
class lease {
public:
    lease() = default;
    explicit lease(std::shared_ptr<engine_state> eng) : eng_(std::move(eng)), pc_(eng_->checkout()) {}
    lease(lease&&) noexcept = default;
    lease& operator=(lease&& o) noexcept {
        if (this != &o) { release(); eng_ = std::move(o.eng_); pc_ = std::move(o.pc_); broken_ = o.broken_; }
        return *this;
    }
    ~lease() { release(); }

    explicit operator bool() const noexcept { return pc_ != nullptr; }
    pooled_connection& get() noexcept { return *pc_; }
    engine_state& engine() noexcept { return *eng_; }
    void mark_broken() noexcept { broken_ = true; }
    /// Returns the connection to the pool. Where a cursor or prefetch_scope still holds it (a
    /// session closed, or its connection lost, during a yield_per loop or a load), it is
    /// revoked instead: discarded, and freed only when the last of them lets go.
    void release() noexcept;

private:
    std::shared_ptr<engine_state> eng_;
    std::shared_ptr<pooled_connection> pc_;
    bool broken_ = false;
};

/// Executes one statement through the connection's statement cache, steps its rows, and
/// reports it to the engine's listeners when it is done.
class cursor {
public:
    cursor(engine_state& eng, pooled_connection& pc, std::string_view sql, std::span<const value> params);
    cursor(const cursor&) = delete;
    cursor& operator=(const cursor&) = delete;
    ~cursor();

    /// Steps to the next row; false when there is none. Throws usage_error once the session
    /// was closed under this cursor, connection_error once its connection was lost.
    bool next() {
        if (pin_->revoked != pooled_connection::revoked_kind::none) [[unlikely]]
            throw_revoked(pin_->revoked);
        if (!st_->step()) return false;
        ++rows_;
        return true;
    }
    /// Runs a statement that returns no rows; returns the affected row count.
    std::int64_t run() {
        while (next()) {}
        affected_ = st_->affected_rows();
        return affected_;
    }
    statement& row() noexcept { return *st_; }

    [[noreturn]] static void throw_revoked(pooled_connection::revoked_kind why);

    /// Called for a prefetched statement nobody read (the rows it was for never came): its
    /// event is still reported, with the rows it returned.
    static void report_unread(engine_state& eng, pooled_connection::prefetched& p) noexcept;

    void finish() noexcept;

private:
    bool take_prefetched(pooled_connection& pc, std::string_view sql, std::span<const value> params);

    engine_state& eng_;
    std::shared_ptr<pooled_connection> pin_;  // the statements below live as long as it does
    std::string_view sql_;
    std::span<const value> params_;
    std::uint64_t pipeline_ = 0;
    std::chrono::nanoseconds share_{};
    statement* st_ = nullptr;
    std::unique_ptr<statement> own_;
    bool* busy_flag_ = nullptr;
    bool observed_ = false;
    std::int64_t rows_ = 0;
    std::int64_t affected_ = 0;
    std::chrono::steady_clock::time_point start_{};
};

/// One statement for a pipeline: its SQL and values (the caller keeps them alive for the
/// scope's lifetime only as long as the call; the scope copies what it needs).
struct prefetch_request {
    std::string_view sql;
    std::span<const value> params;
};

/// Where the driver pipelines (dialect().pipelining) and there are two or more requests:
/// executes them all in one round trip and parks the results on the connection, where the
/// cursors created for the same SQL and values (in this scope) pick them up instead of
/// executing again. Otherwise does nothing: each statement runs when its cursor steps. Results
/// nobody read are discarded at the end of the scope (and reported, as executed statements).
class prefetch_scope {
public:
    prefetch_scope(engine_state& eng, pooled_connection& pc, std::span<const prefetch_request> requests);
    prefetch_scope(const prefetch_scope&) = delete;
    prefetch_scope& operator=(const prefetch_scope&) = delete;
    ~prefetch_scope() { release(true); }

private:
    void release(bool executed) noexcept;

    engine_state& eng_;
    std::shared_ptr<pooled_connection> pin_;  // kept alive (and its statements) while the scope lives
    std::size_t start_;
};

/// Runs a statement without parameters or rows (transaction control, DDL); reported, not counted.
LOADSTAR_DECL void execute_control(engine_state& eng, pooled_connection& pc, std::string_view sql);

/// Walks the query string of a URL's remainder (`path?key=value&key=value`): `take(key, value)`
/// returns true for a parameter it consumed. Returns the part before '?', followed by the
/// parameters nobody took (`?k=v&...`), for the database's own parser.
template <class Take>
std::string take_url_parameters(std::string_view rest, Take&& take) {
    const auto q = rest.find('?');
    std::string out(rest.substr(0, q));
    if (q == std::string_view::npos) return out;
    std::string kept;
    std::string_view query = rest.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = item.find('=');
        const std::string_view val = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        if (!take(item.substr(0, eq), val)) kept += (kept.empty() ? "" : "&") + std::string(item);
    }
    if (!kept.empty()) out += "?" + kept;
    return out;
}

/// A URL query parameter's boolean: true/1/on/yes or false/0/off/no; usage_error otherwise
/// (`who` names the driver in the message).
LOADSTAR_DECL bool url_bool(std::string_view who, std::string_view key, std::string_view v);

/// The engine's own URL query parameters, common to every driver: `statement_cache_size=N`.
/// Returns true for a parameter it consumed; usage_error for a bad value (`who` names the
/// driver in the message).
LOADSTAR_DECL bool take_pool_parameter(std::string_view who, std::string_view key, std::string_view v, pool_options& o);

using engine_factory = std::function<engine(std::string_view rest)>;
/// The URL schemes of the included drivers (create_engine). Drivers register during static
/// initialisation, create_engine may run on any thread: both go through the lock.
struct scheme_registry {
    static void add(std::string scheme, engine_factory make);
    /// The factory for `scheme`, or an empty function.
    static engine_factory find(std::string_view scheme);

private:
    static std::mutex& mutex();
    static std::map<std::string, engine_factory, std::less<>>& map();
};

}  // namespace detail

/// A handle to a database: driver, connection pool, listeners. Cheap to copy (shared state).
///
/// ```cpp
/// auto engine = loadstar::sqlite::engine("app.db");
/// engine.echo(true);   // every statement to stderr
/// ```
class engine {
public:
    /// Wraps any type satisfying loadstar::driver.
    /// (Not for engine itself: checking driver<engine> while engine's copy constructor is
    /// being chosen recurses, and Clang reports it as an error.)
    template <class D>
        requires(!std::is_same_v<D, engine> && driver<D>)
    explicit engine(D d, pool_options options = {})
        : state_(std::make_shared<detail::engine_state>(
              std::make_unique<detail::driver_model<D>>(std::move(d)), options)) {}

    /// Print every statement, its parameters, rows and time to stderr.
    void echo(bool on) noexcept { state_->set_echo(on); }
    bool echo() const noexcept { return state_->echo(); }

    /// Calls `fn` after every statement (reads, writes, and uncounted transaction control).
    listener_id on_statement(std::function<void(const statement_event&)> fn) {
        return state_->add_listener(std::move(fn));
    }
    void remove_listener(listener_id id) { state_->remove_listener(id); }

    const dialect& sql_dialect() const noexcept { return state_->sql_dialect(); }
    /// Connections currently open (idle in the pool or checked out).
    std::size_t open_connections() const { return state_->open_connections(); }

    const std::shared_ptr<detail::engine_state>& state() const noexcept { return state_; }

private:
    std::shared_ptr<detail::engine_state> state_;
};

/// Creates an engine from a URL whose scheme belongs to an included driver header:
/// `"sqlite:///app.db"`, `"sqlite://"` (memory), `"postgresql://user@host:5432/db"`.
/// Throws loadstar::error for an unknown scheme.
LOADSTAR_DECL engine create_engine(std::string_view url);

/// Counts the statements that read or write rows on an engine while it lives (transaction
/// control is visible to listeners but not counted, as with SQLAlchemy's cursor events).
///
/// ```cpp
/// loadstar::statement_counter counter{engine};
/// auto authors = s.query<Author>().options(loadstar::selectinload<&Author::books>).all();
/// assert(counter.count() == 2);
/// ```
class statement_counter {
public:
    explicit statement_counter(engine& e);
    statement_counter(const statement_counter&) = delete;
    statement_counter& operator=(const statement_counter&) = delete;
    ~statement_counter() { engine_.remove_listener(id_); }

    std::size_t count() const noexcept { return statements_.size(); }
    /// Round trips the counted statements took: a statement each, except that statements
    /// sharing a pipeline (PostgreSQL) share one. Equal to count() where nothing pipelines.
    std::size_t round_trips() const noexcept { return round_trips_; }
    const std::vector<std::string>& statements() const noexcept { return statements_; }
    void reset() noexcept {
        statements_.clear();
        round_trips_ = 0;
        pipelines_.clear();
    }

private:
    engine engine_;
    listener_id id_ = 0;
    std::vector<std::string> statements_;
    std::size_t round_trips_ = 0;
    std::vector<std::uint64_t> pipelines_;
};

}  // namespace loadstar

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/engine.ipp>
#endif
