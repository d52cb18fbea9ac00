// tests/session/lifetime_test.cpp - a session never frees what a live cursor or prefetch holds
// (issue 11, item 8): close() inside a yield_per loop raises usage_error, a connection lost
// during a stream or during a prefetched (pipelined) load raises connection_error, and
// nothing freed is touched (these cases read freed memory under the asan preset before the
// pooled connection was shared with the cursors and prefetch scopes that use it).
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/model.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include <unistd.h>

using ls::col;
using model::Author;
using model::Book;
using model::Profile;

namespace {

/// What the killable driver shares with the test: once `killed`, every connection it opened
/// says it is dead (alive() false, statements refused), as after a server restart. On
/// PostgreSQL the backend of each connection is terminated for real as well.
struct kill_switch {
    std::atomic<bool> killed{false};
};

class killable_connection final : public ls::connection {
public:
    killable_connection(std::unique_ptr<ls::connection> in, std::shared_ptr<kill_switch> k)
        : in_(std::move(in)), k_(std::move(k)) {}
    std::unique_ptr<ls::statement> prepare(std::string_view sql) override {
        check();
        return in_->prepare(sql);
    }
    void execute(std::string_view sql) override {
        // The session's ROLLBACK after a loss still reaches the inner connection (it ends the
        // transaction the "lost" link held, as the server would).
        if (k_->killed && !sql.starts_with("ROLLBACK")) check();
        in_->execute(sql);
    }
    bool alive() override { return !k_->killed && in_->alive(); }
    bool pipeline(std::span<ls::statement* const> sts) override { return in_->pipeline(sts); }
    void discard(std::unique_ptr<ls::statement> st) noexcept override { in_->discard(std::move(st)); }
    ls::connection& inner() { return *in_; }

private:
    void check() {
        if (k_->killed) throw ls::connection_error("killable: the connection is gone", 0, "08006");
    }
    std::unique_ptr<ls::connection> in_;
    std::shared_ptr<kill_switch> k_;
};

/// Wraps a driver; its dialect says `pipelining` (so the loaders open prefetch scopes) even on
/// SQLite, whose connections then run each statement on its own (connection::pipeline's
/// default).
template <class Inner>
class killable_driver {
public:
    killable_driver(Inner in, std::shared_ptr<kill_switch> k) : in_(std::move(in)), k_(std::move(k)), d_(in_.sql_dialect()) {
        d_.pipelining = true;
    }
    std::unique_ptr<ls::connection> connect() { return std::make_unique<killable_connection>(in_.connect(), k_); }
    const ls::dialect& sql_dialect() const { return d_; }

private:
    Inner in_;
    std::shared_ptr<kill_switch> k_;
    ls::dialect d_;
};

/// pool_size 0: a connection the session lets go of is closed at once, so that a cursor still
/// holding it would read freed memory (ASan), instead of a connection idling in the pool.
/// On PostgreSQL the connections carry an application_name of their own (`app`), so that
/// kill() terminates their backends and no one else's.
ls::engine make_engine(const std::shared_ptr<kill_switch>& k, std::string* app = nullptr) {
    const ls::pool_options pool{.pool_size = 0, .max_overflow = 4};
    if (model::on_postgres()) {
#ifdef LOADSTAR_TEST_HAVE_POSTGRES
        std::string schema;
        std::string conninfo = model::fresh_pg_schema_conninfo(&schema);
        conninfo += " application_name=" + schema;
        if (app) *app = schema;
        return ls::engine(killable_driver<ls::postgres::driver>(ls::postgres::driver(conninfo), k), pool);
#else
        throw std::runtime_error("LOADSTAR_TEST_BACKEND=postgres, but this test binary was built without libpq");
#endif
    }
    return ls::engine(killable_driver<ls::sqlite::driver>(ls::sqlite::driver(":memory:"), k), pool);
}

void seed(ls::engine& e, int authors, int books_each) {
    model::create_schema(e);
    ls::session s{e};
    for (int i = 0; i < authors; ++i) {
        auto a = std::make_shared<Author>(Author{.name = "a" + std::to_string(i)});
        for (int j = 0; j < books_each; ++j) a->books.push_back(std::make_shared<Book>(Book{.title = "b" + std::to_string(j)}));
        a->profile = std::make_shared<Profile>(Profile{.bio = "bio" + std::to_string(i)});
        s.add(a);
    }
    s.commit();
}

/// Kills the connections; on PostgreSQL their backends are terminated for real too (from a
/// second connection), and gone before this returns.
void kill(kill_switch& k, const std::string& app) {
#ifdef LOADSTAR_TEST_HAVE_POSTGRES
    if (!app.empty()) {
        model::detail::admin_connection admin(model::pg_conninfo());
        admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + app + "'");
        for (int i = 0; i < 500; ++i) {
            PGresult* r = PQexec(admin.pg, ("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app + "'").c_str());
            const bool gone = r && PQresultStatus(r) == PGRES_TUPLES_OK && std::string_view(PQgetvalue(r, 0, 0)) == "0";
            PQclear(r);
            if (gone) break;
            usleep(10000);
        }
    }
#else
    (void)app;
#endif
    k.killed = true;
}

}  // namespace

TEST_CASE("lifetime: close() inside a yield_per loop raises usage_error and touches nothing freed",
          "[session][lifetime][yield_per]") {
    auto k = std::make_shared<kill_switch>();
    auto e = make_engine(k);
    seed(e, 30, 0);
    ls::session s{e};
    int seen = 0;
    auto loop = [&] {
        for (const auto& a : s.query<Author>().order_by(col<&Author::id>).yield_per(7)) {
            REQUIRE(a);
            if (++seen == 3) s.close();
        }
    };
    REQUIRE_THROWS_AS(loop(), ls::usage_error);
    // The first batch was handed out whole; the next one was refused.
    CHECK(seen == 7);
    CHECK_THROWS_AS(s.query<Author>().count(), ls::detached_error);
    // The engine still works: the closed session's connection was not given to anyone.
    ls::session t{e};
    CHECK(t.query<Author>().count() == 30);
}

TEST_CASE("lifetime: a stream that outlives close() is destroyed without touching freed statements",
          "[session][lifetime][yield_per]") {
    auto k = std::make_shared<kill_switch>();
    auto e = make_engine(k);
    seed(e, 12, 1);
    ls::session s{e};
    {
        auto st = s.query<Book>().options(ls::selectinload<&Book::tags>).yield_per(5);
        auto it = st.begin();
        REQUIRE(it != st.end());
        s.close();
        // The batch in hand is read on; the next one is refused.
        int rest = 0;
        CHECK_THROWS_AS([&] { for (++it; it != st.end(); ++it) ++rest; }(), ls::usage_error);
        CHECK(rest == 4);
    }  // the stream and its cursor go here, after the session let go of the connection
    ls::session t{e};
    CHECK(t.query<Book>().count() == 12);
}

TEST_CASE("lifetime: a connection lost during a yield_per loop raises connection_error and touches nothing freed",
          "[session][lifetime][yield_per]") {
    auto k = std::make_shared<kill_switch>();
    std::string app;
    auto e = make_engine(k, &app);
    seed(e, 30, 0);
    ls::session s{e};
    int seen = 0;
    bool lost_seen = false;
    auto loop = [&] {
        for (const auto& a : s.query<Author>().order_by(col<&Author::id>).yield_per(7)) {
            REQUIRE(a);
            if (++seen == 2) {
                kill(*k, app);
                // The session finds the connection dead and lets go of it (lose_connection)
                // while the stream's cursor still holds it.
                try {
                    (void)s.query<Author>().count();
                } catch (const ls::connection_error&) {
                    lost_seen = true;
                }
            }
        }
    };
    REQUIRE_THROWS_AS(loop(), ls::connection_error);
    CHECK(lost_seen);
    CHECK(seen == 7);
    k->killed = false;
    // The session goes on, on a new connection.
    CHECK(s.query<Author>().count() == 30);
}

TEST_CASE("lifetime: a connection lost during a prefetched load raises connection_error and touches nothing freed",
          "[session][lifetime][prefetch]") {
    auto k = std::make_shared<kill_switch>();
    auto e = make_engine(k);
    seed(e, 6, 2);
    // A listener kills the connection once the first follow-up load of the pipelined pair
    // (books, profile) has run: the second one's connection() finds it dead and the session
    // lets go of it while the prefetch scope still holds it.
    bool armed = true;
    const auto id = e.on_statement([&](const ls::statement_event& ev) {
        if (armed && ev.counted && std::string_view(ev.sql).find("FROM books") != std::string_view::npos) {
            armed = false;
            k->killed = true;
        }
    });
    {
        ls::session s{e};
        auto load = [&] {
            return s.query<Author>()
                .options(ls::selectinload<&Author::books>, ls::selectinload<&Author::profile>)
                .order_by(col<&Author::id>)
                .all();
        };
        REQUIRE_THROWS_AS(load(), ls::connection_error);
        CHECK_FALSE(armed);
        k->killed = false;
        // The session goes on, on a new connection.
        auto authors = load();
        REQUIRE(authors.size() == 6);
        CHECK(authors[0]->books.size() == 2);
        CHECK(authors[0]->profile->bio == "bio0");
    }
    e.remove_listener(id);
}
