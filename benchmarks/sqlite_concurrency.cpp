// benchmarks/sqlite_concurrency.cpp - SQLite under concurrent sessions, loadstar beside
// hand-written sqlite3 code with the same settings (WAL, synchronous=NORMAL, foreign keys, a
// 5 s busy timeout, write transactions BEGIN IMMEDIATE), on one file:
// - transfer/<impl>/threads:T: transactions per second (items_per_second), each a transfer:
//   read two accounts, write both, log a row, commit; T threads share one engine (loadstar)
//   or have a connection each (raw);
// - read_while_writing/<impl>/threads:T: reads per second of every balance in one
//   transaction while one more thread runs transfers (hand-written, the same for both) as fast
//   as it can; readers_blocked counts reads that had to wait for a lock (0 under WAL).
// Both implementations build the same objects (a std::shared_ptr per account) and the sum of
// the balances is checked after each read. scripts/bench writes the ratios to summary.md.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include "../tests/support/bank_model.hpp"

#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ls = loadstar;

namespace {

std::string bench_dir() {
    const char* d = std::getenv("LOADSTAR_BENCH_DIR");
    std::string dir = d && *d ? d : (std::filesystem::temp_directory_path() / "loadstar-bench").string();
    std::filesystem::create_directories(dir);
    return dir;
}

/// A fresh bank database file for one benchmark, made through loadstar (WAL, opening balances).
std::string fresh_bank(const std::string& name) {
    const std::string path = bench_dir() + "/concurrency-" + name + "-" + std::to_string(::getpid()) + ".db";
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix, ec);
    auto e = ls::sqlite::engine(path);
    bank::open_accounts(e);
    return path;
}

void check(sqlite3* db, int rc, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        throw std::runtime_error(std::string("bench: ") + what + ": " + sqlite3_errmsg(db));
}

/// Hand-written code: one connection per thread with loadstar's settings, statements prepared
/// once and re-stepped.
class raw_bank {
public:
    explicit raw_bank(const std::string& path) {
        check(db_, sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr), "open");
        sqlite3_busy_timeout(db_, 5000);
        exec("PRAGMA foreign_keys = ON");
        exec("PRAGMA synchronous = NORMAL");
        begin_write_ = prepare("BEGIN IMMEDIATE");
        begin_read_ = prepare("BEGIN");
        commit_ = prepare("COMMIT");
        rollback_ = prepare("ROLLBACK");
        balance_ = prepare("SELECT id, balance FROM accounts WHERE id = ?");
        update_ = prepare("UPDATE accounts SET balance = ? WHERE id = ?");
        log_ = prepare("INSERT INTO transfers (from_id, to_id, amount) VALUES (?, ?, ?)");
        all_ = prepare("SELECT id, balance FROM accounts");
    }
    raw_bank(const raw_bank&) = delete;
    raw_bank& operator=(const raw_bank&) = delete;
    ~raw_bank() {
        for (auto* st : {begin_write_, begin_read_, commit_, rollback_, balance_, update_, log_, all_})
            sqlite3_finalize(st);
        sqlite3_close_v2(db_);
    }

    /// One transfer; retried from BEGIN when SQLite answers busy (as run_transaction does).
    void transfer(std::int64_t from, std::int64_t to, std::int64_t amount) {
        for (;;) {
            if (step(begin_write_) == SQLITE_BUSY) continue;
            auto a = read(from), b = read(to);
            a->balance -= amount;
            b->balance += amount;
            const bool ok = write(*a) && write(*b) && log(from, to, amount) && step(commit_) == SQLITE_DONE;
            if (ok) return;
            step(rollback_);
        }
    }
    /// Every account, as objects, in one read transaction; returns the sum of the balances.
    std::int64_t read_all(std::vector<std::shared_ptr<bank::Account>>& out) {
        out.clear();
        check(db_, step(begin_read_), "BEGIN");
        while (sqlite3_step(all_) == SQLITE_ROW)
            out.push_back(std::make_shared<bank::Account>(
                bank::Account{.id = sqlite3_column_int64(all_, 0), .balance = sqlite3_column_int64(all_, 1)}));
        sqlite3_reset(all_);
        check(db_, step(commit_), "COMMIT");
        std::int64_t sum = 0;
        for (const auto& a : out) sum += a->balance;
        return sum;
    }

