// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The socket-state pool the epoll/kqueue and io_uring backends share
// (common/state_pool.hpp): indices handed out in order, lookup by index,
// recycling without reconstruction, construction only on first use,
// exactly one destruction per constructed state, and exclusive hand-out
// under concurrent allocate/release.

#include <atomic>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "common/state_pool.hpp"
#include "pocore_test.hpp"

namespace {

std::atomic<int> g_made{0};
std::atomic<int> g_gone{0};

struct probe {
  probe() { g_made.fetch_add(1); }
  ~probe() { g_gone.fetch_add(1); }
  probe(const probe&) = delete;
  probe& operator=(const probe&) = delete;
  std::uint32_t index = 0;
  std::uint32_t next_free = 0;
  std::uint64_t payload = 0;    // what a user of the state left there
  std::atomic<int> holders{0};  // owners at once (must stay 0 or 1)
};

using pool_t = pocore::detail::state_pool<probe>;

}  // namespace

POCORE_UNIT(state_pool_hands_out_indices_in_order_and_looks_them_up) {
  g_made = 0;
  g_gone = 0;
  {
    pool_t pool;
    EXPECT_EQ(pool.lookup(0), nullptr) << "no chunk exists before the first state";
    // Two chunks and a bit: the second chunk is made when the first is full.
    const std::uint32_t n = pool_t::chunk_size * 2 + 3;
    std::vector<probe*> got;
    for (std::uint32_t i = 0; i < n; ++i) {
      probe* p = pool.allocate();
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(p->index, i);
      EXPECT_EQ(pool.lookup(i), p);
      p->payload = 1000 + i;
      got.push_back(p);
    }
    EXPECT_EQ(g_made.load(), static_cast<int>(n)) << "one construction per index handed out";
    EXPECT_EQ(pool.lookup(pool_t::chunk_size * 3 + 1), nullptr) << "a chunk never made";
    EXPECT_EQ(pool.lookup(pool_t::chunk_size * pool_t::max_chunks), nullptr) << "out of range";

    // Released states come back last-in first-out, as they were left, and
    // are not constructed again.
    pool.release(*got[5]);
    pool.release(*got[300]);
    pool.release(*got[n - 1]);
    EXPECT_EQ(pool.allocate(), got[n - 1]);
    probe* again = pool.allocate();
    EXPECT_EQ(again, got[300]);
    EXPECT_EQ(again->payload, 1300u) << "a recycled state is handed out as release() left it";
    EXPECT_EQ(again->next_free, 0u);
    EXPECT_EQ(pool.allocate(), got[5]);
    probe* fresh = pool.allocate();
    ASSERT_NE(fresh, nullptr);
    EXPECT_EQ(fresh->index, n) << "with the free list empty, the next new index";
    EXPECT_EQ(g_made.load(), static_cast<int>(n + 1));

    std::set<std::uint32_t> seen;
    pool.for_each([&](probe& p) { seen.insert(p.index); });
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(n + 1));
    EXPECT_EQ(*seen.rbegin(), n);
    EXPECT_EQ(g_gone.load(), 0);
  }
  EXPECT_EQ(g_gone.load(), g_made.load()) << "each constructed state destroyed exactly once";
}

POCORE_UNIT(state_pool_hands_each_state_to_one_owner_at_a_time) {
  pool_t pool;
  constexpr int kThreads = 4;
  constexpr int kRounds = 20000;
  constexpr int kHold = 8;
  std::atomic<int> overlaps{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      probe* held[kHold] = {};
      for (int r = 0; r < kRounds; ++r) {
        const int slot = r % kHold;
        if (held[slot] != nullptr) {
          held[slot]->holders.fetch_sub(1);
          pool.release(*held[slot]);
          held[slot] = nullptr;
        }
        probe* p = pool.allocate();
        if (p == nullptr) {
          failures.fetch_add(1);
          continue;
        }
        if (p->holders.fetch_add(1) != 0) overlaps.fetch_add(1);
        if (pool.lookup(p->index) != p) failures.fetch_add(1);
        held[slot] = p;
      }
      for (probe* p : held) {
        if (p == nullptr) continue;
        p->holders.fetch_sub(1);
        pool.release(*p);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(overlaps.load(), 0) << "a state was handed to two owners at once";
  EXPECT_EQ(failures.load(), 0);
  // Never more states than were ever held at once.
  int count = 0;
  pool.for_each([&](probe& p) {
    ++count;
    EXPECT_EQ(p.holders.load(), 0);
  });
  EXPECT_LE(count, kThreads * kHold);
  EXPECT_GE(count, kHold);
}
