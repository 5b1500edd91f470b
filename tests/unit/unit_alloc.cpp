// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// "Submitting one allocates nothing in steady state" (DESIGN.md): this
// executable replaces the global operator new (and, on glibc without a
// sanitizer, malloc) with counting versions and checks that send/recv,
// post and timer cycles with caller-owned records allocate nothing after a
// warm-up, and that the convenience layer recycles its blocks.

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>

#include "pocore_test.hpp"

using namespace pocore_test;

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::size_t> g_news{0};
std::atomic<std::size_t> g_mallocs{0};

void* counted_new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

void* counted_new_aligned(std::size_t n, std::align_val_t al) {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  std::size_t a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  // Over-allocate and stash the original pointer just below the block, so
  // the matching delete works with plain free() on every platform.
  void* raw = std::malloc(n + a + sizeof(void*));
  if (raw == nullptr) throw std::bad_alloc();
  auto addr = reinterpret_cast<std::uintptr_t>(raw) + sizeof(void*);
  addr = (addr + a - 1) & ~(a - 1);
  reinterpret_cast<void**>(addr)[-1] = raw;
  return reinterpret_cast<void*>(addr);
}

void aligned_free(void* p) noexcept {
  if (p != nullptr) std::free(static_cast<void**>(p)[-1]);
}

}  // namespace

void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a) { return counted_new_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_new_aligned(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { aligned_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { aligned_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { aligned_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { aligned_free(p); }

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define POCORE_NO_MALLOC_HOOK 1
#endif
#endif
#if !defined(POCORE_NO_MALLOC_HOOK)
// glibc lets a program interpose malloc; forward to its internal entry
// points. This catches allocations that bypass operator new (e.g. a
// backend calling malloc or a libc call allocating behind the scenes).
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* __libc_calloc(std::size_t, std::size_t);
extern "C" void* __libc_realloc(void*, std::size_t);
extern "C" void* malloc(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(std::size_t n, std::size_t m) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, m);
}
extern "C" void* realloc(void* p, std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
#define POCORE_HAVE_MALLOC_HOOK 1
#endif
#endif

namespace {

/// Counts allocations made while it lives.
class alloc_window {
 public:
  alloc_window() {
    g_news = 0;
    g_mallocs = 0;
    g_counting = true;
  }
  ~alloc_window() { g_counting = false; }
  alloc_window(const alloc_window&) = delete;
  alloc_window& operator=(const alloc_window&) = delete;
  /// Stops counting; returns {operator new calls, malloc-family calls}.
  std::pair<std::size_t, std::size_t> stop() {
    g_counting = false;
    // operator new forwards to malloc; count those once.
    const std::size_t news = g_news.load();
    const std::size_t mallocs = g_mallocs.load();
    return {news, mallocs >= news ? mallocs - news : 0};
  }
};

/// A record whose callback only counts: no std::function, nothing that
/// could allocate on the way.
struct plain_op : pocore::operation {
  plain_op() : pocore::operation(&plain_op::done) {}
  int calls = 0;
  static void done(pocore::operation& o) { ++static_cast<plain_op&>(o).calls; }
};

/// One send + recv of 64 bytes on loopback, run to completion.
bool cycle(pocore::io_port& port, stream_pair& p, std::array<char, 64>& out,
           std::array<char, 64>& in, plain_op& s, plain_op& r) {
  const int s0 = s.calls;
  const int r0 = r.calls;
  p.server.async_recv(r, pocore::buffer{in.data(), in.size()});
  p.client.async_send(s, pocore::const_buffer{out.data(), out.size()});
  if (!run_until(port, [&] { return s.calls == s0 + 1 && r.calls == r0 + 1; })) return false;
  // A stream recv may take fewer bytes; finish the message.
  std::size_t got = r.bytes;
  while (got < out.size() && !r.error && r.bytes != 0) {
    const int r1 = r.calls;
    p.server.async_recv(r, pocore::buffer{in.data() + got, in.size() - got});
    if (!run_until(port, [&] { return r.calls == r1 + 1; })) return false;
    got += r.bytes;
  }
  return !s.error && !r.error && got == out.size();
}

}  // namespace

POCORE_UNIT(no_allocation_per_send_recv_cycle) {
  pocore::io_port port;
  stream_pair p = make_tcp_pair(port);
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  std::array<char, 64> out{};
  std::array<char, 64> in{};
  plain_op s;
  plain_op r;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(cycle(port, p, out, in, s, r)) << "warm-up " << i;
  alloc_window w;
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) ok = cycle(port, p, out, in, s, r);
  const auto [news, mallocs] = w.stop();
  ASSERT_TRUE(ok);
  EXPECT_EQ(news, 0u) << "operator new calls over 1000 send+recv cycles";
#if defined(POCORE_HAVE_MALLOC_HOOK)
  EXPECT_EQ(mallocs, 0u) << "malloc calls over 1000 send+recv cycles";
#else
  (void)mallocs;
#endif
  p.client.close();
  p.server.close();
  EXPECT_TRUE(drain(port));
}

POCORE_UNIT(no_allocation_per_post_and_timer) {
  pocore::io_port port;
  pocore::timer t(port);
  plain_op post_op;
  plain_op wait_op;
  auto round = [&] {
    port.post(post_op);
    t.async_wait_until(wait_op, pocore::timer::clock::now());
    return drain(port);
  };
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(round());
  alloc_window w;
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) ok = round();
  const auto [news, mallocs] = w.stop();
  ASSERT_TRUE(ok);
  EXPECT_EQ(post_op.calls, 1100);
  EXPECT_EQ(wait_op.calls, 1100);
  EXPECT_EQ(news, 0u) << "operator new calls over 1000 post+timer cycles";
#if defined(POCORE_HAVE_MALLOC_HOOK)
  EXPECT_EQ(mallocs, 0u);
#else
  (void)mallocs;
#endif
}

POCORE_UNIT(convenience_layer_recycles) {
  pocore::io_port port;
  stream_pair p = make_tcp_pair(port);
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  std::array<char, 64> out{};
  std::array<char, 64> in{};
  int sends = 0;
  int recvs = 0;
  auto round = [&] {
    const int s0 = sends;
    const int r0 = recvs;
    p.server.async_recv(pocore::buffer{in.data(), in.size()},
                        [&](std::error_code, std::size_t) { ++recvs; });
    p.client.async_send(pocore::const_buffer{out.data(), 1},
                        [&](std::error_code, std::size_t) { ++sends; });
    pocore::post(port, [] {});
    return run_until(port, [&] { return sends == s0 + 1 && recvs == r0 + 1; }) && drain(port);
  };
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(round());
  alloc_window w;
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) ok = round();
  const auto [news, mallocs] = w.stop();
  ASSERT_TRUE(ok);
  // The pool keeps freed blocks, so a steady stream reuses the same few.
  EXPECT_LE(news + mallocs, 3u) << "the convenience layer did not recycle its blocks";
  p.client.close();
  p.server.close();
  EXPECT_TRUE(drain(port));
}

POCORE_UNIT(alloc_counter_sees_allocations) {
  // Guards the tests above: a counter that never counts would pass them.
  alloc_window w;
  auto* p = new int(7);
  void* m = std::malloc(16);
  const auto [news, mallocs] = w.stop();
  std::free(m);
  delete p;
  EXPECT_EQ(news, 1u);
#if defined(POCORE_HAVE_MALLOC_HOOK)
  EXPECT_EQ(mallocs, 1u);
#else
  (void)mallocs;
#endif
}
