// tests/session/run_transaction_test.cpp - run_transaction re-runs a unit of work in a fresh
// session on serialization failures (40001 / 40P01) and on a connection lost before COMMIT, and
// on nothing else; after a lost connection the pool pings its idle connections once.
// SPDX-License-Identifier: MIT
#include "support/faulty_driver.hpp"
#include "support/uow_model.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

namespace {
struct world {
    std::string path = (std::filesystem::temp_directory_path() /
                        ("loadstar_run_transaction_" + std::to_string(::getpid()) + ".db"))
                           .string();
    std::shared_ptr<faults::control> ctl = std::make_shared<faults::control>();
    ls::engine engine = faults::engine(path, ctl);
    world() { uow::create_schema(engine); }
    ~world() {
        if (!model::on_postgres()) std::remove(path.c_str());
    }
};

/// Leaves `n` connections idle in the pool: n sessions that each read, closed together.
void warm_pool(ls::engine& e, int n) {
    std::vector<ls::session> held;
    for (int i = 0; i < n; ++i) {
        held.emplace_back(e);
        (void)held.back().query<uow::Order>().count();
    }
}

std::shared_ptr<uow::Order> order(const char* code) {
    return std::make_shared<uow::Order>(uow::Order{.code = code, .total = 5});
}
}  // namespace

TEST_CASE("run_transaction retries serialization failures in a fresh session", "[session][run_transaction]") {
    world w;
    int calls = 0;
    // The first attempt fails at its INSERT (statement 2, after SAVEPOINT); the second succeeds.
    w.ctl->arm(2, faults::kind::serialization);
    const auto id = ls::run_transaction(w.engine, [&](ls::session& tx) {
        ++calls;
        auto o = std::make_shared<uow::Order>(uow::Order{.code = "R", .total = 5});
        tx.add(o);
        tx.flush();
        return o->id;
    });
    REQUIRE(calls == 2);
    REQUIRE(id != 0);
    ls::session s{w.engine};
    REQUIRE(s.query<uow::Order>().count() == 1);
}

TEST_CASE("run_transaction gives up after `retries` and rethrows, and other errors are not retried", "[session][run_transaction]") {
    world w;
    int calls = 0;
    auto failing = [&](ls::session& tx) {
        ++calls;
        w.ctl->arm(1, faults::kind::serialization);  // every attempt fails
        tx.add(std::make_shared<uow::Order>(uow::Order{.code = "X"}));
    };
    REQUIRE_THROWS_AS(ls::run_transaction(w.engine, failing, 3), ls::serialization_error);
    REQUIRE(calls == 4);  // the first run and three retries
    w.ctl->disarm();
    calls = 0;
    REQUIRE_THROWS_AS(ls::run_transaction(w.engine, [&](ls::session& tx) {
        ++calls;
        w.ctl->arm(2, faults::kind::integrity);
        tx.add(std::make_shared<uow::Order>(uow::Order{.code = "Y"}));
    }), ls::integrity_error);
    REQUIRE(calls == 1);
    w.ctl->disarm();
    ls::session s{w.engine};
    REQUIRE(s.query<uow::Order>().count() == 0);
}

TEST_CASE("run_transaction retries a connection lost before COMMIT: idle pooled connections of a restarted server",
          "[session][run_transaction][connection]") {
    world w;
    warm_pool(w.engine, 3);
    REQUIRE(w.engine.open_connections() == 3);
    w.ctl->kill_all();  // every idle connection is dead, and nothing has noticed yet
    int calls = 0;
    const auto id = ls::run_transaction(w.engine, [&](ls::session& tx) {
        ++calls;
        auto o = order("R");
        tx.add(o);
        tx.flush();
        return o->id;
    });
    // The first attempt took a dead idle connection (nothing had been lost yet, so nothing was
    // pinged) and failed at BEGIN. That loss made the two other idle connections suspect: the
    // retry pinged both, closed both, and opened a new one.
    CHECK(calls == 2);
    CHECK(w.ctl->pings == 2);
    CHECK(w.engine.open_connections() == 1);
    ls::session s{w.engine};
    const auto rows = s.query<uow::Order>().all();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0]->id == id);
    CHECK(rows[0]->code == "R");
    CHECK(w.ctl->pings == 2);  // opened after the loss: not suspect
}

