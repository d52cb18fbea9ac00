// loadstar/detail/session_core.hpp - the state behind a session: connection, transaction,
// identity map with snapshots, pending and deleted objects, recorded relationship changes,
// the flush undo log, the N+1 detector.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/dense_map.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/detail/holder_walk.hpp>
#include <loadstar/detail/sweep_graph.hpp>
#include <loadstar/engine.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/relationship.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace loadstar {

/// What the session does when one relationship lazy-loads more often than the threshold.
enum class n_plus_one_mode { off, warn, raise };

/// How a session's transactions begin (see dialect::begin_read / begin_write).
enum class transaction_mode {
    /// A transaction whose first statement reads begins as a read transaction (no write lock:
    /// on SQLite it never blocks a writer); one whose first statement writes begins as a write
    /// transaction (SQLite: BEGIN IMMEDIATE). A read transaction that then writes asks for the
    /// write lock at that point; SQLite refuses at once with busy_error if another connection
    /// holds it or wrote since the transaction began (roll back and run it again, as
    /// run_transaction does; or say `write` up front).
    automatic,
    /// Every transaction begins as a write transaction (SQLite: BEGIN IMMEDIATE): the write
    /// lock is taken first, so a read-then-write transaction cannot fail on lock upgrade; other
    /// writers wait (busy timeout). run_transaction's default.
    write,
    /// Every transaction begins read-only (PostgreSQL: BEGIN READ ONLY); flushing anything
    /// throws usage_error before any statement.
    read_only,
};

/// Per-session settings: `ls::session s{engine, {.n_plus_one = ls::n_plus_one_mode::raise}}`.
struct session_options {
    transaction_mode transaction = transaction_mode::automatic;
    n_plus_one_mode n_plus_one = n_plus_one_mode::off;
    std::size_t n_plus_one_threshold = 10;
    /// Prefix of the SAVEPOINT names the session issues (flush and begin_nested).
    std::string savepoint_prefix = "loadstar_sp_";
};

