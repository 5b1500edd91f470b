// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The coroutine layer (pocore/coro.hpp) on every backend: echo, accept and
// connect, UDP, timers, post, stop_token cancellation (before submission,
// while pending, racing the completion), task values and exceptions, and
// many tasks on several threads. Coroutines report into plain variables
// with EXPECT_* (ASSERT_* cannot `return` from a coroutine); the test body
// asserts on those after the port ran dry.

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "pocore/coro.hpp"
#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::address_family;
using pocore::buffer;
using pocore::const_buffer;
using pocore::endpoint;
using pocore::errc;
using pocore::task;
namespace co = pocore::co;

namespace {

/// Runs the port until every spawned task ended (they hold work on it),
/// bounded by the wait budget.
bool run_tasks(pocore::io_port& port, const std::atomic<int>& done, int want) {
  return run_until(port, [&] { return done.load() == want; });
}

/// Echoes until end of stream; returns the bytes echoed.
task<std::size_t> echo_server(pocore::socket s) {
  std::array<std::uint8_t, 1500> buf{};
  std::size_t total = 0;
  for (;;) {
    auto [ec, n] = co_await co::recv(s, buffer{buf.data(), buf.size()});
    EXPECT_FALSE(ec) << ec.message();
    if (ec || n == 0) break;
    auto [ec2, sent] = co_await co::send(s, const_buffer{buf.data(), n});
    EXPECT_FALSE(ec2) << ec2.message();
    EXPECT_EQ(sent, n);
    if (ec2) break;
    total += n;
  }
  co_return total;
}

/// Sends `n` pattern bytes, half-closes, reads the echo to the end and
/// checks it; returns the bytes read back.
task<std::size_t> echo_client(pocore::socket s, std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> out(n), in(n + 1);
  fill_pattern(out, 0, seed);
  // Two gathered halves, to use the sequence form too.
  const std::array<const_buffer, 2> halves{const_buffer{out.data(), n / 2},
                                           const_buffer{out.data() + n / 2, n - n / 2}};
  auto [ec, sent] = co_await co::send(s, std::span<const const_buffer>(halves));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(sent, n);
  EXPECT_FALSE(s.shutdown(pocore::shutdown_how::send));
  std::size_t got = 0;
  for (int rounds = 0; rounds < 100000; ++rounds) {
    auto [ec2, m] = co_await co::recv(s, buffer{in.data() + got, in.size() - got});
    EXPECT_FALSE(ec2) << ec2.message();
    if (ec2 || m == 0) break;
    got += m;
  }
  EXPECT_EQ(got, n);
  EXPECT_EQ(check_pattern(std::span<const std::uint8_t>(in.data(), std::min(got, n)), 0, seed),
            std::min(got, n));
  co_return got;
}

}  // namespace

POCORE_CASE(coro_echo) {
  auto pair = make_tcp_pair(port());
  ASSERT_TRUE(pair.client.is_open() && pair.server.is_open());
  constexpr std::size_t n = 100000;
  std::atomic<int> done{0};
  std::size_t echoed = 0, read_back = 0;
  pocore::co_spawn(port(), echo_server(std::move(pair.server)),
                   [&](std::exception_ptr ep, std::size_t v) {
                     EXPECT_FALSE(ep);
                     echoed = v;
                     done.fetch_add(1);
                   });
  pocore::co_spawn(port(), echo_client(std::move(pair.client), n, 7),
                   [&](std::exception_ptr ep, std::size_t v) {
                     EXPECT_FALSE(ep);
                     read_back = v;
                     done.fetch_add(1);
                   });
  EXPECT_EQ(done, 0) << "co_spawn ran a task inline";
  ASSERT_TRUE(run_tasks(port(), done, 2));
  EXPECT_EQ(echoed, n);
  EXPECT_EQ(read_back, n);
}

