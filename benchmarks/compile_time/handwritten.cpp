// benchmarks/compile_time/handwritten.cpp - the yardstick: what one_query.cpp does, written by
// hand against sqlite3, with the standard headers the loadstar headers included when this
// benchmark was written (a fixed list, so the yardstick does not move when loadstar drops one).
// Compiled by benchmarks/compile_time.sh in the same run as the loadstar TUs; every figure is
// reported as a ratio to this one. Not built by CMake.
// SPDX-License-Identifier: MIT
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bitset>
#include <chrono>
#include <cmath>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <set>
#include <source_location>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace {
struct Note {
    std::int64_t id{};
    std::string text;
};

struct db {
    sqlite3* h = nullptr;
    explicit db(const char* path) {
        if (sqlite3_open(path, &h) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(h));
    }
    ~db() { sqlite3_close(h); }
    db(const db&) = delete;
    db& operator=(const db&) = delete;
    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(h, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "sqlite3_exec";
            sqlite3_free(err);
            throw std::runtime_error(msg);
        }
    }
};

struct stmt {
    sqlite3_stmt* s = nullptr;
    stmt(db& d, std::string_view sql) {
        if (sqlite3_prepare_v2(d.h, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
            throw std::runtime_error(sqlite3_errmsg(d.h));
    }
    ~stmt() { sqlite3_finalize(s); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
    bool step() {
        const int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw std::runtime_error(sqlite3_errmsg(sqlite3_db_handle(s)));
    }
};

std::vector<std::shared_ptr<Note>> notes_after(db& d, std::int64_t id) {
    std::unordered_map<std::int64_t, std::shared_ptr<Note>> identity;
    stmt q(d, "SELECT notes.id, notes.text FROM notes WHERE notes.id > ?");
    sqlite3_bind_int64(q.s, 1, id);
    std::vector<std::shared_ptr<Note>> out;
    while (q.step()) {
        const std::int64_t key = sqlite3_column_int64(q.s, 0);
        auto& slot = identity[key];
        if (!slot) {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 1));
            slot = std::make_shared<Note>(Note{key, text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(q.s, 1))) : std::string()});
        }
        out.push_back(slot);
    }
    return out;
}
}  // namespace

int main() {
    db d(":memory:");
    d.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
    d.exec("BEGIN");
    const auto notes = notes_after(d, 0);
    d.exec("COMMIT");
    return static_cast<int>(notes.size());
}
