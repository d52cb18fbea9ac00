// loadstar/engine.hpp - the engine: a driver, its connection pool, statement events and echo.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/driver.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/fwd.hpp>
#include <loadstar/value.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
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
    cached& statement_for(std::string_view sql) {
        auto it = cache.find(sql);
        if (it == cache.end()) {
            while (cache.size() >= cache_capacity && evict_one()) {}
            auto st = conn->prepare(sql);
            it = cache.emplace(std::string(sql), cached{std::move(st), false, 0}).first;
        }
        it->second.used = ++cache_clock;
        return it->second;
    }

    /// Evicts the least recently used statement that is not busy (a statement a live cursor
    /// steps is never finalized under it); false when every cached statement is busy.
    bool evict_one() noexcept {
        auto victim = cache.end();
        for (auto it = cache.begin(); it != cache.end(); ++it)
            if (!it->second.busy && (victim == cache.end() || it->second.used < victim->second.used)) victim = it;
        if (victim == cache.end()) return false;
        std::unique_ptr<statement> st = std::move(victim->second.st);
        cache.erase(victim);
        conn->discard(std::move(st));
        return true;
    }
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
    engine_state(std::unique_ptr<driver_base> d, pool_options o)
        : driver_(std::move(d)), options_(o), dialect_(driver_->sql_dialect()) {
        if (options_.statement_cache_size == 0)
            throw usage_error("loadstar: pool_options::statement_cache_size must be at least 1");
    }

    ~engine_state() = default;

    const dialect& sql_dialect() const noexcept { return dialect_; }
    const pool_options& options() const noexcept { return options_; }

    /// Takes a connection from the pool, opening one if allowed; waits up to `timeout`.
    std::shared_ptr<pooled_connection> checkout() {
        std::unique_lock lock(mutex_);
        const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
        for (;;) {
            while (!idle_.empty()) {
                auto pc = std::move(idle_.back());
                idle_.pop_back();
                // A connection lost since this one was last known good (a server restart, a
                // failover, backends terminated) makes every idle one suspect: ping it once.
                const std::uint64_t losses = losses_;
                // The checks may do I/O (pre_ping is a round trip) and closing a connection
                // does: neither under the pool's mutex. The connection counts as open
                // meanwhile, so nobody else opens one in its place.
                lock.unlock();
                bool ok = false;
                try {
                    ok = usable(*pc, pc->losses_seen != losses);
                } catch (...) {
                }
                if (ok) {
                    pc->losses_seen = losses;
                    return pc;
                }
                pc.reset();  // recycled or dead: close it
                lock.lock();
                --open_;
                cv_.notify_one();
            }
            if (open_ < options_.pool_size + options_.max_overflow) {
                ++open_;
                const std::uint64_t losses = losses_;
                lock.unlock();
                try {
                    auto pc = std::make_shared<pooled_connection>();
                    pc->losses_seen = losses;
                    pc->conn = driver_->connect();
                    pc->cache_capacity = options_.statement_cache_size;
                    return pc;
                } catch (...) {
                    lock.lock();
                    --open_;
                    cv_.notify_one();
                    throw;
                }
            }
            if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
                idle_.empty() && open_ >= options_.pool_size + options_.max_overflow)
                throw pool_timeout_error("loadstar: no pooled connection became free within " +
                                         std::to_string(options_.timeout.count()) + " ms");
        }
    }

    /// Returns a connection; `discard` closes it (a broken connection is never handed out
    /// again), `lost` says it broke (the idle ones are then pinged before their next use).
    void checkin(std::shared_ptr<pooled_connection> pc, bool discard, bool lost = false) {
        // A connection whose backend died is never handed out again; its statement cache
        // goes with it.
        if (!discard) {
            try {
                lost = !pc->conn->alive();
            } catch (...) {
                lost = true;
            }
            discard = lost;
        }
        std::unique_lock lock(mutex_);
        if (lost) ++losses_;
        if (discard || idle_.size() >= options_.pool_size) {
            --open_;
            cv_.notify_one();
            lock.unlock();
            pc.reset();  // closing is I/O: outside the mutex
            return;
        }
        idle_.push_back(std::move(pc));
        cv_.notify_one();
    }

    std::size_t open_connections() const {
        std::lock_guard lock(mutex_);
        return open_;
    }

    void set_echo(bool on) noexcept { echo_.store(on, std::memory_order_relaxed); }
    bool echo() const noexcept { return echo_.load(std::memory_order_relaxed); }

    listener_id add_listener(std::function<void(const statement_event&)> fn) {
        auto entry = std::make_shared<listener_entry>();
        entry->fn = std::move(fn);
        std::lock_guard lock(listeners_mutex_);
        const listener_id id = ++next_listener_;
        listeners_.emplace(id, std::move(entry));
        has_listeners_.store(true, std::memory_order_release);
        return id;
    }
    /// After this returns the listener is not running and is never called again, except
    /// where it is running on this very thread (a listener may remove itself, or another
    /// listener, from inside its call: that call finishes normally).
    void remove_listener(listener_id id) {
        std::unique_lock lock(listeners_mutex_);
        auto it = listeners_.find(id);
        if (it == listeners_.end()) return;
        std::shared_ptr<listener_entry> entry = std::move(it->second);
        listeners_.erase(it);
        has_listeners_.store(!listeners_.empty(), std::memory_order_release);
        entry->removed.store(true, std::memory_order_release);
        const std::size_t mine = static_cast<std::size_t>(
            std::count(running_here().begin(), running_here().end(), entry.get()));
        listeners_cv_.wait(lock, [&] { return entry->running == mine; });
    }

    /// True when somebody wants statement events (listeners or echo).
    bool observed() const noexcept {
        return has_listeners_.load(std::memory_order_acquire) || echo();
    }

    /// Calls the listeners outside their mutex (a snapshot taken under it), so a listener may
    /// add or remove listeners, and listeners of different threads run concurrently.
    void emit(const statement_event& e) {
        if (echo()) print(e);
        if (!has_listeners_.load(std::memory_order_acquire)) return;
        // Until the end of this call the snapshot's entries count as running on this thread
        // (remove_listener from inside a listener does not wait for them).
        auto& here = running_here();
        std::vector<std::shared_ptr<listener_entry>> snapshot;
        {
            std::lock_guard lock(listeners_mutex_);
            snapshot.reserve(listeners_.size());  // may throw: nothing is counted yet
            here.reserve(here.size() + listeners_.size());
            for (auto& [id, entry] : listeners_) {
                ++entry->running;
                snapshot.push_back(entry);
                here.push_back(entry.get());
            }
        }
        struct done_guard {
            engine_state& eng;
            std::vector<std::shared_ptr<listener_entry>>& entries;
            std::vector<const void*>& here;
            ~done_guard() {
                here.resize(here.size() - entries.size());
                std::lock_guard lock(eng.listeners_mutex_);
                for (auto& en : entries) --en->running;
                eng.listeners_cv_.notify_all();
            }
        } done{*this, snapshot, here};
        for (auto& entry : snapshot)
            if (!entry->removed.load(std::memory_order_acquire)) entry->fn(e);
    }

