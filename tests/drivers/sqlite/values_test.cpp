// tests/drivers/sqlite/values_test.cpp - values through the SQLite driver, byte for byte: hostile
// strings through every API that takes a value, blobs, NULLs, every integer width, floats, time
// points; and the storage-class matrix: whatever SQLite holds, reading it into a C++ column gives
// the exact value or ls::conversion_error, never a silent 0, clamp or rounding.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ls = loadstar;
using namespace std::chrono_literals;
using time_point = std::chrono::system_clock::time_point;

namespace values_test {

/// A file path in the temp directory, removed (with SQLite's side files) on destruction.
struct temp_db {
    std::filesystem::path path;
    explicit temp_db(const std::string& stem) {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("loadstar-values-" + stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".db");
        remove_all();
    }
    ~temp_db() { remove_all(); }
    void remove_all() const {
        std::error_code ec;
        for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix, ec);
    }
};

/// Byte-for-byte equality without printing megabytes when it fails.
bool same(const std::string& a, const std::string& b) { return a.size() == b.size() && a == b; }
bool same(const std::optional<std::string>& a, const std::string& b) { return a && same(*a, b); }

/// Text keyed by text: every string API goes through it.
struct Note {
    std::string key;
    std::string body;
    std::optional<std::string> extra;
};

struct Blobby {
    std::int64_t id{};
    ls::blob data;
    std::optional<ls::blob> maybe;
};

struct Scalars {
    std::int64_t id{};
    bool flag{};
    std::int8_t i8{};
    std::int16_t i16{};
    std::int32_t i32{};
    std::int64_t i64{};
    std::uint8_t u8{};
    std::uint16_t u16{};
    std::uint32_t u32{};
    std::uint64_t u64{};
    float f{};
    double d{};
    std::optional<std::int32_t> oi;
    std::optional<double> od;
    std::optional<bool> ob;
    std::optional<std::string> os;
};

struct Stamp {
    std::int64_t id{};
    time_point at;
    std::optional<time_point> maybe;
};
/// The same table, read as text: what is stored.
struct StampText {
    std::int64_t id{};
    std::string at;
    std::optional<std::string> maybe;
};

/// One column of any type over the raw table `cells (id INTEGER PRIMARY KEY, v)`.
template <class T>
struct Cell {
    std::int64_t id{};
    T v{};
};

}  // namespace values_test

template <>
struct loadstar::mapping<values_test::Note> {
    using N = values_test::Note;
    static constexpr auto table = ls::table("notes", ls::column<&N::key>("note_key", ls::primary_key),
                                            ls::column<&N::body>("body"), ls::column<&N::extra>("extra"));
};
template <>
struct loadstar::mapping<values_test::Blobby> {
    using B = values_test::Blobby;
    static constexpr auto table = ls::table("blobs", ls::column<&B::id>("id", ls::primary_key),
                                            ls::column<&B::data>("data"), ls::column<&B::maybe>("maybe"));
};
template <>
struct loadstar::mapping<values_test::Scalars> {
    using S = values_test::Scalars;
    static constexpr auto table = ls::table("scalars",
        ls::column<&S::id>("id", ls::primary_key), ls::column<&S::flag>("flag"), ls::column<&S::i8>("i8"),
        ls::column<&S::i16>("i16"), ls::column<&S::i32>("i32"), ls::column<&S::i64>("i64"), ls::column<&S::u8>("u8"),
        ls::column<&S::u16>("u16"), ls::column<&S::u32>("u32"), ls::column<&S::u64>("u64"), ls::column<&S::f>("f"),
        ls::column<&S::d>("d"), ls::column<&S::oi>("oi"), ls::column<&S::od>("od"), ls::column<&S::ob>("ob"),
        ls::column<&S::os>("os"));
};
template <>
struct loadstar::mapping<values_test::Stamp> {
    using S = values_test::Stamp;
    static constexpr auto table = ls::table("stamps", ls::column<&S::id>("id", ls::primary_key),
                                            ls::column<&S::at>("at"), ls::column<&S::maybe>("maybe"));
};
template <>
struct loadstar::mapping<values_test::StampText> {
    using S = values_test::StampText;
    static constexpr auto table = ls::table("stamps", ls::column<&S::id>("id", ls::primary_key),
                                            ls::column<&S::at>("at"), ls::column<&S::maybe>("maybe"));
};
template <class T>
struct loadstar::mapping<values_test::Cell<T>> {
    using C = values_test::Cell<T>;
    static constexpr auto table = ls::table("cells", ls::column<&C::id>("id", ls::primary_key), ls::column<&C::v>("v"));
};

using namespace values_test;

// ---- hostile strings ------------------------------------------------------------------------

