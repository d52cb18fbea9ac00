// loadstar/relationship.hpp - the relationship holders many<T> and one<T>.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/cycle_registry.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/fwd.hpp>

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <span>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

namespace loadstar {

namespace detail {

struct session_core;
struct holder_link;

/// Per (relationship, nested plan): how a holder of that relationship loads itself.
struct rel_vtable {
    const std::string& (*name)();  // "Author.books"
    /// Loads one holder on touch; `self` is this table (its `data` says what to load).
    void (*lazy_load)(session_core&, const rel_vtable& self, void* owner, const std::source_location&);
    /// At flush: the holder was modified; `original` is its content before the first change.
    void (*changed)(session_core&, const rel_vtable& self, void* owner, const std::shared_ptr<void>& original);
    /// In memory, at once: keep the back_populates side in step (`item` was added or removed).
    void (*linked)(session_core&, const rel_vtable& self, void* owner, const std::shared_ptr<void>& item, bool added);
    /// Loads the unloaded holders of several owners at once (session::load); null: one by one.
    void (*lazy_load_many)(session_core&, const rel_vtable& self, std::span<void* const> owners,
                           const std::source_location&) = nullptr;
    /// Keeps a holder's content from before its first change in the session (record_change).
    void (*record)(session_core&, holder_link&, const void* holder, std::shared_ptr<void> original) = nullptr;
    /// What the loader needs to load this holder (the relationship and the nested plan): one
    /// loading function serves every relationship and plan.
    void* data = nullptr;
};

// loading: an eager load of the current statement fills it; claimed: a selectin/subquery load
// has taken it (so a nested load of the same relationship never loads it twice).
enum class holder_state : unsigned char { loaded, unloaded, loading, claimed };
enum class holder_mode : unsigned char { unbound, lazy, raise };

/// What a holder knows about where it came from. A default holder (a new object's) is loaded
/// and unbound; the loader arms hydrated objects' holders as lazy or raise.
struct holder_link {
    const rel_vtable* vt = nullptr;
    session_core* core = nullptr;
    void* owner = nullptr;
    holder_state state = holder_state::loaded;
    holder_mode mode = holder_mode::unbound;
    bool recorded = false;  // the session holds this holder's pre-change content

    bool needs_load() const noexcept { return state != holder_state::loaded; }
};

/// Loads an unloaded holder through its session, or throws raise_load_error / detached_error.
/// `via` names the operator that touched it when `where` cannot be the caller's line: C++
/// gives operator->, operator* and operator[] no way to receive their caller's location (an
/// operator-> takes no parameters, and defaulted template or member-initializer locations
/// name the header: verified with GCC 12), so the message says so and points at get()/at().
LOADSTAR_DECL void touch(holder_link& link, const std::source_location& where, const char* via = nullptr);
/// Before a bound holder is modified: the session keeps its original content (for the
/// adds and removes a flush writes).
inline void record_change(holder_link& link, const void* holder, std::shared_ptr<void> original) {
    if (!link.core || !link.vt || !link.vt->changed || !link.vt->record) return;
    link.vt->record(*link.core, link, holder, std::move(original));
    link.recorded = true;
}
/// After an item was added to / removed from a bound holder: back_populates, in memory
/// (`linked` does nothing while its session flushes).
inline void note_linked(holder_link& link, const std::shared_ptr<void>& item, bool added) {
    if (link.core && link.vt && link.vt->linked) link.vt->linked(*link.core, *link.vt, link.owner, item, added);
}

template <class H>
struct holder_access;

}  // namespace detail

/// A to-many relationship: a range of `ptr<T>`. Touching an unloaded collection loads it
/// (lazy), throws raise_load_error (raise), or throws detached_error (session closed).
///
/// ```cpp
/// for (const auto& book : author->books) std::cout << book->title << '\n';
/// ```
template <class T>
class many {
public:
    using value_type = ptr<T>;
    using element_type = T;
    using container = std::vector<ptr<T>>;
    using iterator = typename container::iterator;
    using const_iterator = typename container::const_iterator;
    using size_type = std::size_t;