namespace detail {

LOADSTAR_DECL std::size_t next_entity_index();
/// A dense index per entity type, for the session's per-type identity maps.
template <class E>
inline const std::size_t entity_index = next_entity_index();

struct session_core;

struct identity_map_base {
    virtual ~identity_map_base() = default;
    /// Drops the objects only this map holds (the first step of detach_all below: what they
    /// held may then be held by its map alone too).
    virtual void release_unshared() = 0;
    /// Unbinds every object's holders from the session (close / expunge_all).
    virtual void detach_all() = 0;
    virtual std::size_t size() const = 0;
    /// Issues the UPDATEs of objects whose columns differ from their snapshot.
    virtual void flush_dirty(session_core& s) = 0;
    /// Re-reads every object from the database (after a rollback); rows that are gone leave.
    virtual void refresh_all(session_core& s) = 0;
    /// Whether objects of this type can hold themselves alive through strong holders (a
    /// cycle in the mapping's strong-edge type graph; fixed at compile time).
    virtual bool may_cycle() const = 0;
    /// The cycle sweep's three steps (see sweep_graph).
    virtual void sweep_nodes(sweep_graph& g) const = 0;
    virtual void sweep_edges(sweep_graph& g) const = 0;
    virtual void sweep_clear(const sweep_graph& g) = 0;
    /// The end of an untracked load (see settle_untracked in detail/holder_tables.hpp).
    virtual void settle_untracked(const sweep_graph& g) noexcept = 0;
    /// Whether some object's weak many-to-one holds a target (only then does the end of an
    /// untracked load need the sweep graph: untracked_maps in keys.hpp).
    virtual bool any_weak_target() const noexcept = 0;
    /// Reclaims the snapshot space of replaced snapshots and erased entries (at commit).
    virtual void compact() noexcept = 0;
    // The writes' bookkeeping, type-erased so that the undo and after-flush steps of every
    // entity are the same ordinary code (unit/rows.hpp). `obj` is an object of the map's type.
    /// The snapshot of `obj`'s entry becomes `snap` (after a flush wrote its UPDATE).
    virtual void adopt_snapshot(const void* obj, std::byte* snap) noexcept = 0;
    /// Takes `obj`'s entry out of the map (if the map holds it under its key) and unbinds its
    /// holders; `reset_key`: a generated key goes back to 0 (transient again).
    virtual void forget(const void* obj, bool reset_key) noexcept = 0;
    /// Takes `obj`'s entry out of the map for a delete; its snapshot in `snap`. False if the
    /// map does not hold it.
    virtual bool take_out(const void* obj, std::byte*& snap) noexcept = 0;
    /// Puts back an entry taken out (the undo of a delete in a failed flush).
    virtual void put_back(const std::shared_ptr<void>& obj, std::byte* snap) = 0;
    /// A deleted object back in the map, with a new snapshot (the rollback of the transaction
    /// that deleted it; the caller binds its holders again).
    virtual void bring_back(const std::shared_ptr<void>& obj) = 0;
    /// Unbinds `obj`'s holders from the session.
    virtual void detach(void* obj) noexcept = 0;
    /// The columns of `obj` that differ from its snapshot (bit J for column J), 0 if the map
    /// does not hold it.
    virtual std::uint64_t changed_of(const void* obj) = 0;
    /// A new snapshot of `obj` in the map's arena (see note_updated).
    virtual std::byte* capture_of(const void* obj) = 0;
};

template <class E>
struct refresher;  // unit/refresh.hpp

// unit/rows.hpp: an entity's table, and the UPDATE of a changed object (identity_map::flush_dirty).
class table_info;
template <class E>
const table_info& table_of();
struct session_core;
LOADSTAR_DECL void update_object(session_core& s, const table_info& t, identity_map_base& m, std::size_t map,
                                 const std::shared_ptr<void>& obj, std::uint64_t mask);

/// Bump storage for snapshots: blocks that never move (a snapshot's address stays valid while
/// the map lives, so an entry moved out of the map and back, as a flush's undo does, keeps its
/// snapshot), at most 64 KiB each. Space of a replaced snapshot is not reused: it counts as
/// `dead()` until the map compacts (identity_map::compact, at commit).
class snapshot_arena {
public:
    std::byte* alloc(std::size_t n) {
        if (n > left_ || !cur_) grow(n);  // never null, even for an empty snapshot
        std::byte* p = cur_;
        cur_ += n;
        left_ -= n;
        live_ += n;
        return p;
    }
    /// Bytes of a snapshot no entry uses any more.
    void release(std::size_t n) noexcept {
        live_ -= n;
        dead_ += n;
    }
    std::size_t live() const noexcept { return live_; }
    std::size_t dead() const noexcept { return dead_; }
    void swap(snapshot_arena& o) noexcept {
        blocks_.swap(o.blocks_);
        std::swap(cur_, o.cur_);
        std::swap(left_, o.left_);
        std::swap(next_, o.next_);
        std::swap(live_, o.live_);
        std::swap(dead_, o.dead_);
    }

private:
    static constexpr std::size_t max_block = 64 * 1024;
    std::vector<std::unique_ptr<std::byte[]>> blocks_;
    std::byte* cur_ = nullptr;
    std::size_t left_ = 0;
    std::size_t next_ = 256;  // small sessions stay small; big loads reach max_block quickly
    std::size_t live_ = 0;
    std::size_t dead_ = 0;

    void grow(std::size_t n);
};

/// The byte encoding of one column value in a snapshot. Exact: two values encode alike only if
/// the dirty check would call them equal (integers and time points as zigzag varints, floating
/// point compared with == after a bit copy, text and blobs as varint length and bytes, an
/// optional as a flag byte and its value). No hashes: a changed column is always seen.
template <class T>
struct snap_codec {
    static_assert(is_scalar_column_v<T>, "loadstar: snapshot of a type that is not a column type");
    static std::size_t varint_size(std::uint64_t u) noexcept {
        std::size_t n = 1;
        while (u >= 0x80) {
            u >>= 7;
            ++n;
        }
        return n;
    }
    static std::byte* put_varint(std::byte* p, std::uint64_t u) noexcept {
        while (u >= 0x80) {
            *p++ = static_cast<std::byte>((u & 0x7f) | 0x80);
            u >>= 7;
        }
        *p++ = static_cast<std::byte>(u);
        return p;
    }
    static std::uint64_t get_varint(const std::byte*& p) noexcept {
        std::uint64_t u = 0;
        for (int shift = 0;; shift += 7) {
            const auto b = std::to_integer<std::uint64_t>(*p++);
            u |= (b & 0x7f) << shift;
            if (b < 0x80) return u;
        }
    }
    static std::uint64_t zigzag(std::int64_t v) noexcept {
        return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
    }
    /// Integers, bools and time points: an injective map to uint64.
    static std::uint64_t as_u64(const T& v) noexcept {
        if constexpr (std::is_same_v<T, time_point>) return zigzag(static_cast<std::int64_t>(v.time_since_epoch().count()));
        else if constexpr (std::is_signed_v<T>) return zigzag(static_cast<std::int64_t>(v));
        else return static_cast<std::uint64_t>(v);
    }
    static constexpr bool integer = std::is_integral_v<T> || std::is_same_v<T, time_point>;
    static constexpr bool bytes = std::is_same_v<T, std::string> || std::is_same_v<T, blob>;

