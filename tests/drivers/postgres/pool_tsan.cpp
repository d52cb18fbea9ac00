// tests/drivers/postgres/pool_tsan.cpp - the engine's pool under ThreadSanitizer on a real server:
// many threads check sessions out and in (reads, writes, commits, rollbacks) through a pool
// smaller than the thread count, while one backend after another is killed with
// pg_terminate_backend. Every failure must be a connection_error of the session that lost its
// backend; nothing committed may be lost; no dead connection may be handed out twice; the
// pool ends within its bounds. Its own binary (ctest postgres.pool_tsan, label postgres),
// built with -fsanitize=thread. Needs LOADSTAR_PG (skipped without it, failed under CI).
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/model.hpp"

#include <loadstar/postgres.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using model::Author;

namespace {

int fail(const std::string& what) {
    std::fprintf(stderr, "pool_tsan: FAILED: %s\n", what.c_str());
    return 1;
}

std::int64_t scalar(model::detail::admin_connection& a, const std::string& sql) {
    PGresult* r = PQexec(a.pg, sql.c_str());
    std::int64_t v = -1;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) v = std::stoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

}  // namespace

int main() {
    try {
        if (!model::require_postgres()) return 0;
        constexpr int threads = 12, iterations = 150;
        constexpr std::size_t pool_size = 3, max_overflow = 3;
        const std::string app = "ls_pool_tsan_" + std::to_string(::getpid());
        const std::string conninfo = model::fresh_pg_schema_conninfo() + " application_name=" + app;
        auto engine = ls::postgres::engine(conninfo, {.pool_size = pool_size, .max_overflow = max_overflow,
                                                      .timeout = 30s, .pre_ping = false});
        model::create_schema(engine);

        std::atomic<std::int64_t> committed{0}, lost{0}, rolled_back{0}, reads{0};
        std::atomic<int> done{0};
        std::mutex errors_mutex;
        std::vector<std::string> errors;
        auto record = [&](const std::string& e) {
            std::lock_guard lock(errors_mutex);
            if (errors.size() < 20) errors.push_back(e);
        };
        std::atomic<std::int64_t> next_id{1};

        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                for (int i = 0; i < iterations; ++i) {
                    const std::int64_t id = next_id.fetch_add(1);
                    bool wrote = false;
                    try {
                        ls::session s{engine};
                        if (i % 3 == 0) {
                            reads += static_cast<std::int64_t>(s.query<Author>().where(ls::col<&Author::id> < 50).all().size());
                        }
                        s.add(std::make_shared<Author>(Author{.id = id, .name = "t" + std::to_string(t) + "." + std::to_string(i)}));
                        if (i % 7 == 0) {
                            s.flush();
                            s.rollback();
                            ++rolled_back;
                        } else {
                            s.flush();
                            s.commit();
                            wrote = true;
                        }
                    } catch (const ls::connection_error&) {
                        ++lost;  // this session's backend was killed: expected, nothing written
                    } catch (const std::exception& e) {
                        record("thread " + std::to_string(t) + ": " + e.what());
                    }
                    if (wrote) ++committed;
                }
                ++done;
            });
        }

        // Kill one backend of the engine every few milliseconds while the workers run.
        model::detail::admin_connection admin(model::pg_conninfo());
        int kills = 0;
        while (done.load() < threads) {
            std::this_thread::sleep_for(15ms);
            kills += static_cast<int>(scalar(admin, "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM "
                                                    "pg_stat_activity WHERE application_name = '" + app +
                                                    "' ORDER BY random() LIMIT 1) k"));
        }
        for (auto& w : workers) w.join();

        int rc = 0;
        for (auto& e : errors) rc |= fail("unexpected error: " + e);
        if (engine.open_connections() > pool_size + max_overflow) rc |= fail("pool grew past its bounds");
        // Count on a fresh engine: the last backend killed may still sit idle in this pool,
        // its FATAL not yet received (without pre_ping the next session would find out).
        auto check = ls::postgres::engine(conninfo);
        ls::session s{check};
        const auto rows = s.query<Author>().count();
        // Every acknowledged commit is there. A COMMIT whose backend died before it answered
        // may or may not have happened (the client cannot know): at most `lost` more rows.
        if (rows < committed.load() || rows > committed.load() + lost.load())
            rc |= fail("rows " + std::to_string(rows) + " vs commits " + std::to_string(committed.load()));
        if (kills == 0) rc |= fail("no backend was killed");
        std::printf("pool_tsan: %d threads x %d sessions, %d backends killed, %lld connection_error, "
                    "%lld commits, %lld rollbacks, %lld rows read, %zu connections open at the end\n",
                    threads, iterations, kills, static_cast<long long>(lost.load()),
                    static_cast<long long>(committed.load()), static_cast<long long>(rolled_back.load()),
                    static_cast<long long>(reads.load()), engine.open_connections());
        return rc;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}
