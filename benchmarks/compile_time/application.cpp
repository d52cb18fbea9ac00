// benchmarks/compile_time/application.cpp - an application-sized translation unit: five
// entities (has_many, has_one, belongs_to, a self-referential thread, many-to-many), sixty
// queries over every loader strategy, and writes with cascades. Compiled by
// benchmarks/compile_time.sh; not built by CMake.
// SPDX-License-Identifier: MIT
#include <loadstar/loadstar.hpp>
#include <loadstar/sqlite.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace ls = loadstar;

namespace blog {
struct Post;
struct Profile;
struct Comment;
struct Author {
    std::int64_t id{};
    std::string name;
    std::optional<std::string> email;
    ls::many<Post> posts;
    ls::one<Profile> profile;
};
struct Profile {
    std::int64_t id{};
    std::int64_t author_id{};
    std::string bio;
    ls::one<Author> author;
};
struct Tag {
    std::int64_t id{};
    std::string label;
};
struct Post {
    std::int64_t id{};
    std::string title;
    ls::deferred<std::string> body;
    std::int64_t author_id{};
    ls::one<Author> author;
    ls::many<Comment> comments;
    ls::many<Tag> tags;
};
struct Comment {
    std::int64_t id{};
    std::int64_t post_id{};
    std::optional<std::int64_t> parent_id;
    std::string text;
    ls::one<Post> post;
    ls::one<Comment> parent;
    ls::many<Comment> replies;
};
}  // namespace blog

template <>
struct loadstar::mapping<blog::Author> {
    using A = blog::Author;
    static constexpr auto table = ls::table("authors",
        ls::column<&A::id>("id", ls::primary_key),
        ls::column<&A::name>("name"),
        ls::column<&A::email>("email", ls::unique),
        ls::has_many<&A::posts>(&blog::Post::author_id, ls::back_populates<&blog::Post::author>,
                                ls::cascade_delete_orphan),
        ls::has_one<&A::profile>(&blog::Profile::author_id, ls::back_populates<&blog::Profile::author>,
                                 ls::cascade_delete));
};
template <>
struct loadstar::mapping<blog::Profile> {
    using P = blog::Profile;
    static constexpr auto table = ls::table("profiles",
        ls::column<&P::id>("id", ls::primary_key),
        ls::column<&P::author_id>("author_id", ls::unique, ls::foreign_key<&blog::Author::id>),
        ls::column<&P::bio>("bio"),
        ls::belongs_to<&P::author>(&P::author_id, ls::back_populates<&blog::Author::profile>));
};
template <>
struct loadstar::mapping<blog::Tag> {
    static constexpr auto table = ls::table("tags",
        ls::column<&blog::Tag::id>("id", ls::primary_key),
        ls::column<&blog::Tag::label>("label", ls::unique));
};
template <>
struct loadstar::mapping<blog::Post> {
    using P = blog::Post;
    static constexpr auto table = ls::table("posts",
        ls::column<&P::id>("id", ls::primary_key),
        ls::column<&P::title>("title"),
        ls::column<&P::body>("body"),
        ls::column<&P::author_id>("author_id", ls::foreign_key<&blog::Author::id>),
        ls::belongs_to<&P::author>(&P::author_id, ls::back_populates<&blog::Author::posts>),
        ls::has_many<&P::comments>(&blog::Comment::post_id, ls::back_populates<&blog::Comment::post>,
                                   ls::cascade_delete),
        ls::many_to_many<&P::tags>(ls::secondary("post_tags", "post_id", "tag_id")));
};
template <>
struct loadstar::mapping<blog::Comment> {
    using C = blog::Comment;
    static constexpr auto table = ls::table("comments",
        ls::column<&C::id>("id", ls::primary_key),
        ls::column<&C::post_id>("post_id", ls::foreign_key<&blog::Post::id>),
        ls::column<&C::parent_id>("parent_id", ls::foreign_key<&C::id>),
        ls::column<&C::text>("text"),
        ls::belongs_to<&C::post>(&C::post_id, ls::back_populates<&blog::Post::comments>),
        ls::belongs_to<&C::parent>(&C::parent_id),
        ls::has_many<&C::replies>(&C::parent_id));
};