    static std::size_t size(const T& v) noexcept {
        if constexpr (integer) return varint_size(as_u64(v));
        else if constexpr (bytes) return varint_size(v.size()) + v.size();
        else return sizeof(T);
    }
    static std::byte* put(std::byte* p, const T& v) noexcept {
        if constexpr (integer) {
            return put_varint(p, as_u64(v));
        } else if constexpr (bytes) {
            p = put_varint(p, v.size());
            if (!v.empty()) std::memcpy(p, v.data(), v.size());
            return p + v.size();
        } else {
            std::memcpy(p, &v, sizeof(T));
            return p + sizeof(T);
        }
    }
    /// Whether the encoded value at p equals v; advances p past it.
    static bool same(const std::byte*& p, const T& v) noexcept {
        if constexpr (integer) {
            return get_varint(p) == as_u64(v);
        } else if constexpr (bytes) {
            const std::uint64_t n = get_varint(p);
            const std::byte* d = p;
            p += n;
            return n == v.size() && (n == 0 || std::memcmp(d, v.data(), n) == 0);
        } else {
            T old;
            std::memcpy(&old, p, sizeof(T));
            p += sizeof(T);
            return old == v;
        }
    }
    static void skip(const std::byte*& p) noexcept {
        if constexpr (integer) (void)get_varint(p);
        else if constexpr (bytes) p += get_varint(p);
        else p += sizeof(T);
    }
};
template <class T>
struct snap_codec<std::optional<T>> {
    using C = snap_codec<T>;
    static std::size_t size(const std::optional<T>& v) noexcept { return 1 + (v ? C::size(*v) : 0); }
    static std::byte* put(std::byte* p, const std::optional<T>& v) noexcept {
        *p++ = static_cast<std::byte>(v ? 1 : 0);
        return v ? C::put(p, *v) : p;
    }
    static bool same(const std::byte*& p, const std::optional<T>& v) noexcept {
        const bool had = *p++ != std::byte{0};
        if (!had) return !v;
        if (!v) {
            C::skip(p);
            return false;
        }
        return C::same(p, *v);
    }
    static void skip(const std::byte*& p) noexcept {
        if (*p++ != std::byte{0}) C::skip(p);
    }
};

/// The column values of an object as loaded or last flushed (deferred<T> stored as T; a
/// deferred column not loaded as T{}), every column but the primary key (the identity map's
/// key is that copy), encoded one after another (snap_codec) in the map's snapshot_arena. For
/// a book (id, title, year, author_id) that is 16 bytes where a tuple of the columns took 56.
template <class E>
struct snapshot_of {
    using meta = entity_meta<E>;
    using mask_t = std::uint64_t;
    template <std::size_t J>
    using codec = snap_codec<typename meta::template column_t<J>::stored_type>;
    template <std::size_t J>
    static constexpr bool stored = J != meta::pk_index;