namespace {

std::vector<std::pair<std::string, std::string>> hostile_strings() {
    using namespace std::string_literals;
    std::string mib(std::size_t{1} << 20, '\0');
    for (std::size_t i = 0; i < mib.size(); ++i) mib[i] = static_cast<char>((i * 7919) & 0xff);  // every byte value
    return {
        {"empty", ""},
        {"single quote", "it's"},
        {"quoted injection", "x'); DROP TABLE notes; --"},
        {"double quotes", "\"notes\""},
        {"semicolon", "a;b;"},
        {"line comment", "-- not a comment"},
        {"block comment", "/* not a comment"},
        {"block comment end", "*/"},
        {"backslashes", "C:\\dir\\file \\' \\\\"},
        {"question mark", "?"},
        {"numbered placeholder", "?1"},
        {"named placeholders", ":name @name $name"},
        {"dollar placeholder", "$1"},
        {"like wildcards", "100% _sure_"},
        {"embedded NUL", "nul\0byte"s},
        {"only NUL", "\0"s},
        {"leading NULs", "\0\0lead"s},
        {"trailing NUL", "trail\0"s},
        {"invalid UTF-8 lone bytes", "\xff\xfe\x80"},
        {"invalid UTF-8 truncated", "abc\xc3"},
        {"invalid UTF-8 overlong", "\xc0\xaf"},
        {"UTF-16 surrogate in UTF-8", "\xed\xa0\x80"},
        {"above U+10FFFF", "\xf4\x90\x80\x80"},
        {"unicode", "Bront\xc3\xab \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x8e\x89"},
        {"combining and RTL", "e\xcc\x81 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"},
        {"control characters", "\r\n\t\x01\x1b[0m"},
        {"whitespace only", "   "},
        {"1 MiB of every byte value", mib},
    };
}

/// True when SQLite's LIKE can take `s` as a pattern that matches `s` itself: no wildcards, no
/// NUL (LIKE reads its arguments as C strings), shorter than SQLITE_LIMIT_LIKE_PATTERN_LENGTH.
bool like_safe(const std::string& s) {
    return s.find_first_of(std::string("%_\0", 3)) == std::string::npos && s.size() < 50000;
}

}  // namespace

TEST_CASE("sqlite values: hostile strings round-trip through every API byte for byte", "[drivers][sqlite][values][text]") {
    auto e = ls::sqlite::engine(":memory:");
    ls::create_all<Note>(e);
    ls::statement_counter counter{e};
    const auto cases = hostile_strings();

    // add + commit: the key and `extra` columns are inserted with the hostile text.
    {
        ls::session s{e};
        for (const auto& [label, text] : cases) {
            auto n = std::make_shared<Note>();
            n->key = text;
            n->body = "placeholder";
            n->extra = text;
            s.add(n);
        }
        s.commit();
    }
    REQUIRE(counter.count() == cases.size());

    for (const auto& [label, text] : cases) {
        INFO("case: " << label << " (" << text.size() << " bytes)");
        ls::session s{e};
        constexpr auto key = ls::col<&Note::key>;
        constexpr auto body = ls::col<&Note::body>;
        constexpr auto extra = ls::col<&Note::extra>;

        // update(ls::set<>) writes the body.
        CHECK(s.query<Note>().where(key == text).update(ls::set<&Note::body>(text)) == 1);
        s.commit();

        // where ==
        auto by_key = s.query<Note>().where(key == text).all();
        REQUIRE(by_key.size() == 1);
        CHECK(same(by_key[0]->key, text));
        CHECK(same(by_key[0]->body, text));
        CHECK(same(by_key[0]->extra, text));
        CHECK(s.query<Note>().where(body == text && extra == text).count() == 1);
        CHECK(s.query<Note>().where(key != text).count() == static_cast<std::int64_t>(cases.size() - 1));

        // in()
        auto in = s.query<Note>().where(key.in(std::vector<std::string>{text, "no such key"})).all();
        REQUIRE(in.size() == 1);
        CHECK(in[0] == by_key[0]);  // identity map: the same object

        // between
        auto between = s.query<Note>().where(key.between(text, text)).columns<&Note::body>().all();
        REQUIRE(between.size() == 1);
        CHECK(same(std::get<0>(between[0]), text));

        // like, where SQLite's LIKE can express "this exact string"
        if (like_safe(text)) {
            auto like = s.query<Note>().where(body.like(text)).columns<&Note::key>().all();
            bool found = false;
            for (const auto& [k] : like) found = found || same(k, text);
            CHECK(found);
        }

        // get() from a fresh identity map: one SELECT keyed by the text
        ls::session fresh{e};
        auto got = fresh.get<Note>(text);
        REQUIRE(got);
        CHECK(same(got->key, text));
        CHECK(same(got->body, text));
        CHECK(fresh.get<Note>(text) == got);
        CHECK(fresh.get<Note>(text + "x") == nullptr);
    }

    // No statement text ever carried a value: the SQL holds none of the hostile characters.
    for (const auto& sql : counter.statements()) {
        INFO(sql);
        CHECK(sql.find_first_of(std::string("'\";\\$%\0", 7)) == std::string::npos);
        CHECK(sql.find("--") == std::string::npos);
        CHECK(sql.find("/*") == std::string::npos);
        CHECK(sql.size() < 300);
    }

    // remove() with every hostile key bound in one IN list.
    ls::session s{e};
    std::vector<std::string> keys;
    for (const auto& c : cases) keys.push_back(c.second);
    CHECK(s.query<Note>().where(ls::col<&Note::key>.in(keys)).remove() == static_cast<std::int64_t>(cases.size()));
    CHECK(s.query<Note>().count() == 0);
}