    many() = default;
    many(std::initializer_list<ptr<T>> items) : items_(items) { track(); }
    /// A copy holds the same objects but is not bound to any session.
    many(const many& o) : items_(o.items_) {
        link_.state = o.link_.state == detail::holder_state::loaded ? detail::holder_state::loaded
                                                                      : detail::holder_state::unloaded;
        track();
    }
    ~many() { untrack(); }
    many& operator=(const many& o) {
        if (this != &o) {
            ensure(std::source_location::current());
            before_change();
            items_ = o.items_;
            track();
        }
        return *this;
    }
    /// Takes the objects over without copying (and is not bound to any session, as a copy).
    /// A holder bound to a session (an object of the identity map) is never emptied behind
    /// its session's back: moving from it leaves it as it was, sharing the objects (ptrs are
    /// copied into a new vector, which may allocate; entities in containers are never bound).
    many(many&& o) noexcept : items_(o.link_.core ? container{} : std::move(o.items_)) {
        if (o.link_.core) items_ = o.items_;
        link_.state = o.link_.state == detail::holder_state::loaded ? detail::holder_state::loaded
                                                                      : detail::holder_state::unloaded;
        if (!o.link_.core) take_registration(o);
        track();
    }
    /// As copy assignment (a bound holder loads what it held and records it for the flush, so
    /// it may load, allocate and throw: not noexcept), but takes the objects of an unbound
    /// source without copying.
    many& operator=(many&& o) {
        if (this != &o) {
            ensure(std::source_location::current());
            before_change();
            if (o.link_.core) {
                items_ = o.items_;
            } else {
                if (!link_.core) take_registration(o);
                items_ = std::move(o.items_);
                o.untrack();  // emptied
            }
            track();
        }
        return *this;
    }

    /// Iterators are a vector's. One thing differs: back_populates (another holder's change
    /// reaching this collection, as `book->author = other` inside `for (auto& book :
    /// author->books)`) never invalidates them: the loop goes on over the elements it started
    /// with. Changes made through this holder itself invalidate them as a vector's do.
    iterator begin(std::source_location w = std::source_location::current()) { ensure(w); iterated_ = true; return items_.begin(); }
    iterator end(std::source_location w = std::source_location::current()) { ensure(w); iterated_ = true; return items_.end(); }
    const_iterator begin(std::source_location w = std::source_location::current()) const { ensure(w); iterated_ = true; return items_.begin(); }
    const_iterator end(std::source_location w = std::source_location::current()) const { ensure(w); iterated_ = true; return items_.end(); }
    size_type size(std::source_location w = std::source_location::current()) const { ensure(w); return items_.size(); }
    bool empty(std::source_location w = std::source_location::current()) const { ensure(w); return items_.empty(); }
    const ptr<T>& operator[](size_type i) const {
        if (link_.needs_load()) [[unlikely]]
            detail::touch(link_, std::source_location::current(), "many<T>::operator[]");
        return items_[i];
    }
    const ptr<T>& at(size_type i, std::source_location w = std::source_location::current()) const {
        ensure(w);
        return items_.at(i);
    }

    /// Appends (loading the collection first if it is unloaded).
    void push_back(ptr<T> item, std::source_location w = std::source_location::current()) {
        ensure(w);
        before_change();
        items_.push_back(std::move(item));
        if (link_.core) detail::note_linked(link_, items_.back(), true);
        else track();
    }
    /// Removes one element; with cascade_delete_orphan the removed object is deleted at flush.
    iterator erase(const_iterator pos) {
        before_change();
        ptr<T> removed = *pos;
        auto it = items_.erase(pos);
        if (link_.core) detail::note_linked(link_, removed, false);
        return it;
    }
    /// Removes `item` if present; true if it was there.
    bool remove(const ptr<T>& item, std::source_location w = std::source_location::current()) {
        ensure(w);
        for (auto it = items_.begin(); it != items_.end(); ++it)
            if (*it == item) {
                erase(it);
                return true;
            }
        return false;
    }
    void clear(std::source_location w = std::source_location::current()) {
        ensure(w);
        before_change();
        auto old = std::move(items_);
        items_.clear();
        untrack();
        if (link_.core)
            for (auto& o : old) detail::note_linked(link_, o, false);
    }

    /// True when the collection holds its loaded (or assigned) contents.
    bool loaded() const noexcept { return !link_.needs_load(); }

private:
    template <class H>
    friend struct detail::holder_access;
    void ensure(const std::source_location& w) const {
        if (link_.needs_load()) [[unlikely]]
            detail::touch(link_, w);
    }
    /// Debug builds (LOADSTAR_CHECK_CYCLES): a holder that owns objects outside any session
    /// registers, so that a cycle built by hand and let go of is reported (debug.hpp).
    void track() noexcept {
#if LOADSTAR_CHECK_CYCLES
        if (!link_.core && !items_.empty()) registered_.track(this, &detail::cycle_probe<many>);
#endif
    }
    void untrack() noexcept { registered_.untrack(this); }
    /// A move from the unbound holder `o`: its registration moves here, with no allocation.
    void take_registration(many& o) noexcept { registered_.take(o.registered_, &o, this); }
    void before_change() {
        retired_.reset();  // changes through this holder end any loop over it (as a vector's)
        if (link_.core && !link_.recorded) detail::record_change(link_, this, std::make_shared<container>(items_));
    }
    container items_;
    mutable detail::holder_link link_;
    mutable bool iterated_ = false;  // begin()/end() ran since the buffer last changed hands
    detail::cycle_registration registered_;  // in the debug cycle registry (see track())
    // Buffers a loop may still be walking: back_populates left them for a copy (see begin()).
    // A list, newest first: pushing a node instantiates less than a growing vector of vectors.
    struct retired_buffer {
        container items;
        std::unique_ptr<retired_buffer> next;
    };
    std::unique_ptr<retired_buffer> retired_;
};

namespace detail {
/// What every one<T> holds, whatever T: its target erased to `shared_ptr<void>` (held weakly
/// once a session binds a weak-target holder), so the holder's logic is compiled once
/// (impl/relationship.ipp), not once per target type. one<T> adds the types at its surface
/// (`get()` hands out `ptr<T>`). The members are public to the library only: one<T> inherits
/// them privately.
struct one_state {
    one_state() = default;
    explicit one_state(std::shared_ptr<void> p) noexcept : strong_(std::move(p)), has_target_(strong_ != nullptr) {}
    one_state(const one_state&) = delete;
    one_state& operator=(const one_state&) = delete;
    ~one_state() { untrack(); }

