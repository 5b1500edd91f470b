// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The port itself: post, run / run_one / poll / poll_one, stop and restart,
// many threads on one port (guarantees 1, 2 and 8).

#include <array>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "pocore_test.hpp"

using namespace pocore_test;

POCORE_CASE(post_runs_once_not_inline) {
  op_rec r;
  submit([&] { port().post(r); });
  EXPECT_EQ(r.calls, 0) << "post ran its callback inline";
  EXPECT_EQ(port().outstanding(), 1u);
  EXPECT_EQ(port().run(), 1u);
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(port().run(), 0u);
  EXPECT_EQ(r.calls, 1);
}

POCORE_CASE(post_keeps_bytes) {
  op_rec r;
  r.bytes = 12345;
  port().post(r);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(r.bytes, 12345u);
  EXPECT_FALSE(r.error);
}

POCORE_CASE(run_returns_when_out_of_work) {
  // No work: returns 0 at once.
  EXPECT_EQ(port().run(), 0u);
  std::array<op_rec, 5> ops;
  for (auto& o : ops) port().post(o);
  EXPECT_EQ(port().run(), 5u);
  for (auto& o : ops) EXPECT_EQ(o.calls, 1);
  EXPECT_EQ(port().outstanding(), 0u);
  EXPECT_EQ(port().run(), 0u);
}

POCORE_CASE(run_one_runs_exactly_one) {
  std::array<op_rec, 3> ops;
  for (auto& o : ops) port().post(o);
  EXPECT_EQ(port().run_one(), 1u);
  EXPECT_EQ(ops[0].calls + ops[1].calls + ops[2].calls, 1);
  EXPECT_EQ(port().outstanding(), 2u);
  EXPECT_EQ(port().run_one(), 1u);
  EXPECT_EQ(port().run_one(), 1u);
  for (auto& o : ops) EXPECT_EQ(o.calls, 1);
  // Out of work: returns 0 rather than waiting.
  EXPECT_EQ(port().run_one(), 0u);
}

POCORE_CASE(poll_runs_only_ready) {
  EXPECT_EQ(port().poll(), 0u);
  // A pending recv is work but not ready: poll must not wait for it.
  stream_pair p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  std::array<std::uint8_t, 16> buf{};
  op_rec rv;
  p.server.async_recv(rv, pocore::buffer{buf.data(), buf.size()});
  std::array<op_rec, 4> ops;
  for (auto& o : ops) port().post(o);
  // Posted callbacks are ready; a poll may need more than one call on an
  // emulated backend only if it reports ready work late, so loop boundedly.
  std::size_t ran = 0;
  for (int i = 0; i < 100 && ran < 4; ++i) ran += port().poll();
  EXPECT_EQ(ran, 4u);
  for (auto& o : ops) EXPECT_EQ(o.calls, 1);
  EXPECT_EQ(rv.calls, 0);
  EXPECT_EQ(port().poll(), 0u);
  p.server.close();
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(rv.calls, 1);
  EXPECT_EQ(rv.error, pocore::errc::operation_aborted);
  p.client.close();
}

POCORE_CASE(poll_one_runs_at_most_one) {
  EXPECT_EQ(port().poll_one(), 0u);
  std::array<op_rec, 3> ops;
  for (auto& o : ops) port().post(o);
  std::size_t first = 0;
  for (int i = 0; i < 100 && first == 0; ++i) first = port().poll_one();
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(ops[0].calls + ops[1].calls + ops[2].calls, 1);
  EXPECT_EQ(port().outstanding(), 2u);
  ASSERT_TRUE(drain(port()));
  for (auto& o : ops) EXPECT_EQ(o.calls, 1);
}

POCORE_CASE(run_one_for_times_out_without_work_ready) {
  // Held work keeps run_one_for waiting; it must come back with 0.
  port().add_work();
  const auto t0 = clock::now();
  EXPECT_EQ(port().run_one_for(50ms), 0u);
  EXPECT_GE(clock::now() - t0, 40ms) << "returned long before its timeout";
  port().remove_work();
  EXPECT_EQ(port().run(), 0u);
}

POCORE_CASE(post_from_inside_callback) {
  op_rec second;
  op_rec first;
  first.then = [&](op_rec&) {
    submit([&] { port().post(second); });
    EXPECT_EQ(second.calls, 0);
  };
  port().post(first);
  EXPECT_EQ(port().run(), 2u);
  EXPECT_EQ(first.calls, 1);
  EXPECT_EQ(second.calls, 1);
}

POCORE_CASE(record_resubmitted_from_own_callback) {
  op_rec r;
  int rounds = 0;
  r.then = [&](op_rec& self) {
    if (++rounds < 100) submit([&] { port().post(self); });
  };
  port().post(r);
  EXPECT_EQ(port().run(), 100u);
  EXPECT_EQ(r.calls, 100);
}