private:
    bool usable(pooled_connection& pc, bool suspect) {
        if (options_.recycle.count() > 0 &&
            std::chrono::steady_clock::now() - pc.created > options_.recycle)
            return false;
        if (!pc.conn->alive()) return false;  // cheap: e.g. a backend terminated while idle
        if ((options_.pre_ping || suspect) && !pc.conn->ping()) return false;
        return true;
    }

    static void print(const statement_event& e) {
        std::string line = "[loadstar] ";
        line.append(e.sql);
        if (!e.params.empty()) {
            line += "\n[loadstar]   params (";
            for (std::size_t i = 0; i < e.params.size(); ++i) {
                if (i == 20) { line += ", ..." + std::to_string(e.params.size()) + " in all"; break; }
                if (i) line += ", ";
                line += to_display(e.params[i]);
            }
            line += ")";
        }
        if (e.counted) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "\n[loadstar]   -> %lld row%s in %.3f ms",
                          static_cast<long long>(e.rows), e.rows == 1 ? "" : "s",
                          std::chrono::duration<double, std::milli>(e.duration).count());
            line += buf;
        }
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stderr);
    }

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
    static std::vector<const void*>& running_here() {
        thread_local std::vector<const void*> v;
        return v;
    }
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
    void release() noexcept {
        if (pc_) {
            bool discard = broken_;
            if (pc_.use_count() > 1) {
                pc_->revoked = broken_ ? pooled_connection::revoked_kind::lost : pooled_connection::revoked_kind::closed;
                discard = true;
            }
            try { eng_->checkin(std::move(pc_), discard, broken_); } catch (...) {}
            pc_.reset();
        }
        broken_ = false;
    }

private:
    std::shared_ptr<engine_state> eng_;
    std::shared_ptr<pooled_connection> pc_;
    bool broken_ = false;
};

