// loadstar/schema.hpp - create_all / drop_all: DDL from the mappings.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/convert.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/loader/loader.hpp>
#include <loadstar/mapping.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace loadstar {

namespace detail {

/// One table's DDL as parts, rendered once every decision is made (nothing is cut out of a
/// rendered statement afterwards).
struct table_ddl {
    struct foreign_key {
        std::string target;  // the referenced table
        std::string clause;  // FOREIGN KEY (...) REFERENCES ...
        bool deferred = false;  // added by ALTER TABLE after every table exists
    };
    std::string name;
    std::vector<std::string> depends_on;
    std::vector<std::string> columns;  // column definitions, then table constraints
    std::vector<foreign_key> foreign_keys;
    std::vector<std::string> after;  // CREATE INDEX, ALTER TABLE ... ADD FOREIGN KEY

    /// CREATE TABLE with the columns and the foreign keys not deferred.
    std::string create() const;
    /// Every statement of this table, in order.
    std::vector<std::string> statements() const;
};

template <auto Member, class T, std::size_t I>
constexpr bool passive_delete_at() {
    using R = typename entity_meta<T>::template relationship_t<I>;
    if constexpr ((R::kind == relation::has_many || R::kind == relation::has_one) && R::passive_deletes)
        return same_member<entity_meta<T>::template relationship<I>().key, Member>();
    else
        return false;
}
template <auto Member, class T, std::size_t... I>
constexpr bool passive_delete_in(std::index_sequence<I...>) {
    return (passive_delete_at<Member, T, I>() || ... || false);
}
/// Does some entity among Ts declare `passive_deletes` on a relationship keyed by Member?
template <auto Member, class... Ts>
constexpr bool passive_delete_for() {
    return (passive_delete_in<Member, Ts>(std::make_index_sequence<entity_meta<Ts>::relationship_count>{}) || ... || false);
}

template <class E, std::size_t I, class... All>
void column_ddl(const dialect& d, table_ddl& t) {
    using meta = entity_meta<E>;
    using C = typename meta::template column_t<I>;
    const std::string tq = quote_ident(meta::table_name());
    const std::string cn = quote_ident(meta::template column_name<I>());
    std::string def = cn + " ";
    if constexpr (C::generated) {
        def += (d.generated_key_type.empty() ? type_name(d, sql_type_of<typename C::type>()) : d.generated_key_type) +
               " " + d.generated_key;
    } else {
        def += type_name(d, sql_type_of<typename C::type>());
        if constexpr (C::is_primary_key) def += " PRIMARY KEY";
        if constexpr (!C::nullable && !C::is_primary_key) def += " NOT NULL";
    }
    if constexpr (C::is_unique) def += " UNIQUE";
    t.columns.push_back(std::move(def));
    if constexpr (C::is_foreign_key) {
        constexpr auto target = C::fk::target;
        using pm = entity_meta<member_class_t<target>>;
        constexpr std::size_t pc = pm::template column_of<target>();
        static_assert(pc != npos, "loadstar: a foreign key references a member that is not a mapped column");
        std::string fk = "FOREIGN KEY (" + cn + ") REFERENCES " + quote_ident(pm::table_name()) + " (" +
                         quote_ident(pm::template column_name<pc>()) + ")";
        if constexpr (passive_delete_for<C::member, All...>()) fk += " ON DELETE CASCADE";
        t.foreign_keys.push_back({std::string(pm::table_name()), std::move(fk)});
        if (std::string(pm::table_name()) != t.name) t.depends_on.emplace_back(pm::table_name());
        t.after.push_back("CREATE INDEX IF NOT EXISTS " +
                          quote_ident("ix_" + t.name + "_" + std::string(meta::template column_name<I>())) + " ON " +
                          tq + " (" + cn + ")");
    }
}

template <class E, class... All>
table_ddl entity_ddl(const dialect& d) {
    using meta = entity_meta<E>;
    table_ddl t;
    t.name = std::string(meta::table_name());
    for_each_index<meta::column_count>([&](auto i) { column_ddl<E, i.value, All...>(d, t); });
    return t;
}

template <class E, std::size_t I>
void secondary_ddl_at(const dialect& d, std::vector<table_ddl>& out) {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    if constexpr (R::kind == relation::many_to_many) {
        using K = rel_keys<E, I>;
        using tm = entity_meta<typename R::target>;
        const secondary_t sec = K::key;
        const std::string name(sec.table);
        for (auto& t : out)
            if (t.name == name) return;  // declared by the other side too
        const std::string q = quote_ident(name), l = quote_ident(sec.local), r = quote_ident(sec.remote);
        table_ddl t;
        t.name = name;
        t.depends_on = {std::string(meta::table_name()), std::string(tm::table_name())};
        const std::string pk_type = type_name(d, sql_type_of<typename meta::pk_type>());
        t.columns = {l + " " + pk_type + " NOT NULL",
                     r + " " + type_name(d, sql_type_of<typename tm::pk_type>()) + " NOT NULL",
                     "PRIMARY KEY (" + l + ", " + r + ")"};
        t.foreign_keys.push_back({std::string(meta::table_name()),
                                  "FOREIGN KEY (" + l + ") REFERENCES " + quote_ident(meta::table_name()) + " (" +
                                      quote_ident(meta::template column_name<meta::pk_index>()) + ") ON DELETE CASCADE"});
        t.foreign_keys.push_back({std::string(tm::table_name()),
                                  "FOREIGN KEY (" + r + ") REFERENCES " + quote_ident(tm::table_name()) + " (" +
                                      quote_ident(tm::template column_name<tm::pk_index>()) + ") ON DELETE CASCADE"});
        t.after.push_back("CREATE INDEX IF NOT EXISTS " + quote_ident("ix_" + name + "_" + std::string(sec.remote)) +
                          " ON " + q + " (" + r + ")");
        out.push_back(std::move(t));
    }
}

template <class E>
void secondary_ddl(const dialect& d, std::vector<table_ddl>& out) {
    for_each_index<entity_meta<E>::relationship_count>([&](auto i) { secondary_ddl_at<E, i.value>(d, out); });
}

/// Orders tables so that every table comes after the tables it references.
LOADSTAR_DECL std::vector<table_ddl> dependency_order(std::vector<table_ddl> in);

/// A database that resolves REFERENCES at CREATE TABLE (PostgreSQL) refuses a FOREIGN KEY to a
/// table that does not exist yet (SQLite checks references only when rows are written): in a
/// cycle, the key to the table created later is added once every table exists, by the
/// dialect's add_foreign_key statement (named, and skipped by a second create_all).
LOADSTAR_DECL void defer_forward_keys(const dialect& d, std::vector<table_ddl>& tables);

template <class... Ts>
std::vector<table_ddl> schema_of(const dialect& d) {
    (void)(detail::require_mapped<Ts>::ok && ...);
    std::vector<table_ddl> tables{entity_ddl<Ts, Ts...>(d)...};
    (secondary_ddl<Ts>(d, tables), ...);
    tables = dependency_order(std::move(tables));
    defer_forward_keys(d, tables);
    return tables;
}

}  // namespace detail

/// Creates the tables of the given entities (and their association tables): primary keys,
/// NOT NULL for non-optional members, UNIQUE, FOREIGN KEY, an index on every foreign-key
/// column. Idempotent (IF NOT EXISTS). Throws loadstar::error on failure.
template <class... Ts>
void create_all(const engine& e) {
    const auto tables = detail::schema_of<Ts...>(e.sql_dialect());
    detail::lease l(e.state());
    for (const auto& t : tables)
        for (const auto& s : t.statements()) detail::execute_control(*e.state(), l.get(), s);
}

/// Drops the tables of the given entities and their association tables, children first.
template <class... Ts>
void drop_all(const engine& e) {
    auto tables = detail::schema_of<Ts...>(e.sql_dialect());
    detail::lease l(e.state());
    for (auto it = tables.rbegin(); it != tables.rend(); ++it)
        detail::execute_control(*e.state(), l.get(),
                                "DROP TABLE IF EXISTS " + detail::quote_ident(it->name) +
                                    e.sql_dialect().drop_table_suffix);
}

}  // namespace loadstar

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/schema.ipp>
#endif
