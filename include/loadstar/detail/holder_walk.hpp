// loadstar/detail/holder_walk.hpp - the typed side of an entity's holder tables (declared in
// detail/holder_tables.hpp): per holder type its holder_kind, per relationship its
// holder_walk entry, per entity its holder_hooks, all constant data built from the mapping.
// The walks over them (impl/holder_walk.ipp) are ordinary code, compiled once.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/deferred.hpp>
#include <loadstar/detail/config.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/detail/holder_tables.hpp>
#include <loadstar/detail/sweep_graph.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/relationship.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loadstar::detail {

// ---- which many-to-one holders hold their target weakly (compile time) --------------------------

template <class E, std::size_t I, class T, std::size_t J>
constexpr bool is_inverse_of() {
    using RT = typename entity_meta<T>::template relationship_t<J>;
    if constexpr ((RT::kind == relation::has_many || RT::kind == relation::has_one) &&
                  std::is_same_v<typename RT::target, E>)
        return same_member<entity_meta<T>::template relationship<J>().key, entity_meta<E>::template relationship<I>().key>();
    else
        return false;
}
/// Bit J: relationship J of T is the inverse of E's relationship I (one bit per relationship).
template <class E, std::size_t I, class T, std::size_t... J>
constexpr std::uint64_t inverse_mask(std::index_sequence<J...>) {
    static_assert(sizeof...(J) <= 64, "loadstar: an entity maps at most 64 relationships");
    return ((is_inverse_of<E, I, T, J>() ? std::uint64_t{1} << J : 0) | ... | std::uint64_t{0});
}
/// A many-to-one whose target maps the inverse one-to-many / one-to-one (Book.author with
/// Author.books): holding it strongly would make a shared_ptr cycle, so it is held weakly.
template <class E, std::size_t I>
constexpr bool weak_target() {
    using R = typename entity_meta<E>::template relationship_t<I>;
    if constexpr (R::kind != relation::belongs_to) return false;
    else {
        using T = typename R::target;
        return inverse_mask<E, I, T>(std::make_index_sequence<entity_meta<T>::relationship_count>{}) != 0;
    }
}

template <class From, class To, int Depth>
constexpr bool strong_reach();
template <class From, class To, int Depth, std::size_t... I>
constexpr bool strong_reach_any(std::index_sequence<I...>) {
    return ((!weak_target<From, I>() &&
             (std::is_same_v<typename entity_meta<From>::template relationship_t<I>::target, To> ||
              strong_reach<typename entity_meta<From>::template relationship_t<I>::target, To, Depth - 1>())) ||
            ... || false);
}
/// Whether `To` is reachable from `From` through strong holders (every relationship but the
/// weak many-to-ones) in at most Depth steps; past Depth it answers true (a sweep too many
/// costs time, a sweep too few leaks).
template <class From, class To, int Depth>
constexpr bool strong_reach() {
    if constexpr (Depth == 0) return true;
    else return strong_reach_any<From, To, Depth>(std::make_index_sequence<entity_meta<From>::relationship_count>{});
}
/// Objects of E can keep themselves alive through strong holders (many-to-many mapped on both
/// sides, a self-referential collection, ...): the sweep at close must look at them. The
/// common Author.books / Book.author (weak) mapping answers false and costs nothing.
template <class E>
constexpr bool strong_cycle() {
    return strong_reach<E, E, 6>();
}

// ---- the typed data ------------------------------------------------------------------------------

/// Adds a loaded child to a holder being filled (to-many: once; to-one: set). `may_repeat`:
/// the statement can deliver this child to this holder twice, so look for it first (a linear
/// scan; statements that cannot repeat a pair skip it).
template <class H>
void attach_child(H& holder, ptr<typename H::element_type> child, bool may_repeat) {
    using A = holder_access<H>;
    if constexpr (requires { A::relink(holder, child, true); }) {
        auto& items = A::items(holder);
        if (may_repeat) {
            if (!items.empty() && items.back() == child) return;
            for (const auto& p : items)  // a plain loop: std::find compiles an unrolled copy per T
                if (p == child) return;
        }
        items.push_back(std::move(child));
    } else {
        A::set(holder, std::move(child));
    }
}

