// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The pocore side of the interop cases against a peer in another process:
// the Wine leg, where pocore is built for Windows and runs under Wine while
// pocore-asio-peer runs natively on Linux. tests/interop/interop_wine.sh
// starts both. Each case names the peer's command line; `@PORT@` in it
// means pocore listens and the peer connects (pocore prints
// `listening on <port>`), otherwise the peer listens first and its port
// arrives in POCORE_INTEROP_PEER_PORT. The peer checks its own side and
// the script fails the test if either side fails.
//
// The cases mirror the in-process ones in interop_tcp.cpp, interop_udp.cpp
// and interop_abort.cpp, with the same sizes and patterns.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "interop_pocore.hpp"

class interop_remote : public conformance {};
/// A remote case; CMake reads `peer_args` from the source.
#define POCORE_INTEROP_REMOTE(name, peer_args) TEST_F(interop_remote, name)

using namespace iop;
using pocore::address_family;
using pocore::errc;
using pocore_test::dgram_rec;
using pocore_test::run_until;
using pocore_test::wait_budget;

namespace {

constexpr std::uint64_t k_mib = 1024 * 1024;

/// The peer's endpoint (it listens on the loopback of `fam`).
pocore::endpoint peer_endpoint(address_family fam) {
  const char* p = std::getenv("POCORE_INTEROP_PEER_PORT");
  return loopback(fam, static_cast<std::uint16_t>(p != nullptr ? std::atoi(p) : 0));
}

/// Tells the driver script where to point the peer.
void announce(std::uint16_t port) {
  std::printf("listening on %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
}

void pocore_server_echo(pocore::io_port& port, address_family fam, std::size_t n) {
  echo_server srv(port, fam, static_cast<int>(n));
  ASSERT_NE(srv.endpoint().port(), 0);
  announce(srv.endpoint().port());
  EXPECT_TRUE(run_until(port, [&] { return srv.done(); })) << "pocore server did not finish";
  EXPECT_FALSE(srv.accept_error) << srv.accept_error.message();
  ASSERT_EQ(srv.conns.size(), n);
  for (const auto& c : srv.conns) {
    EXPECT_FALSE(c->stats.read_error) << c->stats.read_error.message();
    EXPECT_FALSE(c->stats.write_error) << c->stats.write_error.message();
    EXPECT_TRUE(c->stats.eof);
    EXPECT_EQ(c->stats.sent, c->stats.received);
    EXPECT_TRUE(c->stats.sent_sum == c->stats.received_sum);
  }
}

void asio_server_echo(pocore::io_port& port, address_family fam,
                      const std::vector<std::uint64_t>& sizes) {
  const auto ep = peer_endpoint(fam);
  ASSERT_NE(ep.port(), 0) << "POCORE_INTEROP_PEER_PORT is not set";
  std::vector<std::unique_ptr<stream>> cl;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    stream::options o;
    o.send_total = sizes[i];
    o.send_seed = static_cast<std::uint32_t>(100 + i);
    o.recv_seed = o.send_seed;
    cl.push_back(std::make_unique<stream>(port, o));
    cl.back()->connect(ep);
  }
  EXPECT_TRUE(run_until(port, [&] {
    return std::all_of(cl.begin(), cl.end(), [](const auto& c) { return c->done(); });
  }));
  for (std::size_t i = 0; i < cl.size(); ++i) {
    SCOPED_TRACE("pocore client " + std::to_string(i));
    const pocore_stats& c = cl[i]->stats;
    EXPECT_FALSE(cl[i]->connect_error) << cl[i]->connect_error.message();
    EXPECT_FALSE(c.read_error) << c.read_error.message();
    EXPECT_FALSE(c.write_error) << c.write_error.message();
    EXPECT_TRUE(c.eof);
    EXPECT_EQ(c.sent, sizes[i]);
    EXPECT_EQ(c.received, sizes[i]);
    EXPECT_EQ(c.first_bad, no_mismatch);
    EXPECT_TRUE(c.sent_sum == c.received_sum);
  }
}

void pocore_server_udp(pocore::io_port& port, address_family fam, std::size_t count) {
  pocore::endpoint bound;
  pocore::socket s = pocore_test::make_udp(port, fam, bound);
  ASSERT_TRUE(s.is_open());
  std::vector<std::uint8_t> buf(65536);
  dgram_rec recv;
  dgram_rec send;
  std::size_t echoed = 0;
  std::error_code err;
  recv.then = [&](dgram_rec& r) {
    if (r.error) {
      err = r.error;
      return;
    }
    send.peer = r.peer;
    s.async_send_to(send, pocore::const_buffer{buf.data(), r.bytes});
  };
  send.then = [&](dgram_rec& r) {
    if (r.error) {
      err = r.error;
    } else if (++echoed < count) {
      s.async_recv_from(recv, pocore::buffer{buf.data(), buf.size()});
    }
  };
  s.async_recv_from(recv, pocore::buffer{buf.data(), buf.size()});
  announce(bound.port());
  EXPECT_TRUE(run_until(port, [&] { return err || echoed == count; }));
  EXPECT_FALSE(err) << err.message();
  s.close();
}

void asio_server_udp(pocore::io_port& port, address_family fam) {
  const auto to = peer_endpoint(fam);
  ASSERT_NE(to.port(), 0) << "POCORE_INTEROP_PEER_PORT is not set";
  const auto sizes = udp_sizes(4);
  pocore::endpoint bound;
  pocore::socket s = pocore_test::make_udp(port, fam, bound);
  ASSERT_TRUE(s.is_open());
  std::vector<std::uint8_t> out(65536);
  std::vector<std::uint8_t> in(65536);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE("datagram " + std::to_string(i) + " of " + std::to_string(sizes[i]) + " bytes");
    const auto seed = static_cast<std::uint32_t>(900 + i);
    fill_pattern_bytes({out.data(), sizes[i]}, 0, seed);
    dgram_rec send;
    dgram_rec recv;
    send.peer = to;
    s.async_send_to(send, pocore::const_buffer{out.data(), sizes[i]});
    s.async_recv_from(recv, pocore::buffer{in.data(), in.size()});
    ASSERT_TRUE(run_until(port, [&] { return send.calls == 1 && recv.calls == 1; }));
    ASSERT_FALSE(send.error) << send.error.message();
    ASSERT_FALSE(recv.error) << recv.error.message();
    std::uint64_t first_bad = no_mismatch;
    note_pattern(first_bad, {in.data(), recv.bytes}, 0, seed);
    EXPECT_EQ(recv.bytes, sizes[i]);
    EXPECT_EQ(first_bad, no_mismatch);
    EXPECT_TRUE(recv.peer == to);
  }
  s.close();
}