/// Executes one statement through the connection's statement cache, steps its rows, and
/// reports it to the engine's listeners when it is done.
class cursor {
public:
    cursor(engine_state& eng, pooled_connection& pc, std::string_view sql,
           std::span<const value> params)
        : eng_(eng), pin_(pc.shared_from_this()), sql_(sql), params_(params) {
        observed_ = eng.observed();
        if (observed_) start_ = std::chrono::steady_clock::now();
        if (!pc.prefetch.empty() && take_prefetched(pc, sql, params)) return;
        auto& entry = pc.statement_for(sql);
        if (entry.busy) {
            // The same SQL is still being stepped (e.g. a streamed query re-entered by a lazy
            // load of the same shape): use a private statement for this execution.
            own_ = pc.conn->prepare(sql);
            st_ = own_.get();
        } else {
            entry.busy = true;
            busy_flag_ = &entry.busy;
            st_ = entry.st.get();
        }
        try {
            for (std::size_t i = 0; i < params.size(); ++i) st_->bind(static_cast<int>(i), params[i]);
        } catch (...) {
            finish();
            throw;
        }
    }
    cursor(const cursor&) = delete;
    cursor& operator=(const cursor&) = delete;
    ~cursor() { finish(); }

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

    [[noreturn]] static void throw_revoked(pooled_connection::revoked_kind why) {
        if (why == pooled_connection::revoked_kind::lost)
            throw connection_error("loadstar: the connection was lost while a query was still reading its rows "
                                   "(a yield_per stream, or a load in progress); its transaction was rolled back",
                                   0, "08006");
        throw usage_error("loadstar: the session was closed while a query was still reading its rows (a yield_per "
                          "stream, or a load in progress); close it after the loop");
    }

    /// Called for a prefetched statement nobody read (the rows it was for never came): its
    /// event is still reported, with the rows it returned.
    static void report_unread(engine_state& eng, pooled_connection::prefetched& p) noexcept {
        try {
            std::int64_t rows = 0;
            while (p.st->step()) ++rows;
            if (eng.observed()) {
                statement_event e;
                e.sql = p.sql;
                e.params = p.params;
                e.duration = p.share;
                e.rows = rows;
                e.pipeline = p.pipeline;
                eng.emit(e);
            }
        } catch (...) {
        }
    }

    void finish() noexcept {
        if (!st_) return;
        try { st_->reset(); } catch (...) {}
        if (busy_flag_) *busy_flag_ = false;
        st_ = nullptr;
        own_.reset();
        if (observed_) {
            try {
                statement_event e;
                e.sql = sql_;
                e.params = params_;
                e.duration = std::chrono::steady_clock::now() - start_;
                e.rows = rows_ ? rows_ : affected_;
                e.counted = true;
                e.duration += share_;
                e.pipeline = pipeline_;
                eng_.emit(e);
            } catch (...) {
            }
        }
    }

private:
    bool take_prefetched(pooled_connection& pc, std::string_view sql, std::span<const value> params) {
        auto& q = pc.prefetch;
        for (std::size_t n = 0; n < q.size(); ++n) {
            auto& p = q[(pc.prefetch_next + n) % q.size()];
            if (!p.waits_for(sql, params)) continue;
            p.consumed = true;
            pc.prefetch_next = static_cast<std::size_t>(&p - q.data()) + 1;
            st_ = p.st;
            own_ = std::move(p.own);
            busy_flag_ = p.busy_flag;
            pipeline_ = p.pipeline;
            share_ = p.share;
            return true;
        }
        return false;
    }

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
    prefetch_scope(engine_state& eng, pooled_connection& pc, std::span<const prefetch_request> requests)
        : eng_(eng), pin_(pc.shared_from_this()), start_(pc.prefetch.size()) {
        if (requests.size() < 2 || !eng.sql_dialect().pipelining) return;
        // What an enclosing scope already executed is not sent again.
        std::vector<const prefetch_request*> to_send;
        to_send.reserve(requests.size());
        for (const auto& r : requests) {
            const bool parked = std::any_of(pc.prefetch.begin(), pc.prefetch.end(),
                                            [&](const auto& p) { return p.waits_for(r.sql, r.params); });
            if (!parked) to_send.push_back(&r);
        }
        if (to_send.size() < 2) return;
        static std::atomic<std::uint64_t> next_pipeline{0};
        const std::uint64_t id = ++next_pipeline;
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<statement*> sts;
        sts.reserve(to_send.size());
        try {
            for (const prefetch_request* rp : to_send) {
                const prefetch_request& r = *rp;
                pooled_connection::prefetched p;
                p.sql.assign(r.sql);
                p.params.assign(r.params.begin(), r.params.end());
                p.pipeline = id;
                auto& entry = pc.statement_for(r.sql);
                if (entry.busy) {
                    p.own = pc.conn->prepare(r.sql);
                    p.st = p.own.get();
                } else {
                    entry.busy = true;
                    p.busy_flag = &entry.busy;
                    p.st = entry.st.get();
                }
                pc.prefetch.push_back(std::move(p));
                auto& b = pc.prefetch.back();
                for (std::size_t i = 0; i < b.params.size(); ++i) b.st->bind(static_cast<int>(i), b.params[i]);
                sts.push_back(b.st);
            }
            if (!pc.conn->pipeline(sts)) {
                release(false);
                return;
            }
        } catch (...) {
            release(false);
            throw;
        }
        const auto share = (std::chrono::steady_clock::now() - t0) / static_cast<long>(to_send.size());
        for (std::size_t i = start_; i < pc.prefetch.size(); ++i) pc.prefetch[i].share = share;
        pc.prefetch_next = start_;
    }
    prefetch_scope(const prefetch_scope&) = delete;
    prefetch_scope& operator=(const prefetch_scope&) = delete;
    ~prefetch_scope() { release(true); }

private:
    void release(bool executed) noexcept {
        auto& q = pin_->prefetch;
        // A revoked connection (the session let go of it meanwhile) is not read any further.
        if (pin_->revoked != pooled_connection::revoked_kind::none) executed = false;
        for (std::size_t i = start_; i < q.size(); ++i) {
            auto& p = q[i];
            if (p.consumed) continue;
            if (executed) cursor::report_unread(eng_, p);
            try { p.st->reset(); } catch (...) {}
            if (p.busy_flag) *p.busy_flag = false;
        }
        q.resize(std::min(start_, q.size()));
        if (pin_->prefetch_next > q.size()) pin_->prefetch_next = 0;
    }

