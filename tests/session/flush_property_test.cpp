// tests/session/flush_property_test.cpp - flush keys from the whole graph, checked on random
// graphs (issue 11, item 2): new objects over the test model and a forum model (a comment in
// its post's and its user's collections, replies to replies), linked through either side of
// each relationship, mixed with persistent parents, added in random order, committed; then
// every foreign key, association row and column is read back and compared.
// Seeded and reproducible: a failure prints the seed of the graph that failed and how to replay
// it (LOADSTAR_PROPERTY_SEED, LOADSTAR_PROPERTY_GRAPHS).
// SPDX-License-Identifier: MIT
#include "support/backend.hpp"
#include "support/model.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace prop {
struct Post;
struct Comment;
struct User {
    std::int64_t id{};
    std::string name;
    ls::many<Post> posts;
    ls::many<Comment> comments;
};
struct Post {
    std::int64_t id{};
    std::int64_t user_id{};
    std::string title;
    ls::one<User> user;
    ls::many<Comment> comments;
};
struct Comment {
    std::int64_t id{};
    std::int64_t user_id{};
    std::int64_t post_id{};
    std::optional<std::int64_t> parent_id;
    std::string body;
    ls::one<User> user;
    ls::one<Post> post;
    ls::one<Comment> parent;
    ls::many<Comment> replies;
};
}  // namespace prop

template <>
struct loadstar::mapping<prop::User> {
    using U = prop::User;
    static constexpr auto table = ls::table("prop_users",
        ls::column<&U::id>("id", ls::primary_key),
        ls::column<&U::name>("name"),
        ls::has_many<&U::posts>(&prop::Post::user_id, ls::back_populates<&prop::Post::user>),
        ls::has_many<&U::comments>(&prop::Comment::user_id, ls::back_populates<&prop::Comment::user>));
};
template <>
struct loadstar::mapping<prop::Post> {
    using P = prop::Post;
    static constexpr auto table = ls::table("prop_posts",
        ls::column<&P::id>("id", ls::primary_key),
        ls::column<&P::user_id>("user_id", ls::foreign_key<&prop::User::id>),
        ls::column<&P::title>("title"),
        ls::belongs_to<&P::user>(&P::user_id, ls::back_populates<&prop::User::posts>),
        ls::has_many<&P::comments>(&prop::Comment::post_id, ls::back_populates<&prop::Comment::post>));
};
template <>
struct loadstar::mapping<prop::Comment> {
    using C = prop::Comment;
    static constexpr auto table = ls::table("prop_comments",
        ls::column<&C::id>("id", ls::primary_key),
        ls::column<&C::user_id>("user_id", ls::foreign_key<&prop::User::id>),
        ls::column<&C::post_id>("post_id", ls::foreign_key<&prop::Post::id>),
        ls::column<&C::parent_id>("parent_id", ls::foreign_key<&C::id>),
        ls::column<&C::body>("body"),
        ls::belongs_to<&C::user>(&C::user_id, ls::back_populates<&prop::User::comments>),
        ls::belongs_to<&C::post>(&C::post_id, ls::back_populates<&prop::Post::comments>),
        ls::belongs_to<&C::parent>(&C::parent_id),
        ls::has_many<&C::replies>(&C::parent_id));
};

namespace {

using ls::col;
using model::Author;
using model::Book;
using model::Employee;
using model::Profile;
using model::Publisher;
using model::Tag;
using prop::Comment;
using prop::Post;
using prop::User;

/// One random graph: the objects it created, and the parent each of them must end up with
/// (expected keys are read off these pointers after the commit, when every key is known).
struct graph {
    std::vector<ls::ptr<Author>> authors;  // new and persistent: the candidates
    std::vector<ls::ptr<Publisher>> publishers;
    std::vector<ls::ptr<Tag>> tags;
    std::vector<ls::ptr<Employee>> employees;
    std::vector<ls::ptr<User>> users;
    std::vector<ls::ptr<Post>> posts;

