// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Stream data transfer over TCP: never-inline completion, whole sends,
// ordering, EOF, zero-byte and scatter/gather operations, IPv6, dual stack,
// graceful disconnect and half-close (guarantees 2, 3 and 4).

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::address_family;
using pocore::buffer;
using pocore::const_buffer;
using pocore::endpoint;

#define ASSERT_PAIR(p) ASSERT_TRUE((p).client.is_open() && (p).server.is_open())

POCORE_CASE(tcp_send_recv_roundtrip) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  op_rec s;
  submit([&] { p.client.async_send(s, pocore::make_buffer(std::string_view("hello"))); });
  std::array<char, 16> buf{};
  op_rec r;
  submit([&] { p.server.async_recv(r, buffer{buf.data(), buf.size()}); });
  ASSERT_TRUE(run_until(port(), [&] { return s.calls == 1 && r.calls == 1; }));
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.bytes, 5u);
  EXPECT_FALSE(r.error);
  ASSERT_EQ(r.bytes, 5u);
  EXPECT_EQ(std::string(buf.data(), 5), "hello");
  p.client.close();
  p.server.close();
}

POCORE_CASE(no_inline_completion_for_immediate_recv) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  // Two bytes in one send arrive together on loopback; once the first is
  // received the second is certainly queued, so the next recv can finish
  // at once. Its callback must still wait for the port to be run.
  std::error_code ec;
  ASSERT_EQ(send_all(port(), p.client, "xy", 2, ec), 2u);
  char c = 0;
  ASSERT_EQ(recv_exact(port(), p.server, &c, 1, ec), 1u);
  ASSERT_EQ(c, 'x');
  op_rec r;
  submit([&] { p.server.async_recv(r, buffer{&c, 1}); });
  EXPECT_EQ(r.calls, 0) << "recv completed inline";
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.bytes, 1u);
  EXPECT_EQ(c, 'y');
  EXPECT_EQ(r.inline_calls, 0);
  p.client.close();
  p.server.close();
}

POCORE_CASE(no_inline_completion_for_immediate_send) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  op_rec s;
  // A small send on an idle connection finishes at once in every backend.
  submit([&] { p.client.async_send(s, pocore::make_buffer(std::string_view("abc"))); });
  EXPECT_EQ(s.calls, 0) << "send completed inline";
  ASSERT_TRUE(run_until(port(), [&] { return s.calls == 1; }));
  EXPECT_EQ(s.inline_calls, 0);
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.bytes, 3u);
  std::array<char, 3> got{};
  std::error_code ec;
  EXPECT_EQ(recv_exact(port(), p.server, got.data(), 3, ec), 3u);
  p.client.close();
  p.server.close();
}

POCORE_CASE(no_inline_completion_for_immediate_error) {
  pocore::socket s(port());  // never opened
  op_rec r;
  char c = 0;
  submit([&] { s.async_recv(r, buffer{&c, 1}); });
  EXPECT_EQ(r.calls, 0) << "error delivered inline";
  EXPECT_EQ(port().outstanding(), 1u);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(r.inline_calls, 0);
  EXPECT_EQ(r.error, pocore::errc::bad_descriptor);
  EXPECT_EQ(r.bytes, 0u);
}

POCORE_CASE(tcp_eof_is_zero_bytes_no_error) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  std::array<char, 8> buf{};
  op_rec r;
  p.server.async_recv(r, buffer{buf.data(), buf.size()});
  p.client.close();
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.bytes, 0u);
  // Every later recv sees end of stream too.
  op_rec again;
  p.server.async_recv(again, buffer{buf.data(), buf.size()});
  ASSERT_TRUE(run_until(port(), [&] { return again.calls == 1; }));
  EXPECT_FALSE(again.error);
  EXPECT_EQ(again.bytes, 0u);
  p.server.close();
}

