// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Timers: deadline order, never early, equal deadlines in submission order,
// cancel one / cancel all / destroy, and a new earlier deadline waking a
// thread already blocked in run(). Timing is never asserted tightly (Wine
// and loaded CI hosts are slow); only "not before the deadline" is exact.

#include <algorithm>
#include <array>
#include <future>
#include <vector>

#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::errc;

namespace {

/// A timer wait that records when it ran and in which order.
struct timed_rec : op_rec {
  clock::time_point deadline{};
  clock::time_point fired{};
  int index = -1;
};

}  // namespace

POCORE_CASE(timers_fire_in_deadline_order_never_early) {
  pocore::timer t(port());
  const std::array<int, 6> delays_ms{50, 10, 30, 20, 60, 40};
  std::array<timed_rec, 6> w;
  std::vector<int> order;
  const auto base = clock::now();
  for (int i = 0; i < 6; ++i) {
    w[i].index = i;
    w[i].deadline = base + std::chrono::milliseconds(delays_ms[i]);
    w[i].then = [&order](op_rec& self) {
      auto& me = static_cast<timed_rec&>(self);
      me.fired = clock::now();
      order.push_back(me.index);
    };
    submit([&] { t.async_wait_until(w[i], w[i].deadline); });
  }
  EXPECT_EQ(t.pending(), 6u);
  ASSERT_TRUE(drain(port()));
  ASSERT_EQ(order, (std::vector<int>{1, 3, 2, 5, 0, 4}));
  for (auto& x : w) {
    EXPECT_EQ(x.calls, 1);
    EXPECT_FALSE(x.error);
    EXPECT_GE(x.fired, x.deadline) << "timer " << x.index << " fired early";
  }
  EXPECT_EQ(t.pending(), 0u);
}

POCORE_CASE(timer_many_short_waits_never_early) {
  pocore::timer t(port());
  constexpr int n = 50;
  std::vector<timed_rec> w(n);
  for (int i = 0; i < n; ++i) {
    w[i].then = [](op_rec& self) { static_cast<timed_rec&>(self).fired = clock::now(); };
    w[i].deadline = clock::now() + std::chrono::microseconds(137 * (i % 17) + 1);
    t.async_wait_until(w[i], w[i].deadline);
  }
  ASSERT_TRUE(drain(port()));
  for (auto& x : w) {
    EXPECT_EQ(x.calls, 1);
    EXPECT_GE(x.fired, x.deadline);
  }
}

POCORE_CASE(timers_equal_deadlines_fire_in_submission_order) {
  pocore::timer t1(port());
  pocore::timer t2(port());
  constexpr int n = 10;
  std::array<timed_rec, n> w;
  std::vector<int> order;
  const auto when = clock::now() + 20ms;
  for (int i = 0; i < n; ++i) {
    w[i].index = i;
    w[i].then = [&order](op_rec& self) { order.push_back(static_cast<timed_rec&>(self).index); };
    (i % 2 == 0 ? t1 : t2).async_wait_until(w[i], when);
  }
  ASSERT_TRUE(drain(port()));
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(order[i], i);
}

POCORE_CASE(timer_past_deadline_completes_not_inline) {
  pocore::timer t(port());
  op_rec w;
  submit([&] { t.async_wait_until(w, clock::now() - 1s); });
  EXPECT_EQ(w.calls, 0);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(w.calls, 1);
  EXPECT_FALSE(w.error);
}

POCORE_CASE(timer_cancel_all_aborts_each) {
  pocore::timer t(port());
  std::array<op_rec, 3> w;
  for (auto& x : w) t.async_wait_for(x, 1h);
  EXPECT_EQ(t.pending(), 3u);
  submit([&] { EXPECT_EQ(t.cancel(), 3u); });
  for (auto& x : w) EXPECT_EQ(x.calls, 0) << "cancel ran a callback inline";
  EXPECT_EQ(t.pending(), 0u);
  ASSERT_TRUE(drain(port()));
  for (auto& x : w) {
    EXPECT_EQ(x.calls, 1);
    EXPECT_EQ(x.error, errc::operation_aborted);
  }
  EXPECT_EQ(t.cancel(), 0u);
}

POCORE_CASE(timer_cancel_one_wait) {
  pocore::timer t(port());
  op_rec far;
  timed_rec near;
  near.then = [](op_rec& self) { static_cast<timed_rec&>(self).fired = clock::now(); };
  t.async_wait_for(far, 1h);
  near.deadline = clock::now() + 10ms;
  t.async_wait_until(near, near.deadline);
  EXPECT_TRUE(t.cancel(far));
  EXPECT_FALSE(t.cancel(far)) << "a wait is cancelled once";
  EXPECT_EQ(t.pending(), 1u);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(far.calls, 1);
  EXPECT_EQ(far.error, errc::operation_aborted);
  EXPECT_EQ(near.calls, 1);
  EXPECT_FALSE(near.error);
  EXPECT_GE(near.fired, near.deadline);
  EXPECT_FALSE(t.cancel(near)) << "an expired wait cannot be cancelled";
}

POCORE_CASE(timer_destroy_aborts_waits) {
  std::array<op_rec, 2> w;
  {
    pocore::timer t(port());
    for (auto& x : w) t.async_wait_for(x, 1h);
  }
  ASSERT_TRUE(drain(port()));
  for (auto& x : w) {
    EXPECT_EQ(x.calls, 1);
    EXPECT_EQ(x.error, errc::operation_aborted);
  }
}

POCORE_CASE(timer_rearmed_from_own_callback) {
  pocore::timer t(port());
  timed_rec w;
  int fired = 0;
  w.then = [&](op_rec& self) {
    auto& me = static_cast<timed_rec&>(self);
    EXPECT_GE(clock::now(), me.deadline);
    if (++fired < 10) {
      me.deadline = clock::now() + 2ms;
      t.async_wait_until(me, me.deadline);
    }
  };
  w.deadline = clock::now() + 2ms;
  t.async_wait_until(w, w.deadline);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(fired, 10);
  EXPECT_EQ(w.calls, 10);
}

POCORE_CASE(earlier_timer_wakes_blocked_run) {
  pocore::timer t(port());
  op_rec far;
  t.async_wait_for(far, 1h);
  std::promise<void> fired;
  timed_rec near;
  near.then = [&](op_rec& self) {
    static_cast<timed_rec&>(self).fired = clock::now();
    fired.set_value();
  };
  std::future<void> done = fired.get_future();
  run_threads runner(port(), 1);
  // Give the runner a chance to block on the 1 h deadline; correctness does
  // not depend on it having done so.
  std::this_thread::yield();
  near.deadline = clock::now() + 20ms;
  t.async_wait_until(near, near.deadline);
  const bool ok = done.wait_for(wait_budget()) == std::future_status::ready;
  EXPECT_TRUE(ok) << "a new earlier deadline did not wake the thread in run()";
  port().stop();
  runner.join();
  port().restart();
  EXPECT_EQ(near.calls, ok ? 1 : 0);
  EXPECT_GE(near.fired, near.deadline);
  t.cancel();
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(far.calls, 1);
  EXPECT_EQ(far.error, errc::operation_aborted);
}

POCORE_CASE(timer_cancel_from_other_thread_wakes_run) {
  pocore::timer t(port());
  op_rec far;
  t.async_wait_for(far, 1h);
  run_threads runner(port(), 1);
  EXPECT_EQ(t.cancel(), 1u);
  // The runner must deliver the abort and then return for lack of work.
  EXPECT_EQ(runner.join(), 1u);
  EXPECT_EQ(far.calls, 1);
  EXPECT_EQ(far.error, errc::operation_aborted);
}
