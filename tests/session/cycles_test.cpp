// tests/session/cycles_test.cpp - cycles the program builds by hand (issue 11 item 6): a debug
// build names the relationships of a cycle no pointer of the program reaches, never one the
// program still holds, and collect_cycles() frees it (so this file stays LeakSanitizer-clean).
// SPDX-License-Identifier: MIT
#include "support/fixture.hpp"
#include "support/m2m_model.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

using model::Author;
using model::Book;
using model::Employee;
using model::Profile;
using cycles = std::vector<std::string>;

#if LOADSTAR_CHECK_CYCLES

TEST_CASE("cycles: a hand-built one-to-many cycle let go of is reported naming both sides, then collected",
          "[session][ownership][cycles][nodb]") {
    REQUIRE(ls::debug::unreachable_cycles().empty());
    std::weak_ptr<Author> wa;
    std::weak_ptr<Book> wb;
    {
        auto a = std::make_shared<Author>(Author{.name = "Hand"});
        auto b = std::make_shared<Book>(Book{.title = "Built"});
        a->books.push_back(b);
        b->author = a;
        wa = a;
        wb = b;
        CHECK(ls::debug::unreachable_cycles().empty());  // the program holds both
    }
    REQUIRE(!wa.expired());  // the cycle keeps them
    CHECK(ls::debug::unreachable_cycles() == cycles{"Author.books <-> Book.author"});
    CHECK(ls::debug::collect_cycles() == 2);
    CHECK(wa.expired());
    CHECK(wb.expired());
    CHECK(ls::debug::unreachable_cycles().empty());
}

TEST_CASE("cycles: a graph the program still holds is never reported", "[session][ownership][cycles][nodb]") {
    auto a = std::make_shared<Author>(Author{.name = "Held"});
    std::weak_ptr<Book> wb;
    {
        auto b1 = std::make_shared<Book>(Book{.title = "One"});
        auto b2 = std::make_shared<Book>(Book{.title = "Two"});
        a->books.push_back(b1);
        a->books.push_back(b2);
        b1->author = a;
        b2->author = a;
        wb = b2;
    }
    // Only the author is held, the books through him.
    CHECK(ls::debug::unreachable_cycles().empty());
    CHECK(ls::debug::collect_cycles() == 0);
    REQUIRE(!wb.expired());
    CHECK(a->books.size() == 2);
    CHECK(a->books[1]->author.get() == a);
    // Held through a child only: the child's back-reference reaches the author.
    auto b = a->books[0];
    std::weak_ptr<Author> wa = a;
    a.reset();
    CHECK(ls::debug::unreachable_cycles().empty());
    CHECK(b->author.get()->books.size() == 2);
    // The program breaks the cycle itself: nothing left to report or collect.
    b->author.get()->books.clear();
    b.reset();
    CHECK(wa.expired());
    CHECK(wb.expired());
    CHECK(ls::debug::unreachable_cycles().empty());
}

TEST_CASE("cycles: one-to-one, self-referential and many-to-many cycles are named", "[session][ownership][cycles][nodb]") {
    std::vector<std::weak_ptr<void>> probes;
    {
        auto a = std::make_shared<Author>(Author{.name = "A"});
        auto p = std::make_shared<Profile>(Profile{.bio = "B"});
        a->profile = p;
        p->author = a;
        auto boss = std::make_shared<Employee>(Employee{.name = "Boss"});
        auto e = std::make_shared<Employee>(Employee{.name = "E"});
        boss->reports.push_back(e);
        e->manager = boss;
        auto m = std::make_shared<own::Student>(own::Student{.name = "M"});
        auto c = std::make_shared<own::Course>(own::Course{.title = "C"});
        m->courses.push_back(c);
        c->students.push_back(m);
        probes = {a, p, boss, e, m, c};
        CHECK(ls::debug::unreachable_cycles().empty());
    }
    CHECK(ls::debug::unreachable_cycles() == cycles{"Author.profile <-> Profile.author", "Course.students <-> Student.courses",
                                                    "Employee.manager <-> Employee.reports"});
    CHECK(ls::debug::collect_cycles() == 6);
    for (const auto& w : probes) CHECK(w.expired());
}

TEST_CASE("cycles: a hand-built cycle added to a session and flushed is freed, never reported",
          "[session][ownership][cycles]") {
    model::fixture f;
    std::weak_ptr<Author> wa;
    std::weak_ptr<Book> wb;
    {
        ls::session s{f.engine};
        auto a = std::make_shared<Author>(Author{.name = "Flushed"});
        auto b = std::make_shared<Book>(Book{.title = "Bound"});
        a->books.push_back(b);
        b->author = a;
        wa = a;
        wb = b;
        s.add(a);
        s.commit();  // binds both: b->author is weak from now on
    }
    CHECK(wa.expired());
    CHECK(wb.expired());
    CHECK(ls::debug::unreachable_cycles().empty());
}

TEST_CASE("cycles: the report at exit names the relationships on stderr", "[session][ownership][cycles][nodb]") {
    {
        auto boss = std::make_shared<Employee>(Employee{.name = "Boss"});
        auto e = std::make_shared<Employee>(Employee{.name = "E"});
        boss->reports.push_back(e);
        e->manager = boss;
    }
    std::FILE* tmp = std::tmpfile();
    REQUIRE(tmp);
    std::fflush(stderr);
    const int saved = ::dup(2);
    ::dup2(::fileno(tmp), 2);
    ls::detail::report_cycles_at_exit<>();  // what runs at exit (armed by the first registration)
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    std::rewind(tmp);
    std::string text;
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, tmp)) text.append(buf, n);
    std::fclose(tmp);
    CHECK(text.find("loadstar: objects leaked by shared_ptr cycles") == 0);
    CHECK(text.find("\n  Employee.manager <-> Employee.reports\n") != std::string::npos);
    CHECK(ls::debug::collect_cycles() == 2);
    CHECK(ls::debug::unreachable_cycles().empty());
}

TEST_CASE("cycles: an object holding itself is named once", "[session][ownership][cycles][nodb]") {
    std::weak_ptr<Employee> we;
    {
        auto e = std::make_shared<Employee>(Employee{.name = "Self"});
        e->manager = e;  // its own manager
        we = e;
    }
    CHECK(ls::debug::unreachable_cycles() == cycles{"Employee.manager (an object holding itself)"});
    CHECK(ls::debug::collect_cycles() == 1);
    CHECK(we.expired());
}

#else

TEST_CASE("cycles: without LOADSTAR_CHECK_CYCLES nothing registers", "[session][ownership][cycles][nodb]") {
    auto a = std::make_shared<Author>(Author{.name = "Hand"});
    auto b = std::make_shared<Book>(Book{.title = "Built"});
    a->books.push_back(b);
    b->author = a;
    CHECK(ls::debug::unreachable_cycles().empty());
    a->books.clear();  // the program's rule: break one side
}

#endif