TEST_CASE("sqlite values: LIKE patterns are bound values, with SQLite's LIKE semantics", "[drivers][sqlite][values][like]") {
    auto e = ls::sqlite::engine(":memory:");
    ls::create_all<Note>(e);
    ls::session s{e};
    for (const char* k : {"x'; DROP TABLE notes; --", "x'y", "100%", "100 percent", "a_b", "axb", "ABC", "abc"}) {
        auto n = std::make_shared<Note>();
        n->key = k;
        n->body = k;
        s.add(n);
    }
    s.commit();
    auto keys = [&](const std::string& pattern) {
        std::vector<std::string> out;
        for (auto& [k] : s.query<Note>().where(ls::col<&Note::body>.like(pattern)).columns<&Note::key>().order_by(
                 ls::col<&Note::key>).all())
            out.push_back(k);
        return out;
    };
    CHECK(keys("x'%") == std::vector<std::string>{"x'; DROP TABLE notes; --", "x'y"});
    CHECK(keys("%; DROP TABLE%") == std::vector<std::string>{"x'; DROP TABLE notes; --"});
    CHECK(keys("100%") == std::vector<std::string>{"100 percent", "100%"});  // % is a wildcard
    CHECK(keys("a_b") == std::vector<std::string>{"a_b", "axb"});            // so is _
    CHECK(keys("abc") == std::vector<std::string>{"ABC", "abc"});            // ASCII case-insensitive
    CHECK(keys("") == std::vector<std::string>{});
    // A pattern longer than SQLITE_LIMIT_LIKE_PATTERN_LENGTH (50000) is an error, not a crash.
    CHECK_THROWS_AS(keys(std::string(60000, 'a')), ls::error);
    CHECK(s.query<Note>().count() == 8);  // the session still works
}

// ---- blobs, NULLs and empty values ------------------------------------------------------------

TEST_CASE("sqlite values: blobs round-trip byte for byte", "[drivers][sqlite][values][blob]") {
    auto e = ls::sqlite::engine(":memory:");
    ls::create_all<Blobby>(e);
    auto bytes = [](std::initializer_list<int> v) {
        ls::blob b;
        for (int x : v) b.push_back(static_cast<std::byte>(x));
        return b;
    };
    ls::blob every(256);
    for (std::size_t i = 0; i < every.size(); ++i) every[i] = static_cast<std::byte>(i);
    ls::blob mib(std::size_t{1} << 20);
    for (std::size_t i = 0; i < mib.size(); ++i) mib[i] = static_cast<std::byte>((i * 31) & 0xff);
    const std::vector<std::pair<std::string, ls::blob>> cases = {
        {"empty", {}},
        {"one NUL", bytes({0})},
        {"NULs", bytes({0, 0, 0, 0})},
        {"NUL inside", bytes({'a', 0, 'b'})},
        {"text-like", bytes({'a', 'b', 'c'})},
        {"quote and semicolon", bytes({'\'', ';', '-', '-'})},
        {"every byte value", every},
        {"1 MiB", mib},
    };
    std::vector<std::int64_t> ids;
    {
        ls::session s{e};
        for (const auto& [label, b] : cases) {
            auto row = std::make_shared<Blobby>();
            row->data = b;
            row->maybe = b;  // a present, possibly empty, blob: never NULL
            s.add(row);
            s.flush();
            ids.push_back(row->id);
        }
        auto null_row = std::make_shared<Blobby>();
        null_row->data = bytes({1});
        s.add(null_row);
        s.commit();
        ids.push_back(null_row->id);
    }
    ls::session s{e};
    for (std::size_t i = 0; i < cases.size(); ++i) {
        INFO("case: " << cases[i].first);
        auto row = s.get<Blobby>(ids[i]);
        REQUIRE(row);
        CHECK((row->data == cases[i].second));
        REQUIRE(row->maybe.has_value());
        CHECK((*row->maybe == cases[i].second));
        // Blobs compare and bind as values.
        CHECK(s.query<Blobby>().where(ls::col<&Blobby::data> == cases[i].second).count() == 1);
        CHECK(s.query<Blobby>().where(ls::col<&Blobby::maybe>.in(std::vector<ls::blob>{cases[i].second})).count() == 1);
    }
    auto null_row = s.get<Blobby>(ids.back());
    CHECK_FALSE(null_row->maybe.has_value());
    CHECK(s.query<Blobby>().where(ls::col<&Blobby::maybe>.is_null()).count() == 1);
    // A zero-length blob is not NULL.
    CHECK(s.query<Blobby>().where(ls::col<&Blobby::maybe> == ls::blob{}).count() == 1);
    // update() with a blob, and with NULL.
    CHECK(s.query<Blobby>().where(ls::col<&Blobby::id> == ids[0]).update(ls::set<&Blobby::data>(every),
                                                                          ls::set<&Blobby::maybe>(std::nullopt)) == 1);
    // (On a ":memory:" engine the connections share a cache with table locks: commit before
    // another session reads what this one wrote.)
    s.commit();
    ls::session r{e};
    auto updated = r.get<Blobby>(ids[0]);
    CHECK((updated->data == every));
    CHECK_FALSE(updated->maybe.has_value());
    CHECK((std::get<0>(r.query<Blobby>().where(ls::col<&Blobby::id> == ids[7]).columns<&Blobby::data>().all().at(0)) ==
           mib));
}