    template <std::size_t J>
    static const typename meta::template column_t<J>::stored_type* value(const E& o) {
        using C = typename meta::template column_t<J>;
        if constexpr (C::is_deferred) {
            const auto& d = o.*(C::member);
            return d.loaded() ? &holder_access<typename C::type>::items(const_cast<typename C::type&>(d)) : nullptr;
        } else {
            return &(o.*(C::member));
        }
    }
    template <std::size_t J>
    static std::size_t column_size(const E& o) {
        using T = typename meta::template column_t<J>::stored_type;
        const T* v = value<J>(o);
        return v ? codec<J>::size(*v) : codec<J>::size(T{});
    }
    template <std::size_t J>
    static std::byte* put_column(std::byte* p, const E& o) {
        using T = typename meta::template column_t<J>::stored_type;
        const T* v = value<J>(o);
        return v ? codec<J>::put(p, *v) : codec<J>::put(p, T{});
    }
    static std::size_t size(const E& o) {
        std::size_t n = 0;
        for_each_index<meta::column_count>([&](auto j) {
            if constexpr (stored<j>) n += column_size<j>(o);
        });
        return n;
    }
    static void write(std::byte* p, const E& o) {
        for_each_index<meta::column_count>([&](auto j) {
            if constexpr (stored<j>) p = put_column<j>(p, o);
        });
    }
    /// The encoded length of the snapshot at p.
    static std::size_t length(const std::byte* p) noexcept {
        const std::byte* q = p;
        for_each_index<meta::column_count>([&](auto j) {
            if constexpr (stored<j>) codec<j>::skip(q);
        });
        return static_cast<std::size_t>(q - p);
    }
    /// The columns of o that differ from the snapshot at p (bit J for column J; the primary
    /// key is compared with the map's key by the caller). A deferred column not loaded is
    /// unchanged.
    static mask_t diff(const std::byte* p, const E& o) noexcept {
        mask_t mask = 0;
        for_each_index<meta::column_count>([&](auto j) {
            if constexpr (stored<j>) {
                using C = typename meta::template column_t<j>;
                if constexpr (C::is_deferred) {
                    if (const auto* v = value<j>(o)) {
                        if (!codec<j>::same(p, *v)) mask |= mask_t{1} << j;
                    } else {
                        codec<j>::skip(p);
                    }
                } else {
                    if (!codec<j>::same(p, o.*(C::member))) mask |= mask_t{1} << j;
                }
            }
        });
        return mask;
    }
};

/// An identity map's entry: the object and its snapshot. The object is held type-erased, so
/// that the map's storage and the code over it are compiled once per key type (keyed_map), not
/// once per entity; identity_map<E> hands it out typed.
struct map_entry {
    std::shared_ptr<void> obj;
    /// The object's snapshot in the map's arena (null: untracked, or not filled yet).
    std::byte* snap = nullptr;
};

/// The part of an identity map that depends only on its key type: the entries, the snapshot
/// arena, and what is done with them without knowing the entity (compaction, the sweep's
/// nodes, the undo steps of writes, and the loops over the objects' holders, through the
/// entity's holder_hooks). `key_of`, `snap_length` and `hooks` are the entity's.
template <class K>
struct keyed_map : identity_map_base {
    using key_type = K;
    // Dense storage (see dense_map.hpp): erase moves the last entry into the hole, and any
    // insert or erase invalidates references into the map.
    dense_map<K, map_entry> objects;
    snapshot_arena arena;

    keyed_map(const K& (*key_of)(const void*) noexcept, std::size_t (*snap_length)(const std::byte*) noexcept,
              const holder_hooks& hooks) noexcept
        : key_of_(key_of), snap_length_(snap_length), hooks_(&hooks) {}
    ~keyed_map() override;  // out of line: compiled once per key type, not per entity

