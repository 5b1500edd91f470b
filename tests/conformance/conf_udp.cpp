// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Datagrams: send_to / recv_from over IPv4, IPv6 and dual stack, peer
// endpoints, truncation as message_size, zero-length datagrams,
// scatter/gather and ordering of pending receives.

#include <array>
#include <string>
#include <vector>

#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::address_family;
using pocore::buffer;
using pocore::const_buffer;
using pocore::endpoint;
using pocore::errc;

namespace {

void udp_roundtrip(pocore::io_port& port, address_family family) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port, family, a_ep);
  pocore::socket b = make_udp(port, family, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::array<char, 32> buf{};
  dgram_rec r;
  submit([&] { b.async_recv_from(r, buffer{buf.data(), buf.size()}); });
  dgram_rec s;
  s.peer = b_ep;
  submit([&] { a.async_send_to(s, pocore::make_buffer(std::string_view("datagram"))); });
  EXPECT_EQ(r.calls + s.calls, 0);
  ASSERT_TRUE(run_until(port, [&] { return r.calls == 1 && s.calls == 1; }));
  EXPECT_FALSE(s.error) << s.error.message();
  EXPECT_EQ(s.bytes, 8u);
  EXPECT_FALSE(r.error) << r.error.message();
  ASSERT_EQ(r.bytes, 8u);
  EXPECT_EQ(std::string(buf.data(), 8), "datagram");
  EXPECT_EQ(r.peer, a_ep) << r.peer.to_string() << " vs " << a_ep.to_string();
  EXPECT_EQ(r.peer.family(), family);
  a.close();
  b.close();
}

}  // namespace

POCORE_CASE(udp_send_to_recv_from_ipv4) { udp_roundtrip(port(), address_family::ipv4); }

POCORE_CASE(udp_send_to_recv_from_ipv6) { udp_roundtrip(port(), address_family::ipv6); }

POCORE_CASE(udp_truncation_is_message_size) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::array<char, 4> small{};
  dgram_rec r;
  b.async_recv_from(r, buffer{small.data(), small.size()});
  dgram_rec s;
  s.peer = b_ep;
  a.async_send_to(s, pocore::make_buffer(std::string_view("0123456789")));
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1 && s.calls == 1; }));
  EXPECT_EQ(s.bytes, 10u);
  EXPECT_EQ(r.error, errc::message_size) << r.error.message();
  EXPECT_EQ(r.error, std::errc::message_size);
  EXPECT_EQ(r.bytes, small.size());
  EXPECT_EQ(std::string(small.data(), small.size()), "0123");
  EXPECT_EQ(r.peer, a_ep);
  // The rest of that datagram is gone; the next one arrives whole.
  std::array<char, 16> big{};
  dgram_rec r2;
  b.async_recv_from(r2, buffer{big.data(), big.size()});
  dgram_rec s2;
  s2.peer = b_ep;
  a.async_send_to(s2, pocore::make_buffer(std::string_view("next")));
  ASSERT_TRUE(run_until(port(), [&] { return r2.calls == 1 && s2.calls == 1; }));
  EXPECT_FALSE(r2.error);
  ASSERT_EQ(r2.bytes, 4u);
  EXPECT_EQ(std::string(big.data(), 4), "next");
  a.close();
  b.close();
}

POCORE_CASE(udp_sync_truncation_is_message_size) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::error_code ec;
  EXPECT_EQ(a.send_to(pocore::make_buffer(std::string_view("abcdefgh")), b_ep, ec), 8u);
  EXPECT_FALSE(ec);
  std::array<char, 3> small{};
  endpoint from;
  EXPECT_EQ(b.recv_from(buffer{small.data(), small.size()}, from, ec), 3u);
  EXPECT_EQ(ec, errc::message_size);
  EXPECT_EQ(std::string(small.data(), 3), "abc");
  EXPECT_EQ(from, a_ep);
  a.close();
  b.close();
}

