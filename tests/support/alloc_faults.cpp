// tests/support/alloc_faults.cpp - the replaced global operator new of the test binary (see
// alloc_faults.hpp). Plain malloc / free underneath, so the sanitizers still see every block.
// SPDX-License-Identifier: MIT
#include "alloc_faults.hpp"

#include <cstdlib>
#include <new>

namespace {
thread_local long countdown = 0;
thread_local bool has_fired = false;
thread_local long count = 0;
}  // namespace

namespace alloc_faults {
void fail_nth(long n) noexcept {
    countdown = n;
    has_fired = false;
}
bool fired() noexcept { return has_fired; }
long allocations() noexcept { return count; }
bool available() noexcept {
#if defined(__SANITIZE_ADDRESS__)
    return false;
#else
    return true;
#endif
}
}  // namespace alloc_faults

#if !defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer the sanitizer's own operator new stays (replacing it makes ASan report
// alloc-dealloc mismatches for blocks allocated before main): injection is unavailable there.
void* operator new(std::size_t n) {
    ++count;
    if (countdown > 0 && --countdown == 0) {
        has_fired = true;
        throw std::bad_alloc();
    }
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif
