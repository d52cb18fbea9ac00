// tests/support/faulty_driver.hpp - a driver wrapper (built on the driver concept) that fails
// the k-th statement after it is armed, with a chosen kind of error, before the statement
// reaches the database. It wraps the test backend's driver (backend.hpp): an SQLite file, or
// a fresh PostgreSQL schema with LOADSTAR_TEST_BACKEND=postgres.
// SPDX-License-Identifier: MIT
#pragma once

#include "backend.hpp"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace faults {

enum class kind { integrity, generic, connection_lost, serialization };

struct control {
    /// kill_all() ends every connection opened before it, as a server restart does: each
    /// still says alive() (nothing was read from its socket yet), fails its next statement
    /// with a connection_error and fails a ping().
    std::atomic<int> generation{0};
    std::atomic<int> pings{0};  // ping() calls, any connection
    void kill_all() { ++generation; }
    /// While set, connect() fails with a connection_error (the server cannot be reached).
    std::atomic<bool> refuse{false};
    std::atomic<int> connects{0};  // connect() calls, refused ones included
    bool armed = false;
    int fail_at = 0;  // 1-based index of the statement to fail, counted while armed
    int seen = 0;
    std::vector<std::string> sqls;  // the statements seen while armed, the failing one last
    kind what = kind::integrity;
    std::string fail_prefix;  // when set: fail the first statement that starts with it instead
    void arm(int k, kind w) {
        armed = true;
        fail_at = k;
        fail_prefix.clear();
        seen = 0;
        sqls.clear();
        what = w;
    }
    /// Fails the first statement whose text starts with `prefix` (e.g. "COMMIT").
    void arm_on(std::string prefix, kind w) {
        arm(0, w);
        fail_prefix = std::move(prefix);
    }
    void disarm() { armed = false; }
    /// Called before each statement (control statements included, except the ROLLBACKs that
    /// recovery needs); throws when it is the chosen one.
    void before(loadstar::connection& inner, std::string_view sql, bool& dead, int born) {
        if (born != generation.load()) dead = true;  // killed while idle: found out now
        if (dead) throw loadstar::connection_error("faulty: connection is gone");
        if (!armed) return;
        if (sql.rfind("ROLLBACK", 0) == 0) return;
        sqls.emplace_back(sql);
        ++seen;
        if (fail_prefix.empty() ? seen != fail_at : sql.rfind(fail_prefix, 0) != 0) return;
        armed = false;
        switch (what) {
        case kind::integrity: throw loadstar::integrity_error("faulty: injected constraint failure at statement " + std::to_string(seen), 19);
        case kind::generic: throw loadstar::error("faulty: injected I/O error at statement " + std::to_string(seen), 10);
        case kind::serialization:
            throw loadstar::serialization_error("faulty: could not serialize access (injected)", 0, "40001");
        case kind::connection_lost:
            dead = true;
            try {
                inner.execute("ROLLBACK");  // the server side ends the transaction with the link
            } catch (...) {
            }
            throw loadstar::connection_error("faulty: injected connection loss at statement " + std::to_string(seen));
        }
    }
};

