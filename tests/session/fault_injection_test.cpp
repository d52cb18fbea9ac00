// tests/session/fault_injection_test.cpp - fail statement k of a flush, for every k and three
// kinds of error: the database stays as before the flush, the objects keep their pending
// work, and the same session then commits it.
// SPDX-License-Identifier: MIT
#include "support/alloc_faults.hpp"
#include "support/faulty_driver.hpp"
#include "support/uow_model.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include <unistd.h>

using ls::col;

namespace {

/// Every row of orders and lines, by id.
struct rows {
    std::vector<uow::Order> orders;
    std::vector<uow::Line> lines;
    std::string text() const {
        std::string out;
        for (auto& o : orders)
            out += "order " + std::to_string(o.id) + " " + o.code + " " + std::to_string(o.total) + " v" +
                   std::to_string(o.version) + "\n";
        for (auto& l : lines) out += "line " + std::to_string(l.id) + " o" + std::to_string(l.order_id) + " " + l.sku + "\n";
        return out;
    }
};
rows read(ls::engine& e) {
    ls::session s{e};
    rows r;
    for (auto& o : s.query<uow::Order>().order_by(col<&uow::Order::id>).untracked().all())
        r.orders.push_back(uow::Order{.id = o->id, .code = o->code, .total = o->total, .version = o->version});
    for (auto& l : s.query<uow::Line>().order_by(col<&uow::Line::id>).untracked().all())
        r.lines.push_back(uow::Line{.id = l->id, .order_id = l->order_id, .sku = l->sku});
    return r;
}
std::string dump(ls::engine& e) { return read(e).text(); }

/// `after` (the clean run's rows) with the keys generated for the new order and its lines moved
/// up by the values a failed flush consumed: a PostgreSQL sequence does not roll back, so each
/// INSERT that ran before the fault used one; SQLite reuses max(rowid) + 1 (no gap).
rows shifted(rows after, std::int64_t order_gap, std::int64_t line_gap) {
    std::int64_t new_order = 0;
    for (auto& o : after.orders)
        if (o.code == "NEW") new_order = o.id, o.id += order_gap;
    for (auto& l : after.lines)
        if (l.order_id == new_order) l.id += line_gap, l.order_id += order_gap;
    return after;
}
std::int64_t executed(const std::vector<std::string>& sqls, std::size_t n, const std::string& prefix) {
    return std::count_if(sqls.begin(), sqls.begin() + static_cast<std::ptrdiff_t>(std::min(n, sqls.size())),
                         [&](const std::string& sql) { return sql.rfind(prefix, 0) == 0; });
}

struct world {
    std::string path;
    std::shared_ptr<faults::control> ctl = std::make_shared<faults::control>();
    ls::engine engine;
    explicit world(const std::string& name)
        : path((std::filesystem::temp_directory_path() /
                ("loadstar_fault_" + name + "_" + std::to_string(::getpid()) + ".db"))
                   .string()),
          engine(faults::engine(path, ctl)) {
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
    ~world() {
        if (!model::on_postgres()) std::remove(path.c_str());
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
    rows expected_after;
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
        expected_after = read(w.engine);
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
            // The same session commits the same work (on PostgreSQL, with the generated keys
            // past those the failed flush's INSERTs took: statements 1 .. k-1 ran).
            const bool pg = model::is_postgres(w.engine);
            const auto ran = static_cast<std::size_t>(k - 1);
            const std::int64_t order_gap = pg ? executed(w.ctl->sqls, ran, "INSERT INTO orders ") : 0;
            const std::int64_t line_gap = pg ? executed(w.ctl->sqls, ran, "INSERT INTO lines ") : 0;
            s.commit();
            REQUIRE(dump(w.engine) == shifted(expected_after, order_gap, line_gap).text());
        }
    }
}

namespace {
/// The rows of orders and lines by content, without generated keys (a flush undone and done
/// again takes other keys on PostgreSQL).
std::string content(ls::engine& e) {
    auto r = read(e);
    std::string out;
    for (auto& o : r.orders) {
        out += "order " + o.code + " " + std::to_string(o.total) + " v" + std::to_string(o.version) + ":";
        std::vector<std::string> skus;
        for (auto& l : r.lines)
            if (l.order_id == o.id) skus.push_back(l.sku);
        std::sort(skus.begin(), skus.end());
        for (auto& k : skus) out += " " + k;
        out += "\n";
    }
    return out;
}
}  // namespace

TEST_CASE("fault injection: every allocation of a flush fails in turn, the steps after the writes included",
          "[session][uow][faults]") {
    if (!alloc_faults::available()) return;  // AddressSanitizer build: no injection
    // The reference: the same work, committed without a fault.
    std::string before, expected;
    {
        world w("alloc_reference");
        before = content(w.engine);
        ls::session s{w.engine};
        work wk;
        wk.prepare(s);
        s.commit();
        expected = content(w.engine);
    }
    // Fail the k-th allocation of the flush after its SAVEPOINT (armed from inside the listener
    // that hears it), for every k until the flush outlives the countdown. Whatever fails, the
    // flush is either undone (nothing written, the work still pending) or complete, the session
    // is never left inside its flush, and a commit then writes the work exactly once.
    int fired = 0;
    for (long k = 1;; ++k) {
        CAPTURE(k);
        world w("alloc" + std::to_string(k));
        ls::session s{w.engine};
        work wk;
        wk.prepare(s);
        bool armed = false;
        const auto id = w.engine.on_statement([&](const ls::statement_event& ev) {
            if (!armed && ev.sql.rfind("SAVEPOINT ", 0) == 0) {
                armed = true;
                alloc_faults::fail_nth(k);
            }
        });
        bool threw = false;
        try {
            s.flush();
        } catch (const std::bad_alloc&) {
            threw = true;
        }
        const bool hit = alloc_faults::fired();
        alloc_faults::fail_nth(0);
        w.engine.remove_listener(id);
        REQUIRE(armed);
        if (!hit) break;  // the flush needed fewer than k allocations
        ++fired;
        if (threw) {
            REQUIRE(content(w.engine) == before);
            REQUIRE(s.state(wk.fresh) == ls::object_state::pending);
            REQUIRE(wk.fresh->id == 0);
            REQUIRE(s.state(wk.doomed) == ls::object_state::deleted);
        }
        REQUIRE_NOTHROW(s.commit());
        REQUIRE(content(w.engine) == expected);
        REQUIRE(s.state(wk.fresh) == ls::object_state::persistent);
        REQUIRE(s.state(wk.doomed) == ls::object_state::detached);
    }
    CHECK(fired >= 20);
}

TEST_CASE("fault injection: a lost connection undoes the earlier flushes of its transaction", "[session][uow][faults]") {
    world w("lost_tx");
    const std::string before = content(w.engine);
    ls::session s{w.engine};
    // Three flushes of one transaction: an insert, an update, a delete.
    auto a = std::make_shared<uow::Order>(uow::Order{.code = "A", .total = 5});
    a->lines.push_back(std::make_shared<uow::Line>(uow::Line{.sku = "a0"}));
    s.add(a);
    s.flush();
    REQUIRE(a->id != 0);
    REQUIRE(s.state(a) == ls::object_state::persistent);
    auto o1 = s.get<uow::Order>(1);
    o1->total = 12;
    s.flush();
    auto o3 = s.get<uow::Order>(3);
    (void)o3->lines.size();
    s.remove(o3);
    s.flush();
    REQUIRE(s.state(o3) == ls::object_state::detached);
    // The connection dies at the next statement: the fourth flush's SAVEPOINT.
    auto b = std::make_shared<uow::Order>(uow::Order{.code = "B", .total = 6});
    s.add(b);
    w.ctl->arm(1, faults::kind::connection_lost);
    REQUIRE_THROWS_AS(s.flush(), ls::connection_error);
    w.ctl->disarm();
    // The transaction is gone, and with it what the three flushes wrote: in memory too.
    CHECK(content(w.engine) == before);
    CHECK(s.state(a) == ls::object_state::transient);
    CHECK(a->id == 0);
    CHECK(s.state(a->lines[0]) == ls::object_state::transient);
    CHECK(s.state(o3) == ls::object_state::persistent);  // back, as after a rollback
    CHECK(s.state(b) == ls::object_state::pending);       // the failed flush's own work is kept
    // A commit does not pretend the lost work was written: the session wants rollback().
    CHECK_THROWS_AS(s.commit(), ls::connection_error);
    CHECK_THROWS_AS(s.query<uow::Order>().count(), ls::connection_error);
    CHECK(content(w.engine) == before);
    s.rollback();
    CHECK(o1->total == 10);  // re-read from the database
    CHECK(s.state(b) == ls::object_state::transient);
    CHECK(s.query<uow::Order>().count() == 3);
    // The session is usable again; the same objects can be added and committed.
    s.add(a);
    s.add(b);
    s.commit();
    CHECK(a->id != 0);
    CHECK(s.state(a->lines[0]) == ls::object_state::persistent);
    ls::session check{w.engine};
    CHECK(check.query<uow::Order>().count() == 5);
    CHECK(check.query<uow::Line>().where(col<&uow::Line::order_id> == a->id).count() == 1);
}

TEST_CASE("fault injection: a lost connection without earlier writes lets the next commit run", "[session][uow][faults]") {
    world w("lost_read");
    ls::session s{w.engine};
    CHECK(s.query<uow::Order>().count() == 3);  // the transaction only read
    auto b = std::make_shared<uow::Order>(uow::Order{.code = "B", .total = 6});
    s.add(b);
    w.ctl->arm(1, faults::kind::connection_lost);
    REQUIRE_THROWS_AS(s.flush(), ls::connection_error);
    w.ctl->disarm();
    CHECK(s.state(b) == ls::object_state::pending);
    s.commit();  // nothing was lost: the work goes through on a new connection
    CHECK(s.state(b) == ls::object_state::persistent);
    ls::session check{w.engine};
    CHECK(check.query<uow::Order>().count() == 4);
}
