// examples/03_unit_of_work.cpp - the session as a unit of work: change objects in memory,
// and commit() writes exactly what changed, in an order the database accepts, or nothing.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace ls = loadstar;

// ---- the model: orders own their lines -------------------------------------------------------
struct Line;
struct Order {
    std::int64_t id{};
    std::string code;
    std::int64_t total{};
    std::int64_t version{};  // optimistic locking: bumped by every UPDATE
    ls::many<Line> lines;
};
struct Line {
    std::int64_t id{};
    std::int64_t order_id{};
    std::string sku;
    ls::one<Order> order;
};

template <>
struct loadstar::mapping<Order> {
    static constexpr auto table = ls::table("orders",
        ls::column<&Order::id>("id", ls::primary_key),
        ls::column<&Order::code>("code", ls::unique),
        ls::column<&Order::total>("total"),
        ls::column<&Order::version>("version", ls::version),
        // A line removed from an order's collection is an orphan: delete it.
        ls::has_many<&Order::lines>(&Line::order_id, ls::back_populates<&Line::order>, ls::cascade_delete_orphan));
};
template <>
struct loadstar::mapping<Line> {
    static constexpr auto table = ls::table("lines",
        ls::column<&Line::id>("id", ls::primary_key),
        ls::column<&Line::order_id>("order_id", ls::foreign_key<&Order::id>),
        ls::column<&Line::sku>("sku"),
        ls::belongs_to<&Line::order>(&Line::order_id, ls::back_populates<&Order::lines>));
};

namespace {
int failures = 0;
void check(bool ok, const char* what) {
    std::cout << (ok ? "  ok: " : "  FAILED: ") << what << "\n";
    if (!ok) ++failures;
}
void step(const char* text) { std::cout << "\n== " << text << " ==\n"; }
}  // namespace

int main() {
    std::cout << std::unitbuf;
    auto engine = ls::sqlite::engine(":memory:");
    ls::create_all<Order, Line>(engine);
    engine.echo(true);

    ls::session s{engine};

    step("1. new objects: parents are inserted before children, keys flow into foreign keys");
    auto order = std::make_shared<Order>(Order{.code = "A-100", .total = 30});
    order->lines.push_back(std::make_shared<Line>(Line{.sku = "apple"}));
    order->lines.push_back(std::make_shared<Line>(Line{.sku = "pear"}));
    s.add(order);  // the lines come along (save-update cascade)
    s.commit();
    check(order->id != 0 && order->lines[0]->order_id == order->id, "generated keys copied into the lines");
    check(order->version == 1, "a version column starts at 1");

    step("2. dirty tracking: one UPDATE with the changed column only; nothing when unchanged");
    order->total = 35;
    s.flush();
    s.flush();  // nothing changed since: no statement at all
    check(order->version == 2, "the UPDATE matched the version and bumped it");

    step("3. relationship changes: an appended line is inserted, a removed one is an orphan");
    order->lines.push_back(std::make_shared<Line>(Line{.sku = "plum"}));
    check(order->lines[2]->order.get() == order, "back_populates: plum->order is set at once");
    order->lines.erase(order->lines.begin());  // apple
    s.commit();
    check(s.query<Line>().count() == 2, "apple deleted, plum inserted");

    step("4. a failed flush loses nothing: the database and the objects are as before it");
    auto twin = std::make_shared<Order>(Order{.code = "A-100", .total = 1});  // duplicate code
    twin->lines.push_back(std::make_shared<Line>(Line{.sku = "kiwi"}));
    s.add(twin);
    try {
        s.flush();
    } catch (const ls::integrity_error& e) {
        std::cout << "  integrity_error: " << e.what() << " (native code " << e.native_code() << ")\n";
    }
    check(twin->id == 0 && s.state(twin) == ls::object_state::pending, "the twin is still pending, key undone");
    twin->code = "A-101";  // fix it and commit the same work again
    s.commit();
    check(s.query<Order>().count() == 2, "the corrected work is committed");

    step("5. savepoints: an RAII guard around part of the work");
    {
        auto sp = s.begin_nested();
        order->total = 0;
        s.flush();
        sp.rollback();  // ROLLBACK TO SAVEPOINT; the objects are re-read
    }
    check(order->total == 35, "the savepoint's change is undone, in the database and in memory");

    step("6. optimistic locking: another session moved the version");
    {
        ls::session other{engine};
        s.commit();  // SQLite: one writer at a time
        auto theirs = other.get<Order>(order->id);
        theirs->total = 40;
        other.commit();
    }
    order->total = 50;
    try {
        s.flush();
    } catch (const ls::stale_data_error& e) {
        std::cout << "  stale_data_error: " << e.what() << "\n";
        s.refresh(order);  // take their version, then decide again
    }
    check(order->total == 40 && order->version == 3, "refreshed to the other session's write");

    step("7. delete: the order and, by cascade, its lines (children first)");
    s.remove(order);
    s.commit();
    check(s.query<Order>().count() == 1 && s.query<Line>().count() == 1, "order A-100 and its lines are gone");

    step("8. bulk_insert: many rows, few statements, no identity map");
    engine.echo(false);
    std::vector<Order> imported;
    for (int i = 0; i < 2000; ++i) imported.push_back(Order{.code = "B-" + std::to_string(i), .total = i});
    ls::statement_counter counter{engine};
    s.bulk_insert(std::span<const Order>(imported));
    s.commit();
    std::cout << "  2000 rows in " << counter.count() << " statements\n";
    check(s.query<Order>().count() == 2001, "2000 orders imported");

    std::cout << "\n" << (failures ? "FAILED" : "all steps behaved as described") << "\n";
    return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
