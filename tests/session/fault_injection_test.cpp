// tests/session/fault_injection_test.cpp - fail statement k of a flush, for every k and three
// kinds of error: the database stays as before the flush, the objects keep their pending
// work, and the same session then commits it.
// SPDX-License-Identifier: MIT
#include "support/faulty_driver.hpp"
#include "support/uow_model.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>

using ls::col;

namespace {

std::string dump(ls::engine& e) {
    ls::session s{e};
    std::string out;
    for (auto& o : s.query<uow::Order>().order_by(col<&uow::Order::id>).untracked().all())
        out += "order " + std::to_string(o->id) + " " + o->code + " " + std::to_string(o->total) + " v" +
               std::to_string(o->version) + "\n";
    for (auto& l : s.query<uow::Line>().order_by(col<&uow::Line::id>).untracked().all())
        out += "line " + std::to_string(l->id) + " o" + std::to_string(l->order_id) + " " + l->sku + "\n";
    return out;
}

struct world {
    std::string path;
    std::shared_ptr<faults::control> ctl = std::make_shared<faults::control>();
    ls::engine engine;
    explicit world(const std::string& name)
        : path((std::filesystem::temp_directory_path() / ("loadstar_fault_" + name + ".db")).string()),
          engine(make(path, ctl)) {
        uow::create_schema(engine);
        ls::session s{engine};
        for (int i = 1; i <= 3; ++i) {
            auto o = std::make_shared<uow::Order>(uow::Order{.code = "O" + std::to_string(i), .total = i * 10});
            for (int j = 0; j < 2; ++j)
                o->lines.push_back(std::make_shared<uow::Line>(uow::Line{.sku = "s" + std::to_string(i) + std::to_string(j)}));
            s.add(o);
        }
        s.commit();
    }
    ~world() { std::remove(path.c_str()); }
    static ls::engine make(const std::string& path, std::shared_ptr<faults::control> c) {
        std::remove(path.c_str());
        return ls::engine(faults::driver(path, std::move(c)));
    }
};

/// The work of one flush: an insert with children, an update, an orphan, a cascaded delete.
struct work {
    ls::ptr<uow::Order> fresh, changed, trimmed, doomed;
    ls::ptr<uow::Line> orphan;
    void prepare(ls::session& s) {
        fresh = std::make_shared<uow::Order>(uow::Order{.code = "NEW", .total = 99});
        fresh->lines.push_back(std::make_shared<uow::Line>(uow::Line{.sku = "n0"}));
        fresh->lines.push_back(std::make_shared<uow::Line>(uow::Line{.sku = "n1"}));
        s.add(fresh);
        changed = s.get<uow::Order>(1);
        changed->total = 11;
        trimmed = s.get<uow::Order>(2);
        orphan = trimmed->lines[0];
        trimmed->lines.erase(trimmed->lines.begin());
        doomed = s.get<uow::Order>(3);
        (void)doomed->lines.size();
        s.remove(doomed);
    }
};

}  // namespace

TEST_CASE("fault injection: every statement of a flush, three kinds of error", "[session][uow][faults]") {
    // A clean run gives the number of statements in the flush and the state after commit.
    std::string expected_after;
    int statements = 0;
    {
        world w("reference");
        ls::session s{w.engine};
        work wk;
        wk.prepare(s);
        w.ctl->arm(1000000, faults::kind::generic);
        s.commit();
        statements = w.ctl->seen - 1;  // the COMMIT is not part of the flush
        w.ctl->disarm();
        expected_after = dump(w.engine);
    }
    REQUIRE(statements >= 8);  // SAVEPOINT, 3 INSERTs, UPDATE, 4 DELETEs, RELEASE

    for (auto what : {faults::kind::integrity, faults::kind::generic, faults::kind::connection_lost}) {
        for (int k = 1; k <= statements; ++k) {
            CAPTURE(static_cast<int>(what), k);
            world w("k" + std::to_string(k));
            const std::string before = dump(w.engine);
            ls::session s{w.engine};
            work wk;
            wk.prepare(s);
            w.ctl->arm(k, what);
            bool threw = false;
            try {
                s.flush();
            } catch (const ls::error&) {
                threw = true;
            }
            REQUIRE(threw);
            w.ctl->disarm();
            if (what != faults::kind::connection_lost) REQUIRE(s.query<uow::Order>().count() == 3);
            // Objects are as before the flush: keys not assigned, changes still pending.
            REQUIRE(wk.fresh->id == 0);
            REQUIRE(wk.fresh->lines[0]->order_id == 0);
            REQUIRE(wk.changed->total == 11);
            REQUIRE(wk.changed->version == 1);
            REQUIRE(s.state(wk.fresh) == ls::object_state::pending);
            REQUIRE(s.state(wk.doomed) == ls::object_state::deleted);
            REQUIRE(dump(w.engine) == before);
            // The same session commits the same work.
            s.commit();
            REQUIRE(dump(w.engine) == expected_after);
        }
    }
}
