// loadstar/detail/dense_map.hpp - the hash map behind the identity map: entries stored densely
// in one vector, an open-addressing index of 8-byte slots beside it.
//
// Why not std::unordered_map: hydration inserts one entry per loaded row, and a node-based map
// pays a heap allocation per entry, pointer-chasing rehashes while it grows, and a walk over
// scattered nodes at teardown. Profiling a 10,000 x 10 selectin load put the rehash alone at 5%
// of the run. Here an insert appends to a vector (amortised, moves are cheap), growth rebuilds
// only the small slot array, and iteration is a linear scan. The layout follows the "dense map"
// design of open-addressing tables such as ankerl::unordered_dense (values in a vector, an index
// of (fingerprint, position) slots, linear probing with backward-shift deletion); this is a
// small implementation of that idea, written for this project.
//
// The entries live in a chunked_vector (below): chunks that never move, so the table grows
// without copying its entries or holding growth slack beyond one chunk.
//
// Differences from std::unordered_map that callers rely on (and must): erase(it) moves the last
// entry into the erased position and returns an iterator to it, so erase-while-iterating visits
// every entry exactly once; references and iterators are invalidated by any insert or erase.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace loadstar::detail {

/// The entry storage of dense_map: a sequence in chunks of a fixed power-of-two size (at most
/// 64 KiB each) that never move once allocated, so growth neither copies the entries nor keeps
/// up to half of one big block unused (a std::vector of 100,000 identity-map entries held 1.31x
/// their size and its growth was 5% of a tracked load: memmove and page faults of the new
/// block). Below one chunk the first chunk grows like a vector (small sessions stay small).
/// Only the operations dense_map needs: push at the end, pop the last, index, iterate.
template <class T>
class chunked_vector {
    static_assert(std::is_nothrow_move_constructible_v<T>, "chunked_vector moves entries only without throwing");
    static constexpr std::size_t shift = [] {
        std::size_t s = 0;
        while ((std::size_t{2} << s) * sizeof(T) <= 64 * 1024) ++s;
        return s;
    }();

public:
    static constexpr std::size_t chunk = std::size_t{1} << shift;
    static constexpr std::size_t mask = chunk - 1;

    template <bool Const>
    class iter {
        using owner = std::conditional_t<Const, const chunked_vector, chunked_vector>;
        owner* v_ = nullptr;
        std::size_t i_ = 0;
        friend class chunked_vector;
        template <bool>
        friend class iter;

    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        using reference = std::conditional_t<Const, const T&, T&>;
        using pointer = std::conditional_t<Const, const T*, T*>;
        iter() = default;
        iter(owner* v, std::size_t i) : v_(v), i_(i) {}
        template <bool C = Const, class = std::enable_if_t<C>>
        iter(const iter<false>& o) : v_(o.v_), i_(o.i_) {}
        reference operator*() const { return (*v_)[i_]; }
        pointer operator->() const { return &(*v_)[i_]; }
        iter& operator++() {
            ++i_;
            return *this;
        }
        iter operator++(int) {
            iter t = *this;
            ++i_;
            return t;
        }
        iter operator+(std::ptrdiff_t n) const { return {v_, i_ + static_cast<std::size_t>(n)}; }
        std::ptrdiff_t operator-(const iter& o) const { return static_cast<std::ptrdiff_t>(i_) - static_cast<std::ptrdiff_t>(o.i_); }
        bool operator==(const iter& o) const { return i_ == o.i_; }
        bool operator!=(const iter& o) const { return i_ != o.i_; }
        std::size_t index() const { return i_; }
    };
    using iterator = iter<false>;
    using const_iterator = iter<true>;

    chunked_vector() = default;
    chunked_vector(chunked_vector&& o) noexcept
        : chunks_(std::move(o.chunks_)), size_(std::exchange(o.size_, 0)), cap0_(std::exchange(o.cap0_, 0)) {
        o.chunks_.clear();
    }
    chunked_vector& operator=(chunked_vector&& o) noexcept {
        if (this != &o) {
            release();
            chunks_ = std::move(o.chunks_);
            o.chunks_.clear();
            size_ = std::exchange(o.size_, 0);
            cap0_ = std::exchange(o.cap0_, 0);
        }
        return *this;
    }
    chunked_vector(const chunked_vector& o) {
        try {
            for (const T& x : o) emplace_back(x);
        } catch (...) {
            release();
            throw;
        }
    }
    chunked_vector& operator=(const chunked_vector& o) {
        if (this != &o) {
            chunked_vector t(o);
            *this = std::move(t);
        }
        return *this;
    }
    ~chunked_vector() { release(); }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T& operator[](std::size_t i) noexcept { return chunks_[i >> shift][i & mask]; }
    const T& operator[](std::size_t i) const noexcept { return chunks_[i >> shift][i & mask]; }
    T& back() noexcept { return (*this)[size_ - 1]; }
    iterator begin() noexcept { return {this, 0}; }
    iterator end() noexcept { return {this, size_}; }
    const_iterator begin() const noexcept { return {this, 0}; }
    const_iterator end() const noexcept { return {this, size_}; }