POCORE_CASE(tcp_large_send_completes_whole_against_slow_reader) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  constexpr std::size_t total = 16u << 20;
  std::vector<std::uint8_t> out(total);
  fill_pattern(out, 0, 7);
  op_rec s;
  p.client.async_send(s, const_buffer{out.data(), out.size()});
  // The reader takes small bites so the send has to wait for buffer space
  // many times.
  std::vector<std::uint8_t> in(total);
  std::size_t got = 0;
  std::size_t reads = 0;
  op_rec r;
  r.then = [&](op_rec& self) {
    if (self.error || self.bytes == 0) return;
    got += self.bytes;
    ++reads;
    if (got < total) {
      p.server.async_recv(self, buffer{in.data() + got, std::min<std::size_t>(4096, total - got)});
    }
  };
  p.server.async_recv(r, buffer{in.data(), 4096});
  ASSERT_TRUE(run_until(
      port(), [&] { return s.calls == 1 && (got == total || r.error); }, wait_budget() * 2));
  EXPECT_FALSE(s.error) << s.error.message();
  EXPECT_EQ(s.bytes, total);
  EXPECT_FALSE(r.error);
  ASSERT_EQ(got, total);
  EXPECT_EQ(check_pattern(in, 0, 7), total);
  EXPECT_EQ(s.calls, 1);
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_ten_thousand_queued_sends_arrive_in_order) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  constexpr std::uint32_t n = 10000;
  std::vector<std::uint32_t> seq(n);
  std::vector<op_rec> sends(n);
  std::vector<std::uint32_t> completed;
  completed.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    seq[i] = i;
    sends[i].context = &seq[i];
    sends[i].then = [&completed](op_rec& self) {
      completed.push_back(*static_cast<std::uint32_t*>(self.context));
    };
    p.client.async_send(sends[i], const_buffer{&seq[i], sizeof(std::uint32_t)});
  }
  std::vector<std::uint32_t> in(n, 0xFFFFFFFFu);
  std::error_code ec;
  const std::size_t got = recv_exact(port(), p.server, in.data(), n * sizeof(std::uint32_t), ec);
  EXPECT_FALSE(ec);
  ASSERT_EQ(got, n * sizeof(std::uint32_t));
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(in[i], i) << "out of order at " << i;
  ASSERT_TRUE(drain(port()));
  ASSERT_EQ(completed.size(), n);
  for (std::uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(completed[i], i) << "send completions out of submission order";
    ASSERT_EQ(sends[i].calls, 1);
    ASSERT_EQ(sends[i].bytes, sizeof(std::uint32_t));
  }
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_pending_recvs_filled_in_order) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  constexpr int n = 8;
  std::array<op_rec, n> recvs;
  std::array<std::array<std::uint8_t, 4>, n> bufs{};
  std::vector<int> order;
  for (int i = 0; i < n; ++i) {
    recvs[i].context = reinterpret_cast<void*>(static_cast<std::intptr_t>(i));
    recvs[i].then = [&order](op_rec& self) {
      order.push_back(static_cast<int>(reinterpret_cast<std::intptr_t>(self.context)));
    };
    p.server.async_recv(recvs[i], buffer{bufs[i].data(), bufs[i].size()});
  }
  // Send one 4-byte message at a time and wait for its recv, so each recv
  // gets exactly one message and the order is observable.
  for (int i = 0; i < n; ++i) {
    std::array<std::uint8_t, 4> msg{};
    fill_pattern(msg, static_cast<std::uint64_t>(i) * 4, 11);
    std::error_code ec;
    ASSERT_EQ(send_all(port(), p.client, msg.data(), msg.size(), ec), 4u);
    ASSERT_TRUE(run_until(port(), [&] { return recvs[i].calls == 1; })) << "recv " << i;
    for (int j = i + 1; j < n; ++j) EXPECT_EQ(recvs[j].calls, 0) << "recv " << j << " too early";
    EXPECT_FALSE(recvs[i].error);
    ASSERT_EQ(recvs[i].bytes, 4u);
    EXPECT_EQ(bufs[i], msg);
  }
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(order[i], i);
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_zero_byte_send_completes_with_zero) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  op_rec s;
  submit([&] { p.client.async_send(s, const_buffer{nullptr, 0}); });
  EXPECT_EQ(s.calls, 0);
  ASSERT_TRUE(run_until(port(), [&] { return s.calls == 1; }));
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.bytes, 0u);
  // Nothing went on the wire: the next byte the peer sees is the real one.
  std::error_code ec;
  ASSERT_EQ(send_all(port(), p.client, "Z", 1, ec), 1u);
  char c = 0;
  EXPECT_EQ(recv_exact(port(), p.server, &c, 1, ec), 1u);
  EXPECT_EQ(c, 'Z');
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_zero_byte_recv_completes_at_once) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  op_rec r;
  submit([&] { p.server.async_recv(r, buffer{nullptr, 0}); });
  EXPECT_EQ(r.calls, 0);
  // No data is ever sent; it must still complete, with 0 bytes, no error.
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.bytes, 0u);
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_gather_send) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  const std::array<const_buffer, 3> parts{pocore::make_buffer(std::string_view("one,")),
                                          pocore::make_buffer(std::string_view("")),
                                          pocore::make_buffer(std::string_view("two,three"))};
  op_rec s;
  p.client.async_send(s, std::span<const const_buffer>(parts));
  std::array<char, 13> got{};
  std::error_code ec;
  EXPECT_EQ(recv_exact(port(), p.server, got.data(), got.size(), ec), 13u);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(s.calls, 1);
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.bytes, 13u);
  EXPECT_EQ(std::string(got.data(), got.size()), "one,two,three");
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_scatter_recv) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  std::error_code ec;
  ASSERT_EQ(send_all(port(), p.client, "abcdefghij", 10, ec), 10u);
  std::array<char, 3> a{};
  std::array<char, 7> b{};
  const std::array<buffer, 2> parts{buffer{a.data(), a.size()}, buffer{b.data(), b.size()}};
  // Keep receiving into the same two buffers until all ten bytes are in:
  // a stream recv may return fewer bytes than were sent.
  op_rec r;
  p.server.async_recv(r, std::span<const buffer>(parts));
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
  EXPECT_FALSE(r.error);
  ASSERT_GE(r.bytes, 1u);
  ASSERT_LE(r.bytes, 10u);
  std::string all = std::string(a.data(), a.size()) + std::string(b.data(), b.size());
  EXPECT_EQ(all.substr(0, r.bytes), std::string("abcdefghij").substr(0, r.bytes));
  if (r.bytes < 10) {
    std::array<char, 10> rest{};
    EXPECT_EQ(recv_exact(port(), p.server, rest.data(), 10 - r.bytes, ec), 10 - r.bytes);
    EXPECT_EQ(std::string(rest.data(), 10 - r.bytes), std::string("abcdefghij").substr(r.bytes));
  }
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_ipv6_roundtrip) {
  stream_pair p = make_tcp_pair(port(), address_family::ipv6);
  ASSERT_PAIR(p);
  std::error_code ec;
  EXPECT_EQ(p.client.local_endpoint(ec).family(), address_family::ipv6);
  EXPECT_EQ(p.server.remote_endpoint(ec), p.client.local_endpoint(ec));
  EXPECT_EQ(send_all(port(), p.client, "v6", 2, ec), 2u);
  std::array<char, 2> got{};
  EXPECT_EQ(recv_exact(port(), p.server, got.data(), 2, ec), 2u);
  EXPECT_EQ(std::string(got.data(), 2), "v6");
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_dual_stack_accepts_ipv4_client) {
  // A v6 listener with v6_only=0 on ::ffff:127.0.0.1 accepts an IPv4
  // client, which it sees as a v4-mapped address (WINE.md: works on Wine).
  pocore::socket l(port());
  ASSERT_FALSE(l.open(address_family::ipv6, pocore::socket_type::stream));
  ASSERT_FALSE(l.set_option(pocore::socket_option::v6_only, 0));
  std::error_code ec;
  EXPECT_EQ(l.get_option(pocore::socket_option::v6_only, ec), 0);
  ASSERT_FALSE(l.bind(endpoint::loopback_v4_mapped()));
  ASSERT_FALSE(l.listen());
  const endpoint at = l.local_endpoint(ec);
  ASSERT_FALSE(ec);
  pocore::socket c(port());
  ASSERT_FALSE(c.open(address_family::ipv4, pocore::socket_type::stream));
  accept_rec a;
  op_rec cr;
  l.async_accept(a);
  c.async_connect(cr, endpoint::loopback_v4(at.port()));
  ASSERT_TRUE(run_until(port(), [&] { return a.calls == 1 && cr.calls == 1; }));
  EXPECT_FALSE(a.error) << a.error.message();
  EXPECT_FALSE(cr.error) << cr.error.message();
  ASSERT_TRUE(a.accepted.is_open());
  const endpoint client_ep = c.local_endpoint(ec);
  EXPECT_EQ(a.peer, endpoint::loopback_v4_mapped(client_ep.port()));
  EXPECT_EQ(send_all(port(), c, "46", 2, ec), 2u);
  std::array<char, 2> got{};
  EXPECT_EQ(recv_exact(port(), a.accepted, got.data(), 2, ec), 2u);
  EXPECT_EQ(std::string(got.data(), 2), "46");
  a.accepted.close();
  c.close();
  l.close();
}

