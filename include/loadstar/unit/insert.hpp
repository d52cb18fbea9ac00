// loadstar/unit/insert.hpp - the write tables of an entity and of its relationships
// (write_entity, write_rel, delete_entity, delete_rel) that the flush's walks of the graph
// (impl/insert.ipp: INSERT in dependency order, the writes of a changed holder, DELETE children
// first) run over, and the typed steps they point at.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/unit/associate.hpp>
#include <loadstar/unit/common.hpp>
#include <loadstar/unit/rows.hpp>
#include <loadstar/unit/update.hpp>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace loadstar::detail {

// The walk of the graph at flush (which object goes first, whose key a child copies, which
// association rows follow) is ordinary code (impl/insert.ipp) over two constant tables: per
// entity a write_entity, per relationship a write_rel. Per entity and relationship only the
// typed steps remain (a key copied, a row inserted, a holder set), so a program that reads an
// entity compiles its few table functions, not a walk of its own (issue 10).

struct write_rel;

/// An entity's part in the writes of a flush, erased (write_table<E>).
struct write_entity {
    const std::string& (*type_name)() = nullptr;
    /// Whether the object at `obj` is the one the session's identity map holds for its key.
    bool (*is_persistent)(session_core& s, const void* obj) = nullptr;
    /// The identity map's pointer to the object at `obj` if it is persistent, else null.
    std::shared_ptr<void> (*persistent_ptr)(session_core& s, const void* obj) = nullptr;
    /// Inserts the row of a new object (its parents' keys already copied) and makes it
    /// persistent.
    void (*insert_row)(session_core& s, const std::shared_ptr<void>& obj) = nullptr;
    /// Writes the UPDATE of a persistent object's changed columns now (before its parent's
    /// row goes, for the NULL keys of orphans).
    void (*update_now)(session_core& s, const void* obj) = nullptr;
    const write_rel* rels = nullptr;  // one per relationship, in mapping order
    std::size_t rel_count = 0;
};

struct delete_rel;
/// What deleting an object of an entity needs beyond its write_entity (delete_table<E>): a
/// table of its own, so that only the entities a program deletes, or that a delete cascades
/// to, compile it.
struct delete_entity {
    const write_entity& (*writes)() = nullptr;
    /// DELETE of a persistent object's row; it leaves the identity map (back if the flush fails).
    void (*delete_row)(session_core& s, const std::shared_ptr<void>& obj) = nullptr;
    const delete_rel* rels = nullptr;  // one per relationship, in mapping order
};

/// What deleting the owner does to the targets of a relationship.
enum class on_delete : unsigned char {
    none,     // the children lose their link (a nullable key goes NULL; the database decides)
    cascade,  // the children are loaded and deleted first
    passive,  // the database deletes them (ON DELETE CASCADE); loaded ones leave the map
};

/// A relationship's part in the writes of a flush, erased (write_rel_for<E, I>). `owner` is an E*.
struct write_rel {
    relation kind = relation::belongs_to;
    bool back_present = false;  // back_populates names the inverse side
    const write_entity& (*target)() = nullptr;
    const std::string& (*name)() = nullptr;  // "Book.author"
    bool (*loaded)(const void* owner) = nullptr;
    /// The targets the owner's holder holds (not null), strongly: a copy (the walk may change
    /// the holder).
    void (*items)(const void* owner, std::vector<std::shared_ptr<void>>& out) = nullptr;
    /// One-to-many / one-to-one: the child at `child` now belongs to `parent` (its foreign key
    /// and its to-one back_populates holder).
    void (*adopt)(session_core& s, const std::shared_ptr<void>& parent, void* child) = nullptr;
    /// Many-to-one: the owner's foreign key takes the target's primary key.
    void (*set_fk)(session_core& s, void* owner, const void* target) = nullptr;
    /// Many-to-many: whether the target's back_populates collection holds the owner strongly;
    /// writes or deletes one association row.
    bool (*back_holds)(const void* target, const void* owner) = nullptr;
    void (*associate)(session_core& s, const void* owner, const void* target, bool add) = nullptr;
    // ---- what cascade_changed needs (unit/cascade.hpp): a holder's contents before a change,
    // and what becomes of a target that left it.
    /// change_record::original (a std::vector<ptr<T>> or a ptr<T>) as the items it holds.
    void (*original_items)(const std::shared_ptr<void>& original, std::vector<std::shared_ptr<void>>& out) = nullptr;
    /// Delete-orphan: deletes a child that left the owner's holder (null without delete-orphan).
    void (*remove_orphan)(session_core& s, const std::shared_ptr<void>& child) = nullptr;
    /// One-to-many / one-to-one without delete-orphan: `child` left `parent`'s holder. A
    /// nullable foreign key that still names the parent goes NULL; a NOT NULL one is written
    /// NULL once every change of the flush was seen (the child may have moved to another
    /// parent), and the database refuses it.
    void (*release)(session_core& s, const std::shared_ptr<void>& child, const void* parent) = nullptr;
    /// Many-to-one set to null: a nullable foreign key goes NULL (a NOT NULL one stays).
    void (*clear_fk)(session_core& s, void* owner) = nullptr;
};