/// H's holder_kind: a collection's (many<T>); one<T> has its own below.
template <class H>
struct holder_kind_of {
    using A = holder_access<H>;
    using T = typename H::element_type;
    static constexpr bool to_many = true;
    static H& of(void* h) noexcept { return *static_cast<H*>(h); }
    static const H& of(const void* h) noexcept { return *static_cast<const H*>(h); }
    /// The non-null targets in `c` (a collection's items, or what a change_record keeps of
    /// them), appended to `out`.
    static void append(const std::vector<ptr<T>>& c, std::vector<std::shared_ptr<void>>& out) {
        out.reserve(out.size() + c.size());
        for (const auto& x : c)
            if (x) out.push_back(x);
    }
    static void items(const void* h, std::vector<std::shared_ptr<void>>& out) {
        append(A::items(const_cast<H&>(of(h))), out);
    }
    static void original_items(const std::shared_ptr<void>& original, std::vector<std::shared_ptr<void>>& out) {
        append(*static_cast<const std::vector<ptr<T>>*>(original.get()), out);
    }
    static constexpr holder_kind table = [] {
        holder_kind k;
        k.link = [](void* h) noexcept -> holder_link& { return A::link(of(h)); };
        k.clear = [](void* h) noexcept { A::clear(of(h)); };
        k.attach = [](void* h, const void* child, bool may_repeat) {
            attach_child(of(h), *static_cast<const ptr<T>*>(child), may_repeat);
        };
        k.set = [](void* h, const std::shared_ptr<void>& child) { A::add(of(h), std::static_pointer_cast<T>(child)); };
        k.items = &items;
        k.original_items = &original_items;
        k.strong_addresses = [](const void* h, void (*fn)(void*, const void*), void* ctx) {
            A::each_strong(of(h), [&](const auto& p) {
                if (p) fn(ctx, p.get());
            });
        };
        k.strong_items = [](const void* h, std::vector<std::shared_ptr<void>>& out) {
            A::each_strong(of(h), [&](const auto& p) {
                if (p) out.push_back(p);
            });
        };
        k.drop_all = [](void* h) noexcept { A::drop_all(of(h)); };
        k.track = [](void* h) noexcept { A::track(of(h)); };
        return k;
    }();
};

/// H's holder_back_kind: a collection's (many<T>); one<T> has its own below.
template <class H>
struct holder_back_of {
    using K = holder_kind_of<H>;
    using A = holder_access<H>;
    using T = typename H::element_type;
    static constexpr holder_back_kind table = [] {
        holder_back_kind b;
        b.holds = [](const void* h, const void* item) {
            bool holds = false;
            A::each_strong(K::of(h), [&](const auto& p) {
                if (p.get() == item) holds = true;
            });
            return holds;
        };
        b.relink = [](void* h, const std::shared_ptr<void>& item, bool added) {
            A::relink(K::of(h), std::static_pointer_cast<T>(item), added);
        };
        return b;
    }();
};

// ---- one<T>: the entries every target type shares (impl/holder_walk.ipp) ------------------------

LOADSTAR_DECL holder_link& one_link(void* h) noexcept;
LOADSTAR_DECL void one_clear(void* h) noexcept;
LOADSTAR_DECL void one_set(void* h, const std::shared_ptr<void>& child);
LOADSTAR_DECL void one_items(const void* h, std::vector<std::shared_ptr<void>>& out);
LOADSTAR_DECL void one_original_items(const std::shared_ptr<void>& original, std::vector<std::shared_ptr<void>>& out);
LOADSTAR_DECL void one_strong_addresses(const void* h, void (*fn)(void*, const void*), void* ctx);
LOADSTAR_DECL void one_strong_items(const void* h, std::vector<std::shared_ptr<void>>& out);
LOADSTAR_DECL bool one_is_weak(const void* h) noexcept;
LOADSTAR_DECL std::shared_ptr<void> one_target(const void* h) noexcept;
LOADSTAR_DECL void one_make_strong(void* h) noexcept;
LOADSTAR_DECL void one_make_weak(void* h);
LOADSTAR_DECL bool one_holds(const void* h, const void* item);
LOADSTAR_DECL void one_relink(void* h, const std::shared_ptr<void>& item, bool added);

/// one<T>'s holder_kind: the erased entries above, and the two that know T (a loaded child
/// arrives as a `const ptr<T>*`; the debug probe reads T's mapping).
template <class T>
struct holder_kind_of<one<T>> {
    static_assert(std::is_standard_layout_v<one<T>>,
                  "loadstar: one<T> must be standard-layout: its tables reach its one_state at its address");
    static constexpr bool to_many = false;
    static constexpr holder_kind table = [] {
        holder_kind k;
        k.link = &one_link;
        k.clear = &one_clear;
        k.attach = [](void* h, const void* child, bool) {
            one_set(h, *static_cast<const ptr<T>*>(child));
        };
        k.set = &one_set;
        k.items = &one_items;
        k.original_items = &one_original_items;
        k.strong_addresses = &one_strong_addresses;
        k.strong_items = &one_strong_items;
        k.drop_all = &one_clear;
        k.track = [](void* h) noexcept { holder_access<one<T>>::track(*static_cast<one<T>*>(h)); };
        k.is_weak = &one_is_weak;
        k.target = &one_target;
        k.make_strong = &one_make_strong;
        k.make_weak = &one_make_weak;
        return k;
    }();
};
template <class T>
struct holder_back_of<one<T>> {
    static constexpr holder_back_kind table = [] {
        holder_back_kind b;
        b.holds = &one_holds;
        b.relink = &one_relink;
        b.assign = &one_set;
        return b;
    }();
};

