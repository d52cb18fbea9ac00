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
#include <array>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>
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

/// One column as create_all writes it, decided at compile time from the mappings.
struct column_spec {
    std::string_view name;
    sql_type type = sql_type::integer;
    bool generated = false;
    bool primary_key = false;
    bool not_null = false;
    bool unique = false;
    std::string_view fk_table;  // empty: no foreign key
    std::string_view fk_column;
    bool on_delete_cascade = false;
};
/// A many-to-many association table, as the side that declares it sees it.
struct secondary_spec {
    secondary_t sec;
    std::string_view local_table, local_pk;
    sql_type local_type = sql_type::integer;
    std::string_view remote_table, remote_pk;
    sql_type remote_type = sql_type::integer;
};
/// An entity's table and the association tables of its many-to-many relationships.
struct table_spec {
    std::string_view name;
    std::span<const column_spec> columns;
    std::span<const secondary_spec> secondaries;
};

template <class E, std::size_t I, class... All>
constexpr column_spec column_spec_of() {
    using meta = entity_meta<E>;
    using C = typename meta::template column_t<I>;
    column_spec c;
    c.name = meta::template column_name<I>();
    c.type = sql_type_of<typename C::type>();
    c.generated = C::generated;
    c.primary_key = C::is_primary_key;
    c.not_null = !C::nullable && !C::is_primary_key;
    c.unique = C::is_unique;
    if constexpr (C::is_foreign_key) {
        constexpr auto target = C::fk::target;
        using pm = entity_meta<member_class_t<target>>;
        constexpr std::size_t pc = pm::template column_of<target>();
        static_assert(pc != npos, "loadstar: a foreign key references a member that is not a mapped column");
        c.fk_table = pm::table_name();
        c.fk_column = pm::template column_name<pc>();
        c.on_delete_cascade = passive_delete_for<C::member, All...>();
    }
    return c;
}

template <class E, std::size_t I>
constexpr secondary_spec secondary_spec_of() {
    using meta = entity_meta<E>;
    using tm = entity_meta<typename meta::template relationship_t<I>::target>;
    secondary_spec s;
    s.sec = rel_keys<E, I>::key;
    s.local_table = meta::table_name();
    s.local_pk = meta::template column_name<meta::pk_index>();
    s.local_type = sql_type_of<typename meta::pk_type>();
    s.remote_table = tm::table_name();
    s.remote_pk = tm::template column_name<tm::pk_index>();
    s.remote_type = sql_type_of<typename tm::pk_type>();
    return s;
}

/// The DDL specs of E's table (All: every entity of the create_all, for ON DELETE CASCADE).
template <class E, class... All>
struct ddl_of {
    using meta = entity_meta<E>;
    static constexpr auto columns = []<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<column_spec, sizeof...(I)>{column_spec_of<E, I, All...>()...};
    }(std::make_index_sequence<meta::column_count>{});
    static constexpr std::size_t secondary_count = [] {
        std::size_t n = 0;
        for_each_index<meta::relationship_count>(
            [&](auto i) { n += meta::template relationship_t<i>::kind == relation::many_to_many; });
        return n;
    }();
    static constexpr auto secondaries = [] {
        std::array<secondary_spec, secondary_count> out{};
        std::size_t k = 0;
        for_each_index<meta::relationship_count>([&](auto i) {
            if constexpr (meta::template relationship_t<i>::kind == relation::many_to_many)
                out[k++] = secondary_spec_of<E, i.value>();
        });
        return out;
    }();
    static constexpr table_spec spec() { return {meta::table_name(), columns, secondaries}; }
};

/// Column `c` of table `t`: its definition, and its foreign key with the index on it.
LOADSTAR_DECL void column_ddl(const dialect& d, const column_spec& c, table_ddl& t);
/// The association table of `s`, unless an earlier entity declared it.
LOADSTAR_DECL void secondary_ddl(const dialect& d, const secondary_spec& s, std::vector<table_ddl>& out);
/// The tables of a create_all in dependency order: each entity's table, then the association
/// tables its many-to-many relationships declare (once, if both sides do).
LOADSTAR_DECL std::vector<table_ddl> schema_from(const dialect& d, std::initializer_list<table_spec> entities);

/// Orders tables so that every table comes after the tables it references.
LOADSTAR_DECL std::vector<table_ddl> dependency_order(std::vector<table_ddl> in);

/// A database that resolves REFERENCES at CREATE TABLE (PostgreSQL) refuses a FOREIGN KEY to a
/// table that does not exist yet (SQLite checks references only when rows are written): in a
/// cycle, the key to the table created later is added once every table exists, by the
/// dialect's add_foreign_key statement (named, and skipped by a second create_all).
LOADSTAR_DECL void defer_forward_keys(const dialect& d, std::vector<table_ddl>& tables);

/// create_all and drop_all of these entities' tables.
LOADSTAR_DECL void create_tables(const engine& e, std::initializer_list<table_spec> entities);
LOADSTAR_DECL void drop_tables(const engine& e, std::initializer_list<table_spec> entities);

}  // namespace detail

/// Creates the tables of the given entities (and their association tables): primary keys,
/// NOT NULL for non-optional members, UNIQUE, FOREIGN KEY, an index on every foreign-key
/// column. Idempotent (IF NOT EXISTS). Throws loadstar::error on failure.
template <class... Ts>
void create_all(const engine& e) {
    (void)(detail::require_mapped<Ts>::ok && ...);
    detail::create_tables(e, {detail::ddl_of<Ts, Ts...>::spec()...});
}

/// Drops the tables of the given entities and their association tables, children first.
template <class... Ts>
void drop_all(const engine& e) {
    (void)(detail::require_mapped<Ts>::ok && ...);
    detail::drop_tables(e, {detail::ddl_of<Ts, Ts...>::spec()...});
}

}  // namespace loadstar

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/schema.ipp>
#endif