POCORE_CASE(coro_accept_connect_yield_socket_and_peer) {
  endpoint bound;
  pocore::socket listener = make_listener(port(), endpoint::loopback_v4(), bound);
  ASSERT_TRUE(listener.is_open());
  std::atomic<int> done{0};
  endpoint accepted_peer, client_local;
  bool accepted_open = false;
  std::string greeting;
  auto server = [&]() -> task<void> {
    auto r = co_await co::accept(listener);
    EXPECT_FALSE(r.error) << r.error.message();
    accepted_open = r.accepted.is_open();
    accepted_peer = r.peer;
    char buf[16] = {};
    auto [ec, n] = co_await co::recv(r.accepted, buffer{buf, sizeof buf});
    EXPECT_FALSE(ec);
    greeting.assign(buf, n);
    auto d = co_await co::disconnect(r.accepted);
    EXPECT_FALSE(d.error) << d.error.message();
  };
  auto client = [&]() -> task<void> {
    pocore::socket s(port());
    EXPECT_FALSE(s.open(address_family::ipv4, pocore::socket_type::stream));
    std::error_code ec = co_await co::connect(s, bound);
    EXPECT_FALSE(ec) << ec.message();
    std::error_code lec;
    client_local = s.local_endpoint(lec);
    auto [sec, n] = co_await co::send(s, pocore::make_buffer(std::string_view("hello")));
    EXPECT_FALSE(sec);
    EXPECT_EQ(n, 5u);
    char buf[4];
    auto [rec, m] = co_await co::recv(s, buffer{buf, sizeof buf});
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_EQ(m, 0u) << "the server's disconnect is end of stream";
  };
  pocore::co_spawn(port(), server(), [&](std::exception_ptr) { done.fetch_add(1); });
  pocore::co_spawn(port(), client(), [&](std::exception_ptr) { done.fetch_add(1); });
  ASSERT_TRUE(run_tasks(port(), done, 2));
  EXPECT_TRUE(accepted_open);
  EXPECT_EQ(accepted_peer, client_local)
      << accepted_peer.to_string() << " vs " << client_local.to_string();
  EXPECT_EQ(greeting, "hello");
  listener.close();
}

POCORE_CASE(coro_connect_refused) {
  const refused_target refused = refused_endpoint(port(), address_family::ipv4);
  const endpoint nobody = refused.at;
  std::atomic<int> done{0};
  std::error_code result;
  auto client = [&]() -> task<void> {
    pocore::socket s(port());
    EXPECT_FALSE(s.open(address_family::ipv4, pocore::socket_type::stream));
    result = co_await co::connect(s, nobody);
  };
  pocore::co_spawn(port(), client(), [&](std::exception_ptr) { done.fetch_add(1); });
  ASSERT_TRUE(run_tasks(port(), done, 1));
  EXPECT_EQ(result, errc::connection_refused) << result.message();
}

POCORE_CASE(coro_udp_send_to_recv_from) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::atomic<int> done{0};
  pocore::datagram_result first, second;
  std::string text;
  auto receiver = [&]() -> task<void> {
    char buf[32] = {};
    first = co_await co::recv_from(b, buffer{buf, sizeof buf});
    text.assign(buf, first.bytes);
    char small[4] = {};
    second = co_await co::recv_from(b, buffer{small, sizeof small});
  };
  auto sender = [&]() -> task<void> {
    auto r1 = co_await co::send_to(a, pocore::make_buffer(std::string_view("datagram")), b_ep);
    EXPECT_FALSE(r1.error);
    EXPECT_EQ(r1.bytes, 8u);
    auto r2 = co_await co::send_to(a, pocore::make_buffer(std::string_view("too long")), b_ep);
    EXPECT_FALSE(r2.error);
  };
  pocore::co_spawn(port(), receiver(), [&](std::exception_ptr) { done.fetch_add(1); });
  pocore::co_spawn(port(), sender(), [&](std::exception_ptr) { done.fetch_add(1); });
  ASSERT_TRUE(run_tasks(port(), done, 2));
  EXPECT_FALSE(first.error) << first.error.message();
  EXPECT_EQ(text, "datagram");
  EXPECT_EQ(first.peer, a_ep) << first.peer.to_string() << " vs " << a_ep.to_string();
  EXPECT_EQ(second.error, errc::message_size) << second.error.message();
  EXPECT_EQ(second.bytes, 4u);
  a.close();
  b.close();
}

