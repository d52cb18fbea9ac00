// loadstar/impl/loader_keys.ipp - what every load does after its statement: claiming holders, follow-ups.
// Included by loader/keys.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loader/keys.hpp>

namespace loadstar::detail {

LOADSTAR_DECL void post_load(load_context& ctx, const plan_desc& p, node_base& n, const tail* t) {
    if (p.followups_fn && !n.empty()) p.followups_fn(ctx, p, n, t);
}

}  // namespace loadstar::detail
