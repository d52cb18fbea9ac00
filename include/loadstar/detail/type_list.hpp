// loadstar/detail/type_list.hpp - the one small type list, and pack helpers.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

namespace loadstar::detail {

template <class... Ts>
struct type_list {
    static constexpr std::size_t size = sizeof...(Ts);
};

template <class List, class T>
struct push_back;
template <class... Ts, class T>
struct push_back<type_list<Ts...>, T> {
    using type = type_list<Ts..., T>;
};

template <class T, class List>
struct contains;
template <class T, class... Ts>
struct contains<T, type_list<Ts...>> : std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};

/// Calls `f(std::integral_constant<std::size_t, I>{})` for I in [0, N), in order.
template <std::size_t N, class F>
constexpr void for_each_index(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f(std::integral_constant<std::size_t, I>{}), ...);
    }(std::make_index_sequence<N>{});
}

template <class T>
struct member_traits;
template <class T>
struct member_traits<const T> : member_traits<T> {};
template <class C, class M>
struct member_traits<M C::*> {
    using class_type = C;
    using member_type = M;
};
template <auto Member>
using member_class_t = typename member_traits<std::remove_cv_t<decltype(Member)>>::class_type;
template <auto Member>
using member_type_t = typename member_traits<std::remove_cv_t<decltype(Member)>>::member_type;

/// Member pointers of different types never name the same member.
template <auto A, auto B>
constexpr bool same_member() {
    if constexpr (std::is_same_v<std::remove_cv_t<decltype(A)>, std::remove_cv_t<decltype(B)>>) return A == B;
    else return false;
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
inline constexpr bool is_optional_v = is_optional<T>::value;

template <class T>
struct unwrap_optional {
    using type = T;
};
template <class T>
struct unwrap_optional<std::optional<T>> {
    using type = T;
};
template <class T>
using unwrap_optional_t = typename unwrap_optional<T>::type;

template <class...>
inline constexpr bool dependent_false = false;

}  // namespace loadstar::detail

namespace loadstar::detail {
template <class A, class B>
struct type_list_cat;
template <class... A, class... B>
struct type_list_cat<type_list<A...>, type_list<B...>> {
    using type = type_list<A..., B...>;
};
}  // namespace loadstar::detail