private:
    void exec(const char* sql) { check(db_, sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), sql); }
    sqlite3_stmt* prepare(const char* sql) {
        sqlite3_stmt* st = nullptr;
        check(db_, sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr), sql);
        return st;
    }
    int step(sqlite3_stmt* st) {
        const int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc;
    }
    std::shared_ptr<bank::Account> read(std::int64_t id) {
        sqlite3_bind_int64(balance_, 1, id);
        std::shared_ptr<bank::Account> a;
        if (sqlite3_step(balance_) == SQLITE_ROW)
            a = std::make_shared<bank::Account>(
                bank::Account{.id = sqlite3_column_int64(balance_, 0), .balance = sqlite3_column_int64(balance_, 1)});
        sqlite3_reset(balance_);
        if (!a) throw std::runtime_error("bench: no account");
        return a;
    }
    bool write(const bank::Account& a) {
        sqlite3_bind_int64(update_, 1, a.balance);
        sqlite3_bind_int64(update_, 2, a.id);
        return step(update_) == SQLITE_DONE;
    }
    bool log(std::int64_t from, std::int64_t to, std::int64_t amount) {
        sqlite3_bind_int64(log_, 1, from);
        sqlite3_bind_int64(log_, 2, to);
        sqlite3_bind_int64(log_, 3, amount);
        return step(log_) == SQLITE_DONE;
    }

    sqlite3* db_ = nullptr;
    sqlite3_stmt *begin_write_, *begin_read_, *commit_, *rollback_, *balance_, *update_, *log_, *all_;
};

/// State shared by the threads of one benchmark run, made by thread 0 before the loop (the
/// loop's start is a barrier for all threads).
struct shared_run {
    std::string path;
    std::unique_ptr<ls::engine> engine;
    std::atomic<bool> stop{false};
    std::thread writer;
    std::atomic<long> blocked{0};
};
std::mutex runs_mutex;
std::unique_ptr<shared_run> current;  // guarded by runs_mutex between runs; read-only inside one

/// Thread 0's set-up: a fresh database and an engine whose pool has room for every thread.
void start_run(const std::string& name) {
    std::lock_guard lock(runs_mutex);
    current = std::make_unique<shared_run>();
    current->path = fresh_bank(name);
    current->engine =
        std::make_unique<ls::engine>(ls::sqlite::engine(current->path, {.pool_size = 8, .max_overflow = 8}));
}

enum class impl { raw, loadstar };

void transfer(benchmark::State& state, impl which) {
    if (state.thread_index() == 0) start_run(which == impl::raw ? "raw" : "loadstar");
    std::unique_ptr<raw_bank> raw;
    std::mt19937 rng(static_cast<unsigned>(state.thread_index() + 1));
    std::uniform_int_distribution<std::int64_t> account(1, bank::accounts), amount(1, 50);
    for (auto _ : state) {
        std::int64_t a = account(rng), b = account(rng);
        if (a == b) b = a % bank::accounts + 1;
        if (which == impl::raw) {
            if (!raw) raw = std::make_unique<raw_bank>(current->path);
            raw->transfer(a, b, amount(rng));
        } else {
            bank::transfer(*current->engine, a, b, amount(rng));
        }
    }
    state.SetItemsProcessed(state.iterations());
    raw.reset();
    if (state.thread_index() == 0) {
        ls::session s{*current->engine};
        if (bank::sum(s) != bank::total) state.SkipWithError("the balances no longer sum to the total");
    }
}

void read_while_writing(benchmark::State& state, impl which) {
    if (state.thread_index() == 0) {
        start_run(which == impl::raw ? "raw-read" : "loadstar-read");
        current->writer = std::thread([run = current.get()] {
            raw_bank w(run->path);
            std::mt19937 rng(99);
            std::uniform_int_distribution<std::int64_t> account(1, bank::accounts);
            while (!run->stop.load(std::memory_order_relaxed)) {
                std::int64_t a = account(rng), b = account(rng);
                if (a == b) b = a % bank::accounts + 1;
                w.transfer(a, b, 1);
            }
        });
    }
    std::unique_ptr<raw_bank> raw;
    std::vector<std::shared_ptr<bank::Account>> objects;
    long bad = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        std::int64_t sum = 0;
        if (which == impl::raw) {
            if (!raw) raw = std::make_unique<raw_bank>(current->path);
            sum = raw->read_all(objects);
        } else {
            ls::session s{*current->engine, {.transaction = ls::transaction_mode::read_only}};
            auto all = s.query<bank::Account>().all();
            for (const auto& a : all) sum += a->balance;
            benchmark::DoNotOptimize(all.data());
        }
        if (sum != bank::total) ++bad;
        if (std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(50)) ++current->blocked;
    }
    state.SetItemsProcessed(state.iterations());
    raw.reset();
    if (bad) state.SkipWithError("a read saw an inconsistent sum");
    if (state.thread_index() == 0) {
        current->stop = true;
        current->writer.join();
        state.counters["readers_blocked"] = static_cast<double>(current->blocked.load());
    }
}

void transfer_raw(benchmark::State& s) { transfer(s, impl::raw); }
void transfer_loadstar(benchmark::State& s) { transfer(s, impl::loadstar); }
void read_raw(benchmark::State& s) { read_while_writing(s, impl::raw); }
void read_loadstar(benchmark::State& s) { read_while_writing(s, impl::loadstar); }

}  // namespace

BENCHMARK(transfer_raw)->Name("transfer/raw")->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(transfer_loadstar)->Name("transfer/loadstar")->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(read_raw)->Name("read_while_writing/raw")->Threads(1)->Threads(3)->UseRealTime();
BENCHMARK(read_loadstar)->Name("read_while_writing/loadstar")->Threads(1)->Threads(3)->UseRealTime();
