// tests/support/fake_driver.hpp - a recording fake driver: the executable documentation of the
// loadstar::driver concept, and a way to test the engine, the SQL generator and hydration
// without a database.
// SPDX-License-Identifier: MIT
#pragma once

// What a driver is
// ----------------
// `loadstar::driver` (include/loadstar/driver.hpp) asks a driver value for two things:
//
//   std::unique_ptr<loadstar::connection> connect();  // called by the pool, once per physical
//                                                     // connection it opens (lazily, on first
//                                                     // checkout; again after a discard)
//   const loadstar::dialect& sql_dialect() const;     // read once, when the engine is built
//
// The driver is moved into the engine (`loadstar::engine e{fake::driver{}}`) and erased there,
// so a driver must be move-constructible; it should be a small handle.
//
// A connection prepares statements and runs parameterless control statements:
//
//   prepare(sql)  -> statement   SQL always arrives with `?` placeholders. The engine caches
//                                 the result per connection, keyed by the exact SQL text: the
//                                 same text is prepared once per connection (a second copy is
//                                 prepared only while the first is still being stepped).
//   execute(sql)                 BEGIN / COMMIT / ROLLBACK / SAVEPOINT / DDL: no parameters, no
//                                 rows. Reported to listeners with counted = false.
//   alive()                      used by pool_options::pre_ping.
//
// A statement is used in this cycle, possibly many times:
//
//   bind_*(i, v) for i in [0, n)  (0-based; every parameter is bound, NULL included)
//   step() ... until false        (the first step executes; true while a row is available)
//       kind(c), get_*(c)         (0-based; get_* is only called for the kind it reports)
//   affected_rows()               (after the last step of an INSERT / UPDATE / DELETE)
//   reset()                       (always, even after an exception; clears the bindings)
//
// Errors are reported by throwing loadstar::error subclasses (integrity_error for constraint
// violations, with the native code). Text and blob views handed to bind_* stay valid until
// reset(); views returned by get_text / get_blob need only live until the next step().
//
// The fake
// --------
// `fake::driver` satisfies the concept and records everything into a `fake::log` shared by
// all copies of the driver (keep a copy, or `log()`, to inspect it after moving the driver into
// an engine). Statements return no rows unless a script says otherwise:
//
//   fake::driver drv;
//   drv.log()->script("SELECT authors.id, authors.name, authors.email FROM authors",
//                     {{std::int64_t{1}, std::string("Jane"), loadstar::value{}}});
//   loadstar::engine e{drv};
//   loadstar::session s{e};
//   auto authors = s.query<Author>().all();          // one Author, id 1, name "Jane"
//   drv.log()->prepared;                             // {"SELECT authors.id, ..."}
//   drv.log()->executions[0].params;                 // the values bound to it
//
// It is single-threaded, like the tests that use it.

#include <loadstar/driver.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/value.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace fake {

using row = std::vector<loadstar::value>;

/// What one statement execution answers: rows, an affected-row count, or an error.
struct response {
    std::vector<row> rows;
    std::int64_t affected = 0;
    /// When set, the first step() throws loadstar::integrity_error with this native code.
    std::optional<int> integrity_error;
};

/// Everything the fake saw, shared by the driver, its connections and their statements.
struct log {
    struct execution {
        std::string sql;
        std::vector<loadstar::value> params;  // as bound, indexed by parameter
    };
    std::size_t connects = 0;               // connect() calls
    std::size_t open = 0;                   // connections alive now
    std::vector<std::string> prepared;      // prepare() calls, in order
    std::vector<std::string> executed;      // execute() calls (control statements), in order
    std::vector<execution> executions;      // each statement execution (at its first step)
    std::size_t resets = 0;                 // reset() calls
    std::map<std::string, response, std::less<>> scripts;  // by exact SQL text

    /// The response for statements whose SQL is exactly `sql`.
    void script(std::string sql, std::vector<row> rows, std::int64_t affected = 0) {
        scripts[std::move(sql)] = response{std::move(rows), affected, std::nullopt};
    }
    /// Makes statements whose SQL is exactly `sql` fail with integrity_error(native_code).
    void fail(std::string sql, int native_code) {
        scripts[std::move(sql)] = response{{}, 0, native_code};
    }
    /// How many times `sql` was prepared.
    std::size_t prepare_count(std::string_view sql) const {
        std::size_t n = 0;
        for (const auto& p : prepared) n += p == sql;
        return n;
    }
    /// How many times `sql` was executed (statements, not control).
    std::size_t execution_count(std::string_view sql) const {
        std::size_t n = 0;
        for (const auto& e : executions) n += e.sql == sql;
        return n;
    }
    void clear() {
        prepared.clear();
        executed.clear();
        executions.clear();
        resets = 0;
    }
};