POCORE_CASE(tcp_accept_reports_peer_endpoint) {
  endpoint at;
  pocore::socket l = make_listener(port(), endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  accept_rec a;
  submit([&] { l.async_accept(a); });  // pending before anyone connects
  EXPECT_EQ(a.calls, 0);
  pocore::socket c(port());
  ASSERT_FALSE(c.open(address_family::ipv4, pocore::socket_type::stream));
  op_rec cr;
  submit([&] { c.async_connect(cr, at); });
  ASSERT_TRUE(run_until(port(), [&] { return a.calls == 1 && cr.calls == 1; }));
  EXPECT_FALSE(a.error);
  EXPECT_FALSE(cr.error);
  std::error_code ec;
  const endpoint client_local = c.local_endpoint(ec);
  EXPECT_EQ(a.peer, client_local);
  EXPECT_EQ(a.accepted.remote_endpoint(ec), client_local);
  EXPECT_EQ(a.accepted.local_endpoint(ec), at);
  EXPECT_EQ(c.remote_endpoint(ec), at);
  EXPECT_EQ(port().open_sockets(), 3u);
  a.accepted.close();
  c.close();
  l.close();
}

POCORE_CASE(tcp_several_pending_accepts) {
  endpoint at;
  pocore::socket l = make_listener(port(), endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  constexpr int n = 4;
  std::array<accept_rec, n> acc;
  for (auto& a : acc) l.async_accept(a);
  std::array<pocore::socket, n> cs;
  std::array<op_rec, n> con;
  for (int i = 0; i < n; ++i) {
    cs[i] = pocore::socket(port());
    ASSERT_FALSE(cs[i].open(address_family::ipv4, pocore::socket_type::stream));
    cs[i].async_connect(con[i], at);
  }
  ASSERT_TRUE(run_until(port(), [&] {
    int done = 0;
    for (int i = 0; i < n; ++i) done += acc[i].calls + con[i].calls;
    return done == 2 * n;
  }));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(acc[i].calls, 1);
    EXPECT_FALSE(acc[i].error);
    EXPECT_TRUE(acc[i].accepted.is_open());
    EXPECT_FALSE(con[i].error);
  }
  EXPECT_EQ(port().open_sockets(), static_cast<std::size_t>(1 + 2 * n));
  for (auto& a : acc) a.accepted.close();
  for (auto& c : cs) c.close();
  l.close();
}

POCORE_CASE(tcp_moved_socket_keeps_working) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  const auto handle = p.server.native_handle();
  pocore::socket moved(std::move(p.server));
  EXPECT_FALSE(p.server.is_open());
  EXPECT_EQ(p.server.port(), &port());
  ASSERT_TRUE(moved.is_open());
  EXPECT_EQ(moved.native_handle(), handle);
  pocore::socket assigned(port());
  assigned = std::move(moved);
  EXPECT_FALSE(moved.is_open());
  // A pending recv on the moved-to object completes normally.
  char c = 0;
  op_rec r;
  assigned.async_recv(r, buffer{&c, 1});
  std::error_code ec;
  EXPECT_EQ(send_all(port(), p.client, "m", 1, ec), 1u);
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.bytes, 1u);
  EXPECT_EQ(c, 'm');
  // Operations on the moved-from object fail through the callback.
  op_rec bad;
  p.server.async_recv(bad, buffer{&c, 1});
  ASSERT_TRUE(run_until(port(), [&] { return bad.calls == 1; }));
  EXPECT_EQ(bad.error, pocore::errc::bad_descriptor);
  EXPECT_EQ(port().open_sockets(), 2u);
  assigned.close();
  p.client.close();
}