    map_entry* find_entry(const K& k) {
        auto it = objects.find(k);
        return it == objects.end() ? nullptr : &it->second;
    }
    /// The snapshot of e replaced by `p` (from capture); the old one's space is dead.
    void replace_snapshot(map_entry& e, std::byte* p) noexcept {
        if (e.snap) arena.release(snap_length_(e.snap));
        e.snap = p;
    }
    /// Hydration's one probe per row: the entry for k and whether it was just added (empty:
    /// no object, no snapshot). A new entry must be filled (fill) before the map changes
    /// again, or dropped (drop) if reading its row fails.
    std::pair<map_entry*, bool> find_or_add(const K& k) {
        auto [it, fresh] = objects.emplace(k);
        return {&it->second, fresh};
    }
    void drop(const K& k) noexcept {
        if (auto it = objects.find(k); it != objects.end()) {
            replace_snapshot(it->second, nullptr);
            objects.erase(it);
        }
    }
    /// Copies the live snapshots into a new arena once most of the old one is dead (replaced
    /// snapshots, erased entries). Only when no entry lives outside the map: at commit, after
    /// any flush's undo log is gone. Out of memory leaves everything as it was.
    void compact() noexcept override;
    void release_unshared() override;
    std::size_t size() const override;
    void sweep_nodes(sweep_graph& g) const override;
    void adopt_snapshot(const void* obj, std::byte* snap) noexcept override;
    bool take_out(const void* obj, std::byte*& snap) noexcept override;
    void put_back(const std::shared_ptr<void>& obj, std::byte* snap) override;
    void detach_all() override;
    bool may_cycle() const override;
    void sweep_edges(sweep_graph& g) const override;
    void sweep_clear(const sweep_graph& g) override;
    void settle_untracked(const sweep_graph& g) noexcept override;
    bool any_weak_target() const noexcept override;
    void detach(void* obj) noexcept override { detach_holders(*hooks_, obj); }
protected:
    const K& (*key_of_)(const void*) noexcept;
    std::size_t (*snap_length_)(const std::byte*) noexcept;
    const holder_hooks* hooks_;
};

// Out of the class, so not inline: a separately compiled program compiles them once, for the
// 64-bit key, in src.hpp (the extern template below keeps them out of every other TU).
template <class K>
void keyed_map<K>::compact() noexcept {
    if (arena.dead() < 64 * 1024 || arena.dead() < arena.live()) return;
    try {
        snapshot_arena fresh;
        std::vector<std::byte*> moved;
        moved.reserve(objects.size());
        for (auto& [k, e] : objects) {
            std::byte* p = nullptr;
            if (e.snap) {
                const std::size_t n = snap_length_(e.snap);
                p = fresh.alloc(n);
                std::memcpy(p, e.snap, n);
            }
            moved.push_back(p);
        }
        std::size_t i = 0;
        for (auto& [k, e] : objects) e.snap = moved[i++];
        arena.swap(fresh);
    } catch (...) {
        // The old arena stays, dead space and all.
    }
}
template <class K>
void keyed_map<K>::release_unshared() {
    for (auto& [k, e] : objects)
        if (e.obj.use_count() == 1) e.obj.reset();
}
template <class K>
std::size_t keyed_map<K>::size() const { return objects.size(); }
template <class K>
void keyed_map<K>::sweep_nodes(sweep_graph& g) const {
    for (auto& [k, e] : objects)
        if (e.obj) g.add_node(e.obj.get(), e.obj.use_count());
}
template <class K>
void keyed_map<K>::adopt_snapshot(const void* obj, std::byte* snap) noexcept {
    if (auto* en = find_entry(key_of_(obj)); en && en->obj.get() == obj) replace_snapshot(*en, snap);
}
template <class K>
bool keyed_map<K>::take_out(const void* obj, std::byte*& snap) noexcept {
    auto it = objects.find(key_of_(obj));
    if (it == objects.end() || it->second.obj.get() != obj) return false;
    snap = it->second.snap;
    objects.erase(it);
    return true;
}
template <class K>
void keyed_map<K>::put_back(const std::shared_ptr<void>& obj, std::byte* snap) {
    objects.insert_or_assign(key_of_(obj.get()), map_entry{obj, snap});
}
template <class K>
void keyed_map<K>::detach_all() {
    for (auto& [k, e] : objects) {
        // An object only the map holds dies with it: nothing outlives the session to
        // find its holders bound, so unbinding them would only touch its memory twice.
        if (e.obj && e.obj.use_count() > 1) detach_holders(*hooks_, e.obj.get());
    }
}
template <class K>
bool keyed_map<K>::may_cycle() const { return hooks_->may_cycle; }
template <class K>
void keyed_map<K>::sweep_edges(sweep_graph& g) const {
    for (auto& [k, e] : objects)
        if (e.obj) strong_edges(*hooks_, e.obj.get(), g);
}
template <class K>
void keyed_map<K>::sweep_clear(const sweep_graph& g) {
    for (auto& [k, e] : objects)
        if (e.obj && !g.reached(e.obj.get())) clear_holders(*hooks_, e.obj.get());
}
template <class K>
void keyed_map<K>::settle_untracked(const sweep_graph& g) noexcept {
    for (auto& [k, e] : objects)
        if (e.obj) detail::settle_untracked(*hooks_, e.obj.get(), g);
}
template <class K>
bool keyed_map<K>::any_weak_target() const noexcept {
    if (!hooks_->any_weak) return false;
    for (auto& [k, e] : objects)
        if (e.obj && holds_weak_target(*hooks_, e.obj.get())) return true;
    return false;
}

template <class K>
keyed_map<K>::~keyed_map() = default;

#if defined(LOADSTAR_SEPARATE_COMPILATION)
// The maps of 64-bit keys (most entities' keys) are compiled once, in src.hpp.
extern template class chunked_vector<std::pair<std::int64_t, map_entry>>;
extern template class dense_map<std::int64_t, map_entry>;
extern template std::pair<dense_map<std::int64_t, map_entry>::iterator, bool>
dense_map<std::int64_t, map_entry>::place<>(const std::int64_t&, bool);
extern template struct keyed_map<std::int64_t>;
#endif

template <class E>
const typename entity_meta<E>::pk_type& key_of(const void* obj) noexcept {
    return static_cast<const E*>(obj)->*(entity_meta<E>::pk_member);
}

/// The identity map of E: its keyed_map, with the object handed out typed, its snapshots
/// taken and compared, and what needs E's holders.
template <class E>
struct identity_map final : keyed_map<typename entity_meta<E>::pk_type> {
    using base = keyed_map<typename entity_meta<E>::pk_type>;
    using key_type = typename entity_meta<E>::pk_type;
    using snap = snapshot_of<E>;
    using entry = map_entry;
    using base::arena;
    using base::objects;
    using base::find_entry;
    using base::replace_snapshot;