TEST_CASE("sqlite values: optional columns distinguish NULL from empty and zero", "[drivers][sqlite][values][null]") {
    auto e = ls::sqlite::engine(":memory:");
    ls::create_all<Scalars>(e);
    {
        ls::session s{e};
        auto nulls = std::make_shared<Scalars>();
        nulls->id = 1;
        auto zeros = std::make_shared<Scalars>();
        zeros->id = 2;
        zeros->oi = 0;
        zeros->od = 0.0;
        zeros->ob = false;
        zeros->os = "";
        auto values = std::make_shared<Scalars>();
        values->id = 3;
        values->oi = -5;
        values->od = 2.5;
        values->ob = true;
        values->os = std::string("x\0y", 3);
        s.add(nulls);
        s.add(zeros);
        s.add(values);
        s.commit();
    }
    ls::session s{e};
    auto rows = s.query<Scalars>().order_by(ls::col<&Scalars::id>).all();
    REQUIRE(rows.size() == 3);
    CHECK_FALSE(rows[0]->oi.has_value());
    CHECK_FALSE(rows[0]->od.has_value());
    CHECK_FALSE(rows[0]->ob.has_value());
    CHECK_FALSE(rows[0]->os.has_value());
    CHECK(rows[1]->oi == 0);
    CHECK(rows[1]->od == 0.0);
    CHECK(rows[1]->ob == false);
    CHECK(rows[1]->os == "");
    CHECK(rows[2]->oi == -5);
    CHECK(rows[2]->od == 2.5);
    CHECK(rows[2]->ob == true);
    CHECK(rows[2]->os == std::string("x\0y", 3));
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::os>.is_null()).count() == 1);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::os> == "").count() == 1);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::oi> == 0).count() == 1);
    // Comparing with an empty optional binds NULL: "= NULL" is never true (use is_null()).
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::oi> == std::optional<int>{}).count() == 0);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::oi> == std::optional<int>{-5}).count() == 1);
    // Setting to NULL and back.
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::id> == 3).update(ls::set<&Scalars::os>(std::nullopt),
                                                                       ls::set<&Scalars::oi>(7)) == 1);
    CHECK_FALSE(rows[2]->os.has_value());
    CHECK(rows[2]->oi == 7);
    s.commit();
    ls::session r{e};
    CHECK(r.query<Scalars>().columns<&Scalars::oi, &Scalars::os>().where(ls::col<&Scalars::id> == 3).all() ==
          std::vector<std::tuple<std::optional<std::int32_t>, std::optional<std::string>>>{{7, std::nullopt}});
}

// ---- numbers ----------------------------------------------------------------------------------

TEST_CASE("sqlite values: bool, every integer width and floating point round-trip", "[drivers][sqlite][values][numbers]") {
    auto e = ls::sqlite::engine(":memory:");
    ls::create_all<Scalars>(e);
    using lim8 = std::numeric_limits<std::int8_t>;
    using lim16 = std::numeric_limits<std::int16_t>;
    using lim32 = std::numeric_limits<std::int32_t>;
    using lim64 = std::numeric_limits<std::int64_t>;
    auto make = [](std::int64_t id, bool flag, std::int8_t i8, std::int16_t i16, std::int32_t i32, std::int64_t i64,
                   std::uint8_t u8, std::uint16_t u16, std::uint32_t u32, std::uint64_t u64, float f, double d) {
        auto r = std::make_shared<Scalars>();
        *r = Scalars{id, flag, i8, i16, i32, i64, u8, u16, u32, u64, f, d, {}, {}, {}, {}};
        return r;
    };
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<ls::ptr<Scalars>> written = {
        make(1, false, lim8::min(), lim16::min(), lim32::min(), lim64::min(), 0, 0, 0, 0,
             std::numeric_limits<float>::lowest(), std::numeric_limits<double>::lowest()),
        make(2, true, lim8::max(), lim16::max(), lim32::max(), lim64::max(), 255, 65535, 4294967295u,
             static_cast<std::uint64_t>(lim64::max()), std::numeric_limits<float>::max(), std::numeric_limits<double>::max()),
        make(3, true, -1, -1, -1, -1, 1, 1, 1, 1, 0.1f, 0.1),
        make(4, false, 0, 0, 0, 0, 128, 32768, 2147483648u, std::uint64_t{1} << 32,
             std::numeric_limits<float>::denorm_min(), std::numeric_limits<double>::denorm_min()),
        make(5, false, 0, 0, 0, 0, 0, 0, 0, 0, -0.0f, -0.0),
        make(6, false, 0, 0, 0, 0, 0, 0, 0, 0, std::numeric_limits<float>::infinity(), -inf),
        make(7, false, 0, 0, 0, 0, 0, 0, 0, 0, 16777216.0f, 9007199254740993.0),
    };
    {
        ls::session s{e};
        for (const auto& w : written) s.add(w);
        s.commit();
    }
    ls::session s{e};
    for (const auto& w : written) {
        INFO("row " << w->id);
        auto r = s.get<Scalars>(w->id);
        REQUIRE(r);
        CHECK(r->flag == w->flag);
        CHECK(r->i8 == w->i8);
        CHECK(r->i16 == w->i16);
        CHECK(r->i32 == w->i32);
        CHECK(r->i64 == w->i64);
        CHECK(r->u8 == w->u8);
        CHECK(r->u16 == w->u16);
        CHECK(r->u32 == w->u32);
        CHECK(r->u64 == w->u64);
        CHECK(r->f == w->f);
        CHECK(r->d == w->d);
        // A REAL column stores integral values as integers: -0.0 comes back as +0.0 (equal, but
        // the sign is SQLite's to lose; a column without REAL affinity keeps it, see the matrix).
        const bool negative_zero = w->id == 5;
        CHECK(std::signbit(r->f) == (std::signbit(w->f) && !negative_zero));
        CHECK(std::signbit(r->d) == (std::signbit(w->d) && !negative_zero));
    }
    // Values of every width compare in SQL as the numbers they are.
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::i8> == lim8::min()).one()->id == 1);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::i64> == lim64::min()).one()->id == 1);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::u32> == 4294967295u).one()->id == 2);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::u64> > std::uint64_t{1} << 31).count() == 2);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::d> == 0.1).one()->id == 3);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::f> == 0.1f).one()->id == 3);  // float widened exactly
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::flag> == true).count() == 2);
    CHECK(s.query<Scalars>().where(ls::col<&Scalars::d> < -1e308).count() == 2);  // lowest and -inf

    // What SQLite stored: integers as INTEGER, floats as REAL, bools as 0 / 1.
    CHECK(s.query<Scalars>().columns<&Scalars::flag, &Scalars::i8>().where(ls::col<&Scalars::id> == 2).all() ==
          std::vector<std::tuple<bool, std::int8_t>>{{true, 127}});
}

