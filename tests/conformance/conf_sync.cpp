// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The synchronous call set: open, bind, listen, accept, connect, send,
// recv, shutdown, close, options, local and remote endpoints. Blocking calls
// are only made where the other side is certainly ready, so none can hang.

#include <array>
#include <string>
#include <thread>

#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::address_family;
using pocore::buffer;
using pocore::const_buffer;
using pocore::endpoint;
using pocore::errc;
using pocore::socket_option;
using pocore::socket_type;

namespace {

void sync_roundtrip(pocore::io_port& port, address_family family) {
  const endpoint lo =
      family == address_family::ipv6 ? endpoint::loopback_v6() : endpoint::loopback_v4();
  pocore::socket l(port);
  ASSERT_FALSE(l.open(family, socket_type::stream));
  EXPECT_TRUE(l.is_open());
  EXPECT_EQ(l.family(), family);
  EXPECT_NE(l.native_handle(), pocore::invalid_native_handle);
  ASSERT_FALSE(l.bind(lo));
  ASSERT_FALSE(l.listen(16));
  std::error_code ec;
  const endpoint at = l.local_endpoint(ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(at.family(), family);
  EXPECT_NE(at.port(), 0);
  EXPECT_TRUE(at.is_loopback());

  pocore::socket c(port);
  ASSERT_FALSE(c.open(family, socket_type::stream));
  // A loopback connect completes against the backlog without accept().
  ASSERT_FALSE(c.connect(at));
  endpoint peer;
  pocore::socket s = l.accept(ec, &peer);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(s.is_open());
  EXPECT_EQ(s.port(), &port);
  EXPECT_EQ(peer, c.local_endpoint(ec));
  EXPECT_EQ(c.remote_endpoint(ec), at);
  EXPECT_EQ(s.local_endpoint(ec), at);
  EXPECT_EQ(s.remote_endpoint(ec), peer);
  EXPECT_EQ(port.open_sockets(), 3u);

  EXPECT_EQ(c.send(pocore::make_buffer(std::string_view("ping")), ec), 4u);
  EXPECT_FALSE(ec);
  std::array<char, 4> buf{};
  std::size_t got = 0;
  for (int i = 0; i < 4 && got < 4; ++i) {
    const std::size_t n = s.recv(buffer{buf.data() + got, 4 - got}, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_GT(n, 0u);
    got += n;
  }
  EXPECT_EQ(std::string(buf.data(), 4), "ping");
  ASSERT_FALSE(s.shutdown(pocore::shutdown_how::send));
  char x = 0;
  EXPECT_EQ(c.recv(buffer{&x, 1}, ec), 0u);
  EXPECT_FALSE(ec) << "end of stream is 0 bytes and no error";
  s.close();
  c.close();
  l.close();
  EXPECT_EQ(port.open_sockets(), 0u);
}

}  // namespace

POCORE_CASE(sync_tcp_ipv4_full_call_set) { sync_roundtrip(port(), address_family::ipv4); }

POCORE_CASE(sync_tcp_ipv6_full_call_set) { sync_roundtrip(port(), address_family::ipv6); }

POCORE_CASE(sync_blocking_recv_waits_for_data) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  // The recv blocks in this thread until the other thread sends.
  std::thread writer([&] {
    std::error_code ec;
    p.client.send(pocore::make_buffer(std::string_view("late")), ec);
  });
  std::array<char, 4> buf{};
  std::error_code ec;
  const std::size_t n = p.server.recv(buffer{buf.data(), buf.size()}, ec);
  writer.join();
  EXPECT_FALSE(ec);
  ASSERT_GE(n, 1u);
  EXPECT_EQ(std::string(buf.data(), n), std::string("late").substr(0, n));
  p.client.close();
  p.server.close();
}

POCORE_CASE(sync_options_set_and_get) {
  pocore::socket s(port());
  ASSERT_FALSE(s.open(address_family::ipv6, socket_type::stream));
  std::error_code ec;
  for (socket_option o : {socket_option::no_delay, socket_option::keep_alive,
                          socket_option::reuse_address, socket_option::v6_only}) {
    SCOPED_TRACE(static_cast<int>(o));
    ASSERT_FALSE(s.set_option(o, 1));
    EXPECT_EQ(s.get_option(o, ec), 1);
    EXPECT_FALSE(ec);
    ASSERT_FALSE(s.set_option(o, 0));
    EXPECT_EQ(s.get_option(o, ec), 0);
    EXPECT_FALSE(ec);
  }
  ASSERT_FALSE(s.set_option(socket_option::linger, 5));
  EXPECT_EQ(s.get_option(socket_option::linger, ec), 5);
  ASSERT_FALSE(s.set_option(socket_option::linger, -1));
  EXPECT_EQ(s.get_option(socket_option::linger, ec), -1);
  EXPECT_FALSE(ec);
  // Buffer sizes: the stack may round or double the value, but never gives
  // less than asked for a modest size.
  for (socket_option o : {socket_option::receive_buffer_size, socket_option::send_buffer_size}) {
    ASSERT_FALSE(s.set_option(o, 65536));
    EXPECT_GE(s.get_option(o, ec), 65536);
    EXPECT_FALSE(ec);
  }
  s.close();
}

POCORE_CASE(sync_udp_connected_send_recv) {
  // connect() on a datagram socket fixes its peer; send/recv then work
  // without an endpoint, in both directions.
  endpoint a_ep, b_ep;
  pocore::socket a = make_udp(port(), address_family::ipv4, a_ep);
  pocore::socket b = make_udp(port(), address_family::ipv4, b_ep);
  ASSERT_TRUE(a.is_open() && b.is_open());
  ASSERT_FALSE(a.connect(b_ep));
  ASSERT_FALSE(b.connect(a_ep));
  std::error_code ec;
  EXPECT_EQ(a.remote_endpoint(ec), b_ep);
  EXPECT_EQ(a.send(pocore::make_buffer(std::string_view("dgram")), ec), 5u);
  EXPECT_FALSE(ec);
  std::array<char, 8> buf{};
  EXPECT_EQ(b.recv(buffer{buf.data(), buf.size()}, ec), 5u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf.data(), 5), "dgram");
  // The overlapped recv works on a connected datagram socket too.
  op_rec r;
  a.async_recv(r, buffer{buf.data(), buf.size()});
  EXPECT_EQ(b.send(pocore::make_buffer(std::string_view("back")), ec), 4u);
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.bytes, 4u);
  EXPECT_EQ(std::string(buf.data(), 4), "back");
  a.close();
  b.close();
}

