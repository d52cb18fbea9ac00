// loadstar/detail/names.hpp - readable names for entities and members, for error messages.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <algorithm>
#include <atomic>
#include <iterator>
#include <string>
#include <string_view>

namespace loadstar::detail {

// The compilers spell the template argument in __PRETTY_FUNCTION__ ("[with auto M = &Author::books]"
// on gcc, "[M = &Author::books]" on clang); that is the only portable-enough reflection of a
// member's name before C++26.
template <auto M>
constexpr std::string_view raw_member_name() {
    std::string_view f = __PRETTY_FUNCTION__;
    auto start = f.find("M = ");
    if (start == std::string_view::npos) return "?";
    start += 4;
    auto end = f.find_first_of(";]", start);
    auto s = f.substr(start, end - start);
    if (!s.empty() && s.front() == '&') s.remove_prefix(1);
    return s;
}

/// "Author.books" from a raw member name "ns::Author::books" (namespaces dropped).
LOADSTAR_DECL std::string dotted_member_name(std::string_view raw);

/// A name built once, at its first use, by ordinary code from two constant pieces: constant
/// data per entity, member or column (constinit), where a function-local static would compile
/// its guard, its construction and its destructor's registration once per template argument.
/// Built names live as long as the program (reachable from the slot, so no leak).
struct name_slot {
    std::string (*build)(std::string_view a, std::string_view b) = nullptr;
    std::string_view a{};
    std::string_view b{};
    std::atomic<const std::string*> value{nullptr};
};
/// The slot's name, built under a lock the first time.
LOADSTAR_DECL const std::string& build_slot(name_slot& slot);
inline const std::string& slot_name(name_slot& slot) {
    if (const std::string* v = slot.value.load(std::memory_order_acquire)) return *v;
    return build_slot(slot);
}
/// name_slot::build of member_name (dotted_member_name of a) and type_name (short_type_name).
LOADSTAR_DECL std::string member_name_of(std::string_view raw, std::string_view);
LOADSTAR_DECL std::string type_name_of(std::string_view raw, std::string_view);
/// name_slot::build of a quoted identifier (quote_ident of a).
LOADSTAR_DECL std::string quoted_name_of(std::string_view id, std::string_view);

template <auto M>
inline constinit name_slot member_name_slot{&member_name_of, raw_member_name<M>()};

/// "Author.books" for `&Author::books` (namespaces dropped). Built once, by ordinary code.
template <auto M>
const std::string& member_name() {
    return slot_name(member_name_slot<M>);
}

template <class T>
constexpr std::string_view raw_type_name() {
    std::string_view f = __PRETTY_FUNCTION__;
    auto start = f.find("T = ");
    if (start == std::string_view::npos) return "?";
    start += 4;
    auto end = f.find_first_of(";]", start);
    return f.substr(start, end - start);
}

/// "Author" from a raw type name "ns::Author".
LOADSTAR_DECL std::string short_type_name(std::string_view raw);

template <class T>
inline constinit name_slot type_name_slot{&type_name_of, raw_type_name<T>()};

/// "Author" for `ns::Author`. Built once, by ordinary code.
template <class T>
const std::string& type_name() {
    return slot_name(type_name_slot<T>);
}

/// Every keyword of either database, lower case and sorted: SQLite's (sqlite3_keyword_name,
/// 3.40) and PostgreSQL's reserved, col_name and type_func_name keywords (pg_get_keywords()
/// catcode R, C, T; 15, plus those 16 and 17 added). Embedded: the core does not depend on
/// sqlite3.h. An identifier among them is quoted wherever loadstar writes it.
inline constexpr std::string_view sql_keywords[] = {
        "abort", "action", "add", "after", "all", "alter", "always", "analyse", "analyze", "and", "any",
        "array", "as", "asc", "asymmetric", "attach", "authorization", "autoincrement", "before",
        "begin", "between", "bigint", "binary", "bit", "boolean", "both", "by", "cascade", "case",
        "cast", "char", "character", "check", "coalesce", "collate", "collation", "column", "commit",
        "concurrently", "conflict", "constraint", "create", "cross", "current", "current_catalog",
        "current_date", "current_role", "current_schema", "current_time", "current_timestamp",
        "current_user", "database", "dec", "decimal", "default", "deferrable", "deferred", "delete",
        "desc", "detach", "distinct", "do", "drop", "each", "else", "end", "escape", "except",
        "exclude", "exclusive", "exists", "explain", "extract", "fail", "false", "fetch", "filter",
        "first", "float", "following", "for", "foreign", "freeze", "from", "full", "generated", "glob",
        "grant", "greatest", "group", "grouping", "groups", "having", "if", "ignore", "ilike",
        "immediate", "in", "index", "indexed", "initially", "inner", "inout", "insert", "instead",
        "int", "integer", "intersect", "interval", "into", "is", "isnull", "join", "json", "json_array",
        "json_arrayagg", "json_exists", "json_object", "json_objectagg", "json_query", "json_scalar",
        "json_serialize", "json_table", "json_value", "key", "last", "lateral", "leading", "least",
        "left", "like", "limit", "localtime", "localtimestamp", "match", "materialized", "merge_action",
        "national", "natural", "nchar", "no", "none", "normalize", "not", "nothing", "notnull", "null",
        "nullif", "nulls", "numeric", "of", "offset", "on", "only", "or", "order", "others", "out",
        "outer", "over", "overlaps", "overlay", "partition", "placing", "plan", "position", "pragma",
        "preceding", "precision", "primary", "query", "raise", "range", "real", "recursive",
        "references", "regexp", "reindex", "release", "rename", "replace", "restrict", "returning",
        "right", "rollback", "row", "rows", "savepoint", "select", "session_user", "set", "setof",
        "similar", "smallint", "some", "substring", "symmetric", "system_user", "table", "tablesample",
        "temp", "temporary", "then", "ties", "time", "timestamp", "to", "trailing", "transaction",
        "treat", "trigger", "trim", "true", "unbounded", "union", "unique", "update", "user", "using",
        "vacuum", "values", "varchar", "variadic", "verbose", "view", "virtual",
        "when", "where", "window", "with", "without", "xmlattributes", "xmlconcat", "xmlelement",
        "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot", "xmlserialize",
        "xmltable",
};

static_assert(std::is_sorted(std::begin(sql_keywords), std::end(sql_keywords)));
static_assert(std::all_of(std::begin(sql_keywords), std::end(sql_keywords), [](std::string_view k) {
    return !k.empty() && std::all_of(k.begin(), k.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}), "loadstar: every entry of sql_keywords is one lower-case word");

/// True for a keyword of SQLite or PostgreSQL (lower case, as loadstar compares them).
inline bool is_sql_keyword(std::string_view id) noexcept {
    return std::binary_search(std::begin(sql_keywords), std::end(sql_keywords), id);
}

/// Quotes an identifier only when it needs it: when it is not a plain lower-case identifier
/// ([a-z_][a-z0-9_]*: what both databases keep as written), or when it is a keyword of either
/// database. Everything else is written as is, so ordinary SQL stays readable.
LOADSTAR_DECL std::string quote_ident(std::string_view id);
/// "a.b" (a column's label in messages).
LOADSTAR_DECL std::string dotted_name(std::string_view a, std::string_view b);
/// quote_ident(table) + "." + quote_ident(column).
LOADSTAR_DECL std::string qualified_name(std::string_view table, std::string_view column);

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/names.ipp>
#endif
