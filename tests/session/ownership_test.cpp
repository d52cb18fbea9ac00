// tests/session/ownership_test.cpp - who owns mapped objects (issue 11 items 1, 6, 13, 14): an
// object a holder reaches is never destroyed under it, everything the library links is freed
// once the session is closed and the program lets go, back_populates never invalidates a loop,
// and what a raise_load_error says about where it was touched.
// SPDX-License-Identifier: MIT
#include "support/fixture.hpp"
#include "support/m2m_model.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

using model::Author;
using model::Book;
using model::Employee;
using model::Profile;
using own::Course;
using own::Student;

namespace {

/// Every object reachable from `p` through loaded holders, as weak pointers (the probes of the
/// leak matrix: all of them must expire once the session is closed and the program lets go).
struct probes {
    std::vector<std::weak_ptr<void>> alive;
    std::unordered_set<const void*> seen;

    template <class E>
    void walk(const ls::ptr<E>& p) {
        if (!p || !seen.insert(p.get()).second) return;
        alive.push_back(p);
        using meta = ls::entity_meta<E>;
        ls::detail::for_each_index<meta::relationship_count>([&](auto i) {
            using R = typename meta::template relationship_t<i>;
            auto& h = (*p).*(R::member);
            if (!h.loaded()) return;
            if constexpr (R::to_many) {
                for (const auto& c : h) walk(c);
            } else {
                walk(h.get());
            }
        });
    }
    template <class E>
    void walk(const std::vector<ls::ptr<E>>& v) {
        for (const auto& p : v) walk(p);
    }
    std::size_t live() const {
        std::size_t n = 0;
        for (const auto& w : alive) n += w.expired() ? 0 : 1;
        return n;
    }
};

/// Students 1, 2 and courses 1, 2: student 1 takes both, student 2 takes course 2.
void seed_enrolments(ls::engine& e) {
    ls::create_all<Student, Course>(e);
    ls::session s{e};
    auto c1 = std::make_shared<Course>(Course{.id = 1, .title = "Algebra"});
    auto c2 = std::make_shared<Course>(Course{.id = 2, .title = "Botany"});
    auto s1 = std::make_shared<Student>(Student{.id = 1, .name = "Ada"});
    auto s2 = std::make_shared<Student>(Student{.id = 2, .name = "Ben"});
    s1->courses.push_back(c1);
    s1->courses.push_back(c2);
    s2->courses.push_back(c2);
    s.add(s1);
    s.add(s2);
    s.commit();
}

enum class order { drop_then_close, close_then_drop };
using cycles = std::vector<std::string>;

/// Loads `q(session)` (a vector of ptr), walks everything it reached, lets go in the given
/// order, and returns how many objects are still alive afterwards (0: nothing leaked). Debug
/// builds first check which cycles the report names (`reported`: none, unless the load is one
/// the README says leaks) and collect those.
template <class Load>
std::size_t left_alive(ls::engine& e, order o, std::size_t expected, Load load, const cycles& reported = {}) {
    probes pr;
    {
        auto s = std::make_unique<ls::session>(e);
        {
            auto rows = load(*s);
            pr.walk(rows);
            CHECK(pr.alive.size() == expected);
            if (o == order::close_then_drop) {
                s->close();
                // What the program holds keeps what it reached through owning holders.
                for (const auto& r : rows) CHECK(r.use_count() >= 1);
            }
        }
        if (o == order::drop_then_close) s->close();
    }
#if LOADSTAR_CHECK_CYCLES
    CHECK(ls::debug::unreachable_cycles() == reported);
    (void)ls::debug::collect_cycles();
#else
    (void)reported;
#endif
    return pr.live();
}

}  // namespace

// ---- item 1: an assigned object is never dropped ------------------------------------------------