    identity_map() noexcept : base(&key_of<E>, &snap::length, holder_hooks_of<E>::table) {}

    static E& object(const entry& e) noexcept { return *static_cast<E*>(e.obj.get()); }
    static ptr<E> shared(const entry& e) noexcept { return std::static_pointer_cast<E>(e.obj); }

    /// The object the map holds for k, or null.
    ptr<E> find(const key_type& k) {
        auto it = objects.find(k);
        return it == objects.end() ? nullptr : shared(it->second);
    }
    /// Whether the map holds an object for k.
    bool contains(const key_type& k) const { return objects.find(k) != objects.end(); }
    /// A new snapshot of o in the arena.
    std::byte* capture(const E& o) {
        std::byte* p = arena.alloc(snap::size(o));
        snap::write(p, o);
        return p;
    }
    /// Adds a loaded or inserted object with a snapshot of its columns.
    void insert(const key_type& k, const ptr<E>& obj) {
        std::byte* p = capture(*obj);
        auto [it, fresh] = objects.emplace(k);
        if (!fresh) replace_snapshot(it->second, nullptr);
        it->second.obj = obj;
        it->second.snap = p;
    }
    /// Adds an object without a snapshot (query-local maps of untracked loads).
    void insert_untracked(const key_type& k, const ptr<E>& obj) { objects.emplace(k, entry{obj, nullptr}); }
    /// Fills an entry from find_or_add (the snapshot first: if it throws, the entry is
    /// unchanged).
    void fill(entry& e, const ptr<E>& obj, bool tracked) {
        if (tracked) {
            std::byte* p = capture(*obj);
            replace_snapshot(e, p);
        }
        e.obj = obj;
    }
    /// A new snapshot of the entry's object: in place when it fits in the old one's space.
    void resnap(entry& e) {
        const E& o = object(e);
        const std::size_t n = snap::size(o);
        if (e.snap) {
            const std::size_t old = snap::length(e.snap);
            if (n <= old) {
                snap::write(e.snap, o);
                arena.release(old - n);  // the tail of the old space
                return;
            }
        }
        std::byte* p = arena.alloc(n);
        snap::write(p, o);
        replace_snapshot(e, p);
    }
    void resnap(const key_type& k) {
        if (auto* e = find_entry(k)) resnap(*e);
    }
    /// The columns of e's object that differ from its snapshot (bit J for column J), the
    /// primary key against k, the key e is stored under.
    std::uint64_t changed_columns(const key_type& k, const entry& e) const {
        const E& o = object(e);
        std::uint64_t mask = e.snap ? snap::diff(e.snap, o) : ~std::uint64_t{0} >> (64 - entity_meta<E>::column_count);
        if (!(o.*(entity_meta<E>::pk_member) == k)) mask |= std::uint64_t{1} << entity_meta<E>::pk_index;
        else if (!e.snap) mask &= ~(std::uint64_t{1} << entity_meta<E>::pk_index);
        return mask;
    }
    /// Column J of the snapshot set to v (a bulk UPDATE's new value; the other columns keep
    /// their snapshot values).
    template <std::size_t J, class T>
    void set_snapshot_column(entry& e, const T& v) {
        // The primary key is the map's key, not in the snapshot (a changed key is reported by
        // changed_columns against the key).
        if constexpr (J != entity_meta<E>::pk_index) {
            if (!e.snap) return;
            // The column's byte range in the old snapshot.
            const std::byte* q = e.snap;
            const std::byte* begin = nullptr;
            const std::byte* end = nullptr;
            for_each_index<entity_meta<E>::column_count>([&](auto j) {
                if constexpr (snap::template stored<j>) {
                    if (j == J) begin = q;
                    snap::template codec<j>::skip(q);
                    if (j == J) end = q;
                }
            });
            const std::size_t head = static_cast<std::size_t>(begin - e.snap);
            const std::size_t tail = static_cast<std::size_t>(q - end);
            const std::size_t n = head + snap::template codec<J>::size(v) + tail;
            std::byte* p = arena.alloc(n);
            std::memcpy(p, e.snap, head);
            std::byte* w = snap::template codec<J>::put(p + head, v);
            if (tail) std::memcpy(w, end, tail);
            replace_snapshot(e, p);
        } else {
            (void)e, (void)v;
        }
    }
    void flush_dirty(session_core& s) override;
    std::uint64_t changed_of(const void* obj) override {
        const key_type& k = key_of<E>(obj);
        const entry* e = find_entry(k);
        return e && e->obj.get() == obj ? changed_columns(k, *e) : 0;
    }
    std::byte* capture_of(const void* obj) override { return capture(*static_cast<const E*>(obj)); }
    void refresh_all(session_core& s) override { refresher<E>::refresh_all(s, *this); }
    void forget(const void* obj, bool reset_key) noexcept override {
        std::byte* snap = nullptr;
        this->take_out(obj, snap);
        E& o = *const_cast<E*>(static_cast<const E*>(obj));
        detach_holders(o);
        if constexpr (entity_meta<E>::pk_column::generated) {
            if (reset_key) o.*(entity_meta<E>::pk_member) = key_type{};
        } else {
            (void)reset_key;
        }
    }
    void bring_back(const std::shared_ptr<void>& obj) override {
        auto o = std::static_pointer_cast<E>(obj);
        insert((*o).*(entity_meta<E>::pk_member), o);
    }
};

/// A new, empty identity map of E (session_core::add_map_at, load_context::local_map).
template <class E>
identity_map_base* new_map() {
    return new identity_map<E>();
}

/// A new object waiting for flush, or an object to delete: type-erased entry points.
struct object_ref {
    std::shared_ptr<void> object;
    void (*run)(struct session_core&, const std::shared_ptr<void>&);
};

/// A relationship holder modified since the last flush, with its contents before the change.
struct change_record {
    void* owner;
    holder_link* link;
    const rel_vtable* vt;
    std::shared_ptr<void> original;  // std::vector<ptr<T>> (to-many) or ptr<T> (to-one)
};

struct session_core {
    session_core(std::shared_ptr<engine_state> e, session_options o);
    session_core(const session_core&) = delete;
    session_core& operator=(const session_core&) = delete;
    ~session_core();

