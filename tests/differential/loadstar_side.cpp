// tests/differential/loadstar_side.cpp - the loadstar side of the differential test against
// SQLAlchemy: runs every scenario of scenarios.txt on a database made by gen_data.py and prints
// the graph and the statement count in the format of README.md.
// SPDX-License-Identifier: MIT
#include "../support/model.hpp"

#include <loadstar/sqlite.hpp>
#ifdef LOADSTAR_DIFF_HAVE_POSTGRES
#include <loadstar/postgres.hpp>  // registers postgresql:// for create_engine
#endif

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace model;

namespace {

std::string hex(std::string_view s) {
    static const char* digits = "0123456789abcdef";
    std::string out = "x";
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}
std::string num(std::int64_t v) { return std::to_string(v); }
std::string num(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "NULL"; }
std::string text(const std::optional<std::string>& v) { return v ? hex(*v) : "NULL"; }

std::string line(const Author& a) { return "Author " + num(a.id) + " name=" + hex(a.name) + " email=" + text(a.email); }
std::string line(const Publisher& p) { return "Publisher " + num(p.id) + " name=" + hex(p.name); }
std::string line(const Book& b) {
    return "Book " + num(b.id) + " title=" + hex(b.title) + " author_id=" + num(b.author_id) +
           " publisher_id=" + num(b.publisher_id);
}
std::string line(const Tag& t) { return "Tag " + num(t.id) + " label=" + hex(t.label); }
std::string line(const Profile& p) {
    return "Profile " + num(p.id) + " author_id=" + num(p.author_id) + " bio=" + hex(p.bio);
}
std::string line(const Employee& e) {
    return "Employee " + num(e.id) + " name=" + hex(e.name) + " manager_id=" + num(e.manager_id);
}

template <auto M>
std::string rel_name() {
    const std::string& full = ls::detail::member_name<M>();
    return full.substr(full.find('.') + 1);
}

template <class T>
void dump(std::string& out, T& obj, int indent);

template <class T, auto M, auto... Rest>
void dump(std::string& out, T& obj, int indent) {
    out += std::string(indent, ' ') + line(obj) + "\n";
    const std::string pad(indent + 2, ' ');
    auto& holder = obj.*M;
    using H = std::remove_cvref_t<decltype(holder)>;
    using C = typename H::element_type;
    try {
        if constexpr (ls::detail::holder_traits<H>::is_many) {
            std::vector<ls::ptr<C>> items(holder.begin(), holder.end());
            out += pad + "." + rel_name<M>() + "\n";
            std::sort(items.begin(), items.end(), [](auto& a, auto& b) { return a->id < b->id; });
            for (auto& c : items) {
                if constexpr (sizeof...(Rest) > 0) dump<C, Rest...>(out, *c, indent + 4);
                else out += std::string(indent + 4, ' ') + line(*c) + "\n";
            }
        } else {
            const auto& p = holder.get();
            out += pad + "." + rel_name<M>() + "\n";
            if (!p) out += std::string(indent + 4, ' ') + "NONE\n";
            else if constexpr (sizeof...(Rest) > 0) dump<C, Rest...>(out, *p, indent + 4);
            else out += std::string(indent + 4, ' ') + line(*p) + "\n";
        }
    } catch (const ls::raise_load_error&) {
        out += pad + "." + rel_name<M>() + " RAISE\n";
    }
}

auto authors(ls::session& s) { return s.query<Author>().order_by(ls::col<&Author::id>); }
auto authors_page(ls::session& s) {
    return s.query<Author>()
        .where(ls::col<&Author::id> > 7 && ls::col<&Author::name>.like("%e%"))
        .order_by(ls::col<&Author::id>.desc())
        .limit(40)
        .offset(5);
}
auto books(ls::session& s) { return s.query<Book>().order_by(ls::col<&Book::id>); }
auto books_page(ls::session& s) {
    return s.query<Book>()
        .where(ls::col<&Book::id> > 3)
        .order_by(ls::col<&Book::title>, ls::col<&Book::id>)
        .limit(60)
        .offset(20);
}
auto employees(ls::session& s) { return s.query<Employee>().order_by(ls::col<&Employee::id>); }

template <auto... Path, class MakeQuery>
std::string run(ls::engine& engine, const std::string& name, MakeQuery make) {
    ls::session s{engine};
    ls::statement_counter counter{engine};
    auto objs = make(s).all();
    std::string out = "# " + name + "\n";
    for (auto& o : objs) dump<typename std::remove_cvref_t<decltype(*o)>, Path...>(out, *o, 0);
    out += "= statements " + std::to_string(counter.count()) + "\n";
    return out;
}

#define LS_CASE(NAME, QUERY, ...)                                                   \
    if (name == NAME) return run<__VA_ARGS__>(engine, name, [](ls::session& s) { return QUERY; });

#define LS_FIVE(SUFFIX, ROOT, MEMBER)                                          \
    LS_CASE("lazy_" SUFFIX, ROOT(s).options(ls::lazyload<MEMBER>), MEMBER)         \
    LS_CASE("joined_" SUFFIX, ROOT(s).options(ls::joinedload<MEMBER>), MEMBER)     \
    LS_CASE("selectin_" SUFFIX, ROOT(s).options(ls::selectinload<MEMBER>), MEMBER) \
    LS_CASE("subquery_" SUFFIX, ROOT(s).options(ls::subqueryload<MEMBER>), MEMBER) \
    LS_CASE("raise_" SUFFIX, ROOT(s).options(ls::raiseload<MEMBER>), MEMBER)

std::string scenario(ls::engine& engine, const std::string& name) {
    LS_FIVE("author_books", authors, &Author::books)
    LS_FIVE("author_books_page", authors_page, &Author::books)
    LS_FIVE("book_author", books, &Book::author)
    LS_FIVE("book_publisher", books, &Book::publisher)
    LS_FIVE("book_publisher_page", books_page, &Book::publisher)
    LS_FIVE("book_tags", books, &Book::tags)
    LS_FIVE("book_tags_page", books_page, &Book::tags)
    LS_FIVE("author_profile", authors, &Author::profile)
    LS_FIVE("employee_reports", employees, &Employee::reports)
    LS_FIVE("employee_manager", employees, &Employee::manager)

    LS_CASE("selectin_selectin_author_books_tags",
                authors(s).options(ls::selectinload<&Author::books>.then(ls::selectinload<&Book::tags>)),
                &Author::books, &Book::tags)
    LS_CASE("joined_selectin_author_books_tags",
                authors(s).options(ls::joinedload<&Author::books>.then(ls::selectinload<&Book::tags>)),
                &Author::books, &Book::tags)
    LS_CASE("subquery_joined_author_books_publisher",
                authors(s).options(ls::subqueryload<&Author::books>.then(ls::joinedload<&Book::publisher>)),
                &Author::books, &Book::publisher)
    LS_CASE("selectin_lazy_author_books_publisher",
                authors(s).options(ls::selectinload<&Author::books>.then(ls::lazyload<&Book::publisher>)),
                &Author::books, &Book::publisher)
    LS_CASE("selectin_joined_author_books_publisher_page",
                authors_page(s).options(ls::selectinload<&Author::books>.then(ls::joinedload<&Book::publisher>)),
                &Author::books, &Book::publisher)
    LS_CASE("joined_joined_book_author_profile",
                books(s).options(ls::joinedload<&Book::author>.then(ls::joinedload<&Author::profile>)),
                &Book::author, &Author::profile)
    LS_CASE("subquery_subquery_author_books_tags",
                authors(s).options(ls::subqueryload<&Author::books>.then(ls::subqueryload<&Book::tags>)),
                &Author::books, &Book::tags)
    LS_CASE("selectin_selectin_employee_reports_reports",
                employees(s).options(ls::selectinload<&Employee::reports>.then(ls::selectinload<&Employee::reports>)),
                &Employee::reports, &Employee::reports)
    LS_CASE("raiseall_author_books", authors(s).options(ls::raiseload_all), &Author::books)
    LS_CASE("raiseall_selectin_author_books_publisher",
                authors(s).options(ls::selectinload<&Author::books>, ls::raiseload_all), &Author::books,
                &Book::publisher)
    LS_CASE("raiseall_joined_book_author_profile",
                books(s).options(ls::joinedload<&Book::author>, ls::raiseload_all), &Book::author,
                &Author::profile)
    return "# " + name + "\n(loadstar_side: unknown scenario)\n= statements 0\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " DB|URL scenarios.txt\n";
        return 2;
    }
    // An SQLite file, or a URL such as postgresql://user@host:port/db?options=... (load_pg.py).
    const std::string db = argv[1];
    auto engine = db.find("://") != std::string::npos ? ls::create_engine(db) : ls::sqlite::engine(db);
    std::ifstream list(argv[2]);
    std::string name;
    int failures = 0;
    while (std::getline(list, name)) {
        if (name.empty()) continue;
        try {
            std::cout << scenario(engine, name);
        } catch (const std::exception& e) {
            std::cerr << name << ": " << e.what() << "\n";
            std::cout << "# " << name << "\n(error: " << e.what() << ")\n= statements 0\n";
            ++failures;
        }
    }
    return failures ? 1 : 0;
}
