// tests/session/run_transaction_test.cpp - run_transaction re-runs a unit of work in a fresh
// session on serialization failures (40001 / 40P01), and only on those.
// SPDX-License-Identifier: MIT
#include "support/faulty_driver.hpp"
#include "support/uow_model.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>

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
