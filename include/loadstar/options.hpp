// loadstar/options.hpp - loader options as types: lazyload, joinedload, selectinload,
// subqueryload, raiseload (nested with .then), raiseload_all, contains_eager.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/type_list.hpp>
#include <loadstar/fwd.hpp>
#include <loadstar/mapping.hpp>

#include <cstddef>
#include <type_traits>

namespace loadstar {

namespace detail {
struct option_tag {};
inline constexpr std::size_t default_batch_size = 500;
}  // namespace detail

/// A loader option: strategy `S` for the relationship held by `Member`, with options for the
/// related entity's own relationships nested in `Children`. Values of distinct types: the plan
/// a query runs is fixed at compile time.
template <strategy S, auto Member, std::size_t Batch, class... Children>
struct load_option : detail::option_tag {
    static constexpr strategy kind = S;
    static constexpr auto member = Member;
    static constexpr std::size_t batch = Batch;
    using children = detail::type_list<Children...>;

    /// Options for the relationships of the related entity:
    /// `selectinload<&Author::books>.then(joinedload<&Book::publisher>)`.
    template <class... More>
    constexpr load_option<S, Member, Batch, Children..., More...> then(More...) const {
        static_assert((std::is_base_of_v<detail::option_tag, More> && ...),
                      "loadstar: then() takes loader options");
        return {};
    }
    /// Keys per selectin statement (default 500; never above the driver's bind limit).
    template <std::size_t N>
    constexpr load_option<S, Member, N, Children...> batch_size() const {
        static_assert(S == strategy::selectin, "loadstar: batch_size applies to selectinload");
        static_assert(N > 0, "loadstar: batch_size must be positive");
        return {};
    }
};

template <auto Member>
inline constexpr load_option<strategy::lazy, Member, detail::default_batch_size> lazyload{};
template <auto Member>
inline constexpr load_option<strategy::joined, Member, detail::default_batch_size> joinedload{};
template <auto Member>
inline constexpr load_option<strategy::selectin, Member, detail::default_batch_size> selectinload{};
template <auto Member>
inline constexpr load_option<strategy::subquery, Member, detail::default_batch_size> subqueryload{};
template <auto Member>
inline constexpr load_option<strategy::raise, Member, detail::default_batch_size> raiseload{};

/// Every relationship, at any depth, that no other option names refuses to load.
struct raiseload_all_t : detail::option_tag {};
inline constexpr raiseload_all_t raiseload_all{};

/// Fill the relationship from the query's explicit `join<&M>()` instead of another statement.
template <auto Member>
struct contains_eager_t : detail::option_tag {
    static constexpr auto member = Member;
};
template <auto Member>
inline constexpr contains_eager_t<Member> contains_eager{};

/// Select only these columns (and the primary key); every other column is deferred, so each
/// must be declared `loadstar::deferred<T>`: it loads on first touch.
template <auto... Members>
struct load_only_t : detail::option_tag {};
template <auto... Members>
inline constexpr load_only_t<Members...> load_only{};

/// Leave one column out of the SELECT; it must be a `loadstar::deferred<T>` member, which
/// loads itself on first touch.
template <auto Member>
struct defer_t : detail::option_tag {};
template <auto Member>
inline constexpr defer_t<Member> defer{};

}  // namespace loadstar
