// tests/engine/concurrency_test.cpp - the engine's shared state under concurrent use: statement
// listeners that add or remove listeners (themselves included) from inside their call, a
// removal that waits for the listener's calls on other threads, and the pool's checks
// (pre_ping) and closes done outside its mutex. The ThreadSanitizer stress test of the whole
// write path is tests/engine/tsan/ (its own binary).
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/fake_driver.hpp"
#include "support/model.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using model::Author;

namespace concurrency_test {

TEST_CASE("engine: a statement listener may remove itself and others from inside its call", "[engine][events]") {
    auto e = model::test_engine();
    model::create_schema(e);
    std::vector<std::string> once_heard, other_heard, added_heard;
    ls::listener_id once = 0, other = 0, added = 0;
    // Runs first (lower id): removes itself and the next listener, and adds a third one.
    once = e.on_statement([&](const ls::statement_event& ev) {
        once_heard.emplace_back(ev.sql);
        e.remove_listener(once);
        e.remove_listener(other);
        added = e.on_statement([&](const ls::statement_event& ev2) { added_heard.emplace_back(ev2.sql); });
    });
    other = e.on_statement([&](const ls::statement_event& ev) { other_heard.emplace_back(ev.sql); });
    {
        ls::session s{e};
        CHECK(s.query<Author>().count() == 0);  // BEGIN, SELECT count(*)
        CHECK(s.query<Author>().count() == 0);
    }
    // The first event reached `once` only; `other` was removed before its turn came.
    CHECK(once_heard == std::vector<std::string>{"BEGIN"});
    CHECK(other_heard.empty());
    // The listener added from inside a call hears the statements after that event, not it.
    CHECK(added_heard == std::vector<std::string>{"SELECT count(*) FROM authors", "SELECT count(*) FROM authors",
                                                  "ROLLBACK"});
    e.remove_listener(added);
    e.remove_listener(added);  // unknown ids are ignored
    ls::session s{e};
    CHECK(s.query<Author>().count() == 0);
    CHECK(added_heard.size() == 3);
}

TEST_CASE("engine: statement_counter can be destroyed by its own event", "[engine][events][counter]") {
    auto e = model::test_engine();
    model::create_schema(e);
    auto counter = std::make_unique<ls::statement_counter>(e);
    // A listener added after the counter drops it on the first counted statement.
    const auto id = e.on_statement([&](const ls::statement_event& ev) {
        if (ev.counted && counter) counter.reset();
    });
    ls::session s{e};
    CHECK(s.query<Author>().count() == 0);
    CHECK(counter == nullptr);
    CHECK(s.query<Author>().count() == 0);
    e.remove_listener(id);
}

TEST_CASE("engine: remove_listener waits for the listener's calls on other threads", "[engine][events][nodb]") {
    fake::driver drv;
    ls::engine e{drv};
    std::mutex m;
    std::condition_variable cv;
    bool entered = false, release = false;
    std::atomic<int> calls{0}, finished{0};
    const auto id = e.on_statement([&](const ls::statement_event&) {
        ++calls;
        {
            std::unique_lock lock(m);
            entered = true;
            cv.notify_all();
            cv.wait(lock, [&] { return release; });
        }
        std::this_thread::sleep_for(20ms);
        ++finished;
    });
    std::thread worker([&] {
        ls::session s{e};
        (void)s.query<Author>().count();
    });
    {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return entered; });
    }
    // The worker is inside the listener: removing it waits until that call returns.
    auto removal = std::async(std::launch::async, [&] { e.remove_listener(id); });
    CHECK(removal.wait_for(50ms) == std::future_status::timeout);
    {
        std::lock_guard lock(m);
        release = true;
        cv.notify_all();
    }
    removal.get();
    CHECK(finished.load() == calls.load());  // nothing still running once removal returned
    const int after = calls.load();
    worker.join();
    CHECK(calls.load() == after);  // and nothing called after it
}

namespace {
/// A connection whose ping() is slow, and tells when it starts.
struct slow_ping_state {
    std::mutex m;
    std::condition_variable cv;
    int pinging = 0;
    bool release = false;
    int connects = 0;
};
class slow_ping_connection final : public loadstar::connection {
public:
    explicit slow_ping_connection(std::shared_ptr<slow_ping_state> st) : st_(std::move(st)) {}
    std::unique_ptr<loadstar::statement> prepare(std::string_view) override {
        throw loadstar::error("slow_ping: no statements");
    }
    void execute(std::string_view) override {}
    bool alive() override { return true; }
    bool ping() override {
        std::unique_lock lock(st_->m);
        ++st_->pinging;
        st_->cv.notify_all();
        st_->cv.wait_for(lock, 5s, [&] { return st_->release; });
        return true;
    }

private:
    std::shared_ptr<slow_ping_state> st_;
};
struct slow_ping_driver {
    std::shared_ptr<slow_ping_state> st = std::make_shared<slow_ping_state>();
    loadstar::dialect d{};
    std::unique_ptr<loadstar::connection> connect() {
        std::lock_guard lock(st->m);
        ++st->connects;
        return std::make_unique<slow_ping_connection>(st);
    }
    const loadstar::dialect& sql_dialect() const { return d; }
};
}  // namespace

TEST_CASE("engine: the pool pings a connection outside its mutex", "[engine][pool][nodb]") {
    slow_ping_driver drv;
    auto st = drv.st;
    ls::engine e{drv, {.pool_size = 2, .max_overflow = 0, .timeout = 10s, .pre_ping = true}};
    auto& state = *e.state();
    {
        // Two connections, back in the pool idle.
        auto a = state.checkout();
        auto b = state.checkout();
        state.checkin(std::move(a), false);
        state.checkin(std::move(b), false);
    }
    REQUIRE(e.open_connections() == 2);
    // Thread 1 checks one out and blocks in its ping.
    auto first = std::async(std::launch::async, [&] { return state.checkout(); });
    {
        std::unique_lock lock(st->m);
        REQUIRE(st->cv.wait_for(lock, 5s, [&] { return st->pinging == 1; }));
    }
    // Meanwhile the pool answers: its count, and another checkout reaching the other
    // connection's ping (under the old code both waited for the first ping to end).
    auto count = std::async(std::launch::async, [&] { return e.open_connections(); });
    CHECK(count.wait_for(2s) == std::future_status::ready);
    auto second = std::async(std::launch::async, [&] { return state.checkout(); });
    {
        std::unique_lock lock(st->m);
        CHECK(st->cv.wait_for(lock, 2s, [&] { return st->pinging == 2; }));
        st->release = true;
        st->cv.notify_all();
    }
    auto c1 = first.get();
    auto c2 = second.get();
    CHECK(c1 != nullptr);
    CHECK(c2 != nullptr);
    CHECK(c1.get() != c2.get());
    CHECK(count.get() == 2);
    CHECK(st->connects == 2);  // both came from the pool, none opened in their place
    state.checkin(std::move(c1), true);
    state.checkin(std::move(c2), false);
    CHECK(e.open_connections() == 1);
}

}  // namespace concurrency_test
