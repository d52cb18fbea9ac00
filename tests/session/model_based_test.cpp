// tests/session/model_based_test.cpp - seeded random sequences of unit-of-work operations
// against a simple reference model; the database and the session must match the model after
// every step. LOADSTAR_MODEL_SEEDS=n changes the number of seeds (default 2000 on SQLite, 200 on
// PostgreSQL, where each seed's fresh schema and round trips make a seed ~20 times slower);
// LOADSTAR_MODEL_SEED=s replays one seed, printing each operation.
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/uow_model.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

using ls::col;

namespace {

struct m_order {
    std::int64_t total = 0;
    std::set<std::string> skus;
    bool operator==(const m_order&) const = default;
};
using state = std::map<std::string, m_order>;  // by order code; line skus are unique

std::string show(const state& st) {
    std::ostringstream o;
    for (auto& [code, ord] : st) {
        o << code << "=" << ord.total << "{";
        for (auto& s : ord.skus) o << s << " ";
        o << "} ";
    }
    return o.str();
}

state read_db(ls::session& s) {
    state st;
    std::map<std::int64_t, std::string> codes;
    for (auto& o : s.query<uow::Order>().untracked().all()) {
        st[o->code].total = o->total;
        codes[o->id] = o->code;
    }
    for (auto& l : s.query<uow::Line>().untracked().all()) st[codes.at(l->order_id)].skus.insert(l->sku);
    return st;
}

struct run {
    std::mt19937 rng;
    bool verbose;
    ls::engine engine = model::test_engine();
    std::optional<ls::session> s;
    std::vector<ls::ptr<uow::Order>> live;
    state view, db, committed;
    struct sp_frame {
        ls::savepoint sp;
        state db;
    };
    std::vector<sp_frame> sps;
    int counter = 0;
    std::string log;

    run(unsigned seed, bool v) : rng(seed), verbose(v) {
        if (v && std::getenv("LOADSTAR_MODEL_ECHO")) engine.echo(true);
        uow::create_schema(engine);
        s.emplace(engine);
    }
    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
    void note(const std::string& op) {
        log += op + "; ";
        if (verbose) std::cerr << op << "\n";
    }
    ls::ptr<uow::Order> any_live() { return live.empty() ? nullptr : live[static_cast<std::size_t>(pick(static_cast<int>(live.size())))]; }
    void keep_live_in(const state& st) {
        std::erase_if(live, [&](const ls::ptr<uow::Order>& o) { return !st.count(o->code); });
    }

    void step() {
        const int op = pick(100);
        if (op < 15) {
            auto o = std::make_shared<uow::Order>(uow::Order{.code = "o" + std::to_string(++counter), .total = pick(100)});
            note("add " + o->code);
            s->add(o);
            live.push_back(o);
            view[o->code] = {o->total, {}};
        } else if (op < 35) {
            auto o = any_live();
            if (!o) return;
            auto l = std::make_shared<uow::Line>(uow::Line{.sku = "s" + std::to_string(++counter)});
            note("line " + l->sku + " -> " + o->code);
            o->lines.push_back(l);
            view[o->code].skus.insert(l->sku);
        } else if (op < 50) {
            auto o = any_live();
            if (!o) return;
            o->total = pick(1000);
            note("total " + o->code + " = " + std::to_string(o->total));
            view[o->code].total = o->total;
        } else if (op < 58) {
            auto o = any_live();
            if (!o || o->lines.empty()) return;
            note("erase " + o->lines[0]->sku + " from " + o->code);
            view[o->code].skus.erase(o->lines[0]->sku);
            o->lines.erase(o->lines.begin());
        } else if (op < 63) {
            auto o = any_live();
            if (!o) return;
            note("remove " + o->code);
            s->remove(o);
            view.erase(o->code);
            std::erase(live, o);
        } else if (op < 73) {
            note("flush");
            s->flush();
            db = view;
        } else if (op < 80) {
            if (!sps.empty()) return;  // commit ends the transaction: only outside savepoints
            note("commit");
            s->commit();
            db = committed = view;
            check_committed();
        } else if (op < 85) {
            if (!sps.empty()) return;
            note("rollback");
            s->rollback();
            view = db = committed;
            keep_live_in(view);
            check_committed();
        } else if (op < 90) {
            note("begin_nested");
            auto sp = s->begin_nested();
            db = view;
            sps.push_back({std::move(sp), db});
        } else if (op < 94) {
            if (sps.empty()) return;
            note("savepoint rollback");
            sps.back().sp.rollback();
            view = db = sps.back().db;
            sps.pop_back();
            keep_live_in(view);
        } else if (op < 97) {
            if (sps.empty()) return;
            note("savepoint commit");
            sps.back().sp.commit();
            db = view;
            sps.pop_back();
        } else {
            if (!sps.empty()) return;
            note("expunge_all");
            s->expunge_all();
            view = db;
            live = s->query<uow::Order>().all();
        }
    }

    void check_committed() {
        ls::session other{engine};
        const state got = read_db(other);
        INFO("ops: " << log);
        REQUIRE(show(got) == show(committed));
    }

    void check() {
        INFO("ops: " << log);
        const state got = read_db(*s);
        REQUIRE(show(got) == show(db));
        for (auto& o : live) {
            REQUIRE(view.count(o->code));
            const auto& want = view.at(o->code);
            REQUIRE(o->total == want.total);
            std::set<std::string> skus;
            for (auto& l : o->lines) skus.insert(l->sku);
            REQUIRE(skus == want.skus);
        }
    }
};

}  // namespace

TEST_CASE("model-based: random unit-of-work sequences match a reference model", "[session][uow][model]") {
    int seeds = model::on_postgres() ? 200 : 2000;
    const int ops = 50;
    unsigned first = 1;
    bool verbose = false;
    if (const char* v = std::getenv("LOADSTAR_MODEL_SEEDS")) seeds = std::atoi(v);
    if (const char* v = std::getenv("LOADSTAR_MODEL_SEED")) {
        first = static_cast<unsigned>(std::atoi(v));
        seeds = 1;
        verbose = true;
    }
    for (unsigned seed = first; seed < first + static_cast<unsigned>(seeds); ++seed) {
        CAPTURE(seed);  // replay: LOADSTAR_MODEL_SEED=<seed> loadstar_tests "[model]"
        run r(seed, verbose);
        for (int i = 0; i < ops; ++i) {
            r.step();
            r.check();
        }
        while (!r.sps.empty()) {
            r.sps.back().sp.commit();
            r.sps.pop_back();
        }
        r.db = r.view;
        r.s->commit();
        r.committed = r.view;
        r.check_committed();
    }
}