namespace blog {
using ls::col;
template <class T>
using list = std::vector<ls::ptr<T>>;

// --- Authors (1-14) --------------------------------------------------------------------------
list<Author> q01(ls::session& s) { return s.query<Author>().all(); }
list<Author> q02(ls::session& s) { return s.query<Author>().options(ls::selectinload<&Author::posts>).all(); }
list<Author> q03(ls::session& s) { return s.query<Author>().options(ls::joinedload<&Author::posts>).all(); }
list<Author> q04(ls::session& s) { return s.query<Author>().options(ls::subqueryload<&Author::posts>).all(); }
list<Author> q05(ls::session& s) { return s.query<Author>().options(ls::joinedload<&Author::profile>).all(); }
list<Author> q06(ls::session& s) { return s.query<Author>().options(ls::selectinload<&Author::profile>).all(); }
list<Author> q07(ls::session& s) {
    return s.query<Author>()
        .options(ls::selectinload<&Author::posts>.then(ls::selectinload<&Post::comments>, ls::joinedload<&Post::tags>))
        .all();
}
list<Author> q08(ls::session& s) {
    return s.query<Author>()
        .where(col<&Author::name>.like("J%") && col<&Author::id> > 10)
        .order_by(col<&Author::id>.desc())
        .limit(20)
        .offset(40)
        .options(ls::selectinload<&Author::posts>, ls::raiseload_all)
        .all();
}
list<Author> q09(ls::session& s) {
    return s.query<Author>().options(ls::subqueryload<&Author::posts>.then(ls::subqueryload<&Post::comments>)).all();
}
list<Author> q10(ls::session& s) {
    return s.query<Author>().options(ls::joinedload<&Author::profile>, ls::selectinload<&Author::posts>).all();
}
ls::ptr<Author> q11(ls::session& s) { return s.get<Author>(42); }
ls::ptr<Author> q12(ls::session& s) { return s.query<Author>().order_by(col<&Author::id>).first(); }
ls::ptr<Author> q13(ls::session& s) { return s.query<Author>().where(col<&Author::id> == 1).one(); }
list<Author> q14(ls::session& s) { return s.query<Author>().options(ls::raiseload<&Author::posts>).all(); }

// --- Posts (15-32) ---------------------------------------------------------------------------
list<Post> q15(ls::session& s) { return s.query<Post>().all(); }
list<Post> q16(ls::session& s) { return s.query<Post>().options(ls::joinedload<&Post::author>).all(); }
list<Post> q17(ls::session& s) { return s.query<Post>().options(ls::selectinload<&Post::author>).all(); }
list<Post> q18(ls::session& s) { return s.query<Post>().options(ls::selectinload<&Post::tags>).all(); }
list<Post> q19(ls::session& s) { return s.query<Post>().options(ls::joinedload<&Post::tags>).all(); }
list<Post> q20(ls::session& s) { return s.query<Post>().options(ls::subqueryload<&Post::tags>).all(); }
list<Post> q21(ls::session& s) { return s.query<Post>().options(ls::selectinload<&Post::comments>).all(); }
list<Post> q22(ls::session& s) {
    return s.query<Post>()
        .options(ls::joinedload<&Post::author>.then(ls::joinedload<&Author::profile>), ls::selectinload<&Post::tags>)
        .all();
}
list<Post> q23(ls::session& s) {
    return s.query<Post>()
        .join<&Post::author>()
        .where(col<&Author::name> == "Jane Austen")
        .options(ls::contains_eager<&Post::author>)
        .all();
}
list<Post> q24(ls::session& s) { return s.query<Post>().untracked().all(); }
list<Post> q25(ls::session& s) { return s.query<Post>().populate_existing().all(); }
list<Post> q26(ls::session& s) {
    return s.query<Post>().where(col<&Post::author_id> == 3).options(ls::raiseload<&Post::tags>).all();
}
list<Post> q27(ls::session& s) { return s.query<Post>().options(ls::defer<&Post::body>).all(); }
list<Post> q28(ls::session& s) { return s.query<Post>().options(ls::load_only<&Post::title, &Post::author_id>).all(); }
list<Post> q29(ls::session& s) {
    return s.query<Post>()
        .options(ls::selectinload<&Post::comments>.then(ls::selectinload<&Comment::replies>))
        .all();
}
list<Post> q30(ls::session& s) {
    return s.query<Post>().options(ls::lazyload<&Post::author>, ls::subqueryload<&Post::comments>).all();
}
std::int64_t q31(ls::session& s) { return s.query<Post>().where(col<&Post::author_id> == 1).count(); }
bool q32(ls::session& s) { return s.query<Post>().where(col<&Post::title> == "Emma").exists(); }

// --- Comments, tags, profiles (33-46) ---------------------------------------------------------
list<Comment> q33(ls::session& s) { return s.query<Comment>().all(); }
list<Comment> q34(ls::session& s) { return s.query<Comment>().options(ls::joinedload<&Comment::parent>).all(); }
list<Comment> q35(ls::session& s) { return s.query<Comment>().options(ls::selectinload<&Comment::replies>).all(); }
list<Comment> q36(ls::session& s) {
    return s.query<Comment>()
        .where(col<&Comment::parent_id>.is_null())
        .options(ls::selectinload<&Comment::replies>.then(ls::selectinload<&Comment::replies>))
        .all();
}
list<Comment> q37(ls::session& s) {
    return s.query<Comment>().options(ls::joinedload<&Comment::post>.then(ls::joinedload<&Post::author>)).all();
}
list<Comment> q38(ls::session& s) { return s.query<Comment>().options(ls::subqueryload<&Comment::replies>).all(); }
list<Comment> q39(ls::session& s) {
    return s.query<Comment>().where(col<&Comment::text>.like("%spam%")).order_by(col<&Comment::id>).limit(50).all();
}
list<Tag> q40(ls::session& s) { return s.query<Tag>().where(col<&Tag::label>.like("c%")).all(); }
list<Tag> q41(ls::session& s) { return s.query<Tag>().order_by(col<&Tag::label>).all(); }
list<Profile> q42(ls::session& s) { return s.query<Profile>().all(); }
list<Profile> q43(ls::session& s) { return s.query<Profile>().options(ls::joinedload<&Profile::author>).all(); }
list<Profile> q44(ls::session& s) {
    return s.query<Profile>().options(ls::selectinload<&Profile::author>.then(ls::selectinload<&Author::posts>)).all();
}
ls::ptr<Comment> q45(ls::session& s) { return s.get<Comment>(7); }
ls::ptr<Tag> q46(ls::session& s) { return s.query<Tag>().where(col<&Tag::label> == "c++").first(); }

// --- Columns, aggregates, bulk statements, streaming (47-54) -----------------------------------
std::vector<std::tuple<std::int64_t, std::string>> q47(ls::session& s) {
    return s.query<Author>().columns<&Author::id, &Author::name>().all();
}
auto q48(ls::session& s) {
    return s.query<Post>()
        .columns(col<&Post::author_id>, ls::count(), ls::max(col<&Post::id>))
        .group_by(col<&Post::author_id>)
        .having(ls::count() > 2)
        .all();
}
std::int64_t q49(ls::session& s) {
    return s.query<Post>().where(col<&Post::author_id> == 1).update(ls::set<&Post::title>("x"));
}
std::int64_t q50(ls::session& s) { return s.query<Comment>().where(col<&Comment::text> == "").remove(); }
std::int64_t q51(ls::session& s) {
    std::int64_t n = 0;
    for (const ls::ptr<Post>& p : s.query<Post>().yield_per(1000)) n += p->id;
    return n;
}
std::int64_t q52(ls::session& s) {
    std::int64_t n = 0;
    for (const ls::ptr<Comment>& c : s.query<Comment>().options(ls::selectinload<&Comment::replies>).yield_per(500))
        n += static_cast<std::int64_t>(c->replies.size());
    return n;
}
std::int64_t q53(ls::session& s) { return s.query<Comment>().where(col<&Comment::post_id> == 2).count(); }
ls::ptr<Author> q54(ls::session& s) { return s.query<Author>().where(col<&Author::id> == 7).for_update().one(); }

// --- Writes and cascades (55-60) ----------------------------------------------------------------
void q55(ls::session& s) {
    auto jane = std::make_shared<Author>(Author{.name = "Jane Austen"});
    auto emma = std::make_shared<Post>(Post{.title = "Emma"});
    jane->posts.push_back(emma);
    jane->profile = std::make_shared<Profile>(Profile{.bio = "novelist"});
    emma->tags.push_back(std::make_shared<Tag>(Tag{.label = "classic"}));
    s.add(jane);
    s.commit();
}
void q56(ls::session& s) {
    auto p = s.get<Post>(1);
    auto c = std::make_shared<Comment>(Comment{.text = "first"});
    p->comments.push_back(c);
    auto reply = std::make_shared<Comment>(Comment{.text = "second"});
    c->replies.push_back(reply);
    s.flush();
}
void q57(ls::session& s) {
    if (auto a = s.get<Author>(1)) s.remove(a);  // posts, their comments and the profile go too
    s.commit();
}
void q58(ls::session& s) {
    auto p = s.get<Post>(2);
    p->title = "Persuasion";
    p->tags.erase(p->tags.begin());
    s.refresh(p);
    s.commit();
}
void q59(ls::session& s) {
    std::vector<Tag> tags{{.label = "a"}, {.label = "b"}};
    s.bulk_insert(std::span<const Tag>{tags});
    auto sp = s.begin_nested();
    s.add(std::make_shared<Tag>(Tag{.label = "c"}));
    sp.rollback();
}
void q60(ls::engine& e) {
    ls::run_transaction(e, [](ls::session& tx) {
        auto c = tx.get<Comment>(3);
        c->parent = nullptr;
        tx.expunge(c);
    });
}
}  // namespace blog

int main() {
    auto engine = ls::sqlite::engine(":memory:");
    ls::create_all<blog::Author, blog::Profile, blog::Tag, blog::Post, blog::Comment>(engine);
    ls::session s{engine};
    return static_cast<int>(blog::q01(s).size());
}
