// tests/drivers/sqlite/concurrency_stress.cpp - P processes x T threads against one SQLite file
// through loadstar's defaults (WAL, IMMEDIATE write transactions, the busy handler), for a fixed
// number of transactions each:
// - transfers in run_transaction (read two accounts, move money, log a row), which must never
//   let a busy_error escape;
// - read-only sessions that read every balance twice in one transaction, with a write of
//   another worker in between, and must see the same sum both times (a consistent snapshot);
// - plain sessions that read, then write (a deferred transaction upgraded in place), retrying
//   by hand when SQLite refuses the upgrade with busy_error.
// At the end the sum of the balances is what it was (no lost or half-applied transfer) and the
// transfer log has exactly one row per transfer the workers saw committed (no lost write).
//   loadstar_sqlite_concurrency [processes] [threads] [transactions per thread] [file]
// Exit status 0 when every check holds; the last line says "N passed, 0 failed".
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include "support/bank_model.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ls = loadstar;

namespace {

struct tally {
    std::atomic<long> transfers{0};      // committed by run_transaction
    std::atomic<long> deposits{0};       // committed by plain sessions (a +x/-x pair, logged)
    std::atomic<long> retries{0};        // extra attempts run_transaction made
    std::atomic<long> upgrades_refused{0};
    std::atomic<long> reads{0};
    std::atomic<long> failures{0};
};

void fail(tally& t, const std::string& what) {
    std::fprintf(stderr, "concurrency: %s\n", what.c_str());
    ++t.failures;
}

void worker(const ls::engine& e, unsigned seed, int transactions, tally& t) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::int64_t> account(1, bank::accounts), amount(1, 50);
    std::uniform_int_distribution<int> kind(0, 99);
    for (int i = 0; i < transactions; ++i) {
        const int k = kind(rng);
        try {
            std::int64_t a = account(rng), b = account(rng);
            if (a == b) b = a % bank::accounts + 1;
            if (k < 55) {
                t.retries += bank::transfer(e, a, b, amount(rng)) - 1;
                ++t.transfers;
            } else if (k < 85) {
                ls::session s{e, {.transaction = ls::transaction_mode::read_only}};
                const std::int64_t first = bank::sum(s);
                const std::int64_t logged = s.query<bank::Transfer>().count();
                std::this_thread::yield();  // let the writers in between the two reads
                const std::int64_t second = bank::sum(s);
                if (first != bank::total || second != bank::total)
                    fail(t, "a read saw the sum " + std::to_string(first) + " then " + std::to_string(second));
                if (s.query<bank::Transfer>().count() != logged) fail(t, "a read saw the log grow in its snapshot");
                ++t.reads;
            } else {
                // Read, then write in a plain (automatic) session: the upgrade can be refused.
                const std::int64_t x = amount(rng);
                for (int attempt = 0;; ++attempt) {
                    ls::session s{e};
                    auto from = s.get<bank::Account>(a);
                    auto to = s.get<bank::Account>(b);
                    from->balance -= x;
                    to->balance += x;
                    s.add(std::make_shared<bank::Transfer>(bank::Transfer{.from_id = a, .to_id = b, .amount = x}));
                    try {
                        s.commit();
                        ++t.deposits;
                        break;
                    } catch (const ls::busy_error&) {
                        // Refused at the upgrade: someone wrote since this session read.
                        // Back off a little (randomly, longer each time) and run it again.
                        ++t.upgrades_refused;
                        if (attempt > 2000) throw;
                        std::uniform_int_distribution<int> pause(0, 100 * std::min(attempt + 1, 50));
                        std::this_thread::sleep_for(std::chrono::microseconds(pause(rng)));
                    }
                }
            }
        } catch (const std::exception& ex) {
            fail(t, std::string("an error escaped from a ") +
                        (k < 55 ? "transfer" : k < 85 ? "snapshot read" : "read-then-write session") + ": " + ex.what());
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const int processes = argc > 1 ? std::atoi(argv[1]) : 4;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 4;
    const int transactions = argc > 3 ? std::atoi(argv[3]) : 150;
    const std::string path = argc > 4 ? argv[4]
                                      : (std::filesystem::temp_directory_path() /
                                         ("loadstar-concurrency-" + std::to_string(::getpid()) + ".db"))
                                            .string();
    auto remove_db = [&] {
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix, ec);
    };
    remove_db();
    {
        auto e = ls::sqlite::engine(path);
        bank::open_accounts(e);
    }
    std::fflush(nullptr);

    // Each process reports its committed transfers through a pipe.
    std::vector<std::pair<pid_t, int>> children;
    for (int p = 0; p < processes; ++p) {
        int fds[2];
        if (::pipe(fds) != 0) return 2;
        const pid_t pid = ::fork();
        if (pid < 0) return 2;
        if (pid == 0) {
            ::close(fds[0]);
            tally t;
            {
                // One engine (one pool) per process, shared by its threads, as an application has.
                auto e = ls::sqlite::engine(path);
                std::vector<std::thread> pool;
                for (int i = 0; i < threads; ++i)
                    pool.emplace_back(worker, std::cref(e), static_cast<unsigned>(p * 1000 + i + 1), transactions,
                                      std::ref(t));
                for (auto& th : pool) th.join();
            }
            const long out[6] = {t.transfers, t.deposits, t.retries, t.upgrades_refused, t.reads, t.failures};
            const bool written = ::write(fds[1], out, sizeof out) == static_cast<ssize_t>(sizeof out);
            ::close(fds[1]);
            std::fflush(nullptr);
            ::_exit(written && t.failures == 0 ? 0 : 1);
        }
        ::close(fds[1]);
        children.emplace_back(pid, fds[0]);
    }

    long sums[6] = {};
    int passed = 0, failed = 0;
    auto check = [&](bool ok, const std::string& what) {
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
        (ok ? passed : failed)++;
    };
    for (auto [pid, fd] : children) {
        long got[6] = {};
        const bool read_all = ::read(fd, got, sizeof got) == static_cast<ssize_t>(sizeof got);
        ::close(fd);
        int status = 0;
        ::waitpid(pid, &status, 0);
        check(read_all && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "process " + std::to_string(pid) + " finished without a failure");
        for (int i = 0; i < 6; ++i) sums[i] += got[i];
    }

    auto e = ls::sqlite::engine(path);
    ls::session s{e};
    const std::int64_t logged = s.query<bank::Transfer>().count();
    check(bank::sum(s) == bank::total, "the balances still sum to " + std::to_string(bank::total));
    check(logged == sums[0] + sums[1], "one transfer row per committed transfer: " + std::to_string(logged) +
                                           " rows, " + std::to_string(sums[0] + sums[1]) + " committed");
    check(sums[5] == 0, "no worker saw an inconsistent read or an escaped error");
    std::printf("%d processes x %d threads x %d transactions: %ld transfers (%ld run_transaction retries), "
                "%ld read-then-write sessions (%ld upgrades refused and retried), %ld snapshot reads\n",
                processes, threads, transactions, sums[0], sums[2], sums[1], sums[3], sums[4]);
    s.close();
    remove_db();
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