TEST_CASE("ownership: a new object assigned to a loaded many-to-one is kept and its key flushed",
          "[session][ownership]") {
    model::fixture f;
    std::int64_t new_id = 0;
    {
        ls::session s{f.engine};
        auto b = s.query<Book>().where(ls::col<&Book::id> == 3).one();
        (void)b->author.get();  // loaded: Charles, held weakly (the identity map owns him)
        b->author = std::make_shared<Author>(Author{.name = "New"});
        // The save-update cascade made it pending: the session owns it until the flush.
        REQUIRE(b->author.get() != nullptr);
        CHECK(b->author.get()->name == "New");
        CHECK(s.state(b->author.get()) == ls::object_state::pending);
        std::weak_ptr<Author> probe = b->author.get();
        s.commit();
        REQUIRE(!probe.expired());
        new_id = b->author.get()->id;
        CHECK(new_id > 3);
        CHECK(b->author_id == new_id);
        CHECK(s.state(b->author.get()) == ls::object_state::persistent);
    }
    ls::session check{f.engine};
    auto b = check.query<Book>().where(ls::col<&Book::id> == 3).one();
    CHECK(b->author_id == new_id);
    CHECK(b->author.get()->name == "New");
}

TEST_CASE("ownership: assigning a persistent object or nullptr and a new object after close",
          "[session][ownership]") {
    model::fixture f;
    {
        ls::session s{f.engine};
        auto b = s.query<Book>().where(ls::col<&Book::id> == 3).one();
        (void)b->author.get();
        b->author = s.get<Author>(1);  // persistent: the identity map owns it already
        CHECK(s.state(b->author.get()) == ls::object_state::persistent);
        auto cy = s.get<Employee>(4);
        (void)cy->manager.get();
        cy->manager = nullptr;
        CHECK(cy->manager.get() == nullptr);
        s.commit();
        CHECK(b->author_id == 1);

        // After close nothing owns what is assigned but the holder itself: it holds strongly.
        s.close();
        b->author = std::make_shared<Author>(Author{.name = "Late"});
        REQUIRE(b->author.get() != nullptr);
        CHECK(b->author.get()->name == "Late");
        auto boss = std::make_shared<Employee>(Employee{.name = "Interim"});
        std::weak_ptr<Employee> probe = boss;
        cy->manager = std::move(boss);
        CHECK(!probe.expired());
        CHECK(cy->manager.get()->name == "Interim");
    }
    ls::session check{f.engine};
    CHECK(check.query<Book>().where(ls::col<&Book::id> == 3).one()->author_id == 1);
    CHECK(!check.get<Employee>(4)->manager_id.has_value());
    CHECK(check.query<Author>().where(ls::col<&Author::name> == "Late").count() == 0);
}

TEST_CASE("ownership: a new object assigned and then replaced before the flush is not inserted",
          "[session][ownership]") {
    model::fixture f;
    ls::session s{f.engine};
    auto b = s.query<Book>().where(ls::col<&Book::id> == 3).one();
    (void)b->author.get();
    auto first = std::make_shared<Author>(Author{.name = "First"});
    b->author = first;
    CHECK(s.state(first) == ls::object_state::pending);
    s.expunge(first);  // taken back by the program: not inserted
    b->author = s.get<Author>(1);
    s.commit();
    CHECK(s.query<Author>().where(ls::col<&Author::name> == "First").count() == 0);
    CHECK(b->author_id == 1);
}

// ---- item 13: back_populates never invalidates a loop over the collection -----------------------