POCORE_CASE(coro_timer_wait_and_cancel) {
  pocore::timer t(port());
  std::atomic<int> done{0};
  std::error_code waited, cancelled;
  clock::time_point start{}, end{};
  auto sleeper = [&]() -> task<void> {
    start = clock::now();
    waited = co_await co::wait_for(t, 20ms);
    end = clock::now();
    // A long wait that the other task cancels through the timer.
    cancelled = co_await co::wait_for(t, 3600s);
  };
  auto canceller = [&]() -> task<void> {
    // Polls on a 1 ms timer of its own until the sleeper's second wait is
    // pending (bounded by count and by the wait budget).
    pocore::timer tick(port());
    const auto give_up = clock::now() + wait_budget();
    for (int i = 0; i < 100000 && clock::now() < give_up; ++i) {
      if (end != clock::time_point{} && t.pending() == 1) break;
      EXPECT_FALSE(co_await co::wait_for(tick, 1ms));
    }
    EXPECT_EQ(t.cancel(), 1u);
  };
  pocore::co_spawn(port(), sleeper(), [&](std::exception_ptr) { done.fetch_add(1); });
  pocore::co_spawn(port(), canceller(), [&](std::exception_ptr) { done.fetch_add(1); });
  ASSERT_TRUE(run_tasks(port(), done, 2));
  EXPECT_FALSE(waited) << waited.message();
  EXPECT_GE(end - start, 20ms) << "timer fired early";
  EXPECT_EQ(cancelled, errc::operation_aborted) << cancelled.message();
  EXPECT_EQ(t.pending(), 0u);
}

POCORE_CASE(coro_post_resumes_from_the_port) {
  std::atomic<int> done{0};
  int steps = 0;
  auto stepper = [&]() -> task<void> {
    for (int i = 0; i < 10; ++i) {
      co_await co::post(port());
      ++steps;
    }
  };
  pocore::co_spawn(port(), stepper(), [&](std::exception_ptr) { done.fetch_add(1); });
  EXPECT_EQ(steps, 0);
  // One callback per step: the spawn's own post, then ten.
  EXPECT_EQ(port().run_one(), 1u);
  EXPECT_EQ(steps, 0);
  EXPECT_EQ(port().run_one(), 1u);
  EXPECT_EQ(steps, 1);
  ASSERT_TRUE(run_tasks(port(), done, 1));
  EXPECT_EQ(steps, 10);
  // The spawned task held work until it ended; now nothing is owed.
  EXPECT_EQ(port().outstanding(), 0u);
}

POCORE_CASE(coro_stop_token_aborts_pending_recv_once) {
  auto pair = make_tcp_pair(port());
  ASSERT_TRUE(pair.client.is_open() && pair.server.is_open());
  std::stop_source stop;
  std::atomic<int> done{0}, resumed{0};
  pocore::io_result r;
  bool inherited = false;
  auto reader = [&]() -> task<void> {
    std::stop_token st = co_await co::stop_token();
    inherited = st.stop_possible();
    char buf[8];
    r = co_await co::recv(pair.server, buffer{buf, sizeof buf});  // the task's token
    resumed.fetch_add(1);
  };
  pocore::co_spawn(port(), reader(), stop.get_token(),
                   [&](std::exception_ptr) { done.fetch_add(1); });
  // One callback starts the task, which submits its recv; nothing arrives.
  EXPECT_EQ(port().run_one(), 1u);
  EXPECT_EQ(port().poll(), 0u);
  EXPECT_EQ(port().outstanding(), 2u) << "the task's work and its recv";
  EXPECT_EQ(resumed, 0);
  EXPECT_TRUE(stop.request_stop());
  EXPECT_EQ(resumed, 0) << "a stop request must not resume the task inline";
  ASSERT_TRUE(run_tasks(port(), done, 1));
  EXPECT_TRUE(inherited);
  EXPECT_EQ(resumed, 1);
  EXPECT_EQ(r.error, errc::operation_aborted) << r.error.message();
  EXPECT_EQ(r.bytes, 0u);
  // The socket still works: the cancel touched that one recv only.
  std::error_code ec;
  EXPECT_EQ(send_all(port(), pair.client, "x", 1, ec), 1u);
  char c = 0;
  EXPECT_EQ(recv_exact(port(), pair.server, &c, 1, ec), 1u);
  EXPECT_EQ(c, 'x');
}