/// A pocore listener that hands its one connection to `into`, announced.
struct one_accept {
  one_accept(pocore::io_port& port, stream& into, address_family fam)
      : sock(pocore_test::make_listener(port, loopback(fam), bound)) {
    acc.then = [this, &into](pocore_test::accept_rec& r) {
      if (!r.error) into.start(std::move(r.accepted));
      sock.close();
    };
    if (sock.is_open()) {
      sock.async_accept(acc);
      announce(bound.port());
    }
  }
  pocore::endpoint bound;
  pocore::socket sock;
  pocore_test::accept_rec acc;
};

/// Runs a pocore stream that accepts its connection.
void run_accepted(pocore::io_port& port, stream& s, address_family fam) {
  one_accept la(port, s, fam);
  ASSERT_TRUE(la.sock.is_open());
  EXPECT_TRUE(run_until(port, [&] { return s.done(); })) << "pocore side did not finish";
}

/// Runs a pocore stream that connects to the peer.
void run_connected(pocore::io_port& port, stream& s, address_family fam) {
  const auto ep = peer_endpoint(fam);
  ASSERT_NE(ep.port(), 0) << "POCORE_INTEROP_PEER_PORT is not set";
  s.connect(ep);
  EXPECT_TRUE(run_until(port, [&] { return s.done(); })) << "pocore side did not finish";
  EXPECT_FALSE(s.connect_error) << s.connect_error.message();
}

const std::vector<std::uint64_t> k_payloads = {1, 64 * 1024, 1024 * 1024};