TEST_CASE("ownership: reassigning the parent inside a loop over its collection", "[session][ownership]") {
    model::fixture f;
    ls::session s{f.engine};
    auto jane = s.get<Author>(1);
    auto charles = s.get<Author>(2);
    REQUIRE(jane->books.size() == 2);
    REQUIRE(charles->books.size() == 1);
    std::vector<std::int64_t> visited;
    for (auto& b : jane->books) {
        visited.push_back(b->id);
        b->author = charles;  // back_populates removes b from jane->books, appends it to charles's
    }
    CHECK(visited == std::vector<std::int64_t>{1, 2});
    CHECK(jane->books.size() == 0);
    CHECK(model::sorted_ids(charles->books) == std::vector<std::int64_t>{1, 2, 3});
    // And back, looping over the collection that grows and shrinks.
    visited.clear();
    for (auto& b : charles->books) {
        visited.push_back(b->id);
        if (b->id != 3) b->author = jane;
    }
    CHECK(visited.size() == 3);
    CHECK(model::sorted_ids(jane->books) == std::vector<std::int64_t>{1, 2});
    CHECK(model::sorted_ids(charles->books) == std::vector<std::int64_t>{3});
    for (auto& b : jane->books) b->author = charles;
    s.commit();
    ls::session check{f.engine};
    CHECK(check.query<Book>().where(ls::col<&Book::author_id> == 2).count() == 3);
}

// ---- item 14: where a raise_load_error says it was touched --------------------------------------

TEST_CASE("ownership: raise_load_error through operator-> says so and points at get()", "[session][ownership]") {
    model::fixture f;
    ls::session s{f.engine};
    auto b = s.query<Book>().where(ls::col<&Book::id> == 1).options(ls::raiseload_all).one();
    std::string arrow, call;
    try {
        (void)b->author->name;
    } catch (const ls::raise_load_error& e) {
        arrow = e.what();
    }
    CHECK(arrow.find("Book.author is not loaded") != std::string::npos);
    CHECK(arrow.find("through one<T>::operator->") != std::string::npos);
    CHECK(arrow.find("get()") != std::string::npos);
    CHECK(arrow.find("relationship.hpp") == std::string::npos);  // never a line of the library
    const unsigned line = __LINE__ + 2;
    try {
        (void)b->author.get();
    } catch (const ls::raise_load_error& e) {
        call = e.what();
    }
    CHECK(call.find(std::string("ownership_test.cpp:") + std::to_string(line)) != std::string::npos);
}

// ---- item 6: nothing the library links outlives the session and the program's pointers ----------
//
// relationship kind x strategy x tracked/untracked x direction, in both orders of letting go.

TEST_CASE("ownership: loads in both directions are freed after close (one-to-many and many-to-one)",
          "[session][ownership][leak]") {
    model::fixture f;
    for (order o : {order::drop_then_close, order::close_then_drop})
        for (bool tracked : {true, false}) {
            INFO("tracked " << tracked << " order " << static_cast<int>(o));
            auto author_down = [&](auto opt) {
                return [&, opt](ls::session& s) {
                    auto q = s.query<Author>().options(opt);
                    if (!tracked) q.untracked();
                    return q.all();
                };
            };
            auto book_up = [&](auto opt) {
                return [&, opt](ls::session& s) {
                    auto q = s.query<Book>().options(opt);
                    if (!tracked) q.untracked();
                    return q.all();
                };
            };
            // 3 authors + 3 books, linked both ways.
            CHECK(left_alive(f.engine, o, 6, author_down(ls::joinedload<&Author::books>.then(ls::joinedload<&Book::author>))) == 0);
            CHECK(left_alive(f.engine, o, 6, author_down(ls::selectinload<&Author::books>.then(ls::selectinload<&Book::author>))) == 0);
            CHECK(left_alive(f.engine, o, 6, author_down(ls::subqueryload<&Author::books>.then(ls::subqueryload<&Book::author>))) == 0);
            // 3 books + 2 authors (with their books: the same 3). Untracked, nothing but the
            // books' back-references reaches the authors, so those own them, and the authors'
            // collections own the books: a cycle no session can break (see the README). Debug
            // builds name it once the program lets go (and collect it here).
            if (tracked || LOADSTAR_CHECK_CYCLES) {
                const cycles up = tracked ? cycles{} : cycles{"Author.books <-> Book.author"};
                CHECK(left_alive(f.engine, o, 5, book_up(ls::joinedload<&Book::author>.then(ls::selectinload<&Author::books>)), up) == 0);
                CHECK(left_alive(f.engine, o, 5, book_up(ls::selectinload<&Book::author>.then(ls::joinedload<&Author::books>)), up) == 0);
                CHECK(left_alive(f.engine, o, 5, book_up(ls::subqueryload<&Book::author>.then(ls::subqueryload<&Author::books>)), up) == 0);
            }
            // One direction only: 3 books, 2 authors held by them.
            CHECK(left_alive(f.engine, o, 5, book_up(ls::joinedload<&Book::author>)) == 0);
        }
    // Lazy, both directions (tracked only: untracked objects do not lazy-load).
    for (order o : {order::drop_then_close, order::close_then_drop}) {
        CHECK(left_alive(f.engine, o, 6, [](ls::session& s) {
                  auto as = s.query<Author>().all();
                  for (auto& a : as)
                      for (auto& b : a->books) (void)b->author.get();
                  return as;
              }) == 0);
        CHECK(left_alive(f.engine, o, 5, [](ls::session& s) {
                  auto bs = s.query<Book>().all();
                  for (auto& b : bs) (void)b->author.get()->books.size();
                  return bs;
              }) == 0);
    }
}

