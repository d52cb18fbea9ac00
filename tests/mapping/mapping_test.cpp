// tests/mapping/mapping_test.cpp - what loadstar derives from a mapping at compile time
// (entity_meta: columns, keys, relationships, flags), the type rules the expressions enforce,
// names for messages, identifier quoting, and mappings with unusual names round-tripping.
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/fake_driver.hpp"
#include "support/model.hpp"

#include <loadstar/sqlite.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using model::Author;
using model::Book;
using model::Employee;
using model::Profile;
using model::Publisher;
using model::Tag;

namespace mapping_test {

// A table and columns named with reserved words and capitals (quoted in SQL), a text primary
// key (not generated), and a mapping written inside namespace loadstar.
struct Order {
    std::string key;
    std::int32_t group{};
    std::optional<double> Select;
    bool from{};
};

// Every column type, for the flag and type facts.
struct Everything {
    std::int64_t id{};
    bool b{};
    std::int8_t i8{};
    std::uint16_t u16{};
    std::int32_t i32{};
    std::uint64_t u64{};
    float f{};
    double d{};
    std::string s;
    ls::blob bytes;
    std::chrono::system_clock::time_point at;
    std::optional<std::int32_t> maybe;
};

// A parent whose children the database deletes (passive_deletes: ON DELETE CASCADE).
struct Parent;
struct Child {
    std::int64_t id{};
    std::int64_t parent_id{};
    ls::one<Parent> parent;
};
struct Parent {
    std::int64_t id{};
    ls::many<Child> children;
};

}  // namespace mapping_test

template <>
struct loadstar::mapping<mapping_test::Parent> {
    using P = mapping_test::Parent;
    static constexpr auto table = ls::table("parents", ls::column<&P::id>("id", ls::primary_key),
        ls::has_many<&P::children>(&mapping_test::Child::parent_id, ls::passive_deletes,
                                   ls::back_populates<&mapping_test::Child::parent>));
};
template <>
struct loadstar::mapping<mapping_test::Child> {
    using C = mapping_test::Child;
    static constexpr auto table = ls::table("children", ls::column<&C::id>("id", ls::primary_key),
        ls::column<&C::parent_id>("parent_id", ls::foreign_key<&mapping_test::Parent::id>),
        ls::belongs_to<&C::parent>(&C::parent_id, ls::back_populates<&mapping_test::Parent::children>));
};

namespace loadstar {
template <>
struct mapping<mapping_test::Order> {
    using O = mapping_test::Order;
    static constexpr auto table = loadstar::table("order", column<&O::key>("key", primary_key),
                                                  column<&O::group>("group"), column<&O::Select>("Select"),
                                                  column<&O::from>("from", unique));
};
}  // namespace loadstar

template <>
struct loadstar::mapping<mapping_test::Everything> {
    using E = mapping_test::Everything;
    static constexpr auto table = ls::table("everything",
        ls::column<&E::id>("id", ls::primary_key), ls::column<&E::b>("b"), ls::column<&E::i8>("i8"),
        ls::column<&E::u16>("u16"), ls::column<&E::i32>("i32"), ls::column<&E::u64>("u64"), ls::column<&E::f>("f"),
        ls::column<&E::d>("d"), ls::column<&E::s>("s"), ls::column<&E::bytes>("bytes"), ls::column<&E::at>("at"),
        ls::column<&E::maybe>("maybe"));
};

