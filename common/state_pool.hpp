// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// A port's pool of socket states: chunks of states handed out by index and
// recycled, never freed, until the port goes. No allocation per socket (a
// chunk serves `chunk_size` of them), no allocator header beside each
// state, and a state's memory stays valid for as long as the port lives,
// so a late event or completion that still names a closed state touches
// recycled memory, never freed memory.
//
// T keeps two words for the pool: `index` (its place, set once) and
// `next_free` (the free list's link while it is free).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

#include "common/fast_lock.hpp"

namespace pocore::detail {

template <class T>
class state_pool {
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);

 public:
  static constexpr std::uint32_t chunk_bits = 9;
  static constexpr std::uint32_t chunk_size = 1u << chunk_bits;
  static constexpr std::uint32_t max_chunks = 2048;  // about a million states

  state_pool() noexcept = default;
  state_pool(const state_pool&) = delete;
  state_pool& operator=(const state_pool&) = delete;
  ~state_pool() {
    for (std::uint32_t i = 0; i < used_; ++i) at(i)->~T();
    for (auto& c : chunks_) ::operator delete(c.load(std::memory_order_relaxed));
  }

  /// A free state: a recycled one as release() left it, or, the first time
  /// an index is handed out, a freshly constructed T. Null when out of
  /// memory or indices.
  T* allocate() noexcept {
    std::lock_guard lock(mutex_);
    if (free_ != 0) {
      T* s = at(free_ - 1);
      free_ = s->next_free;
      s->next_free = 0;
      return s;
    }
    if (used_ >= max_chunks * chunk_size) return nullptr;
    const std::uint32_t index = used_;
    std::atomic<void*>& c = chunks_[index >> chunk_bits];
    if (c.load(std::memory_order_relaxed) == nullptr) {
      // Raw memory: a state's pages are touched when it is first used.
      void* mem = ::operator new(sizeof(T) * chunk_size, std::nothrow);
      if (mem == nullptr) return nullptr;
      c.store(mem, std::memory_order_release);
    }
    T* s = new (static_cast<T*>(c.load(std::memory_order_relaxed)) + (index & (chunk_size - 1))) T;
    s->index = index;
    ++used_;
    return s;
  }

  /// Puts `s` on the free list; allocate() hands it out again as it is.
  void release(T& s) noexcept {
    std::lock_guard lock(mutex_);
    s.next_free = free_;
    free_ = s.index + 1;
  }

  /// The state at `index`, or null if no chunk holds it. Lock-free: chunk
  /// pointers only ever go from null to a chunk. Only indices that have
  /// been handed out name constructed states.
  T* lookup(std::uint32_t index) const noexcept {
    const std::uint32_t c = index >> chunk_bits;
    if (c >= max_chunks) return nullptr;
    void* mem = chunks_[c].load(std::memory_order_acquire);
    return mem == nullptr ? nullptr : static_cast<T*>(mem) + (index & (chunk_size - 1));
  }

  /// Calls f(T&) for every state ever handed out, free ones included.
  /// Only for a port's destructor, when no other thread uses the pool.
  template <class F>
  void for_each(F f) {
    for (std::uint32_t i = 0; i < used_; ++i) f(*at(i));
  }

 private:
  T* at(std::uint32_t index) const noexcept {
    return static_cast<T*>(chunks_[index >> chunk_bits].load(std::memory_order_relaxed)) +
           (index & (chunk_size - 1));
  }

  fast_lock mutex_;
  std::atomic<void*> chunks_[max_chunks] = {};
  std::uint32_t used_ = 0;  // indices handed out so far
  std::uint32_t free_ = 0;  // the first free state's index + 1, or 0
};

}  // namespace pocore::detail