POCORE_CASE(coro_stop_before_await_aborts_without_submitting) {
  auto pair = make_tcp_pair(port());
  ASSERT_TRUE(pair.client.is_open() && pair.server.is_open());
  std::stop_source stop;
  stop.request_stop();
  std::atomic<int> done{0};
  pocore::io_result r;
  std::error_code timer_result;
  std::size_t outstanding_inside = 0;
  pocore::timer t(port());
  auto reader = [&]() -> task<void> {
    outstanding_inside = port().outstanding();
    char buf[8];
    // An explicit token; the task has none.
    r = co_await co::recv(pair.server, buffer{buf, sizeof buf}, stop.get_token());
    EXPECT_EQ(port().outstanding(), outstanding_inside) << "nothing was submitted";
    timer_result = co_await co::wait_for(t, 3600s, stop.get_token());
  };
  pocore::co_spawn(port(), reader(), [&](std::exception_ptr) { done.fetch_add(1); });
  ASSERT_TRUE(run_tasks(port(), done, 1));
  EXPECT_EQ(r.error, errc::operation_aborted);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(timer_result, errc::operation_aborted);
  EXPECT_EQ(t.pending(), 0u);
}

POCORE_CASE(coro_stop_token_cancels_timer_and_accept) {
  endpoint bound;
  pocore::socket listener = make_listener(port(), endpoint::loopback_v4(), bound);
  ASSERT_TRUE(listener.is_open());
  pocore::timer t(port());
  std::stop_source stop;
  std::atomic<int> done{0};
  std::error_code timer_ec;
  pocore::accept_result acc;
  auto waiter = [&]() -> task<void> { timer_ec = co_await co::wait_for(t, 3600s); };
  auto acceptor = [&]() -> task<void> { acc = co_await co::accept(listener); };
  auto stopper = [&]() -> task<void> {
    // Both waits are pending once the timer has one and a few posts ran.
    for (int i = 0; i < 100000 && t.pending() == 0; ++i) co_await co::post(port());
    for (int i = 0; i < 10; ++i) co_await co::post(port());
    stop.request_stop();
  };
  pocore::co_spawn(port(), waiter(), stop.get_token(), [&](std::exception_ptr) { done++; });
  pocore::co_spawn(port(), acceptor(), stop.get_token(), [&](std::exception_ptr) { done++; });
  pocore::co_spawn(port(), stopper(), [&](std::exception_ptr) { done++; });
  ASSERT_TRUE(run_tasks(port(), done, 3));
  EXPECT_EQ(timer_ec, errc::operation_aborted) << timer_ec.message();
  EXPECT_EQ(acc.error, errc::operation_aborted) << acc.error.message();
  EXPECT_FALSE(acc.accepted.is_open());
  listener.close();
}

POCORE_CASE(coro_cancel_races_completion) {
  // A byte is sent while a stop is requested from another thread, over and
  // over. Each recv completes exactly once: with the byte, or aborted with
  // nothing taken (then the byte is still there for the next recv). No
  // byte is lost or duplicated.
  auto pair = make_tcp_pair(port());
  ASSERT_TRUE(pair.client.is_open() && pair.server.is_open());
  constexpr int rounds = 200;
  std::atomic<int> done{0};
  int got_bytes = 0, aborted = 0, other = 0, resumes = 0;
  std::vector<std::uint8_t> seen;
  std::atomic<int> round_ready{-1};
  std::vector<std::stop_source> stops(rounds);
  auto reader = [&]() -> task<void> {
    for (int i = 0; i < rounds; ++i) {
      std::uint8_t b = 0;
      round_ready.store(i);
      auto r = co_await co::recv(pair.server, buffer{&b, 1}, stops[i].get_token());
      ++resumes;
      if (!r.error && r.bytes == 1) {
        ++got_bytes;
        seen.push_back(b);
      } else if (r.error == errc::operation_aborted && r.bytes == 0) {
        ++aborted;
      } else {
        ++other;
      }
    }
    // Collect what is left: every byte sent arrives exactly once.
    while (static_cast<int>(seen.size()) < rounds) {
      std::uint8_t b = 0;
      auto r = co_await co::recv(pair.server, buffer{&b, 1}, std::stop_token{});
      if (r.error || r.bytes == 0) break;
      seen.push_back(b);
    }
  };
  pocore::co_spawn(port(), reader(), [&](std::exception_ptr) { done++; });
  // The racing side: its own thread sends byte i and requests stop i.
  std::thread racer([&] {
    const auto deadline = clock::now() + wait_budget();
    for (int i = 0; i < rounds && clock::now() < deadline; ++i) {
      while (round_ready.load() < i && clock::now() < deadline) std::this_thread::yield();
      std::uint8_t b = static_cast<std::uint8_t>(i);
      std::error_code ec;
      pair.client.send(const_buffer{&b, 1}, ec);
      EXPECT_FALSE(ec);
      stops[i].request_stop();
    }
    // End of stream ends the reader even if this loop gave up early.
    EXPECT_FALSE(pair.client.shutdown(pocore::shutdown_how::send));
  });
  run_threads runners(port(), 2);
  const std::size_t ran = runners.join();
  racer.join();
  EXPECT_GT(ran, 0u);
  ASSERT_EQ(done, 1);
  EXPECT_EQ(resumes, rounds);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(got_bytes + aborted, rounds);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(rounds));
  for (int i = 0; i < rounds; ++i) EXPECT_EQ(seen[i], static_cast<std::uint8_t>(i)) << i;
  std::printf("cancel race: %d completed with the byte, %d aborted\n", got_bytes, aborted);
}