TEST_CASE("ownership: loads in both directions are freed after close (one-to-one and self-reference)",
          "[session][ownership][leak]") {
    model::fixture f;
    for (order o : {order::drop_then_close, order::close_then_drop})
        for (bool tracked : {true, false}) {
            INFO("tracked " << tracked << " order " << static_cast<int>(o));
            auto run = [&](auto root, auto opt) {
                using E = typename decltype(root)::element_type;
                return [&, opt](ls::session& s) {
                    auto q = s.query<E>().options(opt);
                    if (!tracked) q.untracked();
                    return q.all();
                };
            };
            // has_one / belongs_to: 3 authors + 1 profile; 1 profile + 1 author.
            CHECK(left_alive(f.engine, o, 4, run(ls::ptr<Author>{}, ls::joinedload<&Author::profile>.then(ls::joinedload<&Profile::author>))) == 0);
            CHECK(left_alive(f.engine, o, 4, run(ls::ptr<Author>{}, ls::selectinload<&Author::profile>.then(ls::selectinload<&Profile::author>))) == 0);
            if (tracked || LOADSTAR_CHECK_CYCLES)  // untracked: as the books above
                CHECK(left_alive(f.engine, o, 2, run(ls::ptr<Profile>{}, ls::subqueryload<&Profile::author>.then(ls::subqueryload<&Author::profile>)),
                                 tracked ? cycles{} : cycles{"Author.profile <-> Profile.author"}) == 0);
            // Self-reference: 4 employees, reports and manager both ways.
            CHECK(left_alive(f.engine, o, 4, run(ls::ptr<Employee>{}, ls::selectinload<&Employee::reports>.then(ls::selectinload<&Employee::manager>))) == 0);
            CHECK(left_alive(f.engine, o, 4, run(ls::ptr<Employee>{}, ls::joinedload<&Employee::manager>.then(ls::joinedload<&Employee::reports>))) == 0);
            CHECK(left_alive(f.engine, o, 4, run(ls::ptr<Employee>{}, ls::subqueryload<&Employee::reports>.then(ls::subqueryload<&Employee::manager>))) == 0);
        }
    for (order o : {order::drop_then_close, order::close_then_drop})
        CHECK(left_alive(f.engine, o, 4, [](ls::session& s) {
                  auto es = s.query<Employee>().all();
                  for (auto& e : es) {
                      (void)e->manager.get();
                      (void)e->reports.size();
                  }
                  return es;
              }) == 0);
}

