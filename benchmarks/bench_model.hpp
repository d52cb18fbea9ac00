// benchmarks/bench_model.hpp - the benchmark model (authors write books), the plain structs the
// hand-written baselines fill, and the one deterministic data generator every runner shares
// (the C++ binary for loadstar and raw sqlite3, benchmarks/sqlalchemy_bench.py for SQLAlchemy).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loadstar.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ls = loadstar;

namespace bench {

// ---- the mapped model (API.md style) -------------------------------------------------------
struct Book;
struct Author {
    std::int64_t id{};
    std::string name;
    std::optional<std::string> email;
    ls::many<Book> books;
};
struct Book {
    std::int64_t id{};
    std::string title;
    std::int64_t year{};
    std::int64_t author_id{};
    ls::one<Author> author;
};

// ---- what hand-written code fills: the same members, std::vector children -----------------
struct raw_book {
    std::int64_t id{};
    std::string title;
    std::int64_t year{};
    std::int64_t author_id{};
};
struct raw_author {
    std::int64_t id{};
    std::string name;
    std::optional<std::string> email;
    std::vector<raw_book> books;
};

}  // namespace bench

template <>
struct loadstar::mapping<bench::Author> {
    using A = bench::Author;
    static constexpr auto table = ls::table("authors",
        ls::column<&A::id>("id", ls::primary_key),
        ls::column<&A::name>("name"),
        ls::column<&A::email>("email"),
        ls::has_many<&A::books>(&bench::Book::author_id, ls::back_populates<&bench::Book::author>));
};
template <>
struct loadstar::mapping<bench::Book> {
    using B = bench::Book;
    static constexpr auto table = ls::table("books",
        ls::column<&B::id>("id", ls::primary_key),
        ls::column<&B::title>("title"),
        ls::column<&B::year>("year"),
        ls::column<&B::author_id>("author_id", ls::foreign_key<&bench::Author::id>),
        ls::belongs_to<&B::author>(&B::author_id, ls::back_populates<&bench::Author::books>));
};

namespace bench {

/// Bumped whenever the generated content changes (stored as PRAGMA user_version).
inline constexpr int data_version = 3;

/// The deterministic content. Author i (1-based): name "Author <i>", email
/// "author<i>@example.com" except every 7th, which is NULL. Book j (0-based) of author i: id
/// (i - 1) * children + j + 1, title "Book <i>-<j>", year 1900 + (i * 7 + j) % 120.
/// benchmarks/sqlalchemy_bench.py documents the same rules.
inline std::string author_name(std::int64_t i) { return "Author " + std::to_string(i); }
inline std::optional<std::string> author_email(std::int64_t i) {
    if (i % 7 == 0) return std::nullopt;
    return "author" + std::to_string(i) + "@example.com";
}
inline std::string book_title(std::int64_t i, std::int64_t j) {
    return "Book " + std::to_string(i) + "-" + std::to_string(j);
}
inline std::int64_t book_year(std::int64_t i, std::int64_t j) { return 1900 + (i * 7 + j) % 120; }

inline void check(sqlite3* db, int rc, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        throw std::runtime_error(std::string("bench: ") + what + ": " + sqlite3_errmsg(db));
}
inline void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = std::string("bench: ") + sql + ": " + (err ? err : "?");
        sqlite3_free(err);
        throw std::runtime_error(msg);
    }
}

/// The schema ls::create_all<Author, Book> makes (the same text), for databases the generator
/// fills without an engine.
inline void create_schema(sqlite3* db) {
    exec(db, "CREATE TABLE IF NOT EXISTS authors (\n    id INTEGER PRIMARY KEY,\n    name TEXT NOT NULL,\n"
             "    email TEXT\n)");
    exec(db, "CREATE TABLE IF NOT EXISTS books (\n    id INTEGER PRIMARY KEY,\n    title TEXT NOT NULL,\n"
             "    year INTEGER NOT NULL,\n    author_id INTEGER NOT NULL,\n"
             "    FOREIGN KEY (author_id) REFERENCES authors (id)\n)");
    exec(db, "CREATE INDEX IF NOT EXISTS ix_books_author_id ON books (author_id)");
}

/// Fills empty `authors` and `books` tables: `parents` authors with `children` books each.
inline void fill(sqlite3* db, std::int64_t parents, std::int64_t children) {
    exec(db, "BEGIN");
    sqlite3_stmt* a = nullptr;
    sqlite3_stmt* b = nullptr;
    check(db, sqlite3_prepare_v2(db, "INSERT INTO authors (id, name, email) VALUES (?, ?, ?)", -1, &a, nullptr),
          "prepare");
    check(db, sqlite3_prepare_v2(db, "INSERT INTO books (id, title, year, author_id) VALUES (?, ?, ?, ?)", -1, &b,
                                 nullptr),
          "prepare");
    for (std::int64_t i = 1; i <= parents; ++i) {
        const std::string name = author_name(i);
        const auto email = author_email(i);
        sqlite3_bind_int64(a, 1, i);
        sqlite3_bind_text(a, 2, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
        if (email) sqlite3_bind_text(a, 3, email->c_str(), static_cast<int>(email->size()), SQLITE_TRANSIENT);
        else sqlite3_bind_null(a, 3);
        check(db, sqlite3_step(a), "insert author");
        sqlite3_reset(a);
        for (std::int64_t j = 0; j < children; ++j) {
            const std::string title = book_title(i, j);
            sqlite3_bind_int64(b, 1, (i - 1) * children + j + 1);
            sqlite3_bind_text(b, 2, title.c_str(), static_cast<int>(title.size()), SQLITE_TRANSIENT);
            sqlite3_bind_int64(b, 3, book_year(i, j));
            sqlite3_bind_int64(b, 4, i);
            check(db, sqlite3_step(b), "insert book");
            sqlite3_reset(b);
        }
    }
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    exec(db, ("PRAGMA user_version = " + std::to_string(data_version)).c_str());
    exec(db, "COMMIT");
}

}  // namespace bench