    std::shared_ptr<engine_state> eng;
    session_options options;
    lease conn;
    bool in_transaction = false;
    bool closed = false;
    bool connected_once = false;  // some lease got a connection (run_transaction's retry rule)
    std::size_t savepoint_depth = 0;
    std::size_t savepoint_counter = 0;
    std::vector<std::unique_ptr<identity_map_base>> maps;
    std::vector<object_ref> pending;
    std::unordered_set<const void*> pending_set;
    std::vector<object_ref> deleted;
    std::unordered_set<const void*> deleted_set;
    std::unordered_map<const void*, change_record> changes;  // keyed by holder address
    std::unordered_map<const std::string*, std::size_t> lazy_counts;
    std::unordered_set<const std::string*> warned;

    // Flush bookkeeping: what one flush visited, and how to undo its in-memory effects.
    bool flushing = false;
    std::string flush_savepoint;  // opened before the flush's first write, if any
    std::unordered_set<const void*> flush_seen;
    std::unordered_set<const void*> flush_in_progress;  // saving parents first: a cycle shows here
    // Parents that hold a new child in a loaded one-to-many / one-to-one holder, by child:
    // each entry saves the parent first (as save_object's `defer` says, impl/insert.ipp) and
    // gives the child its key, however the child is reached. Built at the start of a flush
    // (index_parents, while flush_indexing), emptied by its end.
    using defer_list = std::vector<std::function<void()>>;
    std::unordered_map<const void*, std::vector<std::function<void(defer_list*)>>> flush_parents;
    std::unordered_set<const void*> flush_indexed;
    bool flush_indexing = false;
    std::unordered_set<const void*> flush_deleted;
    std::vector<std::function<void()>> undo;
    std::vector<std::function<void()>> on_success;
    std::vector<std::function<void()>> after_changes;  // run once every recorded change was seen
    // What the open transaction wrote, for rollback: objects it inserted (they become
    // transient again) and objects it deleted (they come back).
    std::vector<std::function<void()>> tx_inserted;
    std::vector<std::function<void()>> tx_deleted;
    // A flush (or bulk_insert) of the open transaction wrote something; if its connection is
    // lost, that work is lost with it and the session refuses to go on (tx_lost) until
    // rollback(): a later commit must not succeed as if it had been written.
    bool tx_wrote = false;
    bool tx_lost = false;