TEST_CASE("sqlite values: values SQLite cannot hold are refused when bound", "[drivers][sqlite][values][numbers]") {
    auto e = ls::sqlite::engine(":memory:");
    ls::create_all<Scalars>(e);
    ls::session s{e};

    SECTION("uint64 above INT64_MAX") {
        auto big = std::make_shared<Scalars>();
        big->id = 1;
        big->u64 = std::numeric_limits<std::uint64_t>::max();
        s.add(big);
        CHECK_THROWS_AS(s.commit(), ls::conversion_error);
        CHECK_THROWS_WITH(s.query<Scalars>().where(ls::col<&Scalars::u64> == std::numeric_limits<std::uint64_t>::max()).count(),
                          Catch::Contains("18446744073709551615"));
        s.rollback();
        CHECK(s.query<Scalars>().count() == 0);
        // INT64_MAX itself fits.
        auto fits = std::make_shared<Scalars>();
        fits->id = 2;
        fits->u64 = std::uint64_t{1} << 63;
        fits->u64 -= 1;
        s.add(fits);
        s.commit();
        CHECK(s.query<Scalars>().where(ls::col<&Scalars::u64> == (std::uint64_t{1} << 63) - 1).count() == 1);
    }
    SECTION("NaN: SQLite would store NULL") {
        auto nan = std::make_shared<Scalars>();
        nan->id = 1;
        nan->od = std::nan("");
        s.add(nan);
        CHECK_THROWS_AS(s.commit(), ls::conversion_error);
        CHECK_THROWS_AS(s.query<Scalars>().where(ls::col<&Scalars::d> == std::nan("")).count(), ls::conversion_error);
        s.rollback();
        CHECK(s.query<Scalars>().count() == 0);
    }
}

// ---- time points ------------------------------------------------------------------------------

TEST_CASE("sqlite values: time points are stored as UTC text with microseconds", "[drivers][sqlite][values][time]") {
    auto e = ls::sqlite::engine(":memory:");
    ls::create_all<Stamp>(e);
    const time_point leap = std::chrono::sys_days{2024y / std::chrono::February / 29} + 23h + 59min + 59s + 999999us;
    const time_point epoch{};
    const time_point before_epoch = epoch - 1us;
    const time_point old = std::chrono::sys_days{1900y / std::chrono::January / 1};
    // system_clock counts nanoseconds in 64 bits on libstdc++: years 1678 to 2261.
    const time_point far = std::chrono::sys_days{2200y / std::chrono::December / 31} + 23h + 59min + 59s + 999999us;
    const time_point with_nanos = std::chrono::sys_days{2020y / std::chrono::June / 15} + 1h + 2min + 3s + 123456789ns;
    struct row {
        std::int64_t id;
        time_point written;
        std::optional<time_point> maybe;
        time_point read;
        std::string text;
    };
    const std::vector<row> rows = {
        {1, leap, leap, leap, "2024-02-29 23:59:59.999999"},
        {2, epoch, std::nullopt, epoch, "1970-01-01 00:00:00.000000"},
        {3, before_epoch, before_epoch, before_epoch, "1969-12-31 23:59:59.999999"},
        {4, old, std::nullopt, old, "1900-01-01 00:00:00.000000"},
        {5, far, far, far, "2200-12-31 23:59:59.999999"},
        // Below a microsecond is truncated (toward the past), not rounded.
        {6, with_nanos, std::nullopt, std::chrono::sys_days{2020y / std::chrono::June / 15} + 1h + 2min + 3s + 123456us,
         "2020-06-15 01:02:03.123456"},
    };
    {
        ls::session s{e};
        for (const auto& r : rows) {
            auto st = std::make_shared<Stamp>();
            st->id = r.id;
            st->at = r.written;
            st->maybe = r.maybe;
            s.add(st);
        }
        s.commit();
    }
    ls::session s{e};
    for (const auto& r : rows) {
        INFO("row " << r.id << ": " << r.text);
        auto st = s.get<Stamp>(r.id);
        REQUIRE(st);
        CHECK(st->at == r.read);
        CHECK(st->maybe.has_value() == r.maybe.has_value());
        if (r.maybe) CHECK(*st->maybe == r.read);
        auto text = s.get<StampText>(r.id);
        CHECK(text->at == r.text);
    }
    // Text in this format orders and compares as time: where / between / order_by work.
    CHECK(s.query<Stamp>().where(ls::col<&Stamp::at> == leap).one()->id == 1);
    CHECK(s.query<Stamp>().where(ls::col<&Stamp::at> < epoch).count() == 2);
    CHECK(s.query<Stamp>().where(ls::col<&Stamp::at>.between(epoch, leap)).count() == 3);
    CHECK(s.query<Stamp>().order_by(ls::col<&Stamp::at>).columns<&Stamp::id>().all() ==
          std::vector<std::tuple<std::int64_t>>{{4}, {3}, {2}, {6}, {1}, {5}});
}