POCORE_CASE(post_from_four_threads_each_once) {
  constexpr int threads = 4;
  constexpr int per_thread = 1000;
  std::vector<op_rec> ops(threads * per_thread);
  port().add_work();  // keep run() alive until every poster is done
  std::vector<std::thread> posters;
  std::atomic<int> finished{0};
  run_threads runner(port(), 1);
  for (int t = 0; t < threads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) port().post(ops[t * per_thread + i]);
      finished.fetch_add(1);
    });
  }
  for (auto& t : posters) t.join();
  port().remove_work();
  EXPECT_EQ(runner.join(), static_cast<std::size_t>(threads * per_thread));
  for (auto& o : ops) ASSERT_EQ(o.calls, 1);
  EXPECT_EQ(finished, threads);
}

POCORE_CASE(four_threads_run_one_port_exactly_once) {
  constexpr int n = 4000;
  std::vector<op_rec> ops(n);
  std::mutex m;
  std::set<std::thread::id> seen;
  std::atomic<int> concurrent{0};
  std::atomic<int> max_concurrent{0};
  for (auto& o : ops) {
    o.then = [&](op_rec&) {
      const int now = concurrent.fetch_add(1) + 1;
      int prev = max_concurrent.load();
      while (now > prev && !max_concurrent.compare_exchange_weak(prev, now)) {
      }
      {
        std::lock_guard lock(m);
        seen.insert(std::this_thread::get_id());
      }
      concurrent.fetch_sub(1);
    };
    port().post(o);
  }
  run_threads runner(port(), 4);
  EXPECT_EQ(runner.join(), static_cast<std::size_t>(n));
  for (auto& o : ops) ASSERT_EQ(o.calls, 1);
  EXPECT_GE(seen.size(), 1u);
}

POCORE_CASE(four_threads_socket_traffic_exactly_once) {
  // Ping-pong on several connections while four threads run the port.
  constexpr int pairs = 4;
  constexpr int rounds = 200;
  std::vector<stream_pair> ps;
  for (int i = 0; i < pairs; ++i) {
    ps.push_back(make_tcp_pair(port()));
    ASSERT_TRUE(ps.back().client.is_open() && ps.back().server.is_open());
  }
  struct lane {
    op_rec send, recv;
    std::uint8_t out = 0, in = 0;
    int sent = 0, received = 0;
  };
  std::vector<lane> lanes(pairs);
  for (int i = 0; i < pairs; ++i) {
    lane& l = lanes[i];
    pocore::socket& c = ps[i].client;
    pocore::socket& s = ps[i].server;
    l.send.then = [&l, &c](op_rec& self) {
      EXPECT_FALSE(self.error);
      if (++l.sent < rounds) {
        l.out = static_cast<std::uint8_t>(l.sent);
        c.async_send(self, pocore::const_buffer{&l.out, 1});
      }
    };
    l.recv.then = [&l, &s](op_rec& self) {
      EXPECT_FALSE(self.error);
      EXPECT_EQ(self.bytes, 1u);
      EXPECT_EQ(l.in, static_cast<std::uint8_t>(l.received));
      if (++l.received < rounds) s.async_recv(self, pocore::buffer{&l.in, 1});
    };
    s.async_recv(l.recv, pocore::buffer{&l.in, 1});
    c.async_send(l.send, pocore::const_buffer{&l.out, 1});
  }
  run_threads runner(port(), 4);
  runner.join();
  for (auto& l : lanes) {
    EXPECT_EQ(l.send.calls, rounds);
    EXPECT_EQ(l.recv.calls, rounds);
    EXPECT_EQ(l.received, rounds);
  }
  for (auto& p : ps) {
    p.client.close();
    p.server.close();
  }
}

POCORE_CASE(stop_makes_every_run_return) {
  port().add_work();
  run_threads runner(port(), 4);
  // The runners block in run() (work is held, nothing is ready). stop()
  // must bring all four back; join() would hang otherwise and CTest fails.
  port().stop();
  runner.join();
  EXPECT_TRUE(port().stopped());
  port().restart();
  EXPECT_FALSE(port().stopped());
  port().remove_work();
  EXPECT_EQ(port().run(), 0u);
}

POCORE_CASE(stopped_port_runs_nothing_until_restart) {
  op_rec r;
  port().post(r);
  port().stop();
  EXPECT_EQ(port().run(), 0u);
  EXPECT_EQ(port().poll(), 0u);
  EXPECT_EQ(port().run_one(), 0u);
  EXPECT_EQ(r.calls, 0);
  EXPECT_EQ(port().outstanding(), 1u);
  port().restart();
  EXPECT_EQ(port().run(), 1u);
  EXPECT_EQ(r.calls, 1);
}

POCORE_CASE(pending_op_survives_stop_and_restart) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  std::array<std::uint8_t, 8> buf{};
  op_rec rv;
  p.server.async_recv(rv, pocore::buffer{buf.data(), buf.size()});
  {
    run_threads runner(port(), 1);
    port().stop();
    runner.join();
  }
  EXPECT_EQ(rv.calls, 0);
  EXPECT_EQ(port().outstanding(), 1u);
  port().restart();
  std::error_code ec;
  EXPECT_EQ(send_all(port(), p.client, "restart!", 8, ec), 8u);
  EXPECT_FALSE(ec);
  ASSERT_TRUE(run_until(port(), [&] { return rv.calls == 1; }));
  EXPECT_FALSE(rv.error);
  EXPECT_EQ(rv.bytes, 8u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "restart!");
  p.client.close();
  p.server.close();
}