/// A relationship's part in deleting its owner (delete_rel_for<E, I>).
struct delete_rel {
    on_delete deletes = on_delete::none;  // one-to-many / one-to-one
    /// on_delete::cascade: the target's delete table.
    const delete_entity& (*target)() = nullptr;
    /// on_delete::cascade: loads the owner's holder if it is not.
    void (*load)(void* owner) = nullptr;
    /// on_delete::passive: the database deletes the child's row by itself (ON DELETE
    /// CASCADE); it leaves the map after the flush.
    void (*deleted_by_database)(session_core& s, const std::shared_ptr<void>& child) = nullptr;
    /// on_delete::none: a child's nullable foreign key goes NULL (a NOT NULL one stays).
    void (*null_fk)(session_core& s, void* child) = nullptr;
    /// Many-to-many: deletes every association row that names the owner.
    void (*unlink_all)(session_core& s, const void* owner) = nullptr;
};

/// Saves `obj` (a new object of `e`) and what its loaded holders reach, parents first; see
/// impl/insert.ipp. `defer`: as in save_object.
LOADSTAR_DECL void save_object(session_core& s, const write_entity& e, const std::shared_ptr<void>& obj,
                               session_core::defer_list* defer = nullptr);
/// Before a flush inserts anything: records, for each new child held in a loaded one-to-many
/// / one-to-one holder of the graph around `obj`, how to save its parent first.
LOADSTAR_DECL void index_parents(session_core& s, const write_entity& e, const std::shared_ptr<void>& obj);
/// Saves the target of many-to-many `r` of `owner`; true if that save wrote the link row
/// itself (a new target whose back_populates collection holds `owner` links it when it saves
/// its children).
LOADSTAR_DECL bool saved_with_link(session_core& s, const write_rel& r, const void* owner,
                                   const std::shared_ptr<void>& target);
/// At flush, for an owner (of entity `e`) whose relationship `r` was modified: writes the adds
/// and removes against `original`, the holder's contents before the change (cascade_changed).
LOADSTAR_DECL void write_changes(session_core& s, const write_entity& e, const write_rel& r, void* owner,
                                 const std::shared_ptr<void>& original);
/// Deletes `obj` (a persistent object of `d`) after its cascaded children; children it does
/// not own lose their link.
LOADSTAR_DECL void remove_object(session_core& s, const delete_entity& d, const std::shared_ptr<void>& obj);

template <class E>
const write_entity& write_table();
template <class E>
const delete_entity& delete_table();

/// The typed steps of relationship I of E.
template <class E, std::size_t I>
struct write_rel_for {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using H = typename R::holder;
    using K = rel_keys<E, I>;