TEST_CASE("sqlite values: time text written by others is parsed strictly", "[drivers][sqlite][values][time]") {
    auto e = ls::sqlite::engine(":memory:");
    ls::create_all<StampText>(e);
    const time_point noon = std::chrono::sys_days{2024y / std::chrono::March / 1} + 12h;
    struct row {
        std::string text;
        std::optional<time_point> expected;  // nullopt: conversion_error
    };
    const std::vector<row> rows = {
        {"2024-03-01 12:00:00", noon},
        {"2024-03-01T12:00:00", noon},
        {"2024-03-01T12:00:00Z", noon},
        {"2024-03-01 12:00:00+00:00", noon},
        {"2024-03-01 12:00:00.5", noon + 500ms},
        {"2024-03-01 12:00:00.000001", noon + 1us},
        {"2024-03-01 12:00:00.1234567", noon + 123456us},  // digits past microseconds are dropped
        {"2024-03-01", std::chrono::sys_days{2024y / std::chrono::March / 1}},
        {"2024-03-01 12:00:00+02:00", std::nullopt},  // only UTC offsets are accepted
        {"2024-02-30 00:00:00", std::nullopt},
        {"2024-13-01", std::nullopt},
        {"2024-03-01 24:00:00", std::nullopt},
        {"2024-03-01 12:00", std::nullopt},
        {"2024-03-01 12:00:00.", std::nullopt},
        {"24-03-01", std::nullopt},
        {"yesterday", std::nullopt},
        {"", std::nullopt},
    };
    {
        ls::session s{e};
        std::int64_t id = 0;
        for (const auto& r : rows) {
            auto t = std::make_shared<StampText>();
            t->id = ++id;
            t->at = r.text;
            s.add(t);
        }
        s.commit();
    }
    ls::session s{e};
    std::int64_t id = 0;
    for (const auto& r : rows) {
        INFO("text: '" << r.text << "'");
        auto q = s.query<Stamp>().where(ls::col<&Stamp::id> == ++id).untracked();
        if (r.expected) {
            CHECK(q.one()->at == *r.expected);
        } else {
            CHECK_THROWS_AS(q.one(), ls::conversion_error);
            CHECK_THROWS_WITH(q.one(), Catch::Contains("stamps.at") && Catch::Contains("time_point"));
        }
    }
}

// ---- the storage-class matrix ------------------------------------------------------------------

namespace {

/// One value written with the raw C API, whatever its storage class.
struct stored {
    std::int64_t id;
    std::string label;
    enum class kind { null, integer, real, text, blob } k;
    std::int64_t i = 0;
    double r = 0;
    std::string t;  // text or blob bytes
};

std::vector<stored> storage_rows() {
    using k = stored::kind;
    std::vector<stored> v;
    std::int64_t id = 0;
    auto add = [&](std::string label, k kind, std::int64_t i, double r, std::string t) {
        v.push_back({++id, std::move(label), kind, i, r, std::move(t)});
    };
    auto integer = [&](std::string label, std::int64_t i) { add(std::move(label), k::integer, i, 0, {}); };
    auto real = [&](std::string label, double r) { add(std::move(label), k::real, 0, r, {}); };
    add("NULL", k::null, 0, 0, {});
    integer("0", 0);
    integer("1", 1);
    integer("2", 2);
    integer("-1", -1);
    integer("127", 127);
    integer("128", 128);
    integer("255", 255);
    integer("256", 256);
    integer("300", 300);
    integer("-128", -128);
    integer("-129", -129);
    integer("32767", 32767);
    integer("65535", 65535);
    integer("65536", 65536);
    integer("-32769", -32769);
    integer("2^24", std::int64_t{1} << 24);
    integer("2^24+1", (std::int64_t{1} << 24) + 1);
    integer("2^31-1", 2147483647);
    integer("2^31", 2147483648);
    integer("-2^31-1", -2147483649);
    integer("2^32-1", 4294967295);
    integer("2^32", 4294967296);
    integer("2^40", std::int64_t{1} << 40);
    integer("2^53", std::int64_t{1} << 53);
    integer("2^53+1", (std::int64_t{1} << 53) + 1);
    integer("-2^53-1", -(std::int64_t{1} << 53) - 1);
    integer("2^60", std::int64_t{1} << 60);
    integer("INT64_MAX", std::numeric_limits<std::int64_t>::max());
    integer("INT64_MIN", std::numeric_limits<std::int64_t>::min());
    real("0.0", 0.0);
    real("-0.0", -0.0);
    real("1.0", 1.0);
    real("1.5", 1.5);
    real("-2.25", -2.25);
    real("0.1", 0.1);
    real("FLT_MAX", static_cast<double>(std::numeric_limits<float>::max()));
    real("1e39", 1e39);
    real("1e300", 1e300);
    real("-1e300", -1e300);
    real("1e-50", 1e-50);
    real("DBL_MIN", std::numeric_limits<double>::min());
    real("inf", std::numeric_limits<double>::infinity());
    real("-inf", -std::numeric_limits<double>::infinity());
    real("2^60 as REAL", 1152921504606846976.0);
    add("TEXT 'abc'", k::text, 0, 0, "abc");
    add("TEXT ''", k::text, 0, 0, "");
    add("TEXT '123'", k::text, 0, 0, "123");
    add("TEXT '1.5'", k::text, 0, 0, "1.5");
    add("TEXT '1'", k::text, 0, 0, "1");
    add("TEXT time", k::text, 0, 0, "2024-02-29 12:34:56.789012");
    add("TEXT invalid UTF-8 and NUL", k::text, 0, 0, std::string("\xff\0\xfe", 3));
    add("BLOB 00 ff", k::blob, 0, 0, std::string("\0\xff", 2));
    add("BLOB empty", k::blob, 0, 0, "");
    add("BLOB 'abc'", k::blob, 0, 0, "abc");
    add("BLOB '123'", k::blob, 0, 0, "123");
    return v;
}

void write_raw(const std::filesystem::path& path, const std::vector<stored>& rows) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    // No declared type: no affinity, so every value keeps the storage class it is bound with.
    REQUIRE(sqlite3_exec(db, "CREATE TABLE cells (id INTEGER PRIMARY KEY, v)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO cells (id, v) VALUES (?, ?)", -1, &st, nullptr) == SQLITE_OK);
    for (const auto& r : rows) {
        sqlite3_bind_int64(st, 1, r.id);
        switch (r.k) {
        case stored::kind::null: sqlite3_bind_null(st, 2); break;
        case stored::kind::integer: sqlite3_bind_int64(st, 2, r.i); break;
        case stored::kind::real: sqlite3_bind_double(st, 2, r.r); break;
        case stored::kind::text: sqlite3_bind_text64(st, 2, r.t.data(), r.t.size(), SQLITE_TRANSIENT, SQLITE_UTF8); break;
        case stored::kind::blob: sqlite3_bind_blob64(st, 2, r.t.data(), r.t.size(), SQLITE_TRANSIENT); break;
        }
        REQUIRE(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    // The storage classes are what the matrix says.
    sqlite3_stmt* check = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT typeof(v) FROM cells ORDER BY id", -1, &check, nullptr) == SQLITE_OK);
    const char* names[] = {"null", "integer", "real", "text", "blob"};
    for (const auto& r : rows) {
        REQUIRE(sqlite3_step(check) == SQLITE_ROW);
        CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(check, 0))) ==
              names[static_cast<int>(r.k)]);
    }
    sqlite3_finalize(check);
    sqlite3_close(db);
}

