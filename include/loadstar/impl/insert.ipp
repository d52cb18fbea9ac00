// loadstar/impl/insert.ipp - the walks of the graph at flush: INSERTs in dependency order
// (parents first, their keys copied into the children), the save-update cascade along loaded
// relationships, association rows after both ends; the writes of a changed holder; DELETEs
// after the cascaded children. Ordinary code over write_entity / write_rel (unit/insert.hpp);
// compiled once in src.hpp, or inline in header-only builds.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/insert.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace loadstar::detail {

/// One-to-many and one-to-one: the children take the owner's key.
LOADSTAR_DECL bool adopts(const write_rel& r) noexcept {
    return r.kind == relation::has_many || r.kind == relation::has_one;
}

/// An entry of session_core::flush_parents: `parent`, which holds `child` in relationship r,
/// is saved first and gives it its key.
LOADSTAR_DECL void save_parent_first(session_core& s, const write_entity& e, const write_rel& r,
                                    const std::shared_ptr<void>& parent, void* child,
                                    session_core::defer_list* defer) {
    if (s.flush_in_progress.count(parent.get()))
        throw usage_error("loadstar: flush cycle: " + r.name() + " holds a new " + r.target().type_name() +
                          " that this " + e.type_name() +
                          " needs inserted first; flush one of them first, then link them");
    save_object(s, e, parent, defer);
    r.adopt(s, parent, child);
}

// Every new child held in a loaded one-to-many / one-to-one holder of the graph around the
// new objects records how to save its parent first (session_core::flush_parents). A child can
// be reached before its parent (it was added first, or through another parent), and its own
// to-one holder may be empty: the parent's collection alone says where it belongs. Persistent
// objects are walked only down to their new children.
LOADSTAR_DECL void index_parents(session_core& s, const write_entity& e, const std::shared_ptr<void>& obj) {
    if (!obj || s.flush_deleted.count(obj.get()) || !s.flush_indexed.insert(obj.get()).second) return;
    const bool is_new = !e.is_persistent(s, obj.get());
    std::vector<std::shared_ptr<void>> items;
    for (std::size_t i = 0; i < e.rel_count; ++i) {
        const write_rel& r = e.rels[i];
        if (!r.loaded(obj.get())) continue;
        if (!adopts(r) && !is_new) continue;  // many-to-one, many-to-many: only a new object's
        items.clear();
        r.items(obj.get(), items);
        const write_entity& t = r.target();
        for (const auto& c : items) {
            if (adopts(r)) {
                if (s.flush_deleted.count(c.get()) || t.is_persistent(s, c.get())) continue;
                s.flush_parents[c.get()].push_back([&s, &e, &r, obj, c](session_core::defer_list* defer) {
                    save_parent_first(s, e, r, obj, c.get(), defer);
                });
            }
            index_parents(s, t, c);
        }
    }
}

/// The save-update cascade from a just inserted object to what it holds.
LOADSTAR_DECL void save_children(session_core& s, const write_entity& e, const std::shared_ptr<void>& obj) {
    std::vector<std::shared_ptr<void>> items;
    for (std::size_t i = 0; i < e.rel_count; ++i) {
        const write_rel& r = e.rels[i];
        if (r.kind == relation::belongs_to || !r.loaded(obj.get())) continue;
        items.clear();
        r.items(obj.get(), items);
        if (adopts(r)) {
            for (const auto& c : items) {
                r.adopt(s, obj, c.get());
                save_object(s, r.target(), c);
            }
        } else {  // many-to-many
            for (const auto& t : items)
                if (!saved_with_link(s, r, obj.get(), t)) r.associate(s, obj.get(), t.get(), true);
        }
    }
}

