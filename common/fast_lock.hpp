// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// A mutex whose uncontended lock and unlock are one atomic instruction
// each, inline. The hot path takes a lock or two per operation, and
// pthread_mutex_lock/unlock cost about 30 instructions a call where this
// costs a handful. Contended, it sleeps on the word (a futex on Linux,
// WaitOnAddress on Windows through std::atomic::wait), as in Drepper's
// "Futexes are tricky", mutex 2: 0 free, 1 held, 2 held with sleepers.
// Not recursive; meets Lockable, so std::lock_guard, std::unique_lock and
// std::condition_variable_any take it.

#include <atomic>
#if defined(_WIN32) && defined(__GLIBCXX__)
#include <thread>
#endif

namespace pocore::detail {

class fast_lock {
 public:
  fast_lock() noexcept = default;
  fast_lock(const fast_lock&) = delete;
  fast_lock& operator=(const fast_lock&) = delete;

  void lock() noexcept {
    int c = 0;
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    lock_slow(c);
  }
  bool try_lock() noexcept {
    int c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) [[unlikely]]
      wake_one();
  }

 private:
  // Out of line: inlined, the wake-up would make every function that
  // unlocks save the registers the futex call clobbers.
  [[gnu::noinline, gnu::cold]] void wake_one() noexcept { state_.notify_one(); }

  void lock_slow(int c) noexcept {
    if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
#if defined(_WIN32) && defined(__GLIBCXX__)
      // MinGW's libstdc++ has no futex: its atomic wait goes through a
      // shared proxy whose wake-up was lost at least once
      // (unit.state_pool_hands_each_state_to_one_owner_at_a_time hung
      // under Wine in a CI run; suspected, not proven). Yielding cannot
      // lose a wake-up; the lock is held only for a few instructions.
      std::this_thread::yield();
#else
      state_.wait(2, std::memory_order_relaxed);
#endif
      c = state_.exchange(2, std::memory_order_acquire);
    }
  }

  std::atomic<int> state_{0};
};

}  // namespace pocore::detail