    /// The connection, with a transaction begun (autobegin, as SQLAlchemy's session does):
    /// a read or a write transaction as options.transaction and `write` say.
    pooled_connection& connection(bool write = false);

    /// Throws while the session's transaction is lost (see tx_lost).
    void check_tx() const;

    /// The connection for a write. During a flush the first write opens the flush's SAVEPOINT,
    /// so a flush with nothing to write issues nothing at all.
    pooled_connection& write_connection();

    void run_control(std::string_view sql);

    /// The connection broke: its transaction is gone with it; the next statement starts anew
    /// on another connection.
    void lose_connection() noexcept;

    /// What the lost transaction wrote is undone in memory, newest first: objects it inserted
    /// become transient, objects it deleted come back (as after a rollback).
    void undo_lost_tx() noexcept {
        undo_tx(0, 0);
    }
    /// Undoes, newest first, the inserts and deletes of the transaction after the marks.
    void undo_tx(std::size_t inserted_mark, std::size_t deleted_mark) noexcept;

    /// The identity map of E (hydration asks once per row: the common case is one inline test).
    template <class E>
    identity_map<E>& map() {
        const std::size_t i = entity_index<E>;
        if (i < maps.size() && maps[i]) [[likely]]
            return static_cast<identity_map<E>&>(*maps[i]);
        return add_map<E>(i);
    }
    template <class E>
    [[gnu::noinline]] identity_map<E>& add_map(std::size_t i) {
        return static_cast<identity_map<E>&>(add_map_at(i, &new_map<E>));
    }
    /// The map at index i, made by `make` if there is none yet (ordinary code for every entity).
    LOADSTAR_DECL identity_map_base& add_map_at(std::size_t i, identity_map_base* (*make)());

    std::string savepoint_name(std::size_t n) const { return options.savepoint_prefix + std::to_string(n); }

    void commit();
    void rollback();

    /// Breaks the cycles of strong holder references among mapped objects the program no
    /// longer reaches (as CPython's cycle collector does): an object whose use_count() exceeds
    /// the references from the map and from other mapped objects' holders is held from
    /// outside; what such roots reach through strong holders is kept, and the holders of the
    /// rest are emptied. Runs only when some mapped type can form such a cycle.
    void sweep_cycles();

    void detach_all();
    /// Forgets the work not yet flushed: recorded holder changes, pending and deleted objects.
    void drop_unflushed();
    /// Forgets the holder changes recorded for `owner`.
    void forget_changes_of(const void* owner);

    void close() noexcept;

    /// The N+1 detector: counts lazy loads per relationship.
    void note_lazy_load(const std::string& relationship, bool to_many, const std::source_location& where);
    static std::string relationship_cpp(const std::string& dotted);
};

/// The UPDATEs of the objects whose columns differ from their snapshots (update_object, the
/// same ordinary code for every entity).
template <class E>
void identity_map<E>::flush_dirty(session_core& s) {
    static_assert(entity_meta<E>::column_count <= 64, "loadstar: an entity may map at most 64 columns");
    const table_info& t = table_of<E>();
    for (auto& [key, e] : objects) {
        if (s.flush_deleted.count(e.obj.get())) continue;
        update_object(s, t, *this, entity_index<E>, e.obj, changed_columns(key, e));
    }
}

// rel_vtable::record: the holder's content before its first change, kept for the flush.
LOADSTAR_DECL void record_holder_change(session_core& s, holder_link& link, const void* holder, std::shared_ptr<void> original);

}  // namespace detail
}  // namespace loadstar

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/session_core.ipp>
#endif