    template <class... A>
    T& emplace_back(A&&... a) {
        if (size_ == capacity()) grow();
        T* p = &(*this)[size_];
        std::construct_at(p, std::forward<A>(a)...);
        ++size_;
        return *p;
    }
    void pop_back() noexcept {
        --size_;
        std::destroy_at(&(*this)[size_]);
    }

private:
    std::vector<T*> chunks_;  // chunk 0 holds cap0_ entries (chunk once a second chunk exists)
    std::size_t size_ = 0;
    std::size_t cap0_ = 0;

    std::size_t capacity() const noexcept { return chunks_.size() <= 1 ? cap0_ : chunks_.size() * chunk; }
    static T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    static void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>{}.deallocate(p, n); }

    void grow() {
        if (chunks_.empty()) {
            chunks_.reserve(1);
            cap0_ = chunk < 8 ? chunk : 8;
            chunks_.push_back(allocate(cap0_));
        } else if (cap0_ < chunk) {
            // The first chunk grows like a vector until it is a whole chunk.
            const std::size_t cap = cap0_ * 2 < chunk ? cap0_ * 2 : chunk;
            T* fresh = allocate(cap);
            T* old = chunks_[0];
            for (std::size_t i = 0; i < size_; ++i) {
                std::construct_at(fresh + i, std::move(old[i]));
                std::destroy_at(old + i);
            }
            deallocate(old, cap0_);
            chunks_[0] = fresh;
            cap0_ = cap;
        } else {
            chunks_.reserve(chunks_.size() + 1);
            chunks_.push_back(allocate(chunk));
        }
    }
    void release() noexcept {
        for (std::size_t i = 0; i < size_; ++i) std::destroy_at(&(*this)[i]);
        for (std::size_t c = 0; c < chunks_.size(); ++c) deallocate(chunks_[c], c == 0 ? cap0_ : chunk);
        chunks_.clear();
        size_ = 0;
        cap0_ = 0;
    }
};

template <class K, class V, class Hash = std::hash<K>>
class dense_map {
public:
    using value_type = std::pair<K, V>;
    using iterator = typename chunked_vector<value_type>::iterator;
    using const_iterator = typename chunked_vector<value_type>::const_iterator;

    iterator begin() noexcept { return items_.begin(); }
    iterator end() noexcept { return items_.end(); }
    const_iterator begin() const noexcept { return items_.begin(); }
    const_iterator end() const noexcept { return items_.end(); }
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }

    iterator find(const K& k) {
        if (items_.empty()) return end();
        const std::uint64_t h = mix(k);
        for (std::size_t i = home(h);; i = next(i)) {
            const slot s = slots_[i];
            if (s.index == 0) return end();
            if (s.fingerprint == fingerprint(h) && items_[s.index - 1].first == k)
                return items_.begin() + static_cast<std::ptrdiff_t>(s.index - 1);
        }
    }
    const_iterator find(const K& k) const { return const_iterator(const_cast<dense_map&>(*this).find(k)); }

    /// Inserts (k, v) unless k is present; returns the entry for k and whether it is new.
    template <class... A>
    std::pair<iterator, bool> emplace(const K& k, A&&... a) {
        return place(k, false, std::forward<A>(a)...);
    }
    template <class M>
    std::pair<iterator, bool> insert_or_assign(const K& k, M&& v) {
        return place(k, true, std::forward<M>(v));
    }

    /// Removes the entry at `it`; the last entry moves into its place. Returns an iterator to
    /// the entry now at that position (end() if `it` was the last).
    iterator erase(iterator it) {
        const std::size_t pos = it.index();
        unlink(slot_of(pos));
        const std::size_t last = items_.size() - 1;
        if (pos != last) {
            slots_[slot_of(last)].index = static_cast<std::uint32_t>(pos + 1);
            items_[pos] = std::move(items_[last]);
        }
        items_.pop_back();
        return items_.begin() + static_cast<std::ptrdiff_t>(pos);
    }

