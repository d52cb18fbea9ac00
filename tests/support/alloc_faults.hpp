// tests/support/alloc_faults.hpp - allocation failure injection: the test binary replaces the
// global operator new (alloc_faults.cpp) so that a test can make the n-th allocation of its own
// thread from now on throw std::bad_alloc. Off unless armed; other threads are never affected.
// SPDX-License-Identifier: MIT
#pragma once

namespace alloc_faults {

/// Makes the n-th allocation (operator new) of this thread from now throw std::bad_alloc;
/// 0 disarms. Only that one allocation fails.
void fail_nth(long n) noexcept;
/// True when an armed failure has fired since the last fail_nth().
bool fired() noexcept;
/// Allocations (operator new) this thread made so far.
long allocations() noexcept;
/// False where the replacement is not compiled in (AddressSanitizer builds).
bool available() noexcept;

}  // namespace alloc_faults
