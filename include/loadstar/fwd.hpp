// loadstar/fwd.hpp - forward declarations, so model headers can specialize mapping<T> cheaply.
// SPDX-License-Identifier: MIT
#pragma once

#include <memory>

namespace loadstar {

/// The one extension point: `template <> struct loadstar::mapping<Author> { static constexpr
/// auto table = loadstar::table("authors", ...); };`. The primary template is left undefined.
template <class Entity>
struct mapping;

/// Objects are shared: within one session, one primary key is one `ptr`.
template <class T>
using ptr = std::shared_ptr<T>;

template <class T>
class many;
template <class T>
class one;

class engine;
class session;

/// How a relationship is loaded.
enum class strategy { lazy, joined, selectin, subquery, raise };

}  // namespace loadstar