TEST_CASE("after one lost connection the pool pings each idle connection once and keeps those that answer",
          "[session][run_transaction][connection]") {
    world w;
    warm_pool(w.engine, 3);
    {
        ls::session s{w.engine};
        (void)s.query<uow::Order>().count();  // holds one connection; two stay idle
        w.ctl->arm(1, faults::kind::connection_lost);
        CHECK_THROWS_AS(s.query<uow::Order>().count(), ls::connection_error);
    }
    CHECK(w.engine.open_connections() == 2);
    CHECK(w.ctl->pings == 0);
    warm_pool(w.engine, 2);  // both idle ones are handed out: each pinged, both answer
    CHECK(w.ctl->pings == 2);
    CHECK(w.engine.open_connections() == 2);
    warm_pool(w.engine, 2);
    CHECK(w.ctl->pings == 2);  // known good since the loss: not pinged again
}

TEST_CASE("run_transaction retries a connection lost inside the transaction, and the work is applied once",
          "[session][run_transaction][connection]") {
    world w;
    int calls = 0;
    ls::run_transaction(w.engine, [&](ls::session& tx) {
        ++calls;
        if (calls == 1) w.ctl->arm_on("INSERT", faults::kind::connection_lost);
        tx.add(order("once"));
        tx.flush();
        tx.add(order("twice"));
    });
    CHECK(calls == 2);
    REQUIRE(!w.ctl->sqls.empty());
    CHECK(w.ctl->sqls.back().rfind("INSERT", 0) == 0);
    ls::session s{w.engine};
    const auto rows = s.query<uow::Order>().order_by(ls::col<&uow::Order::code>).all();
    REQUIRE(rows.size() == 2);
    CHECK(rows[0]->code == "once");
    CHECK(rows[1]->code == "twice");
}

TEST_CASE("a connection lost during COMMIT is commit_unknown_error and is not retried",
          "[session][run_transaction][connection]") {
    world w;
    int calls = 0;
    w.ctl->arm_on("COMMIT", faults::kind::connection_lost);
    try {
        ls::run_transaction(w.engine, [&](ls::session& tx) {
            ++calls;
            tx.add(order("C"));
        });
        FAIL("no error");
    } catch (const ls::commit_unknown_error& e) {
        CHECK(e.sqlstate() == "40003");
        CHECK(std::string(e.what()).find("may or may not have been committed") != std::string::npos);
    }
    CHECK(calls == 1);
    CHECK(w.ctl->sqls.back() == "COMMIT");
    {
        ls::session s{w.engine};  // the injected loss rolled back before it threw
        CHECK(s.query<uow::Order>().count() == 0);
    }

    // A session that commits by hand gets the same error, which is a connection_error, and
    // recovers with rollback().
    {
        ls::session s{w.engine};
        auto o = order("D");
        s.add(o);
        s.flush();
        w.ctl->arm_on("COMMIT", faults::kind::connection_lost);
        CHECK_THROWS_AS(s.commit(), ls::commit_unknown_error);
        CHECK_THROWS_AS(s.query<uow::Order>().count(), ls::connection_error);  // until rollback()
        s.rollback();
        CHECK(s.query<uow::Order>().count() == 0);
    }

    // A transaction that wrote nothing lost nothing: its lost COMMIT is retried.
    calls = 0;
    w.ctl->arm_on("COMMIT", faults::kind::connection_lost);
    const auto n = ls::run_transaction(w.engine, [&](ls::session& tx) {
        ++calls;
        return tx.query<uow::Order>().count();
    });
    CHECK(calls == 2);
    CHECK(n == 0);
}

TEST_CASE("run_transaction does not retry a database that cannot be reached", "[session][run_transaction][connection]") {
    world w;
    warm_pool(w.engine, 1);
    REQUIRE(w.engine.open_connections() == 1);
    w.ctl->kill_all();
    w.ctl->refuse = true;  // the server went down: its connection is dead, a new one is refused
    const int connects = w.ctl->connects;
    int calls = 0;
    CHECK_THROWS_WITH(ls::run_transaction(w.engine, [&](ls::session& tx) {
        ++calls;
        (void)tx.query<uow::Order>().count();
    }), Catch::Contains("connection refused"));
    // The first attempt lost the pooled connection (retried); the second could not connect.
    CHECK(calls == 2);
    CHECK(w.ctl->connects - connects == 1);
    w.ctl->refuse = false;
    CHECK(ls::run_transaction(w.engine, [](ls::session& tx) { return tx.query<uow::Order>().count(); }) == 0);
}
