// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <type_traits>

#include "common/backend.hpp"
#include "pocore/detail/handler.hpp"

// The slow paths stay out of line so the fast ones save no registers.
#if defined(__GNUC__)
#define POCORE_POOL_COLD __attribute__((noinline, cold))
#elif defined(_MSC_VER)
#define POCORE_POOL_COLD __declspec(noinline)
#else
#define POCORE_POOL_COLD
#endif

namespace pocore::detail {
namespace {

// Size class for a block: 0 → 64 bytes, 1 → 128, ... classes-1 → 2048.
// Larger blocks bypass the pool.
constexpr std::size_t min_block = 64;
constexpr int min_block_log2 = 6;
static_assert(std::size_t{1} << min_block_log2 == min_block);

// The smallest c with (min_block << c) >= size, without a loop.
// (size 0 wraps to a class past the last and so bypasses the pool.)
inline std::size_t class_of(std::size_t size) noexcept {
  return static_cast<std::size_t>(std::bit_width((size - 1) >> min_block_log2));
}

std::size_t class_size(std::size_t c) noexcept { return min_block << c; }

// The calling thread's identity: the address of a thread-local object is
// distinct for every live thread and costs no call to take.
thread_local char thread_tag = 0;
inline const void* this_thread_tag() noexcept { return &thread_tag; }

}  // namespace

handler_pool::~handler_pool() {
  // The port is being destroyed: no thread uses the pool any more, so both
  // sets of lists can be freed from here.
  for (std::size_t c = 0; c < classes; ++c) {
    while (block* b = free_[c]) {
      free_[c] = b->next;
      ::operator delete(b);
    }
    while (block* b = local_[c]) {
      local_[c] = b->next;
      ::operator delete(b);
    }
  }
}

inline void* handler_pool::allocate(std::size_t size) {
  const std::size_t c = class_of(size);
  if (c < classes && owner_.load(std::memory_order_relaxed) == this_thread_tag()) {
    if (block* b = local_[c]) [[likely]] {
      local_[c] = b->next;
      --local_count_[c];
      return b;
    }
  }
  return allocate_slow(c, size);
}

POCORE_POOL_COLD void* handler_pool::allocate_slow(std::size_t c, std::size_t size) {
  if (c >= classes) return ::operator new(size);
  {
    std::lock_guard lock(mutex_);
    if (block* b = free_[c]) {
      free_[c] = b->next;
      --count_[c];
      return b;
    }
  }
  return ::operator new(class_size(c));
}

inline void handler_pool::deallocate(void* p, std::size_t size) noexcept {
  const std::size_t c = class_of(size);
  if (c < classes) {
    const void* me = this_thread_tag();
    const void* owner = owner_.load(std::memory_order_relaxed);
    if (owner == nullptr) [[unlikely]] {
      // First use: the thread that frees first (the one running the port)
      // takes the owner cache. Only one thread wins; it keeps it.
      if (owner_.compare_exchange_strong(owner, me, std::memory_order_relaxed)) owner = me;
    }
    if (owner == me && local_count_[c] < keep_per_class) [[likely]] {
      auto* b = static_cast<block*>(p);
      b->next = local_[c];
      local_[c] = b;
      ++local_count_[c];
      return;
    }
  }
  deallocate_slow(static_cast<block*>(p), c);
}

POCORE_POOL_COLD void handler_pool::deallocate_slow(block* b, std::size_t c) noexcept {
  if (c >= classes) {
    ::operator delete(b);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (count_[c] < keep_per_class) {
      b->next = free_[c];
      free_[c] = b;
      ++count_[c];
      return;
    }
  }
  ::operator delete(b);
}

namespace {

// How many idle records a thread keeps per size class. A callback that
// resubmits reuses the record it just returned, so the lists stay short in
// steady state; the limit bounds what a burst leaves behind.
constexpr std::uint32_t thread_keep_per_class = 128;

// Frees the records of the thread's cache(s) when the thread exits. The
// cache itself is trivially destructible (so the header reaches it without
// a call); this object, touched only on a thread's first return of a
// record, carries the destructor. Usually there is one cache per thread;
// a header copy in another module (a DLL) would make a second.
struct cache_reaper {
  handler_cache* caches = nullptr;
  constexpr cache_reaper() noexcept = default;
  cache_reaper(const cache_reaper&) = delete;
  cache_reaper& operator=(const cache_reaper&) = delete;
  ~cache_reaper() {
    while (handler_cache* c = caches) {
      caches = c->next;
      for (std::size_t k = 0; k < handler_classes; ++k) {
        while (handler_record* r = c->idle[k]) {
          c->idle[k] = static_cast<handler_record*>(r->context);
          // Records are trivially destructible; their blocks came from
          // ::operator new (the pool's slow path).
          ::operator delete(r);
        }
        c->count[k] = 0;
      }
      // Records returned later on this thread (by thread_local destructors
      // that run after this one) go to their port's pool.
      c->limit = 0;
      c->reaped = true;
    }
  }
};
thread_local cache_reaper reaper;

static_assert(std::is_trivially_destructible_v<handler_record>,
              "thread caches hold records that are never destroyed");

}  // namespace

handler_record* handler_record_make(io_port* port, std::size_t size) {
  if (port == nullptr) no_port_for_handler();
  return ::new (port->backend().pool().allocate(size)) handler_record();
}

void handler_record_release(handler_cache& cache, handler_record& rec, std::size_t cls) noexcept {
  if (handler_thread_cache && cache.limit == 0 && !cache.reaped) {
    // This thread's first return: hook its exit, then keep the record.
    cache_reaper& r = reaper;
    cache.next = r.caches;
    r.caches = &cache;
    cache.limit = thread_keep_per_class;
    rec.context = cache.idle[cls];
    cache.idle[cls] = &rec;
    ++cache.count[cls];
    return;
  }
  rec.port->backend().pool().deallocate(&rec, handler_min_block << cls);
}

void* handler_allocate(io_port& port, std::size_t size) {
  return port.backend().pool().allocate(size);
}

void handler_deallocate(io_port& port, void* p, std::size_t size) noexcept {
  port.backend().pool().deallocate(p, size);
}

void no_port_for_handler() {
  // A default-constructed socket has no port, so there is neither a pool
  // to take the handler from nor a thread that could ever run it.
  std::fputs("pocore: asynchronous call on a socket that belongs to no port\n", stderr);
  std::abort();
}

}  // namespace pocore::detail

#undef POCORE_POOL_COLD
