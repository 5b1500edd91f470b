// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The platform-free queues every backend relies on: the intrusive FIFO of
// operation records and the timer heap (deadline order, then submission
// order; O(log n) removal). Checked against a simple reference model with
// a fixed-seed pseudo-random workload.

#include <algorithm>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "common/op_queue.hpp"
#include "common/timer_queue.hpp"
#include "pocore_test.hpp"

using pocore::operation;
using pocore::detail::op_queue;
using pocore::detail::priv;
using pocore::detail::timer_queue;

POCORE_UNIT(op_queue_is_fifo_and_splices) {
  std::vector<operation> ops(6);
  op_queue a;
  op_queue b;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.pop(), nullptr);
  for (int i = 0; i < 3; ++i) a.push(ops[i]);
  for (int i = 3; i < 6; ++i) b.push(ops[i]);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.front(), &ops[0]);
  a.splice(b);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(a.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.pop(), &ops[i]);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.pop(), nullptr);
  // Reusable after emptying.
  a.push(ops[5]);
  EXPECT_EQ(a.pop(), &ops[5]);
}

POCORE_UNIT(timer_queue_orders_by_deadline_then_submission) {
  std::vector<operation> ops(5);
  const std::int64_t deadlines[] = {30, 10, 20, 10, 30};
  timer_queue q;
  for (int i = 0; i < 5; ++i) {
    priv(ops[i]).deadline = deadlines[i];
    q.push(ops[i]);
  }
  EXPECT_EQ(q.size(), 5u);
  EXPECT_EQ(q.next_deadline(), std::optional<std::int64_t>(10));
  op_queue out;
  q.pop_expired(9, out);
  EXPECT_TRUE(out.empty()) << "nothing is due before its deadline";
  q.pop_expired(30, out);
  const int expected[] = {1, 3, 2, 0, 4};
  for (int i : expected) EXPECT_EQ(out.pop(), &ops[i]);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.next_deadline().has_value());
}

POCORE_UNIT(timer_queue_push_reports_new_earliest) {
  std::vector<operation> ops(3);
  timer_queue q;
  priv(ops[0]).deadline = 100;
  EXPECT_TRUE(q.push(ops[0]));
  priv(ops[1]).deadline = 200;
  EXPECT_FALSE(q.push(ops[1]));
  priv(ops[2]).deadline = 50;
  EXPECT_TRUE(q.push(ops[2]));
  EXPECT_TRUE(q.remove(ops[2]));
  EXPECT_FALSE(q.remove(ops[2])) << "removed twice";
  EXPECT_EQ(q.next_deadline(), std::optional<std::int64_t>(100));
  op_queue out;
  q.pop_expired(1000, out);
  EXPECT_EQ(out.size(), 2u);
}

POCORE_UNIT(timer_queue_owner_operations) {
  std::vector<operation> ops(6);
  int owner_a = 0;
  int owner_b = 0;
  timer_queue q;
  for (int i = 0; i < 6; ++i) {
    priv(ops[i]).deadline = 60 - i * 10;
    priv(ops[i]).owner = i % 2 == 0 ? static_cast<void*>(&owner_a) : &owner_b;
    q.push(ops[i]);
  }
  EXPECT_EQ(q.count_owner(&owner_a), 3u);
  op_queue out;
  EXPECT_EQ(q.remove_owner(&owner_a, out), 3u);
  // In deadline order: ops 4 (20), 2 (40), 0 (60).
  EXPECT_EQ(out.pop(), &ops[4]);
  EXPECT_EQ(out.pop(), &ops[2]);
  EXPECT_EQ(out.pop(), &ops[0]);
  EXPECT_EQ(q.count_owner(&owner_a), 0u);
  EXPECT_EQ(q.count_owner(&owner_b), 3u);
  EXPECT_EQ(q.size(), 3u);
}

POCORE_UNIT(timer_queue_matches_reference_model) {
  constexpr int n = 2000;
  std::vector<operation> ops(n);
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> deadline(0, 500);
  timer_queue q;
  // Reference: (deadline, submission number) -> record index.
  std::map<std::pair<std::int64_t, int>, int> model;
  std::vector<int> seq_of(n, -1);
  int next_seq = 0;
  std::int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    const int what = static_cast<int>(rng() % 10);
    const int i = static_cast<int>(rng() % n);
    if (what < 5) {
      if (seq_of[i] >= 0) continue;  // already queued
      priv(ops[i]).deadline = now + deadline(rng);
      q.push(ops[i]);
      seq_of[i] = next_seq++;
      model.emplace(std::make_pair(priv(ops[i]).deadline, seq_of[i]), i);
    } else if (what < 8) {
      const bool queued = seq_of[i] >= 0;
      ASSERT_EQ(q.remove(ops[i]), queued) << "step " << step;
      if (queued) {
        model.erase({priv(ops[i]).deadline, seq_of[i]});
        seq_of[i] = -1;
      }
    } else {
      now += deadline(rng) / 10;
      op_queue out;
      q.pop_expired(now, out);
      while (!model.empty() && model.begin()->first.first <= now) {
        const int want = model.begin()->second;
        ASSERT_EQ(out.pop(), &ops[want]) << "step " << step;
        seq_of[want] = -1;
        model.erase(model.begin());
      }
      ASSERT_TRUE(out.empty()) << "step " << step << ": popped a wait not yet due";
    }
    ASSERT_EQ(q.size(), model.size());
    if (!model.empty()) {
      ASSERT_EQ(q.next_deadline(), model.begin()->first.first);
    }
  }
}
