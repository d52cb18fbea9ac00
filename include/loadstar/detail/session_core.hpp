// loadstar/detail/session_core.hpp - the state behind a session: connection, transaction,
// identity map, pending objects, N+1 detector.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/names.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/relationship.hpp>

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace loadstar {

/// What the session does when one relationship lazy-loads more often than the threshold.
enum class n_plus_one_mode { off, warn, raise };

/// Per-session settings: `ls::session s{engine, {.n_plus_one = ls::n_plus_one_mode::raise}}`.
struct session_options {
    n_plus_one_mode n_plus_one = n_plus_one_mode::off;
    std::size_t n_plus_one_threshold = 10;
};

namespace detail {

inline std::size_t next_entity_index() {
    static std::atomic<std::size_t> n{0};
    return n++;
}
/// A dense index per entity type, for the session's per-type identity maps.
template <class E>
inline const std::size_t entity_index = next_entity_index();

struct identity_map_base {
    virtual ~identity_map_base() = default;
    /// Unbinds every object's holders from the session (close / expunge_all).
    virtual void detach_all() = 0;
    virtual std::size_t size() const = 0;
};

template <class E>
void detach_holders(E& obj);  // loader.hpp

template <class E>
struct identity_map final : identity_map_base {
    using key_type = typename entity_meta<E>::pk_type;
    std::unordered_map<key_type, ptr<E>> objects;

    ptr<E>* find(const key_type& k) {
        auto it = objects.find(k);
        return it == objects.end() ? nullptr : &it->second;
    }
    void detach_all() override {
        for (auto& [k, o] : objects) detach_holders(*o);
    }
    std::size_t size() const override { return objects.size(); }
};

/// A new object waiting for flush: how to insert it (and what it reaches).
struct pending_object {
    std::shared_ptr<void> object;
    void (*insert)(struct session_core&, const std::shared_ptr<void>&);
};

struct session_core {
    session_core(std::shared_ptr<engine_state> e, session_options o) : eng(std::move(e)), options(o) {}
    session_core(const session_core&) = delete;
    session_core& operator=(const session_core&) = delete;
    ~session_core() { close(); }

    std::shared_ptr<engine_state> eng;
    session_options options;
    lease conn;
    bool in_transaction = false;
    bool closed = false;
    std::vector<std::unique_ptr<identity_map_base>> maps;
    std::vector<pending_object> pending;
    std::unordered_set<const void*> pending_set;
    std::vector<std::pair<void*, void (*)(session_core&, void*)>> changed_owners;
    std::unordered_map<const std::string*, std::size_t> lazy_counts;
    // Flush bookkeeping: what one flush visited, and how to undo its in-memory effects.
    std::unordered_set<const void*> flush_seen;
    std::vector<std::function<void()>> flush_inserted;
    std::vector<std::function<void()>> flush_generated;
    std::unordered_set<const std::string*> warned;

    /// The connection, with a transaction begun (autobegin, as SQLAlchemy's session does).
    pooled_connection& connection() {
        if (closed) throw detached_error("loadstar: the session is closed");
        if (!conn) conn = lease(eng);
        if (!in_transaction) {
            run_control("BEGIN");
            in_transaction = true;
        }
        return conn.get();
    }

    void run_control(std::string_view sql) {
        try {
            execute_control(*eng, conn.get(), sql);
        } catch (const connection_error&) {
            conn.mark_broken();
            throw;
        }
    }

    template <class E>
    identity_map<E>& map() {
        const std::size_t i = entity_index<E>;
        if (i >= maps.size()) maps.resize(i + 1);
        if (!maps[i]) maps[i] = std::make_unique<identity_map<E>>();
        return static_cast<identity_map<E>&>(*maps[i]);
    }

    void commit() {
        if (in_transaction) {
            in_transaction = false;
            run_control("COMMIT");
        }
    }
    void rollback() {
        if (in_transaction) {
            in_transaction = false;
            run_control("ROLLBACK");
        }
    }

    void detach_all() {
        for (auto& m : maps)
            if (m) m->detach_all();
        maps.clear();
    }

    void close() noexcept {
        if (closed) return;
        try {
            if (conn && in_transaction) rollback();
        } catch (...) {
            conn.mark_broken();
        }
        in_transaction = false;
        detach_all();
        pending.clear();
        pending_set.clear();
        changed_owners.clear();
        conn.release();
        closed = true;
    }

    /// The N+1 detector: counts lazy loads per relationship.
    void note_lazy_load(const std::string& relationship, bool to_many, const std::source_location& where) {
        if (options.n_plus_one == n_plus_one_mode::off) return;
        const std::size_t n = ++lazy_counts[&relationship];
        if (n <= options.n_plus_one_threshold) return;
        std::string msg = "loadstar: N+1 select: " + relationship + " lazy-loaded " + std::to_string(n) +
                          " times in one session (threshold " +
                          std::to_string(options.n_plus_one_threshold) + "), touched at " +
                          where.file_name() + ":" + std::to_string(where.line()) + "; load it with " +
                          (to_many ? "selectinload" : "joinedload") + "<&" + relationship_cpp(relationship) +
                          "> in the query's options()";
        if (options.n_plus_one == n_plus_one_mode::raise) throw n_plus_one_error(msg);
        if (warned.insert(&relationship).second) std::fprintf(stderr, "%s\n", msg.c_str());
    }
    static std::string relationship_cpp(const std::string& dotted) {
        std::string s = dotted;
        const auto dot = s.find('.');
        if (dot != std::string::npos) s.replace(dot, 1, "::");
        return s;
    }
};

}  // namespace detail
}  // namespace loadstar