    static void items(const void* owner, std::vector<std::shared_ptr<void>>& out) {
        H& h = static_cast<E*>(const_cast<void*>(owner))->*(R::member);
        if constexpr (R::to_many) {
            const auto v = holder_access<H>::items(h);
            out.reserve(v.size());
            for (const auto& c : v)
                if (c) out.push_back(c);
        } else {
            auto c = holder_access<H>::items(h);
            if (c) out.push_back(std::move(c));
        }
    }
    static void adopt(session_core& s, const std::shared_ptr<void>& parent_obj, void* child_obj) {
        const E& parent = *static_cast<const E*>(parent_obj.get());
        T& child = *static_cast<T*>(child_obj);
        auto& fk = child.*(K::key);
        using F = std::remove_cvref_t<decltype(fk)>;
        set_undoable(s, fk, F(parent.*(meta::pk_member)));
        if constexpr (R::back::present) {
            auto& back = child.*(R::back::member);
            using BH = std::remove_cvref_t<decltype(back)>;
            if constexpr (holder_traits<BH>::is_one) {
                weaken<T, entity_meta<T>::template relationship_of<R::back::member>()>(back);
                auto old = holder_access<BH>::items(back);
                auto p = std::static_pointer_cast<E>(parent_obj);
                if (old != p) {
                    s.undo.push_back([&back, old] { holder_access<BH>::set(back, old); });
                    holder_access<BH>::set(back, p);
                }
                holder_access<BH>::link(back).state = holder_state::loaded;
            }
        }
    }
    static void set_fk(session_core& s, void* owner, const void* target) {
        auto& field = static_cast<E*>(owner)->*(K::key);
        using F = std::remove_cvref_t<decltype(field)>;
        set_undoable(s, field, F(static_cast<const T*>(target)->*(entity_meta<T>::pk_member)));
    }
    static bool back_holds(const void* target, const void* owner) {
        if constexpr (R::back::present) {
            bool holds = false;
            const auto& back = static_cast<const T*>(target)->*(R::back::member);
            if (back.loaded())
                holder_access<std::remove_cvref_t<decltype(back)>>::each_strong(back, [&](const auto& p) {
                    if (p.get() == owner) holds = true;
                });
            return holds;
        } else {
            (void)target, (void)owner;
            return false;
        }
    }
    static void original_items(const std::shared_ptr<void>& original, std::vector<std::shared_ptr<void>>& out) {
        if constexpr (R::to_many) {
            const auto& v = *std::static_pointer_cast<std::vector<ptr<T>>>(original);
            out.reserve(v.size());
            for (const auto& c : v)
                if (c) out.push_back(c);
        } else {
            const auto& c = *std::static_pointer_cast<ptr<T>>(original);
            if (c) out.push_back(c);
        }
    }
    static void release(session_core& s, const std::shared_ptr<void>& child, const void* parent) {
        auto& fk = static_cast<T*>(child.get())->*(K::key);
        using F = std::remove_cvref_t<decltype(fk)>;
        const auto parent_key = static_cast<const E*>(parent)->*(meta::pk_member);
        if constexpr (is_optional_v<F>) {
            if (fk && *fk == parent_key) set_undoable(s, fk, F{});
        } else {
            s.after_changes.push_back([&s, c = std::static_pointer_cast<T>(child), parent_key] {
                if ((*c).*(K::key) == parent_key && entity_state<T>::is_persistent(s, *c) &&
                    !s.flush_deleted.count(c.get()))
                    updater<T>::template write_null_key<K::fk_col>(s, *c);
            });
        }
    }
    static constexpr write_rel table = [] {
        write_rel r;
        r.kind = R::kind;
        r.back_present = R::back::present;
        r.target = &write_table<T>;
        r.name = &member_name<R::member>;
        r.loaded = [](const void* owner) { return (static_cast<const E*>(owner)->*(R::member)).loaded(); };
        r.items = &items;
        r.original_items = &original_items;
        if constexpr (R::kind == relation::has_many || R::kind == relation::has_one) {
            r.adopt = &adopt;
            if constexpr (R::delete_orphan)
                r.remove_orphan = [](session_core& s, const std::shared_ptr<void>& child) {
                    remove_object(s, delete_table<T>(), child);
                };
            else
                r.release = &release;
        }
        if constexpr (R::kind == relation::belongs_to) {
            r.set_fk = &set_fk;
            r.clear_fk = [](session_core& s, void* owner) {
                auto& fk = static_cast<E*>(owner)->*(K::key);
                using F = std::remove_cvref_t<decltype(fk)>;
                if constexpr (is_optional_v<F>) set_undoable(s, fk, F{});
                else (void)s, (void)fk;
            };
        }
        if constexpr (R::kind == relation::many_to_many) {
            r.back_holds = &back_holds;
            r.associate = [](session_core& s, const void* owner, const void* target, bool add) {
                associate<E, I>(s, *static_cast<const E*>(owner), *static_cast<const T*>(target), add);
            };
        }
        return r;
    }();
};

/// Relationship I of E in deleting an E.
template <class E, std::size_t I>
struct delete_rel_for {
    using R = typename entity_meta<E>::template relationship_t<I>;
    using T = typename R::target;
    using K = rel_keys<E, I>;
    static constexpr delete_rel table = [] {
        delete_rel r;
        if constexpr (R::kind == relation::has_many || R::kind == relation::has_one) {
            if constexpr (R::cascade_delete && R::passive_deletes) {
                r.deletes = on_delete::passive;
                r.deleted_by_database = [](session_core& s, const std::shared_ptr<void>& child) {
                    (void)s.map<T>();  // the map note_deleted_by_database reaches
                    note_deleted_by_database(s, entity_index<T>, child, &bind_erased<T>);
                };
            } else if constexpr (R::cascade_delete) {
                r.deletes = on_delete::cascade;
                r.target = &delete_table<T>;
                r.load = [](void* owner) {
                    auto& h = static_cast<E*>(owner)->*(R::member);
                    if constexpr (R::to_many) (void)h.size();
                    else (void)h.get();
                };
            } else {
                r.null_fk = [](session_core& s, void* child) {
                    auto& fk = static_cast<T*>(child)->*(K::key);
                    using F = std::remove_cvref_t<decltype(fk)>;
                    if constexpr (is_optional_v<F>) set_undoable(s, fk, F{});
                    else (void)s, (void)fk;
                };
            }
        } else if constexpr (R::kind == relation::many_to_many) {
            r.unlink_all = [](session_core& s, const void* owner) {
                unlink_all<E, I>(s, *static_cast<const E*>(owner));
            };
        }
        return r;
    }();
};

