// loadstar/impl/engine.ipp - the engine's non-template code: the pool, statement events,
// cursors, pipelines, URL parameters. Included by engine.hpp (header-only, the default) or
// compiled once by <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/engine.hpp>

#include <charconv>
#include <cstdio>
#include <system_error>

namespace loadstar {
namespace detail {

LOADSTAR_DECL pooled_connection::cached& pooled_connection::statement_for(std::string_view sql) {
    auto it = cache.find(sql);
    if (it == cache.end()) {
        while (cache.size() >= cache_capacity && evict_one()) {}
        auto st = conn->prepare(sql);
        it = cache.emplace(std::string(sql), cached{std::move(st), false, 0}).first;
    }
    it->second.used = ++cache_clock;
    return it->second;
}

LOADSTAR_DECL bool pooled_connection::evict_one() noexcept {
    auto victim = cache.end();
    for (auto it = cache.begin(); it != cache.end(); ++it)
        if (!it->second.busy && (victim == cache.end() || it->second.used < victim->second.used)) victim = it;
    if (victim == cache.end()) return false;
    std::unique_ptr<statement> st = std::move(victim->second.st);
    cache.erase(victim);
    conn->discard(std::move(st));
    return true;
}

LOADSTAR_DECL engine_state::engine_state(std::unique_ptr<driver_base> d, pool_options o)
    : driver_(std::move(d)), options_(o), dialect_(driver_->sql_dialect()) {
    if (options_.statement_cache_size == 0)
        throw usage_error("loadstar: pool_options::statement_cache_size must be at least 1");
}

LOADSTAR_DECL std::shared_ptr<pooled_connection> engine_state::checkout() {
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

LOADSTAR_DECL void engine_state::checkin(std::shared_ptr<pooled_connection> pc, bool discard, bool lost) {
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

LOADSTAR_DECL std::size_t engine_state::open_connections() const {
    std::lock_guard lock(mutex_);
    return open_;
}

LOADSTAR_DECL listener_id engine_state::add_listener(std::function<void(const statement_event&)> fn) {
    auto entry = std::make_shared<listener_entry>();
    entry->fn = std::move(fn);
    std::lock_guard lock(listeners_mutex_);
    const listener_id id = ++next_listener_;
    listeners_.emplace(id, std::move(entry));
    has_listeners_.store(true, std::memory_order_release);
    return id;
}

LOADSTAR_DECL void engine_state::remove_listener(listener_id id) {
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

LOADSTAR_DECL void engine_state::emit(const statement_event& e) {
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

LOADSTAR_DECL bool engine_state::usable(pooled_connection& pc, bool suspect) {
    if (options_.recycle.count() > 0 &&
        std::chrono::steady_clock::now() - pc.created > options_.recycle)
        return false;
    if (!pc.conn->alive()) return false;  // cheap: e.g. a backend terminated while idle
    if ((options_.pre_ping || suspect) && !pc.conn->ping()) return false;
    return true;
}

LOADSTAR_DECL void engine_state::print(const statement_event& e) {
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

LOADSTAR_DECL std::vector<const void*>& engine_state::running_here() {
    thread_local std::vector<const void*> v;
    return v;
}

LOADSTAR_DECL void lease::release() noexcept {
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

LOADSTAR_DECL cursor::cursor(engine_state& eng, pooled_connection& pc, std::string_view sql,
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

LOADSTAR_DECL void cursor::throw_revoked(pooled_connection::revoked_kind why) {
    if (why == pooled_connection::revoked_kind::lost)
        throw connection_error("loadstar: the connection was lost while a query was still reading its rows "
                               "(a yield_per stream, or a load in progress); its transaction was rolled back",
                               0, "08006");
    throw usage_error("loadstar: the session was closed while a query was still reading its rows (a yield_per "
                      "stream, or a load in progress); close it after the loop");
}

LOADSTAR_DECL void cursor::report_unread(engine_state& eng, pooled_connection::prefetched& p) noexcept {
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

LOADSTAR_DECL cursor::~cursor() { finish(); }

LOADSTAR_DECL void cursor::finish() noexcept {
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

LOADSTAR_DECL bool cursor::take_prefetched(pooled_connection& pc, std::string_view sql, std::span<const value> params) {
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

LOADSTAR_DECL prefetch_scope::prefetch_scope(engine_state& eng, pooled_connection& pc,
                                             std::span<const prefetch_request> requests)
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

LOADSTAR_DECL void prefetch_scope::release(bool executed) noexcept {
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

LOADSTAR_DECL void execute_control(engine_state& eng, pooled_connection& pc, std::string_view sql) {
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

LOADSTAR_DECL bool url_bool(std::string_view who, std::string_view key, std::string_view v) {
    if (v == "true" || v == "1" || v == "on" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "off" || v == "no") return false;
    throw usage_error(std::string(who) + ": URL parameter " + std::string(key) + "=" + std::string(v) +
                      ": expected true or false");
}

LOADSTAR_DECL bool take_pool_parameter(std::string_view who, std::string_view key, std::string_view v, pool_options& o) {
    if (key != "statement_cache_size") return false;
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || n == 0)
        throw usage_error(std::string(who) + ": URL parameter " + std::string(key) + "=" + std::string(v) +
                          ": expected a positive integer");
    o.statement_cache_size = n;
    return true;
}

LOADSTAR_DECL void scheme_registry::add(std::string scheme, engine_factory make) {
    std::lock_guard lock(mutex());
    map()[std::move(scheme)] = std::move(make);
}

LOADSTAR_DECL engine_factory scheme_registry::find(std::string_view scheme) {
    std::lock_guard lock(mutex());
    auto it = map().find(scheme);
    return it == map().end() ? engine_factory{} : it->second;
}

LOADSTAR_DECL std::mutex& scheme_registry::mutex() {
    static std::mutex m;
    return m;
}

LOADSTAR_DECL std::map<std::string, engine_factory, std::less<>>& scheme_registry::map() {
    static std::map<std::string, engine_factory, std::less<>> registry;
    return registry;
}

}  // namespace detail

LOADSTAR_DECL engine create_engine(std::string_view url) {
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

LOADSTAR_DECL statement_counter::statement_counter(engine& e) : engine_(e) {
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

}  // namespace loadstar
