// benchmarks/typed_plans.cpp - the typed path beside the untyped one, same run, same data
// (SQLite file, 1,000 and 10,000 authors x 10 books): a selectin load of authors with their
// books, then a walk that reads every book's title and year.
// - walk/untyped, walk/typed: the walk alone over an already loaded graph (what the typed
//   view adds to reading: a view per object, no statement);
// - load_walk/untyped, load_walk/typed: a fresh session, the load and the walk.
// Both produce the same checksum (counter `checksum`); scripts/bench reports typed / untyped.
// SPDX-License-Identifier: MIT
#include "bench_model.hpp"

#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace {

std::string data_file(std::int64_t authors) {
    const char* d = std::getenv("LOADSTAR_BENCH_DIR");
    std::string dir = d && *d ? d : (std::filesystem::temp_directory_path() / "loadstar-bench").string();
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/typed-" + std::to_string(authors) + "x10-" + std::to_string(::getpid()) + ".db";
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix, ec);
    sqlite3* db = nullptr;
    bench::check(db, sqlite3_open(path.c_str(), &db), "open");
    bench::create_schema(db);
    bench::fill(db, authors, 10);
    sqlite3_close(db);
    return path;
}

ls::engine& engine_for(std::int64_t authors) {
    static std::map<std::int64_t, std::unique_ptr<ls::engine>> engines;  // benchmarks run on one thread
    auto& e = engines[authors];
    if (!e) e = std::make_unique<ls::engine>(ls::sqlite::engine(data_file(authors)));
    return *e;
}

auto authors_query(ls::session& s) {
    return s.query<bench::Author>().order_by(ls::col<&bench::Author::id>).options(ls::selectinload<&bench::Author::books>);
}

std::int64_t walk_untyped(const std::vector<ls::ptr<bench::Author>>& authors) {
    std::int64_t sum = 0;
    for (const auto& a : authors)
        for (const auto& b : a->books) sum += b->year + static_cast<std::int64_t>(b->title.size());
    return sum;
}
template <class Results>
std::int64_t walk_typed(const Results& authors) {
    std::int64_t sum = 0;
    for (auto a : authors)
        for (auto b : a.template get<&bench::Author::books>()) sum += b->year + static_cast<std::int64_t>(b->title.size());
    return sum;
}

void walk(benchmark::State& state, bool typed) {
    auto& e = engine_for(state.range(0));
    ls::session s{e};
    auto plain = authors_query(s).all();
    auto views = authors_query(s).typed().all();
    std::int64_t sum = 0;
    for (auto _ : state) {
        sum = typed ? walk_typed(views) : walk_untyped(plain);
        benchmark::DoNotOptimize(sum);
    }
    state.counters["checksum"] = static_cast<double>(sum);
}

void load_walk(benchmark::State& state, bool typed) {
    auto& e = engine_for(state.range(0));
    std::int64_t sum = 0;
    for (auto _ : state) {
        ls::session s{e};
        sum = typed ? walk_typed(authors_query(s).typed().all()) : walk_untyped(authors_query(s).all());
        benchmark::DoNotOptimize(sum);
    }
    state.counters["checksum"] = static_cast<double>(sum);
}

void walk_untyped_bm(benchmark::State& s) { walk(s, false); }
void walk_typed_bm(benchmark::State& s) { walk(s, true); }
void load_walk_untyped_bm(benchmark::State& s) { load_walk(s, false); }
void load_walk_typed_bm(benchmark::State& s) { load_walk(s, true); }

}  // namespace

BENCHMARK(walk_untyped_bm)->Name("walk/untyped")->ArgName("authors")->Arg(1000)->Arg(10000);
BENCHMARK(walk_typed_bm)->Name("walk/typed")->ArgName("authors")->Arg(1000)->Arg(10000);
BENCHMARK(load_walk_untyped_bm)->Name("load_walk/untyped")->ArgName("authors")->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(load_walk_typed_bm)->Name("load_walk/typed")->ArgName("authors")->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