POCORE_CASE(two_ports_are_independent) {
  pocore::io_port other;
  op_rec a;
  op_rec b;
  port().post(a);
  other.post(b);
  EXPECT_EQ(other.run(), 1u);
  EXPECT_EQ(a.calls, 0);
  EXPECT_EQ(b.calls, 1);
  EXPECT_EQ(port().run(), 1u);
  EXPECT_EQ(a.calls, 1);
}

POCORE_CASE(unknown_backend_is_an_error) {
  std::error_code ec;
  pocore::io_port bad(pocore::port_options{"no-such-backend"}, ec);
  EXPECT_FALSE(bad.valid());
  EXPECT_EQ(ec, pocore::errc::unknown_backend);
}

POCORE_CASE(stop_from_inside_callback) {
  std::array<op_rec, 3> ops;
  ops[0].then = [&](op_rec&) { port().stop(); };
  for (auto& o : ops) port().post(o);
  // run() returns after the callback that stopped it (a backend may have
  // taken a few ready callbacks in the same batch, but not all).
  const std::size_t first = port().run();
  EXPECT_GE(first, 1u);
  EXPECT_TRUE(port().stopped());
  port().restart();
  EXPECT_EQ(first + port().run(), 3u);
  for (auto& o : ops) EXPECT_EQ(o.calls, 1);
}

POCORE_CASE(outstanding_counts_submissions) {
  EXPECT_EQ(port().outstanding(), 0u);
  std::array<op_rec, 3> ops;
  for (auto& o : ops) port().post(o);
  EXPECT_EQ(port().outstanding(), 3u);
  port().add_work();
  EXPECT_EQ(port().run_one(), 1u);
  EXPECT_EQ(port().poll(), 2u);
  port().remove_work();
  EXPECT_EQ(port().outstanding(), 0u);
  EXPECT_EQ(port().run(), 0u);
}

POCORE_CASE(callbacks_run_concurrently_on_four_threads) {
  // Four callbacks that each wait for the other three can only finish if
  // the port really runs them on four threads at once (guarantee 8). The
  // threads are running (idle) before the work arrives, as in a server.
  constexpr int n = 4;
  std::atomic<int> arrived{0};
  std::atomic<bool> timed_out{false};
  std::array<op_rec, n> ops;
  const auto give_up = clock::now() + wait_budget();
  for (auto& o : ops) {
    o.then = [&](op_rec&) {
      arrived.fetch_add(1);
      while (arrived.load() < n) {
        if (clock::now() > give_up) {
          timed_out = true;
          return;
        }
        std::this_thread::yield();
      }
    };
  }
  port().add_work();
  run_threads runner(port(), n);
  for (int i = 0; i < 10; ++i) std::this_thread::yield();
  for (auto& o : ops) port().post(o);
  port().remove_work();
  EXPECT_EQ(runner.join(), static_cast<std::size_t>(n));
  EXPECT_FALSE(timed_out) << "only " << arrived.load() << " callbacks ran at the same time";
  for (auto& o : ops) EXPECT_EQ(o.calls, 1);
}

POCORE_CASE(completion_reaches_port_while_submitter_computes) {
  // A thread submits a recv and then computes without a single system call
  // (it spins on the callback's flag, reading the clock through the vDSO)
  // while this thread sends the data and runs the port. The recv must
  // complete all the same. On io_uring the wait-then-finish of a request is
  // task work of the thread that submitted it; the ring asks the kernel not
  // to interrupt that thread for it (cooperative task running), so it runs
  // at the thread's next entry to the kernel, the scheduler tick here. A
  // ring whose task work ran only inside the submitter's own wait
  // (IORING_SETUP_DEFER_TASKRUN) would never deliver it.
  stream_pair p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  std::uint8_t in = 0;
  std::atomic<bool> done{false};
  std::atomic<bool> submitted{false};
  bool spun_out = false;
  op_rec r;
  r.then = [&](op_rec&) { done.store(true, std::memory_order_release); };
  const auto give_up = clock::now() + wait_budget();
  std::thread busy([&] {
    p.server.async_recv(r, pocore::buffer{&in, 1});
    submitted.store(true, std::memory_order_release);
    while (!done.load(std::memory_order_acquire)) {
      if (clock::now() > give_up) {
        spun_out = true;
        break;
      }
    }
  });
  while (!submitted.load(std::memory_order_acquire) && clock::now() < give_up)
    std::this_thread::yield();
  const std::uint8_t out = 42;
  std::error_code ec;
  EXPECT_EQ(p.client.send(pocore::const_buffer{&out, 1}, ec), 1u);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(run_until(port(), [&] { return r.calls.load() == 1; }));
  busy.join();
  EXPECT_FALSE(spun_out) << "the busy thread gave up before the callback ran";
  EXPECT_EQ(r.calls.load(), 1);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.bytes, 1u);
  EXPECT_EQ(in, 42);
  p.client.close();
  p.server.close();
}