// The oracle: the only values a C++ column type may produce from a stored value. Integers:
// exactly, when in range (bool: 0 and 1 only). Floating point: REAL as the nearest value unless
// out of range or flushed to zero; INTEGER only within the type's exact range (2^24, 2^53).
// Text: std::string (bytes as stored) and time_point (ISO-8601). BLOB: blob only.
template <class T>
std::optional<T> oracle(const stored& s) {
    using k = stored::kind;
    if constexpr (std::is_same_v<T, bool>) {
        if (s.k == k::integer && (s.i == 0 || s.i == 1)) return s.i == 1;
        return std::nullopt;
    } else if constexpr (std::is_integral_v<T>) {
        if (s.k == k::integer && std::in_range<T>(s.i)) return static_cast<T>(s.i);
        return std::nullopt;
    } else if constexpr (std::is_floating_point_v<T>) {
        if (s.k == k::integer) {
            const std::int64_t exact = std::int64_t{1} << std::numeric_limits<T>::digits;
            if (s.i > exact || s.i < -exact) return std::nullopt;
            return static_cast<T>(s.i);
        }
        if (s.k == k::real) {
            if (std::isfinite(s.r) && std::fabs(s.r) > static_cast<double>(std::numeric_limits<T>::max()))
                return std::nullopt;
            if (s.r != 0 && static_cast<T>(s.r) == 0) return std::nullopt;
            return static_cast<T>(s.r);
        }
        return std::nullopt;
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (s.k == k::text) return s.t;
        return std::nullopt;
    } else if constexpr (std::is_same_v<T, ls::blob>) {
        if (s.k != k::blob) return std::nullopt;
        ls::blob b;
        for (char c : s.t) b.push_back(static_cast<std::byte>(c));
        return b;
    } else {
        static_assert(std::is_same_v<T, time_point>);
        if (s.k == k::text && s.t == "2024-02-29 12:34:56.789012") {
                    return time_point{std::chrono::sys_days{2024y / std::chrono::February / 29} + 12h + 34min + 56s + 789012us};
        }
        return std::nullopt;
    }
}

template <class T>
bool equal_value(const T& a, const T& b) {
    if constexpr (std::is_floating_point_v<T>) return a == b && std::signbit(a) == std::signbit(b);
    else return a == b;
}

template <class T>
const char* type_label() {
    return ls::detail::cpp_name<T>().data();
}

/// Reads every stored row into Cell<T> (and Cell<optional<T>>) and checks each outcome;
/// returns how many stored values the type accepted.
template <class T>
std::size_t check_column_type(ls::session& s, const std::vector<stored>& rows) {
    std::size_t accepted = 0;
    for (const auto& r : rows) {
        INFO(type_label<T>() << " <- " << r.label);
        const auto expected = oracle<T>(r);
        auto q = s.query<Cell<T>>().where(ls::col<&Cell<T>::id> == r.id).untracked();
        auto qo = s.query<Cell<std::optional<T>>>().where(ls::col<&Cell<std::optional<T>>::id> == r.id).untracked();
        if (expected) {
            ++accepted;
            auto c = q.one();
            CHECK(equal_value(c->v, *expected));
            auto o = qo.one();
            REQUIRE(o->v.has_value());
            CHECK(equal_value(*o->v, *expected));
        } else {
            CHECK_THROWS_AS(q.one(), ls::conversion_error);
            if (r.k == stored::kind::null) {
                CHECK_FALSE(qo.one()->v.has_value());  // NULL is what optional is for
            } else {
                CHECK_THROWS_AS(qo.one(), ls::conversion_error);
            }
            // Projections read with the same rules.
            CHECK_THROWS_AS(s.query<Cell<T>>().where(ls::col<&Cell<T>::id> == r.id).template columns<&Cell<T>::v>().all(),
                            ls::conversion_error);
        }
    }
    return accepted;
}

}  // namespace

