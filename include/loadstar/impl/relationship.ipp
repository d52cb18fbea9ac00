// loadstar/impl/relationship.ipp - touching an unloaded holder (relationship.hpp): the same
// code for every holder type, so compiled once (src.hpp) when compiled separately.
// Included by relationship.hpp (header-only, the default) or compiled once by <loadstar/src.hpp>
// (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/relationship.hpp>

#include <string>

namespace loadstar::detail {

LOADSTAR_DECL void touch(holder_link& link, const std::source_location& where, const char* via) {
    if (link.mode == holder_mode::raise)
        throw raise_load_error("loadstar: " + (link.vt ? link.vt->name() : std::string("relationship")) +
                               " is not loaded and its loader strategy is raise (touched " +
                               (via ? std::string("through ") + via +
                                          ", which cannot report its caller's line: touch it with "
                                          "get() or at() to have the line reported)"
                                    : std::string("at ") + where.file_name() + ":" +
                                          std::to_string(where.line()) + ")"));
    if (!link.core || !link.vt) {
        throw detached_error("loadstar: " + (link.vt ? link.vt->name() : std::string("a relationship")) +
                             " is not loaded and its object is not attached to an open session");
    }
    link.vt->lazy_load(*link.core, *link.vt, link.owner, where);
}

}  // namespace loadstar::detail