TEST_CASE("ownership: many-to-many mapped on both sides is freed after close", "[session][ownership][leak]") {
    auto e = model::test_engine();
    seed_enrolments(e);
    // Tracked loads form strong cycles (both holders own): the sweep at close breaks those the
    // program no longer reaches.
    auto students = [](auto opt) {
        return [opt](ls::session& s) { return s.query<Student>().options(opt).all(); };
    };
    CHECK(left_alive(e, order::drop_then_close, 4, students(ls::selectinload<&Student::courses>.then(ls::selectinload<&Course::students>))) == 0);
    CHECK(left_alive(e, order::drop_then_close, 4, students(ls::joinedload<&Student::courses>.then(ls::joinedload<&Course::students>))) == 0);
    CHECK(left_alive(e, order::drop_then_close, 4, students(ls::subqueryload<&Student::courses>.then(ls::subqueryload<&Course::students>))) == 0);
    CHECK(left_alive(e, order::drop_then_close, 4, [](ls::session& s) {
              auto cs = s.query<Course>().all();
              for (auto& c : cs)
                  for (auto& st : c->students) (void)st->courses.size();
              return cs;
          }) == 0);
#if LOADSTAR_CHECK_CYCLES
    // Held across close (both holders own, and no session sweeps them any more), or loaded
    // untracked in both directions: cycles the program must break before it lets go (README).
    // Debug builds name them once it has let go; left_alive collects them.
    const cycles m2m{"Course.students <-> Student.courses"};
    CHECK(left_alive(e, order::close_then_drop, 4, students(ls::selectinload<&Student::courses>.then(ls::selectinload<&Course::students>)), m2m) == 0);
    CHECK(left_alive(e, order::close_then_drop, 4, students(ls::joinedload<&Student::courses>.then(ls::joinedload<&Course::students>)), m2m) == 0);
    for (order o : {order::drop_then_close, order::close_then_drop}) {
        auto untracked = [](auto opt) {
            return [opt](ls::session& s) { return s.query<Student>().options(opt).untracked().all(); };
        };
        CHECK(left_alive(e, o, 4, untracked(ls::selectinload<&Student::courses>.then(ls::selectinload<&Course::students>)), m2m) == 0);
        CHECK(left_alive(e, o, 4, untracked(ls::joinedload<&Student::courses>.then(ls::joinedload<&Course::students>)), m2m) == 0);
        CHECK(left_alive(e, o, 4, untracked(ls::subqueryload<&Student::courses>.then(ls::subqueryload<&Course::students>)), m2m) == 0);
    }
#endif
    // Linked by back_populates and flushed.
    {
        probes pr;
        {
            ls::session s{e};
            auto c3 = std::make_shared<Course>(Course{.id = 3, .title = "Chemistry"});
            auto ada = s.get<Student>(1);
            ada->courses.push_back(c3);
            s.commit();
            c3->students.push_back(s.get<Student>(2));
            s.commit();
            pr.walk(ada);
            CHECK(pr.alive.size() == 5);
        }
        CHECK(pr.live() == 0);
    }
    // expunge_all sweeps as close does (students 1, 2 and courses 1, 2, 3 now).
    {
        probes pr;
        ls::session s{e};
        pr.walk(s.query<Student>().options(ls::selectinload<&Student::courses>.then(ls::selectinload<&Course::students>)).all());
        CHECK(pr.alive.size() == 5);
        s.expunge_all();
        CHECK(pr.live() == 0);
    }
}

TEST_CASE("ownership: the sweep keeps what the program still reaches", "[session][ownership][leak]") {
    auto e = model::test_engine();
    seed_enrolments(e);
    ls::ptr<Student> ada;
    {
        ls::session s{e};
        auto all = s.query<Student>().options(ls::selectinload<&Student::courses>.then(ls::selectinload<&Course::students>)).all();
        ada = s.get<Student>(1);
    }
    // Ada's courses and their students (Ben too) survive: the program reaches them through her.
    REQUIRE(ada->courses.size() == 2);
    std::vector<std::string> names;
    for (auto& c : ada->courses)
        for (auto& st : c->students) names.push_back(st->name);
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"Ada", "Ada", "Ben"});
    // A graph the program holds across close is its own: it breaks the cycle by letting go.
    for (auto& c : ada->courses) c->students.clear();
    std::weak_ptr<Student> probe = ada;
    ada.reset();
    CHECK(probe.expired());
}