    struct book_links { ls::ptr<Book> b; ls::ptr<Author> author; ls::ptr<Publisher> publisher; std::vector<ls::ptr<Tag>> tags; };
    struct profile_links { ls::ptr<Profile> p; ls::ptr<Author> author; };
    struct employee_links { ls::ptr<Employee> e; ls::ptr<Employee> manager; };
    struct post_links { ls::ptr<Post> p; ls::ptr<User> user; };
    struct comment_links { ls::ptr<Comment> c; ls::ptr<User> user; ls::ptr<Post> post; ls::ptr<Comment> parent; };
    std::vector<book_links> books;
    std::vector<profile_links> profiles;
    std::vector<employee_links> new_employees;
    std::vector<post_links> new_posts;
    std::vector<comment_links> comments;
    std::vector<ls::ptr<Author>> new_authors;
    std::vector<ls::ptr<Publisher>> new_publishers;
    std::vector<ls::ptr<Tag>> new_tags;
    std::vector<ls::ptr<User>> new_users;
    std::vector<std::function<void()>> adds;  // s.add of every new object, shuffled
    std::string log;  // how it was linked, for the failure message
};

template <class T>
const ls::ptr<T>& pick(std::mt19937_64& rng, const std::vector<ls::ptr<T>>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}
int roll(std::mt19937_64& rng, int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

/// Up to `n` persistent objects of T, loaded by key (rows earlier graphs committed).
template <class T, auto Id>
std::vector<ls::ptr<T>> persistent(ls::session& s, std::mt19937_64& rng, int n) {
    std::vector<ls::ptr<T>> out;
    const auto last = s.query<T>().order_by(col<Id>.desc()).first();
    const std::int64_t max_id = last ? (*last).*Id : 0;
    for (int i = 0; i < n && max_id > 0; ++i) {
        const std::int64_t k = std::uniform_int_distribution<std::int64_t>(1, max_id)(rng);
        if (auto o = s.get<T>(k)) out.push_back(o);
    }
    return out;
}

graph build(ls::session& s, std::mt19937_64& rng, int serial) {
    graph g;
    const std::string tag = "g" + std::to_string(serial) + "_";
    auto log = [&](const std::string& line) { g.log += line + "\n"; };

    // Candidates: new objects, and some persistent ones from earlier graphs.
    g.authors = persistent<Author, &Author::id>(s, rng, roll(rng, 3));
    g.publishers = persistent<Publisher, &Publisher::id>(s, rng, roll(rng, 2));
    g.tags = persistent<Tag, &Tag::id>(s, rng, roll(rng, 3));
    g.employees = persistent<Employee, &Employee::id>(s, rng, roll(rng, 3));
    g.users = persistent<User, &User::id>(s, rng, roll(rng, 2));
    g.posts = persistent<Post, &Post::id>(s, rng, roll(rng, 2));
    for (int i = 0, n = 1 + roll(rng, 3); i < n; ++i) {
        auto a = std::make_shared<Author>(Author{.name = tag + "a" + std::to_string(i)});
        g.authors.push_back(a);
        g.new_authors.push_back(a);
    }
    for (int i = 0, n = roll(rng, 3); i < n; ++i) {
        auto p = std::make_shared<Publisher>(Publisher{.name = tag + "p" + std::to_string(i)});
        g.publishers.push_back(p);
        g.new_publishers.push_back(p);
    }
    for (int i = 0, n = roll(rng, 4); i < n; ++i) {
        auto t = std::make_shared<Tag>(Tag{.label = tag + "t" + std::to_string(i)});
        g.tags.push_back(t);
        g.new_tags.push_back(t);
    }
    for (int i = 0, n = 1 + roll(rng, 2); i < n; ++i) {
        auto u = std::make_shared<User>(User{.name = tag + "u" + std::to_string(i)});
        g.users.push_back(u);
        g.new_users.push_back(u);
    }

    // Books: an author through either side (or both), maybe a publisher, some tags (a tag in
    // several books' collections).
    for (int i = 0, n = roll(rng, 6); i < n; ++i) {
        graph::book_links l{std::make_shared<Book>(Book{.title = tag + "b" + std::to_string(i)}), pick(rng, g.authors), nullptr, {}};
        const int way = roll(rng, 3);
        if (way != 1) l.author->books.push_back(l.b);
        if (way != 0) l.b->author = l.author;
        if (!g.publishers.empty() && roll(rng, 2)) {
            l.publisher = pick(rng, g.publishers);
            l.b->publisher = l.publisher;
        }
        for (const auto& t : g.tags)
            if (roll(rng, 3) == 0) {
                l.tags.push_back(t);
                l.b->tags.push_back(t);
            }
        log("book " + l.b->title + " way " + std::to_string(way) + " author " + l.author->name +
            (l.publisher ? " publisher " + l.publisher->name : "") + " tags " + std::to_string(l.tags.size()));
        g.books.push_back(std::move(l));
    }
    // Profiles: only new authors have none yet (author_id is UNIQUE).
    for (const auto& a : g.new_authors) {
        if (roll(rng, 2)) continue;
        graph::profile_links l{std::make_shared<Profile>(Profile{.bio = a->name + "_bio"}), a};
        const int way = roll(rng, 3);
        if (way != 1) a->profile = l.p;
        if (way != 0) l.p->author = a;
        log("profile of " + a->name + " way " + std::to_string(way));
        g.profiles.push_back(std::move(l));
    }
    // Employees: self-reference; a manager among the persistent ones and the new ones made
    // before (no cycle), linked through `manager`, `reports`, or both.
    for (int i = 0, n = roll(rng, 5); i < n; ++i) {
        graph::employee_links l{std::make_shared<Employee>(Employee{.name = tag + "e" + std::to_string(i)}), nullptr};
        if (!g.employees.empty() && roll(rng, 4)) {
            l.manager = pick(rng, g.employees);
            const int way = roll(rng, 3);
            if (way != 1) l.manager->reports.push_back(l.e);
            if (way != 0) l.e->manager = l.manager;
            log("employee " + l.e->name + " manager " + l.manager->name + " way " + std::to_string(way));
        }
        g.employees.push_back(l.e);
        g.new_employees.push_back(std::move(l));
    }
    // Forum: posts of users; comments in their post's and their user's collections, replies
    // to comments of the same post.
    for (int i = 0, n = roll(rng, 4); i < n; ++i) {
        graph::post_links l{std::make_shared<Post>(Post{.title = tag + "post" + std::to_string(i)}), pick(rng, g.users)};
        const int way = roll(rng, 3);
        if (way != 1) l.user->posts.push_back(l.p);
        if (way != 0) l.p->user = l.user;
        log("post " + l.p->title + " user " + l.user->name + " way " + std::to_string(way));
        g.posts.push_back(l.p);
        g.new_posts.push_back(std::move(l));
    }
    if (!g.posts.empty()) {
        for (int i = 0, n = roll(rng, 7); i < n; ++i) {
            graph::comment_links l{std::make_shared<Comment>(Comment{.body = tag + "c" + std::to_string(i)}), pick(rng, g.users),
                                   pick(rng, g.posts), nullptr};
            const int post_way = roll(rng, 3), user_way = roll(rng, 3);
            if (post_way != 1) l.post->comments.push_back(l.c);
            if (post_way != 0) l.c->post = l.post;
            if (user_way != 1) l.user->comments.push_back(l.c);
            if (user_way != 0) l.c->user = l.user;
            std::vector<ls::ptr<Comment>> same_post;
            for (const auto& o : g.comments)
                if (o.post == l.post) same_post.push_back(o.c);
            int parent_way = -1;
            if (!same_post.empty() && roll(rng, 2)) {
                l.parent = pick(rng, same_post);
                parent_way = roll(rng, 3);
                if (parent_way != 1) l.parent->replies.push_back(l.c);
                if (parent_way != 0) l.c->parent = l.parent;
            }
            log("comment " + l.c->body + " post " + l.post->title + " way " + std::to_string(post_way) + " user " +
                l.user->name + " way " + std::to_string(user_way) +
                (l.parent ? " parent " + l.parent->body + " way " + std::to_string(parent_way) : ""));
            g.comments.push_back(std::move(l));
        }
    }
    // Every new object goes to the session, in random order (the order the flush meets them
    // in is what the graph's shape stresses).
    auto add = [&](auto obj) { g.adds.push_back([&s, obj] { s.add(obj); }); };
    for (auto& a : g.new_authors) add(a);
    for (auto& p : g.new_publishers) add(p);
    for (auto& t : g.new_tags) add(t);
    for (auto& u : g.new_users) add(u);
    for (auto& l : g.books) add(l.b);
    for (auto& l : g.profiles) add(l.p);
    for (auto& l : g.new_employees) add(l.e);
    for (auto& l : g.new_posts) add(l.p);
    for (auto& l : g.comments) add(l.c);
    std::shuffle(g.adds.begin(), g.adds.end(), rng);
    return g;
}

/// True when `o` was written (it has its key).
template <class T>
bool written(const ls::ptr<T>& o) {
    return o && o->id != 0;
}

/// Compares the database with the graph; returns what differs.
std::string check(ls::engine& e, const graph& g) {
    std::string bad;
    auto fail = [&](const std::string& m) { bad += m + "\n"; };
    ls::session r{e};
    for (const auto& l : g.books) {
        if (!written(l.b)) {
            fail("book " + l.b->title + " was not inserted");
            continue;
        }
        auto row = r.query<Book>().where(col<&Book::id> == l.b->id).untracked().first();
        if (!row) { fail("book " + l.b->title + " has no row"); continue; }
        if (row->title != l.b->title) fail("book " + l.b->title + " row title " + row->title);
        if (row->author_id != l.author->id || l.b->author_id != l.author->id)
            fail("book " + l.b->title + ": author_id " + std::to_string(row->author_id) + " (object " +
                 std::to_string(l.b->author_id) + "), expected " + std::to_string(l.author->id));
        const std::optional<std::int64_t> pub = l.publisher ? std::optional<std::int64_t>(l.publisher->id) : std::nullopt;
        if (row->publisher_id != pub) fail("book " + l.b->title + ": publisher_id differs");
        std::set<std::int64_t> want, got;
        for (const auto& t : l.tags) want.insert(t->id);
        auto tagged = r.query<Book>().where(col<&Book::id> == l.b->id).options(ls::selectinload<&Book::tags>).one();
        for (const auto& t : tagged->tags) got.insert(t->id);
        if (want != got) fail("book " + l.b->title + ": tags differ");
    }
    for (const auto& l : g.profiles) {
        if (!written(l.p)) { fail("profile of " + l.author->name + " was not inserted"); continue; }
        auto row = r.query<Profile>().where(col<&Profile::id> == l.p->id).untracked().first();
        if (!row || row->author_id != l.author->id)
            fail("profile of " + l.author->name + ": author_id " + (row ? std::to_string(row->author_id) : "-") +
                 ", expected " + std::to_string(l.author->id));
    }
    for (const auto& l : g.new_employees) {
        if (!written(l.e)) { fail("employee " + l.e->name + " was not inserted"); continue; }
        auto row = r.query<Employee>().where(col<&Employee::id> == l.e->id).untracked().first();
        const std::optional<std::int64_t> m = l.manager ? std::optional<std::int64_t>(l.manager->id) : std::nullopt;
        if (!row || row->manager_id != m)
            fail("employee " + l.e->name + ": manager_id " + (row && row->manager_id ? std::to_string(*row->manager_id) : "null") +
                 ", expected " + (m ? std::to_string(*m) : "null"));
    }
    for (const auto& l : g.new_posts) {
        if (!written(l.p)) { fail("post " + l.p->title + " was not inserted"); continue; }
        auto row = r.query<Post>().where(col<&Post::id> == l.p->id).untracked().first();
        if (!row || row->user_id != l.user->id) fail("post " + l.p->title + ": user_id differs");
    }
    for (const auto& l : g.comments) {
        if (!written(l.c)) { fail("comment " + l.c->body + " was not inserted"); continue; }
        auto row = r.query<Comment>().where(col<&Comment::id> == l.c->id).untracked().first();
        if (!row) { fail("comment " + l.c->body + " has no row"); continue; }
        if (row->user_id != l.user->id) fail("comment " + l.c->body + ": user_id " + std::to_string(row->user_id) + ", expected " + std::to_string(l.user->id));
        if (row->post_id != l.post->id) fail("comment " + l.c->body + ": post_id " + std::to_string(row->post_id) + ", expected " + std::to_string(l.post->id));
        const std::optional<std::int64_t> p = l.parent ? std::optional<std::int64_t>(l.parent->id) : std::nullopt;
        if (row->parent_id != p) fail("comment " + l.c->body + ": parent_id differs");
    }
    for (const auto& a : g.new_authors)
        if (written(a) && !r.query<Author>().where(col<&Author::id> == a->id).exists()) fail("author " + a->name + " has no row");
    return bad;
}

}  // namespace

TEST_CASE("flush property: random graphs of new and persistent objects get every key right", "[session][uow][property]") {
    auto e = model::test_engine();
    model::create_schema(e);
    ls::create_all<User, Post, Comment>(e);
    if (std::getenv("LOADSTAR_PROPERTY_ECHO")) e.echo(true);
    // Graph i uses seed base + i and links to rows graphs 0..i-1 committed: a failure is
    // replayed by the same base seed and count.
    std::uint64_t base = 20261129;
    int graphs = 300;
    if (const char* v = std::getenv("LOADSTAR_PROPERTY_SEED")) base = std::strtoull(v, nullptr, 10);
    if (const char* v = std::getenv("LOADSTAR_PROPERTY_GRAPHS")) graphs = std::atoi(v);
    // Persistent rows for the first graphs to link to.
    {
        ls::session s{e};
        s.add(std::make_shared<Author>(Author{.name = "seed_a"}));
        s.add(std::make_shared<Publisher>(Publisher{.name = "seed_p"}));
        s.add(std::make_shared<Tag>(Tag{.label = "seed_t"}));
        s.add(std::make_shared<Employee>(Employee{.name = "seed_e"}));
        auto u = std::make_shared<User>(User{.name = "seed_u"});
        u->posts.push_back(std::make_shared<Post>(Post{.title = "seed_post"}));
        s.add(u);
        s.commit();
    }
    std::size_t objects = 0;  // new objects written and checked
    for (int i = 0; i < graphs; ++i) {
        const std::uint64_t seed = base + static_cast<std::uint64_t>(i);
        std::mt19937_64 rng(seed);
        ls::session s{e};
        graph g = build(s, rng, static_cast<int>(seed % 1000000));
        std::string problem;
        try {
            for (auto& add : g.adds) add();
            s.commit();
            problem = check(e, g);
            objects += g.adds.size();
        } catch (const std::exception& ex) {
            problem = std::string("commit threw: ") + ex.what() + "\n";
        }
        if (!problem.empty()) {
            FAIL_CHECK("graph " << i << ", seed " << seed << " (replay: LOADSTAR_PROPERTY_SEED=" << base
                                << " LOADSTAR_PROPERTY_GRAPHS=" << i + 1 << ")\n"
                                << g.log << "problems:\n" << problem);
            break;
        }
    }
    if (graphs >= 100) CHECK(objects > 10 * static_cast<std::size_t>(graphs));
}
