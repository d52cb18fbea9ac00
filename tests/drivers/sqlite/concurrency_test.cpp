// tests/drivers/sqlite/concurrency_test.cpp - SQLite as an application database: the defaults
// the driver sets on every connection (WAL, synchronous, foreign keys, busy timeout, journal
// size limit, checkpoints) and how to change them (options, URL); sessions that read never
// block another session's or process's commit, on a file and in memory; write transactions
// begin IMMEDIATE; busy and locked are ls::busy_error, which run_transaction retries.
// The many-process, many-thread run is tests/drivers/sqlite/concurrency_stress.cpp.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include "support/bank_model.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ls = loadstar;
using namespace std::chrono_literals;

namespace sqlite_concurrency_test {

/// A database file in the temp directory, removed (with its -wal and -shm) at the end.
struct temp_db {
    std::string path;
    explicit temp_db(const std::string& stem) {
        static std::atomic<int> counter{0};
        path = (std::filesystem::temp_directory_path() /
                ("loadstar-sqlite-" + stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".db"))
                   .string();
        remove_all();
    }
    ~temp_db() { remove_all(); }
    void remove_all() const {
        std::error_code ec;
        for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
    }
};

/// A hand-written sqlite3 connection, as another program would have.
struct raw {
    sqlite3* db = nullptr;
    explicit raw(const std::string& path) {
        REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    }
    ~raw() { sqlite3_close_v2(db); }
    int exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }
    std::string text(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        std::string out;
        if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return out;
    }
};

/// What a connection of `d` reports for `PRAGMA name`.
std::string pragma(ls::sqlite::driver& d, const std::string& name) {
    auto c = d.connect();
    auto st = c->prepare("PRAGMA " + name);
    REQUIRE(st->step());
    return st->kind(0) == ls::column_kind::integer ? std::to_string(st->get_int(0)) : std::string(st->get_text(0));
}

std::int64_t balance(ls::session& s, std::int64_t id) {
    return s.query<bank::Account>().where(ls::col<&bank::Account::id> == id).populate_existing().one()->balance;
}

}  // namespace sqlite_concurrency_test
using namespace sqlite_concurrency_test;

TEST_CASE("sqlite: application defaults on every connection", "[sqlite][concurrency]") {
    temp_db f("defaults");
    ls::sqlite::driver d(f.path);
    CHECK(pragma(d, "journal_mode") == "wal");
    CHECK(pragma(d, "synchronous") == "1");  // NORMAL
    CHECK(pragma(d, "foreign_keys") == "1");
    CHECK(pragma(d, "journal_size_limit") == std::to_string(64 * 1024 * 1024));
    CHECK(pragma(d, "wal_autocheckpoint") == "1000");
    CHECK(d.sql_dialect().begin_read == "BEGIN");
    CHECK(d.sql_dialect().begin_write == "BEGIN IMMEDIATE");
    raw other(f.path);  // WAL belongs to the file: another program sees it too
    CHECK(other.text("PRAGMA journal_mode") == "wal");
}

TEST_CASE("sqlite: every default can be changed, through options or the URL", "[sqlite][concurrency]") {
    temp_db f("options");
    SECTION("options") {
        ls::sqlite::driver d(f.path, {.journal_mode = "delete", .foreign_keys = false, .immediate_writes = false,
                                      .journal_size_limit = -1, .wal_autocheckpoint = 0});
        CHECK(pragma(d, "journal_mode") == "delete");
        CHECK(pragma(d, "synchronous") == "2");  // FULL outside WAL
        CHECK(pragma(d, "foreign_keys") == "0");
        CHECK(pragma(d, "journal_size_limit") == "-1");
        CHECK(pragma(d, "wal_autocheckpoint") == "0");
        CHECK(d.sql_dialect().begin_write == "BEGIN");
    }
    SECTION("URL query parameters") {
        auto e = ls::create_engine("sqlite:///" + f.path +
                                   "?journal_mode=delete&synchronous=extra&busy_timeout=250&immediate_writes=off");
        CHECK(e.sql_dialect().begin_write == "BEGIN");
        raw other(f.path);
        CHECK(other.text("PRAGMA journal_mode") == "delete");  // not WAL: only WAL is kept in the file
    }
    SECTION("bad values are refused before they reach any SQL") {
        CHECK_THROWS_AS(ls::sqlite::driver(f.path, {.journal_mode = "wal; DROP TABLE x"}), ls::usage_error);
        CHECK_THROWS_AS(ls::sqlite::driver(f.path, {.synchronous = "sometimes"}), ls::usage_error);
        CHECK_THROWS_AS(ls::create_engine("sqlite:///" + f.path + "?journal_mod=wal"), ls::usage_error);
        CHECK_THROWS_AS(ls::create_engine("sqlite:///" + f.path + "?busy_timeout=soon"), ls::usage_error);
        CHECK_THROWS_AS(ls::create_engine("sqlite:///" + f.path + "?foreign_keys=maybe"), ls::usage_error);
    }
}