namespace mapping_test {

using ls::entity_meta;

// ---- entity_meta: counts, names, primary keys ------------------------------------------------

static_assert(ls::mapped_entity<Author> && ls::mapped_entity<Book> && ls::mapped_entity<Employee>);
static_assert(!ls::mapped_entity<int> && !ls::mapped_entity<std::string>);
struct Unmapped {
    int id;
};
static_assert(!ls::mapped_entity<Unmapped>);

static_assert(entity_meta<Author>::column_count == 3 && entity_meta<Author>::relationship_count == 2);
static_assert(entity_meta<Book>::column_count == 4 && entity_meta<Book>::relationship_count == 3);
static_assert(entity_meta<Publisher>::column_count == 2 && entity_meta<Publisher>::relationship_count == 0);
static_assert(entity_meta<Profile>::column_count == 3 && entity_meta<Profile>::relationship_count == 1);
static_assert(entity_meta<Employee>::column_count == 3 && entity_meta<Employee>::relationship_count == 2);
static_assert(entity_meta<Everything>::column_count == 12 && entity_meta<Everything>::relationship_count == 0);

static_assert(entity_meta<Author>::table_name() == "authors");
static_assert(entity_meta<Book>::table_name() == "books");
static_assert(entity_meta<Book>::column_name<0>() == "id");
static_assert(entity_meta<Book>::column_name<1>() == "title");
static_assert(entity_meta<Book>::column_name<2>() == "author_id");
static_assert(entity_meta<Book>::column_name<3>() == "publisher_id");
static_assert(entity_meta<Order>::table_name() == "order");
static_assert(entity_meta<Order>::column_name<2>() == "Select");

static_assert(entity_meta<Author>::pk_index == 0);
static_assert(entity_meta<Profile>::pk_index == 0);
static_assert(entity_meta<Order>::pk_index == 0);
static_assert(std::is_same_v<entity_meta<Author>::pk_type, std::int64_t>);
static_assert(std::is_same_v<entity_meta<Order>::pk_type, std::string>);
static_assert(entity_meta<Book>::pk_member == &Book::id);

static_assert(entity_meta<Book>::column_of<&Book::title>() == 1);
static_assert(entity_meta<Book>::column_of<&Book::publisher_id>() == 3);
static_assert(entity_meta<Book>::column_of<&Book::author>() == ls::detail::npos);  // a relationship
static_assert(entity_meta<Book>::relationship_of<&Book::author>() == 0);
static_assert(entity_meta<Book>::relationship_of<&Book::tags>() == 2);
static_assert(entity_meta<Book>::relationship_of<&Book::title>() == ls::detail::npos);  // a column
static_assert(entity_meta<Author>::relationship_of<&Author::profile>() == 1);

// ---- columns: types and flags ---------------------------------------------------------------

template <class M, std::size_t I>
using col_t = typename entity_meta<M>::template column_t<I>;

static_assert(col_t<Author, 0>::is_primary_key && col_t<Author, 0>::generated && !col_t<Author, 0>::nullable);
static_assert(!col_t<Author, 1>::is_primary_key && !col_t<Author, 1>::nullable && !col_t<Author, 1>::is_unique);
static_assert(col_t<Author, 2>::nullable && col_t<Author, 2>::is_unique);
static_assert(std::is_same_v<col_t<Author, 2>::type, std::optional<std::string>>);
static_assert(std::is_same_v<col_t<Author, 2>::value_type, std::string>);
static_assert(std::is_same_v<col_t<Author, 2>::entity, Author>);
// A text primary key is not generated; a key the object sets is inserted as is.
static_assert(col_t<Order, 0>::is_primary_key && !col_t<Order, 0>::generated);
static_assert(col_t<Order, 3>::is_unique && !col_t<Order, 3>::nullable);

static_assert(!col_t<Book, 1>::is_foreign_key);
static_assert(col_t<Book, 2>::is_foreign_key && !col_t<Book, 2>::nullable);
static_assert(col_t<Book, 2>::fk::target == &Author::id);
static_assert(col_t<Book, 3>::is_foreign_key && col_t<Book, 3>::nullable);
static_assert(col_t<Book, 3>::fk::target == &Publisher::id);
static_assert(col_t<Profile, 1>::is_foreign_key && col_t<Profile, 1>::is_unique);  // flags in any order
static_assert(col_t<Employee, 2>::fk::target == &Employee::id);                     // self-reference

// SQL types chosen for DDL.
using ls::detail::sql_type;
using ls::detail::sql_type_of;
static_assert(sql_type_of<bool>() == sql_type::boolean);
static_assert(sql_type_of<std::int8_t>() == sql_type::smallint && sql_type_of<std::uint8_t>() == sql_type::smallint &&
              sql_type_of<std::int16_t>() == sql_type::smallint);
// uint16 goes up to 65535: SMALLINT (PostgreSQL's int2, to 32767) cannot hold it.
static_assert(sql_type_of<std::uint16_t>() == sql_type::integer);
static_assert(sql_type_of<std::int32_t>() == sql_type::integer);
static_assert(sql_type_of<std::uint32_t>() == sql_type::bigint && sql_type_of<std::int64_t>() == sql_type::bigint);
static_assert(sql_type_of<float>() == sql_type::real && sql_type_of<double>() == sql_type::double_);
static_assert(sql_type_of<std::optional<std::string>>() == sql_type::text);
static_assert(sql_type_of<ls::blob>() == sql_type::blob);
static_assert(sql_type_of<std::chrono::system_clock::time_point>() == sql_type::timestamp);

// Which C++ types may be columns.
using ls::detail::is_column_type_v;
static_assert(is_column_type_v<bool> && is_column_type_v<std::int8_t> && is_column_type_v<std::uint64_t>);
static_assert(is_column_type_v<float> && is_column_type_v<double> && is_column_type_v<std::string>);
static_assert(is_column_type_v<ls::blob> && is_column_type_v<std::chrono::system_clock::time_point>);
static_assert(is_column_type_v<std::optional<std::int32_t>> && is_column_type_v<std::optional<ls::blob>>);
static_assert(!is_column_type_v<char> && !is_column_type_v<char8_t> && !is_column_type_v<wchar_t>);
static_assert(!is_column_type_v<const char*> && !is_column_type_v<std::string_view>);
static_assert(!is_column_type_v<std::vector<int>> && !is_column_type_v<ls::many<Book>>);
static_assert(!is_column_type_v<std::optional<std::optional<int>>>);

// ---- relationships --------------------------------------------------------------------------

template <class M, std::size_t I>
using rel_t = typename entity_meta<M>::template relationship_t<I>;

static_assert(rel_t<Author, 0>::kind == ls::relation::has_many && rel_t<Author, 0>::to_many);
static_assert(std::is_same_v<rel_t<Author, 0>::target, Book> && std::is_same_v<rel_t<Author, 0>::owner, Author>);
static_assert(rel_t<Author, 0>::back::present && rel_t<Author, 0>::back::member == &Book::author);
static_assert(rel_t<Author, 0>::default_strategy == ls::strategy::lazy);
static_assert(!rel_t<Author, 0>::cascade_delete && !rel_t<Author, 0>::delete_orphan);
static_assert(rel_t<Author, 1>::kind == ls::relation::has_one && !rel_t<Author, 1>::to_many);
static_assert(rel_t<Book, 0>::kind == ls::relation::belongs_to && std::is_same_v<rel_t<Book, 0>::target, Author>);
static_assert(rel_t<Book, 1>::kind == ls::relation::belongs_to && !rel_t<Book, 1>::back::present);
static_assert(rel_t<Book, 2>::kind == ls::relation::many_to_many && rel_t<Book, 2>::to_many);
static_assert(entity_meta<Book>::relationship<2>().key.table == "book_tags");
static_assert(entity_meta<Book>::relationship<2>().key.local == "book_id");
static_assert(entity_meta<Book>::relationship<2>().key.remote == "tag_id");
static_assert(entity_meta<Book>::relationship<0>().key == &Book::author_id);
static_assert(entity_meta<Author>::relationship<0>().key == &Book::author_id);
static_assert(rel_t<Employee, 1>::kind == ls::relation::has_many && std::is_same_v<rel_t<Employee, 1>::target, Employee>);

// Relationship options are read from the mapping's argument types, in any order.
constexpr auto children_rel = ls::has_many<&Parent::children>(
    &Child::parent_id, ls::cascade_delete_orphan, ls::default_loader<ls::strategy::selectin>,
    ls::back_populates<&Child::parent>, ls::passive_deletes);
using children_t = std::remove_cvref_t<decltype(children_rel)>;
static_assert(children_t::cascade_delete && children_t::delete_orphan && children_t::passive_deletes);
static_assert(children_t::default_strategy == ls::strategy::selectin);
static_assert(children_t::back::member == &Child::parent);
constexpr auto parent_rel = ls::belongs_to<&Child::parent>(&Child::parent_id, ls::cascade_delete,
                                                            ls::default_loader<ls::strategy::raise>);
using parent_t = std::remove_cvref_t<decltype(parent_rel)>;
static_assert(parent_t::cascade_delete && !parent_t::delete_orphan && !parent_t::passive_deletes);
static_assert(parent_t::default_strategy == ls::strategy::raise);

// ---- options: distinct types, nesting, batch sizes -------------------------------------------

static_assert(!std::is_same_v<decltype(ls::selectinload<&Author::books>), decltype(ls::joinedload<&Author::books>)>);
static_assert(!std::is_same_v<decltype(ls::selectinload<&Author::books>), decltype(ls::selectinload<&Book::tags>)>);
using nested_t = decltype(ls::selectinload<&Author::books>.then(ls::joinedload<&Book::publisher>, ls::raiseload<&Book::tags>));
static_assert(nested_t::kind == ls::strategy::selectin && nested_t::member == &Author::books);
static_assert(nested_t::children::size == 2);
static_assert(decltype(ls::selectinload<&Author::books>.batch_size<50>())::batch == 50);
static_assert(decltype(ls::selectinload<&Author::books>)::batch == 500);

// ---- expressions: what may be compared with what ----------------------------------------------

using ls::detail::comparable;
static_assert(comparable<std::int64_t, int>() && comparable<std::int64_t, std::uint8_t>());
static_assert(comparable<std::optional<std::int64_t>, std::int64_t>() && comparable<std::int64_t, std::optional<int>>());
static_assert(comparable<double, int>() && comparable<float, double>());
static_assert(comparable<std::string, const char*>() && comparable<std::string, std::string_view>());
static_assert(comparable<std::optional<std::string>, std::string>());
static_assert(comparable<bool, bool>() && comparable<ls::blob, ls::blob>());
static_assert(!comparable<std::int64_t, std::string>() && !comparable<std::int64_t, const char*>());
static_assert(!comparable<std::int64_t, double>() && !comparable<std::int64_t, bool>());
static_assert(!comparable<bool, int>() && !comparable<std::string, int>() && !comparable<std::string, std::nullptr_t>());

template <class L, class R>
concept can_eq = requires(const L& l, const R& r) { l == r; };
template <class L, class R>
concept can_and = requires(const L& l, const R& r) { l && r; };
using id_col = std::remove_cvref_t<decltype(ls::col<&Author::id>)>;
using name_col = std::remove_cvref_t<decltype(ls::col<&Author::name>)>;
static_assert(can_eq<id_col, int> && can_eq<int, id_col> && can_eq<name_col, const char*> && can_eq<id_col, id_col>);
static_assert(!can_eq<id_col, std::nullptr_t>);  // NULL tests are is_null(), not == nullptr
using pred = decltype(ls::col<&Author::id> == 1);
static_assert(can_and<pred, pred> && !can_and<pred, id_col>);  // && joins predicates only
static_assert(std::is_same_v<decltype(ls::count())::value_type, std::int64_t>);
static_assert(std::is_same_v<decltype(ls::sum(ls::col<&Book::id>))::value_type, std::optional<std::int64_t>>);
static_assert(std::is_same_v<decltype(ls::avg(ls::col<&Book::id>))::value_type, std::optional<double>>);
static_assert(std::is_same_v<decltype(ls::max(ls::col<&Book::publisher_id>))::value_type, std::optional<std::int64_t>>);
static_assert(std::is_same_v<decltype(ls::min(ls::col<&Author::name>))::value_type, std::string>);

// ---- drivers --------------------------------------------------------------------------------

static_assert(ls::driver<ls::sqlite::driver> && ls::driver<fake::driver>);
static_assert(!ls::driver<int>);
// ls::engine and ls::session are single nameable types whatever the driver.
static_assert(std::is_copy_constructible_v<ls::engine> && std::is_nothrow_move_constructible_v<ls::session>);

}  // namespace mapping_test

