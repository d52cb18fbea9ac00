// loadstar/deferred.hpp - deferred<T>: a column that can be left out of a query and loads
// itself through its session on first touch.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/relationship.hpp>

#include <source_location>
#include <type_traits>
#include <utility>

namespace loadstar {

/// A column member that `ls::defer<&T::m>` / `ls::load_only<...>` may leave unloaded. Reading
/// it (`get()`, or the conversion to `const T&`) loads it with one SELECT through its session,
/// or throws detached_error once the session is closed: an unloaded column is never silently
/// a default value. Plain members cannot be deferred, because C++ cannot intercept their reads.
///
/// ```cpp
/// struct Profile { std::int64_t id{}; ls::deferred<std::string> bio; };
/// auto p = s.query<Profile>().options(ls::defer<&Profile::bio>).first();   // bio not selected
/// std::string b = p->bio.get();                                            // SELECT bio ...
/// ```
template <class T>
class deferred {
public:
    using value_type = T;

    deferred() = default;
    deferred(T v) : value_(std::move(v)) {}  // NOLINT: implicit, like the T it holds
    deferred(const deferred& o) : value_(o.value_) {
        link_.state = o.link_.state == detail::holder_state::loaded ? detail::holder_state::loaded
                                                                      : detail::holder_state::unloaded;
    }
    deferred& operator=(const deferred& o) { return *this = o.get(); }
    deferred& operator=(T v) {
        value_ = std::move(v);
        link_.state = detail::holder_state::loaded;
        return *this;
    }

    /// The value, loaded on first touch if the query deferred it.
    const T& get(std::source_location w = std::source_location::current()) const {
        if (link_.needs_load()) [[unlikely]]
            detail::touch(link_, w);
        return value_;
    }
    operator const T&() const { return get(); }  // NOLINT: reads like the plain member
    bool loaded() const noexcept { return !link_.needs_load(); }

    friend bool operator==(const deferred& a, const deferred& b) { return a.get() == b.get(); }

private:
    template <class H>
    friend struct detail::holder_access;
    T value_{};
    mutable detail::holder_link link_;
};

namespace detail {
template <class T>
struct is_deferred : std::false_type {};
template <class T>
struct is_deferred<deferred<T>> : std::true_type {};
template <class T>
inline constexpr bool is_deferred_v = is_deferred<T>::value;
template <class T>
struct unwrap_deferred {
    using type = T;
};
template <class T>
struct unwrap_deferred<deferred<T>> {
    using type = T;
};
template <class T>
using unwrap_deferred_t = typename unwrap_deferred<T>::type;

template <class T>
struct holder_access<deferred<T>> {
    static T& items(deferred<T>& h) noexcept { return h.value_; }
    static holder_link& link(deferred<T>& h) noexcept { return h.link_; }
};
}  // namespace detail

}  // namespace loadstar
