// loadstar/loader/selectin.hpp - the selectin strategy: after the parents' statement, a second
// statement selects the children of all of them by key (`WHERE fk IN (?, ...)` in batches
// within the driver's bind limit, or `= ANY(?)` with one array where the driver binds arrays).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

#include <cstdint>
#include <string>
#include <type_traits>
#include <memory>
#include <vector>

namespace loadstar::detail {

/// The statements of a selectin load over `keys` after `head` (the statement up to its key
/// condition): one `= ANY(?)` where the driver binds arrays (integral keys), else `IN (?, ...)`
/// batches of at most `batch_size` keys within the driver's bind limit, each written with
/// in_list_length() placeholders (the last key repeated) so that the statement cache sees a few
/// texts per relationship, not one per number of keys. Ordinary code: integral keys of any
/// type arrive as 64-bit integers, other keys as bind values.
LOADSTAR_DECL void selectin_batches(load_context& ctx, std::vector<std::int64_t> keys, const std::string& head,
                                    std::size_t batch_size, std::vector<batch>& out);
LOADSTAR_DECL void selectin_batches(load_context& ctx, const std::vector<value>& keys, const std::string& head,
                                    std::size_t batch_size, std::vector<batch>& out);
/// "SELECT [child key,] child columns FROM child ... WHERE child key": the statement of a
/// selectin load of relationship `r` up to its key condition, the child's plan `cp`.
LOADSTAR_DECL std::string selectin_prefix(const rel_names& r, const plan_desc& cp);
/// The tail a subquery load nested under a selectin load builds on: the FROM/WHERE of batch `b`.
LOADSTAR_DECL tail selectin_tail(const rel_names& r, const batch& b);

template <class Key>
    requires(!std::is_same_v<Key, std::int64_t> && !std::is_same_v<Key, value>)
void selectin_batches(load_context& ctx, const std::vector<Key>& keys, const std::string& head, std::size_t batch_size,
                      std::vector<batch>& out) {
    if constexpr (std::is_integral_v<Key>) {
        std::vector<std::int64_t> ints;
        ints.reserve(keys.size());
        for (const Key& k : keys) ints.push_back(get<std::int64_t>(to_value(k)));
        selectin_batches(ctx, std::move(ints), head, batch_size, out);
    } else {
        std::vector<value> values;
        values.reserve(keys.size());
        for (const Key& k : keys) values.push_back(to_value(k));
        selectin_batches(ctx, values, head, batch_size, out);
    }
}

/// The selectin load of a relationship (rd.ops) of a node's objects (`objs`): claims the
/// holders it fills and computes its statements; the job runs them and fills the holders.
/// Ordinary code over the relationship's rel_ops (one path for integral keys, one for others).
/// A template only so that a header-only translation unit compiles it (and its key maps) only
/// where a plan names the strategy; compiled separately, it is compiled once, in src.hpp.
template <class = void>
std::unique_ptr<followup_job> selectin_begin(load_context& ctx, const rel_desc& rd, const object_list& objs, const tail*);
#if defined(LOADSTAR_SEPARATE_COMPILATION)
extern template std::unique_ptr<followup_job> selectin_begin<>(load_context&, const rel_desc&, const object_list&,
                                                                const tail*);
#endif

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/selectin.ipp>
#endif