    /// The target (weak_ptr::lock when held weakly; no load, no throw).
    std::shared_ptr<void> value() const noexcept { return weak_mode_ ? weak_.lock() : strong_; }
    /// The target, loaded on first touch; detached_error if it was held weakly and is gone.
    LOADSTAR_DECL std::shared_ptr<void> target_via(const std::source_location& w, const char* via) const;
    /// Copy construction's state (the source's target, loaded or not).
    LOADSTAR_DECL void copy_from(const one_state& o);
    /// Move construction's state: an unbound source gives its target (and registration) up.
    LOADSTAR_DECL void move_from(one_state& o) noexcept;
    /// Assignment of a target: records the original and keeps back_populates in step when
    /// bound; owns `p` when not.
    LOADSTAR_DECL void assign(std::shared_ptr<void> p);
    /// Move assignment (an unbound source is emptied once the assignment succeeded).
    LOADSTAR_DECL void move_assign(one_state& o);
    /// Sets the target, strongly or weakly as the holder holds now (no session hooks).
    LOADSTAR_DECL void set(std::shared_ptr<void> p) noexcept;
    LOADSTAR_DECL void make_strong() noexcept;
    LOADSTAR_DECL void make_weak() noexcept;

    /// A holder that owns its target outside any session registers with its type's probe
    /// (debug.hpp; one<T>::track calls it in debug builds only).
    void track(cycle_probe_fn probe) noexcept {
        if (!link_.core && !weak_mode_ && strong_) registered_.track(this, probe);
    }
    void untrack() noexcept { registered_.untrack(this); }

    std::shared_ptr<void> strong_;
    std::weak_ptr<void> weak_;
    bool weak_mode_ = false;
    bool has_target_ = false;
    cycle_registration registered_;  // in the debug cycle registry (see track())
    mutable holder_link link_;
};
}  // namespace detail

/// A to-one relationship. `get()` returns the object (or nullptr), loading it if needed; a
/// lazy to-one whose target is already in the identity map costs no SQL.
///
/// Ownership: a many-to-one whose target maps the inverse collection (Book.author with
/// Author.books) holds its target *weakly* once the session binds it, so that parent and
/// children never keep each other alive (shared_ptr cycles would leak). While the session is
/// open its identity map holds every object (and a new object assigned to such a holder is
/// made pending, so the session holds it too); after close, touching a parent that nothing
/// else holds any more throws detached_error instead of answering nullptr. A holder not bound
/// to an open session owns what is assigned to it. See the README's Ownership section.
template <class T>
class one : private detail::one_state {
public:
    using element_type = T;

    one() = default;
    one(ptr<T> p) : one_state(std::move(p)) { track(); }  // NOLINT: implicit, as with shared_ptr
    one(std::nullptr_t) {}
    one(const one& o) : one_state() {
        copy_from(o);
        track();
    }
    ~one() = default;
    /// Takes the target over, not bound to any session. A bound source keeps its target
    /// (shared: no allocation either way).
    one(one&& o) noexcept : one_state() {
        move_from(o);
        track();
    }
    one& operator=(const one& o) {
        if (this != &o) {
            assign(o.value());
            track();
        }
        return *this;
    }
    /// As copy assignment: a bound holder may load its original target first, so this may
    /// throw (not noexcept). An unbound source is emptied once the assignment succeeded.
    one& operator=(one&& o) {
        if (this != &o) {
            move_assign(o);
            track();
        }
        return *this;
    }
    one& operator=(ptr<T> p) {
        assign(std::move(p));
        track();
        return *this;
    }
    one& operator=(std::nullptr_t) { return *this = ptr<T>{}; }