POCORE_CASE(tcp_disconnect_then_peer_sees_eof) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  // Pending data first: the disconnect comes after every pending send.
  op_rec s;
  p.client.async_send(s, pocore::make_buffer(std::string_view("bye")));
  op_rec d;
  submit([&] { p.client.async_disconnect(d); });
  EXPECT_EQ(d.calls, 0);
  std::vector<std::uint8_t> got;
  std::error_code ec;
  const std::size_t n = recv_to_eof(port(), p.server, &got, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(std::string(got.begin(), got.end()), "bye");
  // Windows' DisconnectEx may finish only once the peer has closed its side
  // too, so the peer closes before the disconnect's completion is awaited.
  p.server.close();
  ASSERT_TRUE(run_until(port(), [&] { return d.calls == 1 && s.calls == 1; }))
      << "disconnect calls " << d.calls << ", send calls " << s.calls;
  EXPECT_FALSE(s.error);
  EXPECT_FALSE(d.error) << d.error.message();
  EXPECT_TRUE(p.client.is_open()) << "disconnect must not close the socket";
  p.client.close();
}

POCORE_CASE(tcp_shutdown_send_half_close_still_receives) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  ASSERT_FALSE(p.client.shutdown(pocore::shutdown_how::send));
  char c = 0;
  op_rec r;
  p.server.async_recv(r, buffer{&c, 1});
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.bytes, 0u) << "peer must see end of stream";
  // The other direction still works.
  std::error_code ec;
  EXPECT_EQ(send_all(port(), p.server, "back", 4, ec), 4u);
  EXPECT_FALSE(ec);
  std::array<char, 4> got{};
  EXPECT_EQ(recv_exact(port(), p.client, got.data(), 4, ec), 4u);
  EXPECT_EQ(std::string(got.data(), 4), "back");
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_recv_loop_resubmits_from_callback) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  constexpr std::size_t total = 256 * 1024;
  std::vector<std::uint8_t> out(total);
  fill_pattern(out, 0, 3);
  std::vector<std::uint8_t> in;
  std::array<std::uint8_t, 1000> chunk{};
  op_rec r;
  bool eof = false;
  r.then = [&](op_rec& self) {
    if (self.error || self.bytes == 0) {
      eof = true;
      return;
    }
    in.insert(in.end(), chunk.begin(), chunk.begin() + self.bytes);
    submit([&] { p.server.async_recv(self, buffer{chunk.data(), chunk.size()}); });
  };
  p.server.async_recv(r, buffer{chunk.data(), chunk.size()});
  op_rec s;
  s.then = [&](op_rec&) { p.client.shutdown(pocore::shutdown_how::send); };
  p.client.async_send(s, const_buffer{out.data(), out.size()});
  ASSERT_TRUE(run_until(port(), [&] { return eof; }));
  EXPECT_FALSE(r.error);
  EXPECT_EQ(s.bytes, total);
  ASSERT_EQ(in.size(), total);
  EXPECT_EQ(check_pattern(in, 0, 3), total);
  p.client.close();
  p.server.close();
}

