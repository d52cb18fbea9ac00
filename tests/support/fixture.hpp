// tests/support/fixture.hpp - a small, fully known data set on the test engine (SQLite :memory:,
// or a fresh PostgreSQL schema with LOADSTAR_TEST_BACKEND=postgres: see backend.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "backend.hpp"
#include "model.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace model {

/// authors: 1 Jane Austen (books 1, 2; profile), 2 Charles Dickens (book 3), 3 Anne Nobody (none)
/// books:   1 Pride and Prejudice (publisher 1; tags 1, 2), 2 Sense and Sensibility (no
///          publisher; tag 1), 3 Oliver Twist (publisher 2; no tags)
/// employees: 1 Boss; 2 Ann, 3 Bob report to 1; 4 Cy reports to 2.
struct fixture {
    ls::engine engine;

    fixture() : fixture(test_engine()) {}
    /// The data set on a given (empty) engine, e.g. PostgreSQL with particular driver options.
    explicit fixture(ls::engine e) : engine(std::move(e)) {
        create_schema(engine);
        ls::session s{engine};
        auto pub1 = std::make_shared<Publisher>(Publisher{.id = 1, .name = "T. Egerton"});
        auto pub2 = std::make_shared<Publisher>(Publisher{.id = 2, .name = "Richard Bentley"});
        auto romance = std::make_shared<Tag>(Tag{.id = 1, .label = "romance"});
        auto satire = std::make_shared<Tag>(Tag{.id = 2, .label = "satire"});
        auto jane = std::make_shared<Author>(Author{.id = 1, .name = "Jane Austen", .email = "jane@example.org"});
        auto charles = std::make_shared<Author>(Author{.id = 2, .name = "Charles Dickens"});
        auto anne = std::make_shared<Author>(Author{.id = 3, .name = "Anne Nobody"});
        auto pp = std::make_shared<Book>(Book{.id = 1, .title = "Pride and Prejudice"});
        pp->publisher = pub1;
        pp->tags.push_back(romance);
        pp->tags.push_back(satire);
        auto ss = std::make_shared<Book>(Book{.id = 2, .title = "Sense and Sensibility"});
        ss->tags.push_back(romance);
        auto ot = std::make_shared<Book>(Book{.id = 3, .title = "Oliver Twist"});
        ot->publisher = pub2;
        jane->books.push_back(pp);
        jane->books.push_back(ss);
        charles->books.push_back(ot);
        jane->profile = std::make_shared<Profile>(Profile{.id = 1, .bio = "Hampshire"});
        s.add(jane);
        s.add(charles);
        s.add(anne);
        auto boss = std::make_shared<Employee>(Employee{.id = 1, .name = "Boss"});
        auto ann = std::make_shared<Employee>(Employee{.id = 2, .name = "Ann"});
        auto bob = std::make_shared<Employee>(Employee{.id = 3, .name = "Bob"});
        auto cy = std::make_shared<Employee>(Employee{.id = 4, .name = "Cy"});
        boss->reports.push_back(ann);
        boss->reports.push_back(bob);
        ann->reports.push_back(cy);
        s.add(boss);
        s.commit();
        // Rows were inserted with explicit ids: later generated keys start past them.
        sync_identity(engine, {"publishers", "tags", "authors", "books", "profiles", "employees"});
    }
};

template <class T>
std::vector<std::int64_t> ids(const std::vector<ls::ptr<T>>& v) {
    std::vector<std::int64_t> out;
    for (auto& p : v) out.push_back(p->id);
    return out;
}
template <class H>
std::vector<std::int64_t> sorted_ids(H& holder) {
    std::vector<std::int64_t> out;
    for (auto& p : holder) out.push_back(p->id);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace model