    /// The related object or nullptr, loaded on first touch. Returned by value: the holder may
    /// hold its target weakly (see the class comment).
    ptr<T> get(std::source_location w = std::source_location::current()) const {
        return std::static_pointer_cast<T>(target_via(w, nullptr));
    }
    T* operator->() const { return static_cast<T*>(target_via(std::source_location::current(), "one<T>::operator->").get()); }
    T& operator*() const { return *static_cast<T*>(target_via(std::source_location::current(), "one<T>::operator*").get()); }
    explicit operator bool() const { return target_via(std::source_location::current(), "one<T>::operator bool") != nullptr; }
    bool loaded() const noexcept { return !link_.needs_load(); }

private:
    template <class H>
    friend struct detail::holder_access;
    ptr<T> get_ptr() const { return std::static_pointer_cast<T>(value()); }
    /// Debug builds (LOADSTAR_CHECK_CYCLES, decided where the holder is used): a holder that
    /// owns its target outside any session registers, so that a cycle built by hand and let go
    /// of is reported (debug.hpp).
    void track() noexcept {
#if LOADSTAR_CHECK_CYCLES
        one_state::track(&detail::cycle_probe<one>);
#endif
    }
};

namespace detail {
/// The loader's and the session's door into holders.
template <class T>
struct holder_access<many<T>> {
    static std::vector<ptr<T>>& items(many<T>& h) noexcept { return h.items_; }
    static holder_link& link(many<T>& h) noexcept { return h.link_; }
    static void clear(many<T>& h) noexcept {
        h.items_.clear();
        h.untrack();
    }
    /// Debug builds: registers an unbound holder that owns objects (see many<T>::track).
    static void track(many<T>& h) noexcept { h.track(); }
    /// Every strong reference the holder keeps (its items and the buffers a loop may walk).
    template <class F>
    static void each_strong(const many<T>& h, F&& f) {
        for (const auto& p : h.items_) f(p);
        for (auto* r = h.retired_.get(); r; r = r->next.get())
            for (const auto& p : r->items) f(p);
    }
    /// The cycle sweep: drops every reference (nothing reaches the owner any more).
    static void drop_all(many<T>& h) noexcept {
        h.items_.clear();
        h.retired_.reset();
        h.untrack();
    }
    static void add(many<T>& h, ptr<T> p) { h.items_.push_back(std::move(p)); }
    /// back_populates: adds `item` (if absent) or removes it (if present) without invalidating
    /// the iterators of a loop that may be running over the collection: if begin()/end() ran
    /// since the buffer last changed hands, the loop keeps that buffer (retired until this
    /// holder is changed directly or destroyed) and the collection goes on in a copy.
    static void relink(many<T>& h, const ptr<T>& item, bool added) {
        auto& items = h.items_;
        auto it = items.begin();
        while (it != items.end() && *it != item) ++it;  // not std::find: an unrolled copy per T
        if (added == (it != items.end())) return;
        if (!h.iterated_) {
            if (added) items.push_back(item);
            else items.erase(it);
            return;
        }
        std::vector<ptr<T>> next;
        next.reserve(items.size() + 1);
        for (const auto& x : items)
            if (added || x != item) next.push_back(x);
        if (added) next.push_back(item);
        // The buffer moves with it: iterators stay valid.
        h.retired_.reset(new typename many<T>::retired_buffer{std::move(items), std::move(h.retired_)});
        items = std::move(next);
        h.iterated_ = false;
    }
};
template <class T>
struct holder_access<one<T>> {
    /// The target (by value: the holder may hold it weakly).
    static ptr<T> items(const one<T>& h) { return h.get_ptr(); }
    static holder_link& link(one<T>& h) noexcept { return h.link_; }
    static void clear(one<T>& h) noexcept { h.set(nullptr); }
    static void add(one<T>& h, ptr<T> p) { h.set(std::move(p)); }
    static void set(one<T>& h, ptr<T> p) { h.set(std::move(p)); }
    template <class F>
    static void each_strong(const one<T>& h, F&& f) {
        if (!h.weak_mode_ && h.strong_) f(h.strong_);
    }
    static void drop_all(one<T>& h) noexcept { h.set(nullptr); }
    /// Debug builds: registers an unbound holder that owns its target (see one<T>::track).
    static void track(one<T>& h) noexcept { h.track(); }
    static bool is_weak(const one<T>& h) noexcept { return h.weak_mode_; }
    /// The holder owns its target again (see settle_untracked in detail/holder_tables.hpp).
    static void make_strong(one<T>& h) noexcept { h.make_strong(); }
    /// From now on the target is held weakly (the session's identity map owns it).
    static void make_weak(one<T>& h) noexcept { h.make_weak(); }
};
}  // namespace detail

}  // namespace loadstar

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/relationship.ipp>
#endif