POCORE_CASE(udp_zero_length_datagram) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::array<char, 8> buf{};
  dgram_rec r;
  b.async_recv_from(r, buffer{buf.data(), buf.size()});
  dgram_rec s;
  s.peer = b_ep;
  a.async_send_to(s, const_buffer{nullptr, 0});
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1 && s.calls == 1; }));
  EXPECT_FALSE(s.error) << s.error.message();
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(r.peer, a_ep);
  a.close();
  b.close();
}

POCORE_CASE(udp_scatter_gather) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::array<char, 2> x{};
  std::array<char, 20> y{};
  const std::array<buffer, 2> in{buffer{x.data(), x.size()}, buffer{y.data(), y.size()}};
  dgram_rec r;
  b.async_recv_from(r, std::span<const buffer>(in));
  const std::array<const_buffer, 3> out{pocore::make_buffer(std::string_view("sc")),
                                        pocore::make_buffer(std::string_view("at")),
                                        pocore::make_buffer(std::string_view("ter"))};
  dgram_rec s;
  s.peer = b_ep;
  a.async_send_to(s, std::span<const const_buffer>(out));
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1 && s.calls == 1; }));
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.bytes, 7u);
  EXPECT_FALSE(r.error);
  ASSERT_EQ(r.bytes, 7u);
  EXPECT_EQ(std::string(x.data(), 2) + std::string(y.data(), 5), "scatter");
  a.close();
  b.close();
}

POCORE_CASE(udp_pending_recvs_filled_in_order) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  constexpr int n = 6;
  std::array<dgram_rec, n> r;
  std::array<std::uint32_t, n> got{};
  std::vector<int> order;
  for (int i = 0; i < n; ++i) {
    r[i].context = &got[i];
    r[i].then = [&order, &got](dgram_rec& self) {
      order.push_back(static_cast<int>(static_cast<std::uint32_t*>(self.context) - got.data()));
    };
    b.async_recv_from(r[i], buffer{&got[i], sizeof(std::uint32_t)});
  }
  std::array<std::uint32_t, n> msg{};
  std::array<dgram_rec, n> s;
  for (int i = 0; i < n; ++i) {
    msg[i] = 1000u + static_cast<std::uint32_t>(i);
    s[i].peer = b_ep;
    a.async_send_to(s[i], const_buffer{&msg[i], sizeof(std::uint32_t)});
  }
  ASSERT_TRUE(drain(port()));
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(order[i], i);
    EXPECT_FALSE(r[i].error);
    EXPECT_EQ(r[i].bytes, sizeof(std::uint32_t));
    // Loopback keeps datagram order, so recv i holds datagram i.
    EXPECT_EQ(got[i], 1000u + static_cast<std::uint32_t>(i));
    EXPECT_EQ(s[i].calls, 1);
  }
  a.close();
  b.close();
}

POCORE_CASE(udp_sync_send_to_recv_from) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv6, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv6, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::error_code ec;
  EXPECT_EQ(a.send_to(pocore::make_buffer(std::string_view("sync")), b_ep, ec), 4u);
  EXPECT_FALSE(ec);
  std::array<char, 8> buf{};
  endpoint from;
  EXPECT_EQ(b.recv_from(buffer{buf.data(), buf.size()}, from, ec), 4u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf.data(), 4), "sync");
  EXPECT_EQ(from, a_ep);
  // Non-blocking with nothing queued.
  ASSERT_FALSE(b.set_non_blocking(true));
  EXPECT_EQ(b.recv_from(buffer{buf.data(), buf.size()}, from, ec), 0u);
  EXPECT_EQ(ec, errc::would_block);
  a.close();
  b.close();
}

