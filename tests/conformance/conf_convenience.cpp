// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The convenience layer: any callable as the completion handler, for
// accept, connect, recv, send, recv_from, send_to, timers and post. Same
// guarantees as the record API (exactly once, never inline).

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::address_family;
using pocore::buffer;
using pocore::const_buffer;
using pocore::endpoint;
using pocore::errc;

POCORE_CASE(lambda_accept_connect_send_recv) {
  endpoint at;
  pocore::socket l = make_listener(port(), endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  pocore::socket server(port());
  pocore::socket client(port());
  ASSERT_FALSE(client.open(address_family::ipv4, pocore::socket_type::stream));
  int accepted = 0;
  int connected = 0;
  bool in_submit = true;
  l.async_accept([&](std::error_code ec, pocore::socket s) {
    EXPECT_FALSE(in_submit);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(s.is_open());
    server = std::move(s);
    ++accepted;
  });
  client.async_connect(at, [&](std::error_code ec) {
    EXPECT_FALSE(in_submit);
    EXPECT_FALSE(ec) << ec.message();
    ++connected;
  });
  in_submit = false;
  ASSERT_TRUE(run_until(port(), [&] { return accepted == 1 && connected == 1; }));
  ASSERT_TRUE(server.is_open());

  std::array<char, 8> buf{};
  int sent = 0;
  int received = 0;
  client.async_send(pocore::make_buffer(std::string_view("lambda")),
                    [&](std::error_code ec, std::size_t n) {
                      EXPECT_FALSE(ec);
                      EXPECT_EQ(n, 6u);
                      ++sent;
                    });
  std::string got;
  std::function<void(std::error_code, std::size_t)> on_recv = [&](std::error_code ec,
                                                                  std::size_t n) {
    ++received;
    ASSERT_FALSE(ec);
    ASSERT_GT(n, 0u);
    got.append(buf.data(), n);
    if (got.size() < 6) server.async_recv(buffer{buf.data(), buf.size()}, on_recv);
  };
  server.async_recv(buffer{buf.data(), buf.size()}, on_recv);
  ASSERT_TRUE(run_until(port(), [&] { return sent == 1 && got.size() >= 6; }));
  EXPECT_EQ(got, "lambda");
  EXPECT_GE(received, 1);
  ASSERT_TRUE(drain(port()));
  server.close();
  client.close();
  l.close();
}

POCORE_CASE(lambda_connect_refused) {
  const refused_target refused = refused_endpoint(port(), address_family::ipv4);
  const endpoint nobody = refused.at;
  pocore::socket c(port());
  ASSERT_FALSE(c.open(address_family::ipv4, pocore::socket_type::stream));
  std::error_code result;
  int calls = 0;
  c.async_connect(nobody, [&](std::error_code ec) {
    result = ec;
    ++calls;
  });
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result, errc::connection_refused);
  c.close();
}

POCORE_CASE(lambda_udp_send_to_recv_from) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::array<char, 16> buf{};
  int calls = 0;
  b.async_recv_from(buffer{buf.data(), buf.size()},
                    [&](std::error_code ec, std::size_t n, const endpoint& from) {
                      EXPECT_FALSE(ec);
                      EXPECT_EQ(n, 3u);
                      EXPECT_EQ(from, a_ep);
                      ++calls;
                    });
  a.async_send_to(pocore::make_buffer(std::string_view("udp")), b_ep,
                  // Exactly the documented form f(error_code, size_t).
                  [&](std::error_code ec, std::size_t n) {
                    EXPECT_FALSE(ec);
                    EXPECT_EQ(n, 3u);
                    ++calls;
                  });
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(std::string(buf.data(), 3), "udp");
  a.close();
  b.close();
}

POCORE_CASE(lambda_timer_and_cancel) {
  pocore::timer t(port());
  const auto start = clock::now();
  clock::time_point fired{};
  std::error_code short_ec, long_ec;
  int calls = 0;
  t.async_wait_for(5ms, [&](std::error_code ec) {
    fired = clock::now();
    short_ec = ec;
    ++calls;
  });
  t.async_wait_for(1h, [&](std::error_code ec) {
    long_ec = ec;
    ++calls;
    EXPECT_EQ(ec, errc::operation_aborted);
  });
  ASSERT_TRUE(run_until(port(), [&] { return calls == 1; }));
  EXPECT_FALSE(short_ec);
  EXPECT_GE(fired - start, 5ms);
  EXPECT_EQ(t.cancel(), 1u);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(long_ec, errc::operation_aborted);
}

POCORE_CASE(lambda_post_from_threads) {
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  std::vector<std::atomic<int>> hits(threads * per_thread);
  port().add_work();
  run_threads runner(port(), 2);
  std::vector<std::thread> posters;
  for (int t = 0; t < threads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        pocore::post(port(), [&hits, k = t * per_thread + i] { hits[k].fetch_add(1); });
      }
    });
  }
  for (auto& p : posters) p.join();
  port().remove_work();
  EXPECT_EQ(runner.join(), static_cast<std::size_t>(threads * per_thread));
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

POCORE_CASE(lambda_handler_owns_move_only_state) {
  auto payload = std::make_unique<int>(42);
  int seen = 0;
  pocore::post(port(), [&seen, p = std::move(payload)] { seen = *p; });
  EXPECT_EQ(seen, 0);
  EXPECT_EQ(port().run(), 1u);
  EXPECT_EQ(seen, 42);
}

POCORE_CASE(lambda_aborted_by_close) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  char c = 0;
  std::error_code result;
  int calls = 0;
  p.server.async_recv(buffer{&c, 1}, [&](std::error_code ec, std::size_t n) {
    result = ec;
    EXPECT_EQ(n, 0u);
    ++calls;
  });
  p.server.close();
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result, errc::operation_aborted);
  p.client.close();
}