    engine_state& eng_;
    std::shared_ptr<pooled_connection> pin_;  // kept alive (and its statements) while the scope lives
    std::size_t start_;
};

/// Runs a statement without parameters or rows (transaction control, DDL); reported, not counted.
inline void execute_control(engine_state& eng, pooled_connection& pc, std::string_view sql) {
    const bool observed = eng.observed();
    const auto start = observed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    pc.conn->execute(sql);
    if (observed) {
        statement_event e;
        e.sql = sql;
        e.duration = std::chrono::steady_clock::now() - start;
        e.counted = false;
        eng.emit(e);
    }
}

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
inline bool url_bool(std::string_view who, std::string_view key, std::string_view v) {
    if (v == "true" || v == "1" || v == "on" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "off" || v == "no") return false;
    throw usage_error(std::string(who) + ": URL parameter " + std::string(key) + "=" + std::string(v) +
                      ": expected true or false");
}

/// The engine's own URL query parameters, common to every driver: `statement_cache_size=N`.
/// Returns true for a parameter it consumed; usage_error for a bad value (`who` names the
/// driver in the message).
inline bool take_pool_parameter(std::string_view who, std::string_view key, std::string_view v, pool_options& o) {
    if (key != "statement_cache_size") return false;
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || n == 0)
        throw usage_error(std::string(who) + ": URL parameter " + std::string(key) + "=" + std::string(v) +
                          ": expected a positive integer");
    o.statement_cache_size = n;
    return true;
}

using engine_factory = std::function<engine(std::string_view rest)>;
/// The URL schemes of the included drivers (create_engine). Drivers register during static
/// initialisation, create_engine may run on any thread: both go through the lock.
struct scheme_registry {
    static void add(std::string scheme, engine_factory make) {
        std::lock_guard lock(mutex());
        map()[std::move(scheme)] = std::move(make);
    }
    /// The factory for `scheme`, or an empty function.
    static engine_factory find(std::string_view scheme) {
        std::lock_guard lock(mutex());
        auto it = map().find(scheme);
        return it == map().end() ? engine_factory{} : it->second;
    }

private:
    static std::mutex& mutex() {
        static std::mutex m;
        return m;
    }
    static std::map<std::string, engine_factory, std::less<>>& map() {
        static std::map<std::string, engine_factory, std::less<>> registry;
        return registry;
    }
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
inline engine create_engine(std::string_view url) {
    const auto pos = url.find("://");
    if (pos == std::string_view::npos) throw error("loadstar: not a database URL: " + std::string(url));
    std::string_view scheme = url.substr(0, pos);
    if (const auto plus = scheme.find('+'); plus != std::string_view::npos) scheme = scheme.substr(0, plus);
    const auto make = detail::scheme_registry::find(scheme);
    if (!make)
        throw error("loadstar: no driver for scheme '" + std::string(scheme) +
                    "' (include <loadstar/sqlite.hpp> or <loadstar/postgres.hpp>)");
    return make(url.substr(pos + 3));
}

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
    explicit statement_counter(engine& e) : engine_(e) {
        id_ = engine_.on_statement([this](const statement_event& ev) {
            if (!ev.counted) return;
            statements_.emplace_back(ev.sql);
            if (ev.pipeline == 0) {
                ++round_trips_;
            } else if (std::find(pipelines_.begin(), pipelines_.end(), ev.pipeline) == pipelines_.end()) {
                pipelines_.push_back(ev.pipeline);
                ++round_trips_;
            }
        });
    }
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