namespace {
task<int> forty_two() { co_return 42; }
task<int> add(int a, int b) { co_return (co_await forty_two()) - 42 + a + b; }
task<std::string> throws_after(pocore::io_port& port) {
  co_await co::post(port);
  throw std::runtime_error("from the task");
}
task<int> deep(int n) {
  // A chain of tasks that finish without suspending, each resuming its
  // awaiter by symmetric transfer. (Optimised builds turn that into a tail
  // call, so the stack does not grow; sanitizer builds may not, hence a
  // modest n.)
  int sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await forty_two();
  co_return sum;
}
}  // namespace

POCORE_CASE(coro_task_values_and_exceptions) {
  std::atomic<int> done{0};
  int sum = 0, chain = 0;
  std::string caught;
  std::exception_ptr handed_over;
  std::string value_on_error = "unset";
  auto body = [&]() -> task<void> {
    sum = co_await add(1, 2);
    chain = co_await deep(1000);
    try {
      (void)co_await throws_after(port());
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  };
  pocore::co_spawn(port(), body(), [&](std::exception_ptr ep) {
    EXPECT_FALSE(ep);
    done++;
  });
  pocore::co_spawn(port(), throws_after(port()), [&](std::exception_ptr ep, std::string v) {
    handed_over = ep;
    value_on_error = v;
    done++;
  });
  ASSERT_TRUE(run_tasks(port(), done, 2));
  EXPECT_EQ(sum, 3);
  EXPECT_EQ(chain, 42 * 1000);
  EXPECT_EQ(caught, "from the task");
  ASSERT_TRUE(handed_over);
  EXPECT_EQ(value_on_error, "");
  try {
    std::rethrow_exception(handed_over);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "from the task");
  }
  // A task that never ran is destroyed with its frame, without running.
  bool ran = false;
  {
    auto never = [&]() -> task<void> {
      ran = true;
      co_return;
    }();
    EXPECT_TRUE(static_cast<bool>(never));
  }
  EXPECT_FALSE(ran);
}

POCORE_CASE(coro_many_concurrent_tasks) {
  // Many echo pairs at once on two threads running the port; run() returns
  // only when every task ended (co_spawn holds work).
  constexpr int pairs = 24;
  constexpr std::size_t n = 20000;
  std::vector<stream_pair> conns;
  for (int i = 0; i < pairs; ++i) {
    conns.push_back(make_tcp_pair(port()));
    ASSERT_TRUE(conns.back().client.is_open() && conns.back().server.is_open());
  }
  std::atomic<int> done{0};
  std::atomic<std::size_t> total{0};
  for (int i = 0; i < pairs; ++i) {
    pocore::co_spawn(port(), echo_server(std::move(conns[i].server)),
                     [&](std::exception_ptr ep, std::size_t) {
                       EXPECT_FALSE(ep);
                       done++;
                     });
    pocore::co_spawn(port(), echo_client(std::move(conns[i].client), n, 100 + i),
                     [&](std::exception_ptr ep, std::size_t v) {
                       EXPECT_FALSE(ep);
                       total += v;
                       done++;
                     });
  }
  run_threads runners(port(), 2);
  runners.join();
  EXPECT_EQ(done, 2 * pairs);
  EXPECT_EQ(total, pairs * n);
}