/// Connects `s` to `ep` (bounded); false with a gtest failure otherwise.
bool connect_to(pocore::io_port& port, pocore::socket& s, const pocore::endpoint& ep) {
  if (s.open(ep.family(), pocore::socket_type::stream)) return false;
  pocore_test::op_rec conn;
  s.async_connect(conn, ep);
  EXPECT_TRUE(run_until(port, [&] { return conn.calls == 1; }));
  EXPECT_FALSE(conn.error) << conn.error.message();
  return conn.calls == 1 && !conn.error;
}

}  // namespace

// clang-format off
POCORE_INTEROP_REMOTE(tcp_v4_pocore_server, "tcp-echo-client v4 @PORT@ 1 65536 1048576") {
  pocore_server_echo(port(), address_family::ipv4, 3);
}
POCORE_INTEROP_REMOTE(tcp_v4_asio_server, "tcp-echo-server v4 3") {
  asio_server_echo(port(), address_family::ipv4, k_payloads);
}
POCORE_INTEROP_REMOTE(tcp_v6_pocore_server, "tcp-echo-client v6 @PORT@ 1 65536 1048576") {
  pocore_server_echo(port(), address_family::ipv6, 3);
}
POCORE_INTEROP_REMOTE(tcp_v6_asio_server, "tcp-echo-server v6 3") {
  asio_server_echo(port(), address_family::ipv6, k_payloads);
}
POCORE_INTEROP_REMOTE(tcp_many_pocore_server, "tcp-echo-client v4 @PORT@ many") {
  pocore_server_echo(port(), address_family::ipv4, 64);
}
POCORE_INTEROP_REMOTE(tcp_many_asio_server, "tcp-echo-server v4 64") {
  asio_server_echo(port(), address_family::ipv4, many_payloads());
}
POCORE_INTEROP_REMOTE(tcp_64mib_pocore_server, "tcp-echo-client v4 @PORT@ 67108864") {
  pocore_server_echo(port(), address_family::ipv4, 1);
}
POCORE_INTEROP_REMOTE(tcp_64mib_asio_server, "tcp-echo-server v4 1") {
  asio_server_echo(port(), address_family::ipv4, {64 * k_mib});
}
POCORE_INTEROP_REMOTE(udp_v4_pocore_server, "udp-echo-client v4 @PORT@ 4") {
  pocore_server_udp(port(), address_family::ipv4, udp_sizes(4).size());
}
POCORE_INTEROP_REMOTE(udp_v4_asio_server, "udp-echo-server v4 20") {
  asio_server_udp(port(), address_family::ipv4);
}
POCORE_INTEROP_REMOTE(udp_v6_pocore_server, "udp-echo-client v6 @PORT@ 4") {
  pocore_server_udp(port(), address_family::ipv6, udp_sizes(4).size());
}
POCORE_INTEROP_REMOTE(udp_v6_asio_server, "udp-echo-server v6 20") {
  asio_server_udp(port(), address_family::ipv6);
}
POCORE_INTEROP_REMOTE(half_close_pocore_server, "half-close-client v4 @PORT@ 300000 200000") {
  stream::options o;
  o.send_total = 200000;
  o.send_seed = 7;
  o.send_after_eof = true;
  o.recv_seed = 3;
  stream s(port(), o);
  run_accepted(port(), s, address_family::ipv4);
  EXPECT_TRUE(s.stats.eof) << "pocore did not see the peer's shutdown as EOF";
  EXPECT_EQ(s.stats.received, 300000u);
  EXPECT_EQ(s.stats.first_bad, no_mismatch);
  EXPECT_FALSE(s.stats.write_error) << s.stats.write_error.message();
  EXPECT_EQ(s.stats.sent, 200000u);
}
POCORE_INTEROP_REMOTE(half_close_asio_server, "half-close-server v4 300000 200000") {
  stream::options o;
  o.send_total = 300000;
  o.send_seed = 3;
  o.recv_seed = 7;
  stream s(port(), o);
  run_connected(port(), s, address_family::ipv4);
  EXPECT_FALSE(s.stats.read_error) << s.stats.read_error.message();
  EXPECT_TRUE(s.stats.eof);
  EXPECT_EQ(s.stats.received, 200000u) << "pocore lost the reply sent after its shutdown";
  EXPECT_EQ(s.stats.first_bad, no_mismatch);
}
POCORE_INTEROP_REMOTE(reset_by_pocore_sender, "reset-client v4 @PORT@ 0 1000000000 read-reset") {
  stream::options o;
  o.send_total = 4 * k_mib;
  o.send_seed = 31;
  o.shutdown_after_send = false;
  o.receive = false;
  o.reset_when_done = true;
  stream s(port(), o);
  run_accepted(port(), s, address_family::ipv4);
  EXPECT_FALSE(s.stats.write_error) << s.stats.write_error.message();
}
POCORE_INTEROP_REMOTE(reset_by_pocore_receiver, "reset-client v4 @PORT@ 67108864 0 write-reset") {
  stream::options o;
  o.shutdown_after_send = false;
  o.recv_seed = 31;
  o.recv_limit = 64 * 1024;
  o.reset_at_limit = true;
  stream s(port(), o);
  run_accepted(port(), s, address_family::ipv4);
  EXPECT_EQ(s.stats.received, 64 * 1024u);
  EXPECT_EQ(s.stats.first_bad, no_mismatch);
}
// Unlike the in-process case, the reset comes after the whole 4 MiB: Wine
// (WINE.md, "Peer reset when no recv is pending") turns an RST that
// arrives between two recvs into a plain EOF, so pocore reads everything,
// posts a recv, and only then sends the 1-byte ack after which the peer
// resets. The recv is certainly pending when the RST arrives.
POCORE_INTEROP_REMOTE(reset_by_asio_sender, "reset-server v4 4194304 1 none") {
  const auto ep = peer_endpoint(address_family::ipv4);
  ASSERT_NE(ep.port(), 0) << "POCORE_INTEROP_PEER_PORT is not set";
  pocore::socket s(port());
  ASSERT_FALSE(s.open(address_family::ipv4, pocore::socket_type::stream));
  pocore_test::op_rec conn;
  s.async_connect(conn, ep);
  ASSERT_TRUE(run_until(port(), [&] { return conn.calls == 1; }));
  ASSERT_FALSE(conn.error) << conn.error.message();
  std::vector<std::uint8_t> data(4 * k_mib);
  std::error_code ec;
  ASSERT_EQ(pocore_test::recv_exact(port(), s, data.data(), data.size(), ec), data.size())
      << ec.message();
  std::uint64_t first_bad = no_mismatch;
  note_pattern(first_bad, data, 0, 31);
  EXPECT_EQ(first_bad, no_mismatch);
  pocore_test::op_rec r;
  s.async_recv(r, pocore::buffer{data.data(), data.size()});
  const std::uint8_t ack = pattern_at(0, 31);
  ASSERT_EQ(pocore_test::send_all(port(), s, &ack, 1, ec), 1u) << ec.message();
  ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; })) << "pocore reader hung";
  EXPECT_EQ(r.error, errc::connection_reset) << "pocore saw: " << r.error.message();
  EXPECT_EQ(r.bytes, 0u);
  s.close();
}
POCORE_INTEROP_REMOTE(reset_by_asio_receiver, "reset-server v4 0 65536 none") {
  stream::options o;
  o.send_total = 64 * k_mib;
  o.send_seed = 31;
  o.receive = false;
  stream s(port(), o);
  run_connected(port(), s, address_family::ipv4);
  EXPECT_EQ(s.stats.write_error, errc::connection_reset)
      << "pocore saw: " << s.stats.write_error.message();
  EXPECT_LT(s.stats.sent, 64 * k_mib);
}
// Cancel, over two connections: data, and control for "paused" (from the
// peer) and "resume" (to it), since the peer is in another process. Same
// definition as interop_abort.cpp: the cancelled op completes once with
// operation_aborted and the bytes it moved; the stream carries on from there.
POCORE_INTEROP_REMOTE(cancel_send_mid_transfer, "cancel-send-server v4 262144 33554432") {
  const auto ep = peer_endpoint(address_family::ipv4);
  ASSERT_NE(ep.port(), 0) << "POCORE_INTEROP_PEER_PORT is not set";
  constexpr std::uint64_t k_total = 32 * k_mib;
  constexpr std::uint64_t k_first = 256 * 1024;
  std::vector<std::uint8_t> data(k_total);
  fill_pattern_bytes(data, 0, 41);
  pocore::socket s(port());
  pocore::socket ctl(port());
  ASSERT_TRUE(connect_to(port(), s, ep));
  ASSERT_TRUE(connect_to(port(), ctl, ep));
  pocore_test::op_rec send1;
  s.async_send(send1, pocore::const_buffer{data.data(), data.size()});
  std::uint8_t flag = 0;
  std::error_code ec;
  ASSERT_EQ(pocore_test::recv_exact(port(), ctl, &flag, 1, ec), 1u) << ec.message();
  ASSERT_EQ(send1.calls, 0) << "send of 32 MiB finished though the peer stopped reading";
  s.cancel(send1);
  ASSERT_TRUE(run_until(port(), [&] { return send1.calls == 1; }));
  EXPECT_EQ(send1.error, errc::operation_aborted) << send1.error.message();
  EXPECT_GE(send1.bytes, k_first);
  EXPECT_LT(send1.bytes, k_total);
  port().poll();
  EXPECT_EQ(send1.calls, 1) << "cancelled send completed twice";
  ASSERT_EQ(pocore_test::send_all(port(), ctl, &flag, 1, ec), 1u) << ec.message();
  const std::size_t done = send1.bytes;
  ASSERT_EQ(pocore_test::send_all(port(), s, data.data() + done, data.size() - done, ec),
            data.size() - done)
      << ec.message();
  s.close();
  ctl.close();
}
POCORE_INTEROP_REMOTE(cancel_recv_mid_transfer, "cancel-recv-server v4 1048576 16777216") {
  const auto ep = peer_endpoint(address_family::ipv4);
  ASSERT_NE(ep.port(), 0) << "POCORE_INTEROP_PEER_PORT is not set";
  constexpr std::uint64_t k_total = 16 * k_mib;
  constexpr std::uint64_t k_first = k_mib;
  pocore::socket s(port());
  pocore::socket ctl(port());
  ASSERT_TRUE(connect_to(port(), s, ep));
  ASSERT_TRUE(connect_to(port(), ctl, ep));
  std::vector<std::uint8_t> buf(k_first);
  std::error_code ec;
  ASSERT_EQ(pocore_test::recv_exact(port(), s, buf.data(), buf.size(), ec), k_first)
      << ec.message();
  std::uint64_t first_bad = no_mismatch;
  note_pattern(first_bad, buf, 0, 42);
  std::uint64_t received = k_first;
  std::uint8_t flag = 0;
  ASSERT_EQ(pocore_test::recv_exact(port(), ctl, &flag, 1, ec), 1u) << ec.message();
  // The peer is paused and all it sent has been read: this recv cannot
  // complete by itself.
  pocore_test::op_rec r0;
  s.async_recv(r0, pocore::buffer{buf.data(), 64 * 1024});
  s.cancel(r0);
  ASSERT_TRUE(run_until(port(), [&] { return r0.calls == 1; }));
  EXPECT_EQ(r0.error, errc::operation_aborted) << r0.error.message();
  EXPECT_EQ(r0.bytes, 0u);
  port().poll();
  EXPECT_EQ(r0.calls, 1) << "cancelled recv completed twice";
  ASSERT_EQ(pocore_test::send_all(port(), ctl, &flag, 1, ec), 1u) << ec.message();
  bool eof = false;
  for (int i = 0; !eof && i < 1000000; ++i) {
    pocore_test::op_rec r;
    s.async_recv(r, pocore::buffer{buf.data(), 64 * 1024});
    if (i % 2 == 0) s.cancel(r);
    ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
    if (r.error != errc::operation_aborted) {
      ASSERT_FALSE(r.error) << r.error.message();
      eof = r.bytes == 0;
    }
    note_pattern(first_bad, {buf.data(), r.bytes}, received, 42);
    received += r.bytes;
  }
  EXPECT_TRUE(eof);
  EXPECT_EQ(received, k_total);
  EXPECT_EQ(first_bad, no_mismatch) << "stream broken at a cancelled recv";
  s.close();
  ctl.close();
}
// clang-format on