// A session that has read keeps its transaction (and its snapshot) until commit or close.
// Under WAL that holds no lock a writer needs: another session, or another program, commits
// at once, and the reader goes on seeing what it saw until its transaction ends.
TEST_CASE("sqlite: a reading session never blocks another session's or program's commit", "[sqlite][concurrency]") {
    temp_db f("readers");
    const bool memory = GENERATE(false, true);
    INFO((memory ? "in memory" : "on a file"));
    // A short timeout: a blocked commit would fail fast with busy_error instead of waiting.
    auto e = ls::sqlite::engine(memory ? ":memory:" : f.path, {}, {.busy_timeout = 200ms});
    bank::open_accounts(e);

    ls::session reader{e};
    CHECK(balance(reader, 1) == 1000);  // the read transaction is open now

    {
        ls::session writer{e};
        auto a = writer.get<bank::Account>(std::int64_t{1});
        a->balance = 1100;
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_NOTHROW(writer.commit());
        CHECK(std::chrono::steady_clock::now() - t0 < 150ms);  // no wait on the reader
    }
    if (!memory) {
        raw program(f.path);
        CHECK(program.exec("UPDATE accounts SET balance = 900 WHERE id = 2") == SQLITE_OK);
    }
    // The reader still sees its snapshot; after its transaction ends it sees the commits.
    CHECK(balance(reader, 1) == 1000);
    CHECK(bank::sum(reader) == bank::total);
    reader.commit();
    CHECK(balance(reader, 1) == 1100);
    CHECK(balance(reader, 2) == (memory ? 1000 : 900));
}

TEST_CASE("sqlite: in memory, two sessions interleave reads and writes without 'table is locked'",
          "[sqlite][concurrency]") {
    auto e = ls::sqlite::engine(":memory:");
    bank::open_accounts(e);
    ls::session a{e};
    ls::session b{e};
    for (int round = 0; round < 3; ++round) {
        CHECK(bank::sum(a) == bank::total);
        CHECK(bank::sum(b) == bank::total);
        auto x = a.get<bank::Account>(std::int64_t{1});
        auto y = a.get<bank::Account>(std::int64_t{2});
        x->balance -= 10;
        y->balance += 10;
        a.commit();  // b holds a read transaction on the same tables
        CHECK(balance(b, 1) == 1000 - 10 * round);  // b's snapshot
        b.commit();
        CHECK(balance(b, 1) == 1000 - 10 * (round + 1));
        b.commit();
    }
}

TEST_CASE("sqlite: a transaction begins IMMEDIATE when it is known to write", "[sqlite][concurrency]") {
    temp_db f("begin");
    auto e = ls::sqlite::engine(f.path);
    bank::open_accounts(e);
    std::vector<std::string> control;
    auto id = e.on_statement([&](const ls::statement_event& ev) {
        if (!ev.counted) control.emplace_back(ev.sql);
    });
    {
        ls::session s{e};  // first statement reads: a read transaction
        (void)bank::sum(s);
    }
    {
        ls::session s{e};  // first statement writes: a write transaction
        s.add(std::make_shared<bank::Transfer>(bank::Transfer{.from_id = 1, .to_id = 2, .amount = 0}));
        s.commit();
    }
    {
        ls::session s{e, {.transaction = ls::transaction_mode::write}};
        (void)bank::sum(s);
    }
    {
        ls::session s{e};  // FOR UPDATE declares the write
        (void)s.query<bank::Account>().where(ls::col<&bank::Account::id> == 1).for_update().one();
    }
    bank::transfer(e, 1, 2, 5);  // run_transaction
    e.remove_listener(id);
    CHECK(control == std::vector<std::string>{"BEGIN", "ROLLBACK", "BEGIN IMMEDIATE", "SAVEPOINT loadstar_sp_1",
                                              "RELEASE SAVEPOINT loadstar_sp_1", "COMMIT", "BEGIN IMMEDIATE",
                                              "ROLLBACK", "BEGIN IMMEDIATE", "ROLLBACK", "BEGIN IMMEDIATE",
                                              "SAVEPOINT loadstar_sp_1", "RELEASE SAVEPOINT loadstar_sp_1", "COMMIT"});
}