TEST_CASE("sqlite values: every storage class into every column type: exact or conversion_error",
          "[drivers][sqlite][values][conversion]") {
    temp_db db("matrix");
    const auto rows = storage_rows();
    write_raw(db.path, rows);
    auto e = ls::sqlite::engine(db.path.string());
    ls::session s{e};

    // 56 stored values: NULL, 29 INTEGER, 15 REAL, 7 TEXT, 4 BLOB. How many each type accepts
    // (the rest are conversion_error), as a check on the oracle itself.
    REQUIRE(rows.size() == 56);
    CHECK(check_column_type<bool>(s, rows) == 2);
    CHECK(check_column_type<std::int8_t>(s, rows) == 6);
    CHECK(check_column_type<std::uint8_t>(s, rows) == 6);
    CHECK(check_column_type<std::int16_t>(s, rows) == 12);
    CHECK(check_column_type<std::uint16_t>(s, rows) == 10);
    CHECK(check_column_type<std::int32_t>(s, rows) == 18);
    CHECK(check_column_type<std::uint32_t>(s, rows) == 16);
    CHECK(check_column_type<std::int64_t>(s, rows) == 29);
    CHECK(check_column_type<std::uint64_t>(s, rows) == 22);
    CHECK(check_column_type<float>(s, rows) == 16 + 10);
    CHECK(check_column_type<double>(s, rows) == 24 + 15);
    CHECK(check_column_type<std::string>(s, rows) == 7);
    CHECK(check_column_type<ls::blob>(s, rows) == 4);
    CHECK(check_column_type<time_point>(s, rows) == 1);

    // The cases the contract names, spelled out.
    auto id_of = [&](const std::string& label) {
        for (const auto& r : rows)
            if (r.label == label) return r.id;
        FAIL("no row " << label);
        return std::int64_t{0};
    };
    auto read = [&]<class T>(const std::string& label, T*) {
        return s.query<Cell<T>>().where(ls::col<&Cell<T>::id> == id_of(label)).untracked().one()->v;
    };
    CHECK_THROWS_WITH(read("2^40", static_cast<std::int32_t*>(nullptr)),
                      "loadstar: cannot read INTEGER value 1099511627776 (out of range) of column cells.v into int32_t");
    CHECK_THROWS_WITH(read("-1", static_cast<std::uint32_t*>(nullptr)),
                      "loadstar: cannot read INTEGER value -1 (out of range) of column cells.v into uint32_t");
    CHECK_THROWS_WITH(read("300", static_cast<std::int8_t*>(nullptr)), Catch::Contains("300 (out of range)"));
    CHECK_THROWS_WITH(read("2", static_cast<bool*>(nullptr)),
                      "loadstar: cannot read INTEGER value 2 of column cells.v into bool");
    CHECK_THROWS_WITH(read("1e300", static_cast<float*>(nullptr)), Catch::Contains("into float"));
    CHECK_THROWS_WITH(read("2^60", static_cast<double*>(nullptr)), Catch::Contains("(not exact)"));
    CHECK_THROWS_WITH(read("TEXT 'abc'", static_cast<std::int64_t*>(nullptr)),
                      "loadstar: cannot read TEXT value of column cells.v into int64_t");
    CHECK_THROWS_WITH(read("NULL", static_cast<std::string*>(nullptr)),
                      Catch::Contains("NULL value (use std::optional for a nullable column)"));
    CHECK_THROWS_AS(read("1.0", static_cast<std::int64_t*>(nullptr)), ls::conversion_error);   // no REAL -> int
    CHECK_THROWS_AS(read("TEXT '123'", static_cast<std::int64_t*>(nullptr)), ls::conversion_error);
    CHECK_THROWS_AS(read("BLOB 'abc'", static_cast<std::string*>(nullptr)), ls::conversion_error);
    CHECK_THROWS_AS(read("TEXT 'abc'", static_cast<ls::blob*>(nullptr)), ls::conversion_error);
    CHECK_THROWS_AS(read("2^24+1", static_cast<float*>(nullptr)), ls::conversion_error);  // would round
    CHECK_THROWS_AS(read("1e-50", static_cast<float*>(nullptr)), ls::conversion_error);   // would be 0
    CHECK(read("2^53", static_cast<double*>(nullptr)) == 9007199254740992.0);
    CHECK(read("INT64_MIN", static_cast<std::int64_t*>(nullptr)) == std::numeric_limits<std::int64_t>::min());
    CHECK(read("INT64_MAX", static_cast<std::uint64_t*>(nullptr)) == 9223372036854775807u);
    CHECK(read("inf", static_cast<float*>(nullptr)) == std::numeric_limits<float>::infinity());
    CHECK(read("FLT_MAX", static_cast<float*>(nullptr)) == std::numeric_limits<float>::max());
    CHECK(read("TEXT invalid UTF-8 and NUL", static_cast<std::string*>(nullptr)) == std::string("\xff\0\xfe", 3));
    CHECK(read("BLOB empty", static_cast<ls::blob*>(nullptr)).empty());

    // A failed read puts no half-read object in the identity map (the rows read before it are
    // whole); the session goes on.
    CHECK_THROWS_AS(s.query<Cell<std::int8_t>>()
                        .where(ls::col<&Cell<std::int8_t>::id> >= id_of("0"))
                        .order_by(ls::col<&Cell<std::int8_t>::id>)
                        .all(),
                    ls::conversion_error);  // "0" "1" "2" "-1" "127", then "128" fails
    CHECK(s.identity_size() == 5);
    CHECK(s.query<Cell<std::int8_t>>().where(ls::col<&Cell<std::int8_t>::id> == id_of("127")).one()->v == 127);
}