/// Reads a generated key of type K (insert_row's read_key).
template <class K>
void read_generated_key(statement& row, void* key) {
    read_column(row, 0, *static_cast<K*>(key), "generated key");
}

/// Inserts the row of a new object of E (its parents' keys already copied into it) and makes
/// it persistent: the generated key, the version counter, the identity map, its holders bound.
template <class E>
void insert_entity_row(session_core& s, const std::shared_ptr<void>& p) {
    using meta = entity_meta<E>;
    using pk_type = typename meta::pk_type;
    E& o = *static_cast<E*>(p.get());
    const bool generate = !entity_state<E>::key_set(o);
    if constexpr (meta::version_index != npos) {
        using V = typename meta::template column_t<meta::version_index>::value_type;
        auto& ver = o.*(meta::template column_t<meta::version_index>::member);
        if (ver == 0) set_undoable(s, ver, V{1});
    }
    pk_type generated{};
    detail::insert_row(s, table_of<E>(), &o, generate, &read_generated_key<pk_type>, &generated);
    if (generate) set_undoable(s, o.*(meta::pk_member), generated);
    const pk_type key = o.*(meta::pk_member);
    auto& m = s.map<E>();
    if (m.contains(key)) throw integrity_error("loadstar: another " + type_name<E>() + " with this key is already in the session");
    auto obj = std::static_pointer_cast<E>(p);
    note_inserted(s, entity_index<E>, obj);
    m.insert(key, obj);
    bind_holders(s, o);
}

/// The tables of E's relationships, in mapping order (Of<E, I>::table of each).
template <class E, class T, template <class, std::size_t> class Of>
struct rel_tables {
    static constexpr auto table = []<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<T, sizeof...(I)>{Of<E, I>::table...};
    }(std::make_index_sequence<entity_meta<E>::relationship_count>{});
};

/// E's write table (reached through a function, so that entities may refer to each other).
template <class E>
const write_entity& write_table() {
    static_assert(insert_cycle_check<E>::ok);
    static constexpr write_entity t = [] {
        write_entity w;
        w.type_name = &type_name<E>;
        w.is_persistent = [](session_core& s, const void* obj) {
            return entity_state<E>::is_persistent(s, *static_cast<const E*>(obj));
        };
        w.persistent_ptr = [](session_core& s, const void* obj) -> std::shared_ptr<void> {
            return entity_state<E>::persistent_ptr(s, static_cast<const E*>(obj));
        };
        w.insert_row = &insert_entity_row<E>;
        w.update_now = [](session_core& s, const void* obj) {
            const auto& key = static_cast<const E*>(obj)->*(entity_meta<E>::pk_member);
            if (auto* e = s.map<E>().find_entry(key)) {
                const auto mask = updater<E>::changed_columns(s, key, *e);
                if (mask) updater<E>::update_row(s, *e, mask);
            }
        };
        w.rels = rel_tables<E, write_rel, write_rel_for>::table.data();
        w.rel_count = entity_meta<E>::relationship_count;
        return w;
    }();
    return t;
}

/// E's delete table.
template <class E>
const delete_entity& delete_table() {
    static constexpr delete_entity t = [] {
        delete_entity d;
        d.writes = &write_table<E>;
        d.delete_row = [](session_core& s, const std::shared_ptr<void>& obj) {
            delete_row(s, table_of<E>(), obj.get());
            note_deleted(s, entity_index<E>, obj, &bind_erased<E>);
        };
        d.rels = rel_tables<E, delete_rel, delete_rel_for>::table.data();
        return d;
    }();
    return t;
}

/// session::remove's entry for E (object_ref::run).
template <class E>
void remove_erased(session_core& s, const std::shared_ptr<void>& p) {
    remove_object(s, delete_table<E>(), p);
}

/// session::add's entry for E (object_ref::run): indexes the graph around a new object before
/// the flush inserts anything, then saves it.
template <class E>
void save_erased(session_core& s, const std::shared_ptr<void>& p) {
    if (s.flush_indexing) index_parents(s, write_table<E>(), p);
    else save_object(s, write_table<E>(), p);
}

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/insert.ipp>
#endif