POCORE_CASE(sync_udp_open_bind_local_endpoint) {
  pocore::socket u(port());
  ASSERT_FALSE(u.open(address_family::ipv4, socket_type::datagram));
  ASSERT_FALSE(u.bind(endpoint::loopback_v4()));
  std::error_code ec;
  const endpoint ep = u.local_endpoint(ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(ep.family(), address_family::ipv4);
  EXPECT_NE(ep.port(), 0);
  EXPECT_EQ(ep.to_string(), "127.0.0.1:" + std::to_string(ep.port()));
  u.close();
}

POCORE_CASE(sync_shutdown_receive_and_both) {
  stream_pair p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  EXPECT_FALSE(p.server.shutdown(pocore::shutdown_how::receive));
  EXPECT_FALSE(p.client.shutdown(pocore::shutdown_how::both));
  std::error_code ec;
  EXPECT_EQ(p.client.send(pocore::make_buffer("x", 1), ec), 0u);
  EXPECT_EQ(ec, errc::shut_down);
  p.client.close();
  p.server.close();
}

POCORE_CASE(sync_connect_then_async_traffic) {
  endpoint at;
  pocore::socket l = make_listener(port(), endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  pocore::socket c(port());
  ASSERT_FALSE(c.open(address_family::ipv4, socket_type::stream));
  ASSERT_FALSE(c.connect(at));
  accept_rec a;
  l.async_accept(a);
  ASSERT_TRUE(run_until(port(), [&] { return a.calls == 1; }));
  ASSERT_FALSE(a.error);
  std::error_code ec;
  EXPECT_EQ(send_all(port(), c, "mix", 3, ec), 3u);
  std::array<char, 3> got{};
  EXPECT_EQ(recv_exact(port(), a.accepted, got.data(), 3, ec), 3u);
  EXPECT_EQ(std::string(got.data(), 3), "mix");
  a.accepted.close();
  c.close();
  l.close();
}

POCORE_CASE(descriptors_are_not_inherited) {
  // Guarantee 9: close-on-exec descriptors, non-inheritable handles, for
  // opened and accepted sockets alike.
  stream_pair p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  pocore::socket u(port());
  ASSERT_FALSE(u.open(address_family::ipv6, socket_type::datagram));
  for (pocore::socket* s : {&p.client, &p.server, &u}) {
    EXPECT_TRUE(pocore_test::handle_not_inherited(s->native_handle()))
        << "handle " << static_cast<long long>(s->native_handle()) << " is inheritable";
  }
  u.close();
  p.client.close();
  p.server.close();
}

// A negative backlog is refused with a clear error on every platform (Linux
// would silently read it as somaxconn, Winsock as 0); the socket stays usable
// and the default backlog is the system maximum.
POCORE_CASE(listen_negative_backlog_is_invalid_argument) {
  pocore::socket l(port());
  ASSERT_FALSE(l.open(address_family::ipv4, socket_type::stream));
  ASSERT_FALSE(l.bind(endpoint::loopback_v4()));
  EXPECT_EQ(l.listen(-1), errc::invalid_argument);
  EXPECT_EQ(l.listen(-2147483647 - 1), errc::invalid_argument);
  ASSERT_FALSE(l.listen());
  std::error_code ec;
  const endpoint at = l.local_endpoint(ec);
  ASSERT_FALSE(ec);
  pocore::socket c(port());
  ASSERT_FALSE(c.open(address_family::ipv4, socket_type::stream));
  ASSERT_FALSE(c.connect(at));
  pocore::socket s = l.accept(ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(s.is_open());
}
