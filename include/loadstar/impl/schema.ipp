// loadstar/impl/schema.ipp - DDL: CREATE TABLE text, the tables' dependency order, foreign keys added after a cycle.
// Included by schema.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/schema.hpp>

namespace loadstar::detail {

LOADSTAR_DECL std::string table_ddl::create() const {
    std::string body;
    for (const auto& c : columns) body += (body.empty() ? "\n    " : ",\n    ") + c;
    for (const auto& fk : foreign_keys)
        if (!fk.deferred) body += ",\n    " + fk.clause;
    return "CREATE TABLE IF NOT EXISTS " + quote_ident(name) + " (" + body + "\n)";
}

LOADSTAR_DECL std::vector<std::string> table_ddl::statements() const {
    std::vector<std::string> out{create()};
    out.insert(out.end(), after.begin(), after.end());
    return out;
}

LOADSTAR_DECL std::vector<table_ddl> dependency_order(std::vector<table_ddl> in) {
    std::vector<table_ddl> out;
    std::set<std::string> done, names;
    for (auto& t : in) names.insert(t.name);
    while (!in.empty()) {
        bool progressed = false;
        for (auto it = in.begin(); it != in.end();) {
            const bool ready = std::all_of(it->depends_on.begin(), it->depends_on.end(), [&](const std::string& d) {
                return done.count(d) || !names.count(d);
            });
            if (ready) {
                done.insert(it->name);
                out.push_back(std::move(*it));
                it = in.erase(it);
                progressed = true;
            } else {
                ++it;
            }
        }
        if (!progressed) {  // a cycle of foreign keys: keep the given order for the rest
            for (auto& t : in) out.push_back(std::move(t));
            break;
        }
    }
    return out;
}

LOADSTAR_DECL void defer_forward_keys(const dialect& d, std::vector<table_ddl>& tables) {
    if (!d.add_foreign_key || tables.empty()) return;
    std::set<std::string> created, names;
    for (auto& t : tables) names.insert(t.name);
    std::vector<std::string> alters;
    for (auto& t : tables) {
        created.insert(t.name);
        for (std::size_t k = 0; k < t.foreign_keys.size(); ++k) {
            auto& fk = t.foreign_keys[k];
            if (created.count(fk.target) || !names.count(fk.target)) continue;
            fk.deferred = true;
            alters.push_back(d.add_foreign_key(quote_ident(t.name), quote_ident("ls_fk_" + t.name + "_" + std::to_string(k)),
                                               fk.clause));
        }
    }
    for (auto& a : alters) tables.back().after.push_back(std::move(a));
}

}  // namespace loadstar::detail
