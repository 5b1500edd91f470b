// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// UDP between pocore and Boost.Asio, both ways, over IPv4 and IPv6: each
// datagram (1 byte to near the 64 KiB limit) is echoed whole, from the
// right sender, with its content intact. Ping-pong, one datagram in flight,
// so loopback never has a reason to drop one.

#include "interop_asio.hpp"
#include "interop_pocore.hpp"

using namespace iop;
using pocore::address_family;
using pocore_test::dgram_rec;
using pocore_test::run_until;
using pocore_test::wait_budget;

namespace {

/// pocore UDP echo server, Asio client.
void pocore_server_udp(pocore::io_port& port, address_family fam) {
  const auto sizes = udp_sizes(4);
  pocore::endpoint bound;
  pocore::socket s = pocore_test::make_udp(port, fam, bound);
  ASSERT_TRUE(s.is_open());
  std::vector<std::uint8_t> buf(65536);
  dgram_rec recv;
  dgram_rec send;
  int echoed = 0;
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
      return;
    }
    if (++echoed < static_cast<int>(sizes.size())) {
      s.async_recv_from(recv, pocore::buffer{buf.data(), buf.size()});
    }
  };
  s.async_recv_from(recv, pocore::buffer{buf.data(), buf.size()});

  udp_stats st;
  peer p;
  const bool v6 = fam == address_family::ipv6;
  auto& as = p.make<asio_udp::socket>(p.io, asio_udp::endpoint(asio_loopback(v6), 0));
  p.spawn(udp_client(as, asio_udp::endpoint(asio_loopback(v6), bound.port()), sizes, st));
  p.start(wait_budget());
  EXPECT_TRUE(run_until(port, [&] { return err || echoed == static_cast<int>(sizes.size()); }));
  EXPECT_TRUE(p.join());
  EXPECT_FALSE(err) << err.message();
  EXPECT_FALSE(st.error) << st.error.message();
  EXPECT_EQ(st.echoed, static_cast<int>(sizes.size()));
  EXPECT_EQ(st.bad, 0);
  s.close();
}

/// Asio UDP echo server, pocore client.
void asio_server_udp(pocore::io_port& port, address_family fam) {
  const auto sizes = udp_sizes(4);
  int echoed = 0;
  asio_error aerr;
  peer p;
  const bool v6 = fam == address_family::ipv6;
  auto& as = p.make<asio_udp::socket>(p.io, asio_udp::endpoint(asio_loopback(v6), 0));
  p.spawn(udp_echo(as, static_cast<int>(sizes.size()), echoed, aerr));
  const auto to = loopback(fam, as.local_endpoint().port());
  p.start(wait_budget());

  pocore::endpoint bound;
  pocore::socket s = pocore_test::make_udp(port, fam, bound);
  ASSERT_TRUE(s.is_open());
  std::vector<std::uint8_t> out(65536);
  std::vector<std::uint8_t> in(65536);
  int bad = 0;
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
    EXPECT_EQ(send.bytes, sizes[i]);
    std::uint64_t first_bad = no_mismatch;
    note_pattern(first_bad, {in.data(), recv.bytes}, 0, seed);
    if (recv.bytes != sizes[i] || first_bad != no_mismatch || !(recv.peer == to)) ++bad;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_TRUE(p.join());
  EXPECT_FALSE(aerr) << aerr.message();
  EXPECT_EQ(echoed, static_cast<int>(sizes.size()));
  s.close();
}

}  // namespace

POCORE_INTEROP(udp_v4_pocore_server) { pocore_server_udp(port(), address_family::ipv4); }
POCORE_INTEROP(udp_v4_asio_server) { asio_server_udp(port(), address_family::ipv4); }
POCORE_INTEROP(udp_v6_pocore_server) { pocore_server_udp(port(), address_family::ipv6); }
POCORE_INTEROP(udp_v6_asio_server) { asio_server_udp(port(), address_family::ipv6); }
