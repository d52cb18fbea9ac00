// loadstar/impl/insert.ipp - the walks of the graph at flush: INSERTs in dependency order
// (parents first, their keys copied into the children), the save-update cascade along loaded
// relationships, association rows after both ends; the writes of a changed holder and
// back_populates in memory; DELETEs after the cascaded children. Ordinary code over the
// loader's entity_ops / rel_ops and each entity's table_info (unit/insert.hpp); compiled once
// in src.hpp, or inline in header-only builds.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/insert.hpp>

#include <algorithm>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

namespace loadstar::detail {

// ---- where an object stands ---------------------------------------------------------------------

/// Whether the object's key is set: a generated key of 0 is not (the database assigns it).
LOADSTAR_DECL bool key_set(const entity_ops& e, const void* obj) {
    if (!e.generated_key) return true;
    return e.key_int ? e.key_int(obj) != 0 : e.key_value(obj) != value{std::int64_t{0}};
}

/// The entry the session's map holds under the object's key, or null.
LOADSTAR_DECL map_entry* held_entry(session_core& s, const entity_ops& e, const void* obj) {
    identity_map_base& m = e.session_map(s);
    return e.find_int ? e.find_int(m, e.key_int(obj)) : e.find_value(m, e.key_value(obj));
}

LOADSTAR_DECL bool is_persistent(session_core& s, const entity_ops& e, const void* obj) {
    if (!key_set(e, obj)) return false;
    const map_entry* hit = held_entry(s, e, obj);
    return hit && hit->obj.get() == obj;
}

LOADSTAR_DECL std::shared_ptr<void> persistent_ptr(session_core& s, const entity_ops& e, const void* obj) {
    if (!key_set(e, obj)) return nullptr;
    const map_entry* hit = held_entry(s, e, obj);
    return hit && hit->obj.get() == obj ? hit->obj : nullptr;
}

// ---- the steps: keys, rows, holders ------------------------------------------------------------

/// The primary key of the object at `obj` of `e`, as a value.
LOADSTAR_DECL value key_value_of(const entity_ops& e, const void* obj) {
    const table_info& t = e.table();
    return t.get(t.pk(), obj);
}

/// Reads a generated key (insert_row's read_key) as a 64-bit integer; the setter converts it
/// to the key's type (a conversion_error if it does not fit).
LOADSTAR_DECL void read_generated_key(statement& row, void* key) {
    read_column(row, 0, *static_cast<std::int64_t*>(key), "generated key");
}

/// Inserts the row of a new object (its parents' keys already copied into it) and makes it
/// persistent: the generated key, the version counter, the identity map, its holders bound.
LOADSTAR_DECL void insert_object(session_core& s, const entity_ops& e, const std::shared_ptr<void>& p) {
    const table_info& t = e.table();
    void* o = p.get();
    const bool generate = !key_set(e, o);
    if (t.version() != npos && t.get(t.version(), o) == value{std::int64_t{0}})
        set_undoable(s, t, t.version(), o, value{std::int64_t{1}});
    std::int64_t generated = 0;
    insert_row(s, t, o, generate, &read_generated_key, &generated);
    if (generate) set_undoable(s, t, t.pk(), o, value{generated});
    identity_map_base& m = e.session_map(s);
    if (held_entry(s, e, o))
        throw integrity_error("loadstar: another " + e.type_name() + " with this key is already in the session");
    note_inserted(s, *e.map_index, p);
    m.bring_back(p);  // enters the map with a snapshot of its columns
    e.bind(s, o);
}

/// Writes the UPDATE of a persistent object's changed columns now (before its parent's row
/// goes, for the NULL keys of orphans).
LOADSTAR_DECL void update_now(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj) {
    identity_map_base& m = e.session_map(s);
    update_object(s, e.table(), m, *e.map_index, obj, m.changed_of(obj.get()));
}

/// One-to-many and one-to-one: the children take the owner's key.
LOADSTAR_DECL bool adopts(const rel_ops& r) noexcept {
    return r.names->kind == relation::has_many || r.names->kind == relation::has_one;
}

/// One-to-many / one-to-one: the child at `child` now belongs to `parent` (its foreign key and
/// its to-one back_populates holder).
LOADSTAR_DECL void adopt(session_core& s, const rel_ops& r, const std::shared_ptr<void>& parent, void* child) {
    set_undoable(s, r.target->table(), r.fk_col, child, key_value_of(*r.owner, parent.get()));
    if (!r.back) return;
    const rel_ops& b = r.back();
    if (b.to_many) return;
    const holder_ops& h = *b.holder;
    if (h.weak) h.weaken(child);
    std::shared_ptr<void> old = h.target(child);
    if (old != parent) {
        s.undo.push_back([&h, child, old] { h.assign(child, old); });
        h.assign(child, parent);
    }
    h.link(child).state = holder_state::loaded;
}

/// Many-to-one: the owner's foreign key takes the target's primary key.
LOADSTAR_DECL void set_fk(session_core& s, const rel_ops& r, void* owner, const void* target) {
    set_undoable(s, r.owner->table(), r.fk_col, owner, key_value_of(*r.target, target));
}

/// Writes (add) or deletes one row of many-to-many r's association table.
LOADSTAR_DECL void associate(session_core& s, const rel_ops& r, const void* owner, const void* target, bool add) {
    const rel_names& n = *r.names;
    const link_statements& sql = link_sql(*r.links, n.secondary, n.local, n.remote);
    const value params[] = {key_value_of(*r.owner, owner), key_value_of(*r.target, target)};
    link_row(s, n.secondary, add ? sql.insert : sql.remove, params);
}

/// A foreign key goes NULL in memory where it can hold NULL (a NOT NULL one stays: the
/// database decides).
LOADSTAR_DECL void null_fk(session_core& s, const rel_ops& r, const table_info& t, void* obj) {
    if (r.fk_nullable) set_undoable(s, t, r.fk_col, obj, value{});
}

/// One-to-many / one-to-one without delete-orphan: `child` left `parent`'s holder. A nullable
/// foreign key that still names the parent goes NULL; a NOT NULL one is written NULL once every
/// change of the flush was seen (the child may have moved to another parent), and the database
/// refuses it.
LOADSTAR_DECL void release(session_core& s, const rel_ops& r, const std::shared_ptr<void>& child, const void* parent) {
    const table_info& t = r.target->table();
    value parent_key = key_value_of(*r.owner, parent);
    if (r.fk_nullable) {
        if (t.get(r.fk_col, child.get()) == parent_key) set_undoable(s, t, r.fk_col, child.get(), value{});
        return;
    }
    s.after_changes.push_back([&s, &r, &t, child, parent_key = std::move(parent_key)] {
        if (t.get(r.fk_col, child.get()) == parent_key && is_persistent(s, *r.target, child.get()) &&
            !s.flush_deleted.count(child.get()))
            null_key(s, t, r.fk_col, child.get());
    });
}

// ---- the walks --------------------------------------------------------------------------------

/// An entry of session_core::flush_parents: `parent`, which holds `child` in relationship r,
/// is saved first and gives it its key.
LOADSTAR_DECL void save_parent_first(session_core& s, const rel_ops& r, const std::shared_ptr<void>& parent,
                                     void* child, session_core::defer_list* defer) {
    if (s.flush_in_progress.count(parent.get()))
        throw usage_error("loadstar: flush cycle: " + r.name() + " holds a new " + r.target->type_name() +
                          " that this " + r.owner->type_name() +
                          " needs inserted first; flush one of them first, then link them");
    save_object(s, *r.owner, parent, defer);
    adopt(s, r, parent, child);
}

LOADSTAR_DECL bool loaded(const rel_ops& r, const void* owner) {
    return !r.holder->link(const_cast<void*>(owner)).needs_load();
}

// Every new child held in a loaded one-to-many / one-to-one holder of the graph around the
// new objects records how to save its parent first (session_core::flush_parents). A child can
// be reached before its parent (it was added first, or through another parent), and its own
// to-one holder may be empty: the parent's collection alone says where it belongs. Persistent
// objects are walked only down to their new children.
LOADSTAR_DECL void index_parents(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj) {
    if (!obj || s.flush_deleted.count(obj.get()) || !s.flush_indexed.insert(obj.get()).second) return;
    const bool is_new = !is_persistent(s, e, obj.get());
    std::vector<std::shared_ptr<void>> items;
    for (const rel_ops* rp : e.rels()) {
        const rel_ops& r = *rp;
        if (!loaded(r, obj.get())) continue;
        if (!adopts(r) && !is_new) continue;  // many-to-one, many-to-many: only a new object's
        items.clear();
        r.holder->items(obj.get(), items);
        const entity_ops& t = *r.target;
        for (const auto& c : items) {
            if (adopts(r)) {
                if (s.flush_deleted.count(c.get()) || is_persistent(s, t, c.get())) continue;
                s.flush_parents[c.get()].push_back([&s, &r, obj, c](session_core::defer_list* defer) {
                    save_parent_first(s, r, obj, c.get(), defer);
                });
            }
            index_parents(s, t, c);
        }
    }
}

/// Saves the target of many-to-many `r` of `owner`; true if that save wrote the link row
/// itself (a new target whose back_populates collection holds `owner` links it when it saves
/// its children).
LOADSTAR_DECL bool saved_with_link(session_core& s, const rel_ops& r, const void* owner,
                                   const std::shared_ptr<void>& target) {
    const entity_ops& t = *r.target;
    const bool was_new = !is_persistent(s, t, target.get());
    save_object(s, t, target);
    if (!r.back || !was_new || !is_persistent(s, t, target.get())) return false;
    const rel_ops& b = r.back();
    return loaded(b, target.get()) && b.holder->holds(target.get(), owner);
}

/// The save-update cascade from a just inserted object to what it holds.
LOADSTAR_DECL void save_children(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj) {
    std::vector<std::shared_ptr<void>> items;
    for (const rel_ops* rp : e.rels()) {
        const rel_ops& r = *rp;
        if (r.names->kind == relation::belongs_to || !loaded(r, obj.get())) continue;
        items.clear();
        r.holder->items(obj.get(), items);
        if (adopts(r)) {
            for (const auto& c : items) {
                adopt(s, r, obj, c.get());
                save_object(s, *r.target, c);
            }
        } else {  // many-to-many
            for (const auto& t : items)
                if (!saved_with_link(s, r, obj.get(), t)) associate(s, r, obj.get(), t.get(), true);
        }
    }
}

// `defer` is given when `obj` is saved as the parent of an object still waiting for its
// parents (flush_in_progress): its children then wait in `*defer` until that object is
// inserted, because one of them may belong to it as well (a comment in the collections of a
// new user and of the user's new post, reached from the post: the user, saved first as the
// post's parent, must not insert the comment before the post is in).
LOADSTAR_DECL void save_object(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj,
                               session_core::defer_list* defer) {
    if (!obj || s.flush_deleted.count(obj.get()) || !s.flush_seen.insert(obj.get()).second) return;
    if (is_persistent(s, e, obj.get())) return;  // persistent: its changes are recorded elsewhere
    session_core::defer_list parents_children;  // the children deferred below
    auto* later = defer ? defer : &parents_children;
    s.flush_in_progress.insert(obj.get());
    // Parents whose collections hold this object go first, and give it their keys.
    if (auto it = s.flush_parents.find(obj.get()); it != s.flush_parents.end()) {
        auto entries = std::move(it->second);
        s.flush_parents.erase(it);
        for (auto& first : entries) first(later);
    }
    std::vector<std::shared_ptr<void>> items;
    for (const rel_ops* rp : e.rels()) {
        const rel_ops& r = *rp;
        if (r.names->kind != relation::belongs_to || !loaded(r, obj.get())) continue;
        items.clear();
        r.holder->items(obj.get(), items);
        if (items.empty()) continue;
        const std::shared_ptr<void>& target = items.front();
        if (s.flush_in_progress.count(target.get()))
            throw usage_error("loadstar: flush cycle: " + r.name() + " refers to a new " + r.target->type_name() +
                              " that can only be inserted after this " + e.type_name() +
                              "; flush one of them first, then link them (a nullable foreign key set by a "
                              "later UPDATE)");
        save_object(s, *r.target, target, later);
        set_fk(s, r, obj.get(), target.get());
    }
    insert_object(s, e, obj);
    s.flush_in_progress.erase(obj.get());
    // Every child of every relationship gets this key before any child is inserted: a child
    // held by two new parents (u->posts[0]->comments and u->comments) is inserted when the
    // first of them reaches it, and must carry the other's key by then.
    for (const rel_ops* rp : e.rels()) {
        const rel_ops& r = *rp;
        if (!adopts(r) || !loaded(r, obj.get())) continue;
        items.clear();
        r.holder->items(obj.get(), items);
        for (const auto& c : items)
            if (!s.flush_deleted.count(c.get())) adopt(s, r, obj, c.get());
    }
    if (defer) {
        defer->push_back([&s, &e, obj] { save_children(s, e, obj); });
        return;
    }
    save_children(s, e, obj);
    // Now that this object is in, the children of the parents saved for it.
    for (std::size_t k = 0; k < parents_children.size(); ++k) parents_children[k]();
}

LOADSTAR_DECL void holder_changed(session_core& s, const rel_vtable& vt, void* owner,
                                  const std::shared_ptr<void>& original) {
    const rel_ops& r = *static_cast<const lazy_slot*>(vt.data)->rel;
    const std::shared_ptr<void> obj = persistent_ptr(s, *r.owner, owner);
    if (!obj) return;  // pending (its save writes its holders) or no longer in this session
    std::vector<std::shared_ptr<void>> now;
    r.holder->items(owner, now);
    if (r.names->kind == relation::belongs_to) {
        if (!now.empty()) {
            save_object(s, *r.target, now.front());
            set_fk(s, r, owner, now.front().get());
        } else {
            null_fk(s, r, r.owner->table(), owner);
        }
        return;
    }
    std::vector<std::shared_ptr<void>> before;
    r.holder->original_items(original, before);
    auto in = [](const std::vector<std::shared_ptr<void>>& v, const std::shared_ptr<void>& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    };
    const entity_ops& t = *r.target;
    for (const auto& c : now) {
        if (in(before, c)) continue;
        if (r.names->kind == relation::many_to_many) {
            if (!saved_with_link(s, r, owner, c)) associate(s, r, owner, c.get(), true);
        } else {
            adopt(s, r, obj, c.get());
            save_object(s, t, c);
        }
    }
    for (const auto& c : before) {
        if (in(now, c)) continue;
        if (r.names->kind == relation::many_to_many) {
            if (is_persistent(s, t, c.get())) associate(s, r, owner, c.get(), false);
        } else if (r.delete_orphan) {
            remove_object(s, t, c);
        } else {
            release(s, r, c, owner);
        }
    }
}

/// Makes a transient object pending (session::add without its checks): see holder_linked.
LOADSTAR_DECL void adopt_pending(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj) {
    if (is_persistent(s, e, obj.get()) || s.deleted_set.count(obj.get())) return;
    if (s.pending_set.insert(obj.get()).second) {
        try {
            s.pending.push_back({obj, e.save});
        } catch (...) {
            s.pending_set.erase(obj.get());
            throw;
        }
    }
}

// In memory, at once: `jane->books.push_back(emma)` sets `emma->author`; `emma->author = jane`
// appends to `jane->books` if that collection is loaded.
LOADSTAR_DECL void holder_linked(session_core& s, const rel_vtable& vt, void* owner, const std::shared_ptr<void>& other,
                                 bool added) {
    if (s.flushing) return;  // a flush writes the links it makes; it does not echo them
    const rel_ops& r = *static_cast<const lazy_slot*>(vt.data)->rel;
    // The save-update cascade, at once: a new object assigned to a holder that holds its target
    // weakly is pending from now on, so the session owns it until the flush makes it persistent
    // (the identity map owns it then). Without this nothing would.
    if (r.weak && added && other) adopt_pending(s, *r.target, other);
    if (!r.back || !other) return;
    const std::shared_ptr<void> self = persistent_ptr(s, *r.owner, owner);
    if (!self) return;
    const rel_ops& b = r.back();
    const holder_ops& h = *b.holder;
    if (!b.to_many) {
        // The parent is persistent (the identity map owns it): hold it weakly at once where
        // that relationship is held weakly, so no cycle forms even if this is never flushed.
        if (h.weak) h.weaken(other.get());
        h.relink(other.get(), self, added);
        if (added) h.link(other.get()).state = holder_state::loaded;
    } else {
        if (!loaded(b, other.get())) return;
        h.relink(other.get(), self, added);  // never invalidates a loop over it (many<T>::begin)
    }
}

LOADSTAR_DECL void remove_object(session_core& s, const entity_ops& e, const std::shared_ptr<void>& obj) {
    if (!obj || !s.flush_deleted.insert(obj.get()).second) return;
    if (!is_persistent(s, e, obj.get())) return;
    std::vector<std::shared_ptr<void>> items;
    for (const rel_ops* rp : e.rels()) {
        const rel_ops& r = *rp;
        if (r.names->kind == relation::many_to_many) {
            // Every association row that names the owner goes first.
            const rel_names& n = *r.names;
            const value params[] = {key_value_of(e, obj.get())};
            link_row(s, n.secondary, link_sql(*r.links, n.secondary, n.local, n.remote).remove_all, params);
            continue;
        }
        if (!adopts(r)) continue;
        const bool passive = r.cascade_delete && r.passive_deletes;
        if (r.cascade_delete && !passive) {
            // The children, to delete them first.
            holder_link& link = r.holder->link(obj.get());
            if (link.needs_load()) touch(link, std::source_location::current());
        } else if (!loaded(r, obj.get())) {
            continue;  // passive: the database deletes the rows; else its foreign key decides
        }
        items.clear();
        r.holder->items(obj.get(), items);
        const entity_ops& t = *r.target;
        if (passive) {
            // The database deletes them (ON DELETE CASCADE): they leave the map after the flush.
            t.session_map(s);
            for (const auto& c : items) note_deleted_by_database(s, *t.map_index, c, t.bind);
        } else if (r.cascade_delete) {
            for (const auto& c : items) remove_object(s, t, c);
        } else {
            const table_info& tt = t.table();
            for (const auto& c : items)
                if (!s.flush_deleted.count(c.get())) null_fk(s, r, tt, c.get());
            // The orphans' foreign keys go NULL through the UPDATEs of this flush: issue them
            // now, before the parent row goes.
            for (const auto& c : items)
                if (is_persistent(s, t, c.get())) update_now(s, t, c);
        }
    }
    delete_row(s, e.table(), obj.get());
    e.session_map(s);
    note_deleted(s, *e.map_index, obj, e.bind);
}

}  // namespace loadstar::detail
