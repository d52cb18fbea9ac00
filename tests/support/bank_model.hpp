// tests/support/bank_model.hpp - accounts and the transfers between them: the workload of the
// SQLite concurrency tests and benchmark. A transfer moves money from one account to another
// and logs a row, so the sum of the balances never changes and the number of log rows is the
// number of committed transfers: a lost write shows in one or the other.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loadstar.hpp>

#include <cstdint>

namespace bank {
struct Account {
    std::int64_t id{};
    std::int64_t balance{};
};
struct Transfer {
    std::int64_t id{};
    std::int64_t from_id{};
    std::int64_t to_id{};
    std::int64_t amount{};
};

inline constexpr std::int64_t accounts = 20;
inline constexpr std::int64_t opening_balance = 1000;
inline constexpr std::int64_t total = accounts * opening_balance;
}  // namespace bank

template <>
struct loadstar::mapping<bank::Account> {
    static constexpr auto table = loadstar::table("accounts",
        loadstar::column<&bank::Account::id>("id", loadstar::primary_key),
        loadstar::column<&bank::Account::balance>("balance"));
};
template <>
struct loadstar::mapping<bank::Transfer> {
    static constexpr auto table = loadstar::table("transfers",
        loadstar::column<&bank::Transfer::id>("id", loadstar::primary_key),
        loadstar::column<&bank::Transfer::from_id>("from_id"),
        loadstar::column<&bank::Transfer::to_id>("to_id"),
        loadstar::column<&bank::Transfer::amount>("amount"));
};

namespace bank {

/// Creates the tables and the opening balances.
inline void open_accounts(const loadstar::engine& e) {
    loadstar::create_all<Account, Transfer>(e);
    loadstar::session s{e};
    for (std::int64_t i = 1; i <= accounts; ++i)
        s.add(std::make_shared<Account>(Account{.id = i, .balance = opening_balance}));
    s.commit();
}

/// One transfer in its own transaction (run_transaction: BEGIN IMMEDIATE on SQLite, retried on
/// busy_error and serialization_error). Returns the attempts it took.
inline int transfer(const loadstar::engine& e, std::int64_t from, std::int64_t to, std::int64_t amount) {
    int attempts = 0;
    loadstar::run_transaction(e, [&](loadstar::session& tx) {
        ++attempts;
        auto a = tx.get<Account>(from);
        auto b = tx.get<Account>(to);
        a->balance -= amount;
        b->balance += amount;
        tx.add(std::make_shared<Transfer>(Transfer{.from_id = from, .to_id = to, .amount = amount}));
    }, /*retries=*/100);
    return attempts;
}

/// The sum of the balances, read by one query in the session's transaction.
inline std::int64_t sum(loadstar::session& s) {
    std::int64_t n = 0;
    for (const auto& a : s.query<Account>().populate_existing().all()) n += a->balance;
    return n;
}
}  // namespace bank