class statement final : public loadstar::statement {
public:
    statement(std::shared_ptr<log> l, std::string sql) : log_(std::move(l)), sql_(std::move(sql)) {}

    void bind_null(int i) override { slot(i) = loadstar::value{}; }
    void bind_int(int i, std::int64_t v) override { slot(i) = v; }
    void bind_real(int i, double v) override { slot(i) = v; }
    void bind_text(int i, std::string_view v) override { slot(i) = std::string(v); }
    void bind_blob(int i, std::span<const std::byte> v) override { slot(i) = loadstar::blob(v.begin(), v.end()); }

    bool step() override {
        if (!started_) {
            started_ = true;
            log_->executions.push_back({sql_, params_});
            auto it = log_->scripts.find(sql_);
            if (it != log_->scripts.end()) {
                if (it->second.integrity_error)
                    throw loadstar::integrity_error("fake: constraint failed: " + sql_, *it->second.integrity_error);
                rows_ = &it->second.rows;
                affected_ = it->second.affected;
            } else {
                rows_ = nullptr;
                affected_ = 0;
            }
            pos_ = 0;
        } else {
            ++pos_;
        }
        return rows_ && pos_ < rows_->size();
    }
    void reset() override {
        ++log_->resets;
        started_ = false;
        params_.clear();
        rows_ = nullptr;
        pos_ = 0;
    }
    int column_count() override { return rows_ && !rows_->empty() ? static_cast<int>(rows_->front().size()) : 0; }
    loadstar::column_kind kind(int c) override {
        switch (cell(c).index()) {
        case 0: return loadstar::column_kind::null;
        case 1: return loadstar::column_kind::integer;
        case 2: return loadstar::column_kind::real;
        case 3: return loadstar::column_kind::text;
        default: return loadstar::column_kind::blob;
        }
    }
    std::int64_t get_int(int c) override { return get<std::int64_t>(cell(c)); }
    double get_real(int c) override { return get<double>(cell(c)); }
    std::string_view get_text(int c) override { return get<std::string>(cell(c)); }
    std::span<const std::byte> get_blob(int c) override { return get<loadstar::blob>(cell(c)); }
    std::int64_t affected_rows() override { return affected_; }

private:
    loadstar::value& slot(int i) {
        const auto n = static_cast<std::size_t>(i) + 1;
        if (params_.size() < n) params_.resize(n);
        return params_[static_cast<std::size_t>(i)];
    }
    const loadstar::value& cell(int c) const { return (*rows_)[pos_].at(static_cast<std::size_t>(c)); }

    std::shared_ptr<log> log_;
    std::string sql_;
    std::vector<loadstar::value> params_;
    bool started_ = false;
    const std::vector<row>* rows_ = nullptr;
    std::size_t pos_ = 0;
    std::int64_t affected_ = 0;
};

class connection final : public loadstar::connection {
public:
    explicit connection(std::shared_ptr<log> l) : log_(std::move(l)) { ++log_->open; }
    ~connection() override { --log_->open; }

    std::unique_ptr<loadstar::statement> prepare(std::string_view sql) override {
        log_->prepared.emplace_back(sql);
        return std::make_unique<statement>(log_, std::string(sql));
    }
    void execute(std::string_view sql) override { log_->executed.emplace_back(sql); }
    bool alive() override { return true; }

private:
    std::shared_ptr<log> log_;
};

/// The recording driver. Copies share one log; the dialect can be adjusted before the driver is
/// handed to an engine (the engine reads it once).
class driver {
public:
    driver() {
        dialect_.name = "fake";
        dialect_.supports_returning = true;
        dialect_.max_bind_parameters = 999;
    }
    std::unique_ptr<loadstar::connection> connect() {
        ++log_->connects;
        return std::make_unique<connection>(log_);
    }
    const loadstar::dialect& sql_dialect() const { return dialect_; }

    loadstar::dialect& dialect() noexcept { return dialect_; }
    const std::shared_ptr<fake::log>& log() const noexcept { return log_; }

private:
    std::shared_ptr<fake::log> log_ = std::make_shared<fake::log>();
    loadstar::dialect dialect_;
};

static_assert(loadstar::driver<driver>);

}  // namespace fake