/// Whether some relationship of the target of relationship I of E names it in back_populates:
/// only then does the flush or back_populates set, relink or search its holder.
template <class E, std::size_t I, class T, std::size_t... J>
constexpr bool named_back(std::index_sequence<J...>) {
    using R = typename entity_meta<E>::template relationship_t<I>;
    auto names_it = []<std::size_t K>(std::integral_constant<std::size_t, K>) {
        using B = typename entity_meta<T>::template relationship_t<K>::back;
        if constexpr (B::present) return same_member<B::member, R::member>();
        else return false;
    };
    (void)names_it;  // T may have no relationships
    return (names_it(std::integral_constant<std::size_t, J>{}) || ... || false);
}
template <class E, std::size_t I>
constexpr bool is_back_of_some() {
    using T = typename entity_meta<E>::template relationship_t<I>::target;
    return named_back<E, I, T>(std::make_index_sequence<entity_meta<T>::relationship_count>{});
}

/// E's table through a function: the tables of related entities refer to each other.
template <class E>
const holder_hooks& hooks_of() noexcept;

/// E's relationship I as a walk entry.
template <class E, std::size_t I>
constexpr holder_walk walk_of() {
    using R = typename entity_meta<E>::template relationship_t<I>;
    using T = typename R::target;
    holder_walk w;
    w.at = [](void* owner) noexcept -> void* { return &(static_cast<E*>(owner)->*(R::member)); };
    w.kind = &holder_kind_of<typename R::holder>::table;
    if constexpr (is_back_of_some<E, I>()) w.back = &holder_back_of<typename R::holder>::table;
    w.target_hooks = &hooks_of<T>;
    w.name = &member_name<R::member>;
    w.weak = weak_target<E, I>();
    w.inverse = inverse_mask<E, I, T>(std::make_index_sequence<entity_meta<T>::relationship_count>{});
    return w;
}

template <class E>
struct holder_hooks_of {
    using meta = entity_meta<E>;
    static constexpr auto walks = []<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<holder_walk, sizeof...(I)>{walk_of<E, I>()...};
    }(std::make_index_sequence<meta::relationship_count>{});
    template <std::size_t J>
    static holder_link& deferred_link(void* owner) noexcept {
        using C = typename meta::template column_t<J>;
        return holder_access<typename C::type>::link(static_cast<E*>(owner)->*(C::member));
    }
    using link_fn = holder_link& (*)(void*) noexcept;
    template <std::size_t J>
    static constexpr link_fn deferred_link_of() {
        if constexpr (meta::template column_t<J>::is_deferred) return &deferred_link<J>;
        else return nullptr;
    }
    static constexpr auto deferred = []<std::size_t... J>(std::index_sequence<J...>) {
        constexpr std::size_t n = (std::size_t{0} + ... + (meta::template column_t<J>::is_deferred ? 1 : 0));
        std::array<link_fn, n> out{};
        std::size_t k = 0;
        // By the flag, not by comparing the pointers with null: under -fsanitize GCC does not
        // take a function's address being non-null as a constant.
        ((meta::template column_t<J>::is_deferred ? void(out[k++] = deferred_link_of<J>()) : void()), ...);
        return out;
    }(std::make_index_sequence<meta::column_count>{});
    static constexpr holder_hooks table = [] {
        holder_hooks h;
        h.rels = {walks.data(), walks.size()};
        h.deferred = {deferred.data(), deferred.size()};
        h.may_cycle = strong_cycle<E>();
        for (const auto& w : walks) h.any_weak = h.any_weak || w.weak;
        return h;
    }();
};

template <class E>
const holder_hooks& hooks_of() noexcept {
    return holder_hooks_of<E>::table;
}

/// Typed entry: unbinds obj's holders (the session forgets it).
template <class E>
void detach_holders(E& obj) noexcept {
    detach_holders(holder_hooks_of<E>::table, &obj);
}

}  // namespace loadstar::detail