class statement final : public loadstar::statement {
public:
    statement(std::unique_ptr<loadstar::statement> in, std::shared_ptr<control> c, loadstar::connection& conn,
              std::string sql, bool& dead, int born)
        : in_(std::move(in)), c_(std::move(c)), conn_(conn), sql_(std::move(sql)), dead_(dead), born_(born) {}
    void bind_null(int i) override { in_->bind_null(i); }
    void bind_int(int i, std::int64_t v) override { in_->bind_int(i, v); }
    void bind_real(int i, double v) override { in_->bind_real(i, v); }
    void bind_text(int i, std::string_view v) override { in_->bind_text(i, v); }
    void bind_blob(int i, std::span<const std::byte> v) override { in_->bind_blob(i, v); }
    void bind_int_array(int i, std::span<const std::int64_t> v) override { in_->bind_int_array(i, v); }
    bool step() override {
        if (!started_) {
            started_ = true;
            c_->before(conn_, sql_, dead_, born_);
        }
        return in_->step();
    }
    void reset() override {
        started_ = false;
        in_->reset();
    }
    int column_count() override { return in_->column_count(); }
    loadstar::column_kind kind(int i) override { return in_->kind(i); }
    std::int64_t get_int(int i) override { return in_->get_int(i); }
    double get_real(int i) override { return in_->get_real(i); }
    std::string_view get_text(int i) override { return in_->get_text(i); }
    std::span<const std::byte> get_blob(int i) override { return in_->get_blob(i); }
    loadstar::column_kind read_int(int i, std::int64_t& out) override { return in_->read_int(i, out); }
    loadstar::column_kind read_text(int i, std::string_view& out) override { return in_->read_text(i, out); }
    std::int64_t affected_rows() override { return in_->affected_rows(); }

private:
    std::unique_ptr<loadstar::statement> in_;
    std::shared_ptr<control> c_;
    loadstar::connection& conn_;
    std::string sql_;
    bool& dead_;
    int born_;
    bool started_ = false;
};

class connection final : public loadstar::connection {
public:
    connection(std::unique_ptr<loadstar::connection> in, std::shared_ptr<control> c)
        : in_(std::move(in)), c_(std::move(c)), born_(c_->generation.load()) {}
    std::unique_ptr<loadstar::statement> prepare(std::string_view sql) override {
        if (born_ != c_->generation.load()) dead_ = true;
        if (dead_) throw loadstar::connection_error("faulty: connection is gone");
        return std::make_unique<statement>(in_->prepare(sql), c_, *in_, std::string(sql), dead_, born_);
    }
    void execute(std::string_view sql) override {
        c_->before(*in_, sql, dead_, born_);
        in_->execute(sql);
    }
    bool alive() override { return !dead_ && in_->alive(); }
    bool ping() override {
        ++c_->pings;
        if (born_ != c_->generation.load()) dead_ = true;
        return !dead_ && in_->ping();
    }

private:
    std::unique_ptr<loadstar::connection> in_;
    std::shared_ptr<control> c_;
    int born_;           // control::generation when opened
    bool dead_ = false;  // this connection was "lost"
};

/// Wraps a driver (`Inner`); every connection it opens shares one control block. It has no
/// pipeline (connection::pipeline's default: each statement then runs, and may fail, on its own).
template <class Inner>
class driver {
public:
    driver(Inner in, std::shared_ptr<control> c) : in_(std::move(in)), c_(std::move(c)) {}
    std::unique_ptr<loadstar::connection> connect() {
        ++c_->connects;
        if (c_->refuse) throw loadstar::connection_error("faulty: connection refused");
        return std::make_unique<connection>(in_.connect(), c_);
    }
    const loadstar::dialect& sql_dialect() const { return in_.sql_dialect(); }

private:
    Inner in_;
    std::shared_ptr<control> c_;
};
static_assert(loadstar::driver<driver<loadstar::sqlite::driver>>);

/// An engine over the faulty driver on the test backend: the SQLite file `sqlite_path`
/// (removed first; SQLite's :memory: would not survive a "lost" connection), or a fresh
/// PostgreSQL schema.
inline loadstar::engine engine(const std::string& sqlite_path, std::shared_ptr<control> c) {
    if (model::on_postgres()) {
#ifdef LOADSTAR_TEST_HAVE_POSTGRES
        return loadstar::engine(
            driver<loadstar::postgres::driver>(loadstar::postgres::driver(model::fresh_pg_schema_conninfo()), std::move(c)));
#else
        throw std::runtime_error("LOADSTAR_TEST_BACKEND=postgres, but this test binary was built without libpq");
#endif
    }
    std::remove(sqlite_path.c_str());
    return loadstar::engine(driver<loadstar::sqlite::driver>(loadstar::sqlite::driver(sqlite_path), std::move(c)));
}

}  // namespace faults