POCORE_CASE(udp_dual_stack_v4_mapped) {
  pocore::socket v6(port());
  ASSERT_FALSE(v6.open(address_family::ipv6, pocore::socket_type::datagram));
  ASSERT_FALSE(v6.set_option(pocore::socket_option::v6_only, 0));
  ASSERT_FALSE(v6.bind(endpoint::loopback_v4_mapped()));
  std::error_code ec;
  const endpoint v6_ep = v6.local_endpoint(ec);
  endpoint v4_ep;
  pocore::socket v4 = make_udp(port(), address_family::ipv4, v4_ep);
  ASSERT_TRUE(v4.is_open());
  std::array<char, 8> buf{};
  dgram_rec r;
  v6.async_recv_from(r, buffer{buf.data(), buf.size()});
  dgram_rec s;
  s.peer = endpoint::loopback_v4(v6_ep.port());
  v4.async_send_to(s, pocore::make_buffer(std::string_view("mapped")));
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1 && s.calls == 1; }));
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.bytes, 6u);
  EXPECT_EQ(r.peer, endpoint::loopback_v4_mapped(v4_ep.port()));
  v4.close();
  v6.close();
}

POCORE_CASE(udp_close_with_pending_recv_from) {
  endpoint ep;
  pocore::socket u = make_udp(port(), address_family::ipv4, ep);
  ASSERT_TRUE(u.is_open());
  std::array<char, 8> buf{};
  std::array<dgram_rec, 3> r;
  for (auto& x : r) u.async_recv_from(x, buffer{buf.data(), buf.size()});
  u.close();
  ASSERT_TRUE(drain(port()));
  for (auto& x : r) {
    EXPECT_EQ(x.calls, 1);
    EXPECT_EQ(x.error, errc::operation_aborted);
  }
}

POCORE_CASE(udp_unreachable_peer_does_not_break_socket) {
  // An ICMP port-unreachable for an earlier datagram must not surface as an
  // error on an unconnected socket (Windows' WSAECONNRESET quirk is
  // normalised away).
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  const endpoint dead = [&] {
    endpoint e;
    pocore::socket gone = make_udp(port(), address_family::ipv4, e);
    gone.close();
    return e;
  }();
  dgram_rec s1;
  s1.peer = dead;
  a.async_send_to(s1, pocore::make_buffer(std::string_view("void")));
  ASSERT_TRUE(run_until(port(), [&] { return s1.calls == 1; }));
  EXPECT_FALSE(s1.error) << s1.error.message();
  std::array<char, 8> buf{};
  dgram_rec r;
  a.async_recv_from(r, buffer{buf.data(), buf.size()});
  dgram_rec s2;
  s2.peer = a_ep;
  b.async_send_to(s2, pocore::make_buffer(std::string_view("alive")));
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1 && s2.calls == 1; }));
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.bytes, 5u);
  EXPECT_EQ(r.peer, b_ep);
  a.close();
  b.close();
}

POCORE_CASE(udp_exact_fit_is_not_truncation) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  std::array<char, 5> buf{};
  dgram_rec r;
  b.async_recv_from(r, buffer{buf.data(), buf.size()});
  dgram_rec s;
  s.peer = b_ep;
  a.async_send_to(s, pocore::make_buffer(std::string_view("exact")));
  ASSERT_TRUE(drain(port()));
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.bytes, 5u);
  EXPECT_EQ(std::string(buf.data(), 5), "exact");
  a.close();
  b.close();
}

POCORE_CASE(udp_large_datagram_roundtrip) {
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  constexpr std::size_t size = 60000;  // under the 65507-byte IPv4 limit
  std::vector<std::uint8_t> out(size), in(size + 1);
  fill_pattern(out, 0, 55);
  dgram_rec r;
  b.async_recv_from(r, buffer{in.data(), in.size()});
  dgram_rec s;
  s.peer = b_ep;
  a.async_send_to(s, const_buffer{out.data(), out.size()});
  ASSERT_TRUE(drain(port()));
  EXPECT_FALSE(s.error) << s.error.message();
  EXPECT_EQ(s.bytes, size);
  EXPECT_FALSE(r.error) << r.error.message();
  ASSERT_EQ(r.bytes, size);
  EXPECT_EQ(check_pattern(std::span<const std::uint8_t>(in.data(), size), 0, 55), size);
  a.close();
  b.close();
}