private:
    // index: position in items_ + 1 (0 = empty slot); fingerprint: the hash's low 32 bits,
    // which also give the slot's home position (tables stay below 2^32 slots).
    struct slot {
        std::uint32_t index = 0;
        std::uint32_t fingerprint = 0;
    };
    chunked_vector<value_type> items_;
    std::vector<slot> slots_;

    static std::uint64_t scramble(std::uint64_t x) {  // splitmix64's finaliser
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBull;
        return x ^ (x >> 31);
    }
    /// The slot hash; its low bits pick the home slot. Integer keys keep their low three bits
    /// (XORed with a scramble of the rest): eight consecutive ids share one 64-byte line of
    /// slots, and rows mostly arrive in id order, so a load of 100,000 rows misses the cache
    /// once per eight lookups instead of once per lookup (the slot load was 10% of a selectin
    /// load with a fully scrambled hash). Groups of eight still land at scrambled places, so
    /// keys with patterns in their low bits (multiples of 2^20) spread like any others.
    static std::uint64_t mix(const K& k) {
        if constexpr (std::is_integral_v<K>) {
            const auto u = static_cast<std::uint64_t>(k);
            return u ^ (scramble(u >> 3) << 3);
        } else {
            return scramble(static_cast<std::uint64_t>(Hash{}(k)));
        }
    }
    static std::uint32_t fingerprint(std::uint64_t h) { return static_cast<std::uint32_t>(h); }
    std::size_t home(std::uint64_t h) const { return static_cast<std::size_t>(h) & (slots_.size() - 1); }
    std::size_t home_of(slot s) const { return std::size_t{s.fingerprint} & (slots_.size() - 1); }
    std::size_t next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }

    static std::size_t capacity_for(std::size_t n) {
        std::size_t c = 16;
        while (c < n * 2) c *= 2;  // load factor at most 1/2
        return c;
    }

    /// Grows the slot array. A slot's fingerprint is its hash's low 32 bits, which give its
    /// home at any table size, so the old slots move without reading the entries or hashing
    /// again (growth rehashed every key from items_ before: 2.5% of a 100,000-row tracked load).
    void rebuild(std::size_t cap) {
        std::vector<slot> old(cap);
        old.swap(slots_);
        for (const slot s : old) {
            if (s.index == 0) continue;
            std::size_t i = home_of(s);
            while (slots_[i].index != 0) i = next(i);
            slots_[i] = s;
        }
    }

    // Never inlined: one out-of-line insert per map type (compiled once in src.hpp for the
    // common ones) rather than a copy in every caller.
    template <class... A>
    [[gnu::noinline]] std::pair<iterator, bool> place(const K& k, bool assign, A&&... a) {
        if ((items_.size() + 1) * 2 > slots_.size()) rebuild(capacity_for(items_.size() + 1));
        const std::uint64_t h = mix(k);
        std::size_t i = home(h);
        for (;; i = next(i)) {
            const slot s = slots_[i];
            if (s.index == 0) break;
            if (s.fingerprint == fingerprint(h) && items_[s.index - 1].first == k) {
                auto it = items_.begin() + static_cast<std::ptrdiff_t>(s.index - 1);
                if (assign) it->second = V(std::forward<A>(a)...);
                return {it, false};
            }
        }
        items_.emplace_back(std::piecewise_construct, std::forward_as_tuple(k),
                            std::forward_as_tuple(std::forward<A>(a)...));
        slots_[i] = slot{static_cast<std::uint32_t>(items_.size()), fingerprint(h)};
        return {items_.begin() + static_cast<std::ptrdiff_t>(items_.size() - 1), true};
    }

    /// The slot that points at items_[pos].
    std::size_t slot_of(std::size_t pos) const {
        std::size_t i = home(mix(items_[pos].first));
        while (slots_[i].index != pos + 1) i = next(i);
        return i;
    }

    /// Empties slot `hole` and shifts later members of its probe run back, so that every
    /// entry stays reachable from its home without tombstones.
    void unlink(std::size_t hole) {
        for (std::size_t j = next(hole);; j = next(j)) {
            const slot s = slots_[j];
            if (s.index == 0) break;
            const std::size_t h = home_of(s);
            // s may move into the hole unless its home lies cyclically in (hole, j].
            const bool stays = hole < j ? (h > hole && h <= j) : (h > hole || h <= j);
            if (!stays) {
                slots_[hole] = s;
                hole = j;
            }
        }
        slots_[hole] = slot{};
    }
};

#if defined(LOADSTAR_SEPARATE_COMPILATION)
// The sets of objects every load keeps (load_node::seen) and the sweep's index: one type each
// for every program, compiled once in src.hpp (session_core.ipp).
extern template class chunked_vector<std::pair<const void*, char>>;
extern template class dense_map<const void*, char>;
extern template std::pair<dense_map<const void*, char>::iterator, bool>
dense_map<const void*, char>::place<int>(const void* const&, bool, int&&);
extern template class chunked_vector<std::pair<const void*, std::size_t>>;
extern template class dense_map<const void*, std::size_t>;
extern template std::pair<dense_map<const void*, std::size_t>::iterator, bool>
dense_map<const void*, std::size_t>::place<std::size_t>(const void* const&, bool, std::size_t&&);
#endif

}  // namespace loadstar::detail
