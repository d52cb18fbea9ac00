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

LOADSTAR_DECL void column_ddl(const dialect& d, const column_spec& c, table_ddl& t) {
    const std::string tq = quote_ident(t.name);
    const std::string cn = quote_ident(c.name);
    std::string def = cn + " ";
    if (c.generated) {
        def += (d.generated_key_type.empty() ? type_name(d, c.type) : d.generated_key_type) + " " + d.generated_key;
    } else {
        def += type_name(d, c.type);
        if (c.primary_key) def += " PRIMARY KEY";
        if (c.not_null) def += " NOT NULL";
    }
    if (c.unique) def += " UNIQUE";
    t.columns.push_back(std::move(def));
    if (!c.fk_table.empty()) {
        std::string fk = "FOREIGN KEY (" + cn + ") REFERENCES " + quote_ident(c.fk_table) + " (" + quote_ident(c.fk_column) + ")";
        if (c.on_delete_cascade) fk += " ON DELETE CASCADE";
        t.foreign_keys.push_back({std::string(c.fk_table), std::move(fk)});
        if (c.fk_table != t.name) t.depends_on.emplace_back(c.fk_table);
        t.after.push_back("CREATE INDEX IF NOT EXISTS " + quote_ident("ix_" + t.name + "_" + std::string(c.name)) + " ON " +
                          tq + " (" + cn + ")");
    }
}

LOADSTAR_DECL void secondary_ddl(const dialect& d, const secondary_spec& s, std::vector<table_ddl>& out) {
    const std::string name(s.sec.table);
    for (auto& t : out)
        if (t.name == name) return;  // declared by the other side too
    const std::string q = quote_ident(name), l = quote_ident(s.sec.local), r = quote_ident(s.sec.remote);
    table_ddl t;
    t.name = name;
    t.depends_on = {std::string(s.local_table), std::string(s.remote_table)};
    t.columns = {l + " " + type_name(d, s.local_type) + " NOT NULL", r + " " + type_name(d, s.remote_type) + " NOT NULL",
                 "PRIMARY KEY (" + l + ", " + r + ")"};
    t.foreign_keys.push_back({std::string(s.local_table), "FOREIGN KEY (" + l + ") REFERENCES " + quote_ident(s.local_table) +
                                                              " (" + quote_ident(s.local_pk) + ") ON DELETE CASCADE"});
    t.foreign_keys.push_back({std::string(s.remote_table), "FOREIGN KEY (" + r + ") REFERENCES " +
                                                               quote_ident(s.remote_table) + " (" + quote_ident(s.remote_pk) +
                                                               ") ON DELETE CASCADE"});
    t.after.push_back("CREATE INDEX IF NOT EXISTS " + quote_ident("ix_" + name + "_" + std::string(s.sec.remote)) + " ON " +
                      q + " (" + r + ")");
    out.push_back(std::move(t));
}

LOADSTAR_DECL std::vector<table_ddl> schema_from(const dialect& d, std::initializer_list<table_spec> entities) {
    std::vector<table_ddl> tables;
    tables.reserve(entities.size());
    for (const table_spec& e : entities) {
        table_ddl t;
        t.name = std::string(e.name);
        for (const column_spec& c : e.columns) column_ddl(d, c, t);
        tables.push_back(std::move(t));
    }
    for (const table_spec& e : entities)
        for (const secondary_spec& s : e.secondaries) secondary_ddl(d, s, tables);
    tables = dependency_order(std::move(tables));
    defer_forward_keys(d, tables);
    return tables;
}

LOADSTAR_DECL void create_tables(const engine& e, std::initializer_list<table_spec> entities) {
    const auto tables = schema_from(e.sql_dialect(), entities);
    lease l(e.state());
    for (const auto& t : tables)
        for (const auto& s : t.statements()) execute_control(*e.state(), l.get(), s);
}

LOADSTAR_DECL void drop_tables(const engine& e, std::initializer_list<table_spec> entities) {
    const auto tables = schema_from(e.sql_dialect(), entities);
    lease l(e.state());
    for (auto it = tables.rbegin(); it != tables.rend(); ++it)
        execute_control(*e.state(), l.get(),
                        "DROP TABLE IF EXISTS " + quote_ident(it->name) + e.sql_dialect().drop_table_suffix);
}

}  // namespace loadstar::detail