POCORE_CASE(tcp_hundred_connections_at_once) {
  endpoint at;
  pocore::socket l = make_listener(port(), endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  constexpr int n = 100;
  std::vector<accept_rec> acc(n);
  std::vector<pocore::socket> clients;
  clients.reserve(n);
  std::vector<op_rec> con(n);
  std::vector<std::uint32_t> ids(n);
  std::vector<op_rec> sends(n);
  for (auto& a : acc) l.async_accept(a);
  for (int i = 0; i < n; ++i) {
    clients.emplace_back(port());
    ASSERT_FALSE(clients[i].open(address_family::ipv4, pocore::socket_type::stream));
    ids[i] = static_cast<std::uint32_t>(i) * 7919u;
    con[i].then = [&, i](op_rec& self) {
      if (!self.error) clients[i].async_send(sends[i], const_buffer{&ids[i], sizeof(ids[i])});
    };
    clients[i].async_connect(con[i], at);
  }
  ASSERT_TRUE(run_until(port(), [&] {
    int done = 0;
    for (int i = 0; i < n; ++i) done += acc[i].calls + con[i].calls + sends[i].calls;
    return done == 3 * n;
  }));
  std::vector<bool> seen(n, false);
  for (int i = 0; i < n; ++i) {
    ASSERT_FALSE(acc[i].error) << acc[i].error.message();
    ASSERT_FALSE(con[i].error) << con[i].error.message();
    EXPECT_EQ(sends[i].bytes, sizeof(std::uint32_t));
    std::uint32_t id = 0;
    std::error_code ec;
    ASSERT_EQ(recv_exact(port(), acc[i].accepted, &id, sizeof(id), ec), sizeof(id));
    ASSERT_EQ(id % 7919u, 0u);
    const std::uint32_t k = id / 7919u;
    ASSERT_LT(k, static_cast<std::uint32_t>(n));
    EXPECT_FALSE(seen[k]) << "two connections carried id " << k;
    seen[k] = true;
  }
  EXPECT_EQ(port().open_sockets(), static_cast<std::size_t>(1 + 2 * n));
  for (auto& a : acc) a.accepted.close();
  for (auto& c : clients) c.close();
  l.close();
}

POCORE_CASE(tcp_full_duplex_simultaneous) {
  // Both ends send 1 MiB to each other at once; neither may stall the other.
  stream_pair p = make_tcp_pair(port());
  ASSERT_PAIR(p);
  constexpr std::size_t total = 1u << 20;
  std::vector<std::uint8_t> a_out(total), b_out(total), a_in(total), b_in(total);
  fill_pattern(a_out, 0, 101);
  fill_pattern(b_out, 0, 202);
  op_rec sa, sb;
  p.client.async_send(sa, const_buffer{a_out.data(), total});
  p.server.async_send(sb, const_buffer{b_out.data(), total});
  std::size_t got_a = 0, got_b = 0;
  op_rec ra, rb;
  ra.then = [&](op_rec& self) {
    if (self.error || self.bytes == 0) return;
    got_a += self.bytes;
    if (got_a < total) p.client.async_recv(self, buffer{a_in.data() + got_a, total - got_a});
  };
  rb.then = [&](op_rec& self) {
    if (self.error || self.bytes == 0) return;
    got_b += self.bytes;
    if (got_b < total) p.server.async_recv(self, buffer{b_in.data() + got_b, total - got_b});
  };
  p.client.async_recv(ra, buffer{a_in.data(), total});
  p.server.async_recv(rb, buffer{b_in.data(), total});
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(sa.bytes, total);
  EXPECT_EQ(sb.bytes, total);
  ASSERT_EQ(got_a, total);
  ASSERT_EQ(got_b, total);
  EXPECT_EQ(check_pattern(a_in, 0, 202), total);
  EXPECT_EQ(check_pattern(b_in, 0, 101), total);
  p.client.close();
  p.server.close();
}
