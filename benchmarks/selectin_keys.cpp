// benchmarks/selectin_keys.cpp - how a selectin load should pass its keys to SQLite, measured on
// hand-written sqlite3 code (issue 14 asks for this before the loader changes):
//   in_batches   `WHERE author_id IN (?, ?, ...)` in batches of 500, one prepared statement per
//                distinct list length (what loadstar does today),
//   in_buckets   the same with list lengths rounded up to a power of two (1, 2, 4, ... 512; the
//                last key repeated), so at most 10 statement texts exist,
//   json_in      `WHERE author_id IN (SELECT value FROM json_each(?))`: one statement text and
//                one parameter (a JSON array of the keys) whatever the number of keys,
//   json_join    `FROM json_each(?) AS k JOIN books ON books.author_id = k.value`.
// Each loads the 10 books of each of `keys` authors (of 10,000; 100,000 books, an index on
// books.author_id, in memory) into plain structs and checks the same checksum.
// Statements are prepared once per text and reset/rebound per use (the fastest straightforward
// code), as an engine's statement cache does.
// SPDX-License-Identifier: MIT
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int authors = 10'000;
constexpr int books_per_author = 10;

struct book {
    std::int64_t id;
    std::int64_t author_id;
    std::string title;
};

void check(int rc, sqlite3* db, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

struct database {
    sqlite3* db = nullptr;
    std::map<std::string, sqlite3_stmt*> cache;

    database() {
        check(sqlite3_open(":memory:", &db), db, "open");
        exec("CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, title TEXT NOT NULL)");
        exec("CREATE INDEX ix_books_author_id ON books (author_id)");
        exec("BEGIN");
        sqlite3_stmt* ins = prepare("INSERT INTO books (id, author_id, title) VALUES (?, ?, ?)");
        std::int64_t id = 0;
        for (int a = 1; a <= authors; ++a)
            for (int b = 0; b < books_per_author; ++b) {
                ++id;
                const std::string title = "Book " + std::to_string(id);
                sqlite3_bind_int64(ins, 1, id);
                sqlite3_bind_int64(ins, 2, a);
                sqlite3_bind_text(ins, 3, title.c_str(), static_cast<int>(title.size()), SQLITE_TRANSIENT);
                check(sqlite3_step(ins), db, "insert");
                sqlite3_reset(ins);
            }
        exec("COMMIT");
    }
    ~database() {
        for (auto& [sql, st] : cache) sqlite3_finalize(st);
        sqlite3_close(db);
    }
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    void exec(const char* sql) { check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), db, sql); }
    sqlite3_stmt* prepare(const std::string& sql) {
        auto& st = cache[sql];
        if (!st) check(sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr), db, "prepare");
        else sqlite3_reset(st);
        return st;
    }
};

database& shared_db() {
    static database d;  // built once, read by one benchmark thread at a time
    return d;
}

void read_rows(sqlite3_stmt* st, std::vector<book>& out) {
    while (sqlite3_step(st) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
        out.push_back({sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0),
                       std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(st, 2)))});
    }
    sqlite3_reset(st);
}

const std::string cols = "SELECT books.author_id, books.id, books.title FROM books";

std::string in_list(std::size_t n) {
    std::string s = cols + " WHERE books.author_id IN (";
    for (std::size_t i = 0; i < n; ++i) s += i ? ", ?" : "?";
    return s + ")";
}

void load_in(database& d, const std::vector<std::int64_t>& keys, std::vector<book>& out, bool buckets) {
    constexpr std::size_t batch = 500;
    for (std::size_t b = 0; b < keys.size(); b += batch) {
        const std::size_t e = std::min(keys.size(), b + batch);
        std::size_t n = e - b;
        if (buckets) {
            std::size_t p = 1;
            while (p < n) p *= 2;
            n = p;
        }
        sqlite3_stmt* st = d.prepare(in_list(n));
        for (std::size_t i = 0; i < n; ++i)
            sqlite3_bind_int64(st, static_cast<int>(i + 1), keys[std::min(b + i, e - 1)]);
        read_rows(st, out);
    }
}

void load_json(database& d, const std::vector<std::int64_t>& keys, std::vector<book>& out, bool join) {
    static const std::string in_sql = cols + " WHERE books.author_id IN (SELECT value FROM json_each(?))";
    static const std::string join_sql =
        "SELECT books.author_id, books.id, books.title FROM json_each(?) AS k JOIN books ON books.author_id = k.value";
    std::string json = "[";
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i) json += ',';
        json += std::to_string(keys[i]);
    }
    json += ']';
    sqlite3_stmt* st = d.prepare(join ? join_sql : in_sql);
    sqlite3_bind_text(st, 1, json.c_str(), static_cast<int>(json.size()), SQLITE_STATIC);
    read_rows(st, out);
}

std::vector<std::int64_t> keys_of(std::int64_t n) {
    std::vector<std::int64_t> k;
    k.reserve(static_cast<std::size_t>(n));
    // Every (authors / n)-th author, like the parents a filtered first statement returns.
    const std::int64_t step = authors / n;
    for (std::int64_t i = 0; i < n; ++i) k.push_back(1 + i * step);
    return k;
}

std::int64_t checksum(const std::vector<book>& v) {
    std::int64_t s = 0;
    for (const auto& b : v) s += b.id * 31 + b.author_id;
    return s;
}

template <class Load>
void run(benchmark::State& state, Load load) {
    auto& d = shared_db();
    const auto keys = keys_of(state.range(0));
    std::vector<book> out;
    std::int64_t expect = -1;
    {
        std::vector<book> ref;
        load_in(d, keys, ref, false);
        expect = checksum(ref);
    }
    for (auto _ : state) {
        out.clear();
        load(d, keys, out);
        benchmark::DoNotOptimize(out.data());
    }
    if (out.size() != keys.size() * books_per_author || checksum(out) != expect) {
        state.SkipWithError("a different set of books than the IN-list load");
        return;
    }
    state.counters["rows"] = static_cast<double>(out.size());
}

void in_batches(benchmark::State& s) { run(s, [](database& d, auto& k, auto& o) { load_in(d, k, o, false); }); }
void in_buckets(benchmark::State& s) { run(s, [](database& d, auto& k, auto& o) { load_in(d, k, o, true); }); }
void json_in(benchmark::State& s) { run(s, [](database& d, auto& k, auto& o) { load_json(d, k, o, false); }); }
void json_join(benchmark::State& s) { run(s, [](database& d, auto& k, auto& o) { load_json(d, k, o, true); }); }

void sizes(benchmark::internal::Benchmark* b) {
    if (std::getenv("LOADSTAR_BENCH_SMOKE")) {
        b->Arg(10);
        return;
    }
    for (int n : {1, 10, 100, 1000, 10000}) b->Arg(n);
}

}  // namespace

BENCHMARK(in_batches)->Apply(sizes)->Unit(benchmark::kMicrosecond);
BENCHMARK(in_buckets)->Apply(sizes)->Unit(benchmark::kMicrosecond);
BENCHMARK(json_in)->Apply(sizes)->Unit(benchmark::kMicrosecond);
BENCHMARK(json_join)->Apply(sizes)->Unit(benchmark::kMicrosecond);