using namespace mapping_test;

TEST_CASE("mapping: names for messages", "[mapping][names][nodb]") {
    CHECK(ls::detail::member_name<&Author::books>() == "Author.books");
    CHECK(ls::detail::member_name<&Book::publisher>() == "Book.publisher");
    CHECK(ls::detail::member_name<&Employee::reports>() == "Employee.reports");
    CHECK(ls::detail::type_name<Author>() == "Author");
    CHECK(ls::detail::type_name<mapping_test::Order>() == "Order");
    // The names a loader statement reports conversion errors with.
    CHECK(ls::detail::column_label<Author, 1>() == "authors.name");
}

// ls::value: the alternatives and index() numbering of the variant it replaced, its copies and
// moves across alternatives, equality and order (index first), and typed access.
TEST_CASE("mapping: value holds one alternative, copies, compares and orders", "[mapping][value][nodb]") {
    const std::vector<ls::value> all{ls::value{}, ls::value{std::int64_t{-3}}, ls::value{2.5},
                                     ls::value{std::string(100, 'x')}, ls::value{ls::blob{std::byte{7}}},
                                     ls::value{std::vector<std::int64_t>{1, 2, 3}}};
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].index() == i);
        CHECK(all[i].is_null() == (i == 0));
        for (std::size_t j = 0; j < all.size(); ++j) {
            CHECK((all[i] == all[j]) == (i == j));
            CHECK((all[i] < all[j]) == (i < j));  // different alternatives order by index
            ls::value v = all[j];  // every alternative assigned over every other
            v = all[i];
            CHECK(v == all[i]);
            ls::value w = all[j];
            w = std::move(v);
            CHECK(w == all[i]);
        }
    }
    CHECK(ls::value{5} == ls::value{std::int64_t{5}});  // any integer is an integer value
    CHECK(ls::value{"text"}.index() == 3);
    CHECK(ls::value{std::string("a")} < ls::value{std::string("b")});
    CHECK(ls::value{std::int64_t{-1}} < ls::value{std::int64_t{0}});
    CHECK(get<std::int64_t>(all[1]) == -3);
    CHECK(get<2>(all[2]) == 2.5);
    CHECK(get<3>(all[3]).size() == 100);
    CHECK(get_if<double>(&all[1]) == nullptr);
    REQUIRE(get_if<std::vector<std::int64_t>>(&all[5]) != nullptr);
    CHECK(get_if<std::vector<std::int64_t>>(&all[5])->size() == 3);
    CHECK_THROWS_WITH(get<std::string>(all[1]), Catch::Contains("holds an integer"));
    CHECK(ls::to_display(all[0]) == "NULL");
    CHECK(ls::to_display(ls::value{"it's"}) == "'it''s'");
    CHECK(ls::to_display(all[5]) == "{1,2,3}");
}