TEST_CASE("sqlite: busy and locked are ls::busy_error, and the session stays usable", "[sqlite][concurrency]") {
    temp_db f("busy");
    auto e = ls::sqlite::engine(f.path, {}, {.busy_timeout = 100ms});
    bank::open_accounts(e);

    SECTION("a read transaction that another connection wrote past cannot write: refused at once") {
        ls::session s{e};
        auto a = s.get<bank::Account>(std::int64_t{1});  // read transaction, snapshot taken
        bank::transfer(e, 1, 2, 7);                     // another session commits meanwhile
        a->balance += 1;                                // based on what s read: must not land
        const auto t0 = std::chrono::steady_clock::now();
        try {
            s.commit();
            FAIL("the commit should have been refused");
        } catch (const ls::busy_error& err) {
            CHECK(err.native_code() == SQLITE_BUSY_SNAPSHOT);
            CHECK_THAT(err.what(), Catch::Contains("run_transaction"));
        }
        CHECK(std::chrono::steady_clock::now() - t0 < 90ms);  // at once, not after the timeout
        // Usable: roll back (the in-memory change is re-read), then the same work succeeds.
        s.rollback();
        CHECK(a->balance == 993);
        a->balance += 1;
        s.commit();
        ls::session check{e};
        CHECK(balance(check, 1) == 994);
    }
    SECTION("a writer waits out the busy timeout, then busy_error; nothing of it lands") {
        ls::session holder{e, {.transaction = ls::transaction_mode::write}};
        (void)bank::sum(holder);  // BEGIN IMMEDIATE: holds the write lock
        ls::session s{e};
        s.add(std::make_shared<bank::Transfer>(bank::Transfer{.from_id = 1, .to_id = 2, .amount = 1}));
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_THROWS_AS(s.commit(), ls::busy_error);
        const auto waited = std::chrono::steady_clock::now() - t0;
        CHECK(waited >= 100ms);
        CHECK(waited < 2s);
        holder.close();  // (a rollback would re-read, beginning IMMEDIATE again)
        s.commit();  // the pending object is still pending: it goes in now
        ls::session check{e};
        CHECK(check.query<bank::Transfer>().count() == 1);
    }
}

TEST_CASE("sqlite: run_transaction retries busy_error in a fresh session", "[sqlite][concurrency]") {
    temp_db f("retry");
    auto e = ls::sqlite::engine(f.path, {}, {.busy_timeout = 50ms});
    bank::open_accounts(e);
    int attempts = 0;
    ls::run_transaction(e, [&](ls::session& tx) {
        ++attempts;
        auto a = tx.get<bank::Account>(std::int64_t{3});
        a->balance -= 30;
        if (attempts == 1) {
            // Another writer while this one holds the write lock: it times out with busy_error,
            // which leaves this function; run_transaction runs it again.
            ls::session other{e};
            other.add(std::make_shared<bank::Transfer>(bank::Transfer{.from_id = 3, .to_id = 4, .amount = 30}));
            other.commit();
        }
    });
    CHECK(attempts == 2);
    ls::session check{e};
    CHECK(balance(check, 3) == 970);  // once, not twice
    CHECK(check.query<bank::Transfer>().count() == 0);
}

TEST_CASE("sqlite: a read-only session refuses to write before any statement", "[sqlite][concurrency]") {
    auto e = ls::sqlite::engine(":memory:");
    bank::open_accounts(e);
    ls::session s{e, {.transaction = ls::transaction_mode::read_only}};
    auto a = s.get<bank::Account>(std::int64_t{1});
    a->balance = 0;
    CHECK_THROWS_AS(s.commit(), ls::usage_error);
    s.rollback();
    CHECK(a->balance == 1000);
}
