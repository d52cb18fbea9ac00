// tests/session/snapshot_test.cpp - the identity map's snapshots (detail::snapshot_of: every
// column but the primary key, encoded in the map's arena): the dirty check sees exactly the
// changed columns, for every column type and its edge values, after resnap and after a bulk
// UPDATE's single-column change.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>

namespace ls = loadstar;

namespace snapshot_test {
struct Row {
    std::int64_t id{};
    bool flag{};
    std::int8_t i8{};
    std::int32_t i32{};
    std::int64_t i64{};
    std::uint64_t u64{};
    float f{};
    double d{};
    std::string text;
    ls::blob data;
    std::chrono::system_clock::time_point at{};
    std::optional<std::int64_t> oi;
    std::optional<std::string> os;
    std::optional<double> od;
};
}  // namespace snapshot_test

template <>
struct loadstar::mapping<snapshot_test::Row> {
    using R = snapshot_test::Row;
    static constexpr auto table = ls::table("snapshot_rows", ls::column<&R::id>("id", ls::primary_key),
                                            ls::column<&R::flag>("flag"), ls::column<&R::i8>("i8"),
                                            ls::column<&R::i32>("i32"), ls::column<&R::i64>("i64"),
                                            ls::column<&R::u64>("u64"), ls::column<&R::f>("f"),
                                            ls::column<&R::d>("d"), ls::column<&R::text>("text"),
                                            ls::column<&R::data>("data"), ls::column<&R::at>("at"),
                                            ls::column<&R::oi>("oi"), ls::column<&R::os>("os"),
                                            ls::column<&R::od>("od"));
};

using snapshot_test::Row;
using map_t = ls::detail::identity_map<Row>;

namespace {
constexpr std::uint64_t bit(std::size_t i) { return std::uint64_t{1} << i; }

/// Each change applied alone to a fresh copy must show as exactly its column's bit.
template <class Change>
void changes_exactly(const Row& base, std::size_t column, Change change) {
    map_t m;
    auto obj = std::make_shared<Row>(base);
    const std::int64_t key = obj->id;  // the key the entry is stored under
    m.insert(key, obj);
    auto* e = m.find_entry(key);
    REQUIRE(e);
    REQUIRE(m.changed_columns(key, *e) == 0);
    change(*obj);
    CHECK(m.changed_columns(key, *e) == bit(column));
    if (column != 0) {
        m.resnap(*e);
        CHECK(m.changed_columns(key, *e) == 0);
    }
}

Row sample() {
    Row r;
    r.id = 7;
    r.flag = true;
    r.i8 = -128;
    r.i32 = std::numeric_limits<std::int32_t>::min();
    r.i64 = std::numeric_limits<std::int64_t>::min();
    r.u64 = std::numeric_limits<std::uint64_t>::max();
    r.f = 1.5f;
    r.d = -0.0;
    r.text = std::string("a\0b", 3);
    r.data = {std::byte{0}, std::byte{0xff}};
    r.at = std::chrono::system_clock::time_point{} - std::chrono::microseconds{1};
    r.oi = 0;
    r.os = std::string{};
    r.od = std::nullopt;
    return r;
}
}  // namespace

TEST_CASE("snapshot: every column type, each change seen alone, nothing else", "[nodb][identity_map][snapshot]") {
    const Row base = sample();
    changes_exactly(base, 1, [](Row& r) { r.flag = false; });
    changes_exactly(base, 2, [](Row& r) { r.i8 = 127; });
    changes_exactly(base, 3, [](Row& r) { r.i32 = -1; });
    changes_exactly(base, 4, [](Row& r) { r.i64 = std::numeric_limits<std::int64_t>::max(); });
    changes_exactly(base, 4, [](Row& r) { r.i64 = 0; });
    changes_exactly(base, 5, [](Row& r) { r.u64 = 0; });
    changes_exactly(base, 5, [](Row& r) { r.u64 -= 1; });
    changes_exactly(base, 6, [](Row& r) { r.f = 1.25f; });
    changes_exactly(base, 7, [](Row& r) { r.d = 1e-300; });
    changes_exactly(base, 8, [](Row& r) { r.text = std::string("a\0c", 3); });
    changes_exactly(base, 8, [](Row& r) { r.text = "a"; });
    changes_exactly(base, 8, [](Row& r) { r.text += std::string(100, 'x'); });  // outgrows its space
    changes_exactly(base, 9, [](Row& r) { r.data.clear(); });
    changes_exactly(base, 9, [](Row& r) { r.data[1] = std::byte{0xfe}; });
    changes_exactly(base, 10, [](Row& r) { r.at += std::chrono::microseconds{1}; });
    changes_exactly(base, 11, [](Row& r) { r.oi = std::nullopt; });
    changes_exactly(base, 11, [](Row& r) { r.oi = 1; });
    changes_exactly(base, 12, [](Row& r) { r.os = std::nullopt; });  // NULL is not ""
    changes_exactly(base, 12, [](Row& r) { r.os = " "; });
    changes_exactly(base, 13, [](Row& r) { r.od = 0.0; });
    // The primary key is the map's key, not part of the snapshot: a changed key still shows.
    changes_exactly(base, 0, [](Row& r) { r.id = 8; });
}

TEST_CASE("snapshot: equal values are not changes (== as before: -0.0 equals 0.0)", "[nodb][identity_map][snapshot]") {
    map_t m;
    auto obj = std::make_shared<Row>(sample());
    m.insert(obj->id, obj);
    auto* e = m.find_entry(obj->id);
    obj->d = 0.0;
    obj->text = std::string("a\0b", 3);  // same bytes, new buffer
    obj->data = {std::byte{0}, std::byte{0xff}};
    CHECK(m.changed_columns(obj->id, *e) == 0);
    obj->text = std::string(1000, 'y');
    obj->os = "z";
    CHECK(m.changed_columns(obj->id, *e) == (bit(8) | bit(12)));
}

TEST_CASE("snapshot: a bulk UPDATE's new value replaces one column and other changes stay changes",
          "[nodb][identity_map][snapshot]") {
    map_t m;
    auto obj = std::make_shared<Row>(sample());
    m.insert(obj->id, obj);
    auto* e = m.find_entry(obj->id);
    obj->i32 = 5;     // an unflushed change
    obj->text = "new";  // and the bulk UPDATE's column, also set in the object
    m.set_snapshot_column<8>(*e, std::string("new"));
    CHECK(m.changed_columns(obj->id, *e) == bit(3));
    m.set_snapshot_column<3>(*e, std::int32_t{5});
    CHECK(m.changed_columns(obj->id, *e) == 0);
}

TEST_CASE("snapshot: many objects, resnapped in place and elsewhere, then compacted", "[nodb][identity_map][snapshot]") {
    map_t m;
    std::vector<std::shared_ptr<Row>> objs;
    for (std::int64_t i = 1; i <= 5000; ++i) {
        auto r = std::make_shared<Row>(sample());
        r->id = i;
        r->text = std::string(static_cast<std::size_t>(i % 40), 'q');
        m.insert(i, r);
        objs.push_back(r);
    }
    for (auto& r : objs) {
        r->text += std::string(64, 'w');  // no longer fits: a new snapshot, the old space dead
        r->oi = r->id;
        m.resnap(r->id);
    }
    m.compact();
    for (auto& r : objs) {
        auto* e = m.find_entry(r->id);
        REQUIRE(e);
        REQUIRE(e->obj == r);
        REQUIRE(m.changed_columns(r->id, *e) == 0);
        r->oi = -r->id;
        REQUIRE(m.changed_columns(r->id, *e) == bit(11));
    }
}