// The flush copies keys, generated keys, NULL and the version counter through each column's
// setter as a value (table_info::set, assign_value): every column type takes back what
// to_value gives, and nothing else.
TEST_CASE("mapping: a column's value stored back through its setter", "[mapping][convert][nodb]") {
    using ls::detail::assign_value;
    using ls::detail::to_value;
    auto round_trip = [](auto v) {
        decltype(v) out{};
        assign_value(out, to_value(v));
        return out;
    };
    CHECK(round_trip(std::int64_t{-7}) == -7);
    CHECK(round_trip(std::int16_t{300}) == 300);
    CHECK(round_trip(std::uint32_t{4'000'000'000u}) == 4'000'000'000u);
    CHECK(round_trip(true));
    CHECK(round_trip(2.5) == 2.5);
    CHECK(round_trip(std::string("it's")) == "it's");
    CHECK(round_trip(ls::blob{std::byte{1}, std::byte{0}}) == ls::blob{std::byte{1}, std::byte{0}});
    const auto tp = std::chrono::system_clock::time_point{} + std::chrono::seconds(1'700'000'000);
    CHECK(round_trip(tp) == tp);
    CHECK(round_trip(std::optional<std::int64_t>{5}) == std::optional<std::int64_t>{5});
    std::optional<std::int64_t> nullable = 9;
    assign_value(nullable, ls::value{});
    CHECK_FALSE(nullable.has_value());
    // A value of another type, or out of the member's range, is refused by name.
    std::int16_t small = 0;
    CHECK_THROWS_AS(assign_value(small, ls::value{std::int64_t{70'000}}), ls::conversion_error);
    CHECK(small == 0);
    std::int64_t key = 1;
    CHECK_THROWS_WITH(assign_value(key, ls::value{std::string("x")}),
                      Catch::Contains("cannot store") && Catch::Contains("int64_t"));
    CHECK_THROWS_AS(assign_value(key, ls::value{}), ls::conversion_error);  // NULL needs std::optional
    CHECK(key == 1);
    // Through an entity's table_info: the setter of column J writes the member.
    const auto& t = ls::detail::table_of<Book>();
    Book b;
    t.set(entity_meta<Book>::column_of<&Book::title>(), &b, ls::value{std::string("Emma")});
    CHECK(b.title == "Emma");
    CHECK(t.get(entity_meta<Book>::column_of<&Book::title>(), &b) == ls::value{std::string("Emma")});
}

TEST_CASE("mapping: identifiers are quoted only when needed", "[mapping][quote][nodb]") {
    using ls::detail::quote_ident;
    CHECK(quote_ident("authors") == "authors");
    CHECK(quote_ident("book_tags2") == "book_tags2");
    CHECK(quote_ident("order") == "\"order\"");
    CHECK(quote_ident("group") == "\"group\"");
    CHECK(quote_ident("user") == "\"user\"");
    CHECK(quote_ident("Select") == "\"Select\"");
    CHECK(quote_ident("2fast") == "\"2fast\"");
    CHECK(quote_ident("has space") == "\"has space\"");
    CHECK(quote_ident("we\"ird") == "\"we\"\"ird\"");
    CHECK(quote_ident("") == "\"\"");
}

TEST_CASE("mapping: reserved and mixed-case names round-trip through SQL", "[mapping][quote]") {
    auto e = model::test_engine();
    std::vector<std::string> ddl;
    const auto id = e.on_statement([&](const ls::statement_event& ev) { ddl.emplace_back(ev.sql); });
    ls::create_all<Order>(e);
    e.remove_listener(id);
    if (model::is_postgres(e))
        CHECK(ddl == std::vector<std::string>{"CREATE TABLE IF NOT EXISTS \"order\" (\n"
                                              "    \"key\" TEXT PRIMARY KEY,\n"
                                              "    \"group\" INTEGER NOT NULL,\n"
                                              "    \"Select\" DOUBLE PRECISION,\n"
                                              "    \"from\" BOOLEAN NOT NULL UNIQUE\n"
                                              ")"});
    else
        CHECK(ddl == std::vector<std::string>{"CREATE TABLE IF NOT EXISTS \"order\" (\n"
                                              "    \"key\" TEXT PRIMARY KEY,\n"
                                              "    \"group\" INTEGER NOT NULL,\n"
                                              "    \"Select\" REAL,\n"
                                              "    \"from\" INTEGER NOT NULL UNIQUE\n"
                                              ")"});
    ls::session s{e};
    auto o = std::make_shared<Order>();
    o->key = "k'1";
    o->group = -7;
    o->Select = 2.5;
    o->from = true;
    s.add(o);
    auto o2 = std::make_shared<Order>();
    o2->key = "k2";
    s.add(o2);
    s.commit();
    CHECK(o->key == "k'1");  // a text key is not generated

    ls::session r{e};
    auto q = r.query<Order>().where(ls::col<&Order::group> < 0 && ls::col<&Order::from> == true);
    CHECK(q.sql() ==
          "SELECT \"order\".\"key\", \"order\".\"group\", \"order\".\"Select\", \"order\".\"from\" FROM \"order\" "
          "WHERE (\"order\".\"group\" < ? AND \"order\".\"from\" = ?)");
    auto back = q.one();
    CHECK(back->key == "k'1");
    CHECK(back->group == -7);
    CHECK(back->Select == 2.5);
    CHECK(back->from);
    CHECK(r.get<Order>(std::string("k'1")) == back);  // identity map keyed by text
    auto other = r.get<Order>("k2");
    REQUIRE(other);
    CHECK_FALSE(other->Select.has_value());
    CHECK_FALSE(other->from);
    CHECK(r.query<Order>().order_by(ls::col<&Order::key>.desc()).columns<&Order::key>().all() ==
          std::vector<std::tuple<std::string>>{{"k2"}, {"k'1"}});
    CHECK(r.query<Order>().where(ls::col<&Order::key> == "k2").update(ls::set<&Order::group>(5)) == 1);
    CHECK(other->group == 5);
    CHECK(r.query<Order>().where(ls::col<&Order::Select>.is_null()).remove() == 1);
    CHECK_FALSE(r.contains(other));
    CHECK(r.query<Order>().count() == 1);
}

TEST_CASE("mapping: DDL types for every column type", "[mapping][schema]") {
    auto e = model::test_engine();
    std::vector<std::string> ddl;
    const auto id = e.on_statement([&](const ls::statement_event& ev) { ddl.emplace_back(ev.sql); });
    ls::create_all<Everything>(e);
    e.remove_listener(id);
    if (model::is_postgres(e))
        // The narrowest type that holds every value: int8 fits SMALLINT, uint16 needs INTEGER.
        CHECK(ddl == std::vector<std::string>{"CREATE TABLE IF NOT EXISTS everything (\n"
                                              "    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
                                              "    b BOOLEAN NOT NULL,\n"
                                              "    i8 SMALLINT NOT NULL,\n"
                                              "    u16 INTEGER NOT NULL,\n"
                                              "    i32 INTEGER NOT NULL,\n"
                                              "    u64 BIGINT NOT NULL,\n"
                                              "    f REAL NOT NULL,\n"
                                              "    d DOUBLE PRECISION NOT NULL,\n"
                                              "    s TEXT NOT NULL,\n"
                                              "    bytes BYTEA NOT NULL,\n"
                                              "    at TIMESTAMPTZ NOT NULL,\n"
                                              "    maybe INTEGER\n"
                                              ")"});
    else
        CHECK(ddl == std::vector<std::string>{"CREATE TABLE IF NOT EXISTS everything (\n"
                                              "    id INTEGER PRIMARY KEY,\n"
                                              "    b INTEGER NOT NULL,\n"
                                              "    i8 INTEGER NOT NULL,\n"
                                              "    u16 INTEGER NOT NULL,\n"
                                              "    i32 INTEGER NOT NULL,\n"
                                              "    u64 INTEGER NOT NULL,\n"
                                              "    f REAL NOT NULL,\n"
                                              "    d REAL NOT NULL,\n"
                                              "    s TEXT NOT NULL,\n"
                                              "    bytes BLOB NOT NULL,\n"
                                              "    at TIMESTAMP NOT NULL,\n"
                                              "    maybe INTEGER\n"
                                              ")"});
    {
        // Each column holds its type's extremes.
        ls::session s{e};
        auto lo = std::make_shared<Everything>();
        lo->b = false;
        lo->i8 = std::numeric_limits<std::int8_t>::min();
        lo->u16 = 0;
        lo->i32 = std::numeric_limits<std::int32_t>::min();
        lo->u64 = 0;
        lo->f = -1.5f;
        lo->d = -0.25;
        lo->s = "lo";
        lo->at = std::chrono::system_clock::time_point{};
        auto hi = std::make_shared<Everything>();
        hi->b = true;
        hi->i8 = std::numeric_limits<std::int8_t>::max();
        hi->u16 = std::numeric_limits<std::uint16_t>::max();
        hi->i32 = std::numeric_limits<std::int32_t>::max();
        hi->u64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        hi->f = 3.5f;
        hi->d = 1e300;
        hi->s = "hi";
        hi->bytes = ls::blob{std::byte{0}, std::byte{255}};
        hi->at = std::chrono::sys_days{std::chrono::year{2024} / 2 / 29};
        hi->maybe = std::numeric_limits<std::int32_t>::max();
        s.add(lo);
        s.add(hi);
        s.commit();
        ls::session r{e};
        auto back = r.query<Everything>().order_by(ls::col<&Everything::id>).all();
        REQUIRE(back.size() == 2);
        for (std::size_t i = 0; i < 2; ++i) {
            const Everything& want = i == 0 ? *lo : *hi;
            const Everything& got = *back[i];
            CHECK(got.b == want.b);
            CHECK(got.i8 == want.i8);
            CHECK(got.u16 == want.u16);
            CHECK(got.i32 == want.i32);
            CHECK(got.u64 == want.u64);
            CHECK(got.f == want.f);
            CHECK(got.d == want.d);
            CHECK(got.s == want.s);
            CHECK(got.bytes == want.bytes);
            CHECK(got.at == want.at);
            CHECK(got.maybe == want.maybe);
        }
    }
    // A dialect's type names are used as given (here the fake driver's, changed).
    fake::driver drv;
    drv.dialect().type_bigint = "BIGINT";
    drv.dialect().type_boolean = "BOOLEAN";
    drv.dialect().type_timestamp = "TIMESTAMPTZ";
    drv.dialect().type_blob = "BYTEA";
    drv.dialect().generated_key = "GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
    ls::engine fe{drv};
    ls::create_all<Everything>(fe);
    REQUIRE(drv.log()->executed.size() == 1);
    CHECK(drv.log()->executed[0] == "CREATE TABLE IF NOT EXISTS everything (\n"
                                    "    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
                                    "    b BOOLEAN NOT NULL,\n"
                                    "    i8 INTEGER NOT NULL,\n"
                                    "    u16 INTEGER NOT NULL,\n"
                                    "    i32 INTEGER NOT NULL,\n"
                                    "    u64 BIGINT NOT NULL,\n"
                                    "    f REAL NOT NULL,\n"
                                    "    d REAL NOT NULL,\n"
                                    "    s TEXT NOT NULL,\n"
                                    "    bytes BYTEA NOT NULL,\n"
                                    "    at TIMESTAMPTZ NOT NULL,\n"
                                    "    maybe INTEGER\n"
                                    ")");
}

TEST_CASE("mapping: relationships shape the DDL (self reference, passive_deletes)", "[mapping][schema]") {
    auto e = model::test_engine();
    std::vector<std::string> ddl;
    const auto id = e.on_statement([&](const ls::statement_event& ev) { ddl.emplace_back(ev.sql); });
    ls::create_all<Employee>(e);
    ls::create_all<Child, Parent>(e);  // parents first, whatever the argument order
    e.remove_listener(id);
    const bool pg = model::is_postgres(e);
    const std::string key = pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY";
    const std::string int64 = pg ? "BIGINT" : "INTEGER";
    CHECK(ddl == std::vector<std::string>{"CREATE TABLE IF NOT EXISTS employees (\n"
                                          "    id " + key + ",\n"
                                          "    name TEXT NOT NULL,\n"
                                          "    manager_id " + int64 + ",\n"
                                          "    FOREIGN KEY (manager_id) REFERENCES employees (id)\n"
                                          ")",
                                          "CREATE INDEX IF NOT EXISTS ix_employees_manager_id ON employees (manager_id)",
                                          "CREATE TABLE IF NOT EXISTS parents (\n"
                                          "    id " + key + "\n"
                                          ")",
                                          "CREATE TABLE IF NOT EXISTS children (\n"
                                          "    id " + key + ",\n"
                                          "    parent_id " + int64 + " NOT NULL,\n"
                                          "    FOREIGN KEY (parent_id) REFERENCES parents (id) ON DELETE CASCADE\n"
                                          ")",
                                          "CREATE INDEX IF NOT EXISTS ix_children_parent_id ON children (parent_id)"});
    // The database deletes the children.
    ls::session s{e};
    auto p = std::make_shared<Parent>();
    auto c = std::make_shared<Child>();
    p->children.push_back(c);
    s.add(p);
    s.commit();
    CHECK(c->parent_id == p->id);
    CHECK(s.query<Child>().count() == 1);
    CHECK(s.query<Parent>().remove() == 1);
    CHECK(s.query<Child>().count() == 0);
}