// `defer` is given when `obj` is saved as the parent of an object still waiting for its
// parents (flush_in_progress): its children then wait in `*defer` until that object is
// inserted, because one of them may belong to it as well (a comment in the collections of a
// new user and of the user's new post, reached from the post: the user, saved first as the
// post's parent, must not insert the comment before the post is in).
LOADSTAR_DECL void save_object(session_core& s, const write_entity& e, const std::shared_ptr<void>& obj,
                               session_core::defer_list* defer) {
    if (!obj || s.flush_deleted.count(obj.get()) || !s.flush_seen.insert(obj.get()).second) return;
    if (e.is_persistent(s, obj.get())) return;  // persistent: its changes are recorded elsewhere
    session_core::defer_list parents_children;     // the children deferred below
    auto* later = defer ? defer : &parents_children;
    s.flush_in_progress.insert(obj.get());
    // Parents whose collections hold this object go first, and give it their keys.
    if (auto it = s.flush_parents.find(obj.get()); it != s.flush_parents.end()) {
        auto entries = std::move(it->second);
        s.flush_parents.erase(it);
        for (auto& first : entries) first(later);
    }
    std::vector<std::shared_ptr<void>> items;
    for (std::size_t i = 0; i < e.rel_count; ++i) {
        const write_rel& r = e.rels[i];
        if (r.kind != relation::belongs_to || !r.loaded(obj.get())) continue;
        items.clear();
        r.items(obj.get(), items);
        if (items.empty()) continue;
        const std::shared_ptr<void>& target = items.front();
        if (s.flush_in_progress.count(target.get()))
            throw usage_error("loadstar: flush cycle: " + r.name() + " refers to a new " + r.target().type_name() +
                              " that can only be inserted after this " + e.type_name() +
                              "; flush one of them first, then link them (a nullable foreign key set by a "
                              "later UPDATE)");
        save_object(s, r.target(), target, later);
        r.set_fk(s, obj.get(), target.get());
    }
    e.insert_row(s, obj);
    s.flush_in_progress.erase(obj.get());
    // Every child of every relationship gets this key before any child is inserted: a child
    // held by two new parents (u->posts[0]->comments and u->comments) is inserted when the
    // first of them reaches it, and must carry the other's key by then.
    for (std::size_t i = 0; i < e.rel_count; ++i) {
        const write_rel& r = e.rels[i];
        if (!adopts(r) || !r.loaded(obj.get())) continue;
        items.clear();
        r.items(obj.get(), items);
        for (const auto& c : items)
            if (!s.flush_deleted.count(c.get())) r.adopt(s, obj, c.get());
    }
    if (defer) {
        defer->push_back([&s, &e, obj] { save_children(s, e, obj); });
        return;
    }
    save_children(s, e, obj);
    // Now that this object is in, the children of the parents saved for it.
    for (std::size_t k = 0; k < parents_children.size(); ++k) parents_children[k]();
}

LOADSTAR_DECL bool saved_with_link(session_core& s, const write_rel& r, const void* owner,
                                   const std::shared_ptr<void>& target) {
    const write_entity& t = r.target();
    const bool was_new = !t.is_persistent(s, target.get());
    save_object(s, t, target);
    if (!r.back_present || !was_new || !t.is_persistent(s, target.get())) return false;
    return r.back_holds(target.get(), owner);
}

LOADSTAR_DECL void write_changes(session_core& s, const write_entity& e, const write_rel& r, void* owner,
                                 const std::shared_ptr<void>& original) {
    const std::shared_ptr<void> obj = e.persistent_ptr(s, owner);
    if (!obj) return;  // pending (its save writes its holders) or no longer in this session
    std::vector<std::shared_ptr<void>> now;
    r.items(owner, now);
    if (r.kind == relation::belongs_to) {
        if (!now.empty()) {
            save_object(s, r.target(), now.front());
            r.set_fk(s, owner, now.front().get());
        } else {
            r.clear_fk(s, owner);
        }
        return;
    }
    std::vector<std::shared_ptr<void>> before;
    r.original_items(original, before);
    auto in = [](const std::vector<std::shared_ptr<void>>& v, const std::shared_ptr<void>& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    };
    const write_entity& t = r.target();
    for (const auto& c : now) {
        if (in(before, c)) continue;
        if (r.kind == relation::many_to_many) {
            if (!saved_with_link(s, r, owner, c)) r.associate(s, owner, c.get(), true);
        } else {
            r.adopt(s, obj, c.get());
            save_object(s, t, c);
        }
    }
    for (const auto& c : before) {
        if (in(now, c)) continue;
        if (r.kind == relation::many_to_many) {
            if (t.is_persistent(s, c.get())) r.associate(s, owner, c.get(), false);
        } else if (r.remove_orphan) {
            r.remove_orphan(s, c);
        } else {
            r.release(s, c, owner);
        }
    }
}

LOADSTAR_DECL void remove_object(session_core& s, const delete_entity& d, const std::shared_ptr<void>& obj) {
    if (!obj || !s.flush_deleted.insert(obj.get()).second) return;
    const write_entity& e = d.writes();
    if (!e.is_persistent(s, obj.get())) return;
    std::vector<std::shared_ptr<void>> items;
    for (std::size_t i = 0; i < e.rel_count; ++i) {
        const write_rel& r = e.rels[i];
        const delete_rel& dr = d.rels[i];
        if (r.kind == relation::many_to_many) {
            dr.unlink_all(s, obj.get());
            continue;
        }
        if (!adopts(r)) continue;
        if (dr.deletes == on_delete::cascade) {
            dr.load(obj.get());  // the children, to delete them first
        } else if (!r.loaded(obj.get())) {
            continue;  // passive: the database deletes the rows; else its foreign key decides
        }
        items.clear();
        r.items(obj.get(), items);
        if (dr.deletes == on_delete::passive) {
            for (const auto& c : items) dr.deleted_by_database(s, c);
        } else if (dr.deletes == on_delete::cascade) {
            for (const auto& c : items) remove_object(s, dr.target(), c);
        } else {
            for (const auto& c : items)
                if (!s.flush_deleted.count(c.get())) dr.null_fk(s, c.get());
            // The orphans' foreign keys go NULL through the UPDATEs of this flush: issue them
            // now, before the parent row goes.
            const write_entity& t = r.target();
            for (const auto& c : items)
                if (t.is_persistent(s, c.get())) t.update_now(s, c.get());
        }
    }
    d.delete_row(s, obj);
}

}  // namespace loadstar::detail
