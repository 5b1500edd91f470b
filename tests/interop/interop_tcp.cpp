// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// TCP between pocore and Boost.Asio, both ways: echo over IPv4 and IPv6
// with payloads from 1 byte to 64 MiB, 64 connections at once, and
// half-close. Every byte is checked against the sender's pattern and the
// stream checksums are compared.

#include <numeric>

#include "interop_asio.hpp"
#include "interop_pocore.hpp"

using namespace iop;
using pocore::address_family;
using pocore_test::run_until;
using pocore_test::wait_budget;

namespace {

std::uint32_t seed_of(std::size_t i) { return static_cast<std::uint32_t>(100 + i); }

/// An Asio echo client's view: everything sent came back intact.
void expect_echoed(const stream_stats& st, const asio_error& cerr, std::uint64_t total,
                   std::size_t i) {
  SCOPED_TRACE("asio client " + std::to_string(i) + ", " + std::to_string(total) + " bytes");
  EXPECT_FALSE(cerr) << cerr.message();
  EXPECT_FALSE(st.read_error) << st.read_error.message();
  EXPECT_FALSE(st.write_error) << st.write_error.message();
  EXPECT_TRUE(st.eof);
  EXPECT_EQ(st.sent, total);
  EXPECT_EQ(st.received, total);
  EXPECT_EQ(st.first_bad, no_mismatch);
  EXPECT_TRUE(st.received_sum == st.sent_sum) << "checksum differs";
}

/// A pocore echo connection's view: it echoed what it got, then saw EOF.
void expect_echo_conn(const pocore_stats& st) {
  EXPECT_FALSE(st.read_error) << st.read_error.message();
  EXPECT_FALSE(st.write_error) << st.write_error.message();
  EXPECT_TRUE(st.eof);
  EXPECT_EQ(st.sent, st.received);
  EXPECT_TRUE(st.sent_sum == st.received_sum);
}

/// pocore echo server, one Asio client per entry of `sizes`, all at once.
void pocore_server_echo(pocore::io_port& port, address_family fam,
                        const std::vector<std::uint64_t>& sizes) {
  const int n = static_cast<int>(sizes.size());
  echo_server srv(port, fam, n);
  ASSERT_NE(srv.endpoint().port(), 0);
  std::vector<std::shared_ptr<stream_stats>> st;
  std::vector<std::shared_ptr<asio_error>> cerr;
  peer p;
  const asio_tcp::endpoint ep(asio_loopback(fam == address_family::ipv6), srv.endpoint().port());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    st.push_back(std::make_shared<stream_stats>());
    cerr.push_back(std::make_shared<asio_error>());
    p.spawn(asio_echo_client(ep, sizes[i], seed_of(i), st[i], cerr[i], seed_of(i)));
  }
  p.start(wait_budget());
  EXPECT_TRUE(run_until(port, [&] { return srv.done(); })) << "pocore server did not finish";
  EXPECT_TRUE(p.join()) << "asio clients did not finish";
  EXPECT_FALSE(srv.accept_error) << srv.accept_error.message();
  ASSERT_EQ(srv.conns.size(), sizes.size());
  std::uint64_t echoed = 0;
  for (const auto& c : srv.conns) {
    expect_echo_conn(c->stats);
    echoed += c->stats.sent;
  }
  EXPECT_EQ(echoed, std::accumulate(sizes.begin(), sizes.end(), std::uint64_t{0}));
  for (std::size_t i = 0; i < sizes.size(); ++i) expect_echoed(*st[i], *cerr[i], sizes[i], i);
}

/// Asio echo server, one pocore client per entry of `sizes`, all at once.
void asio_server_echo(pocore::io_port& port, address_family fam,
                      const std::vector<std::uint64_t>& sizes) {
  const int n = static_cast<int>(sizes.size());
  std::vector<std::shared_ptr<stream_stats>> st;
  asio_error aerr;
  peer p;
  auto& acc = p.make<asio_tcp::acceptor>(
      p.io, asio_tcp::endpoint(asio_loopback(fam == address_family::ipv6), 0));
  p.spawn(asio_echo_server(acc, n, st, aerr));
  const auto ep = loopback(fam, acc.local_endpoint().port());
  p.start(wait_budget());
  std::vector<std::unique_ptr<stream>> cl;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    stream::options o;
    o.send_total = sizes[i];
    o.send_seed = seed_of(i);
    o.recv_seed = seed_of(i);
    cl.push_back(std::make_unique<stream>(port, o));
    cl.back()->connect(ep);
  }
  const bool ok = run_until(port, [&] {
    return std::all_of(cl.begin(), cl.end(), [](const auto& c) { return c->done(); });
  });
  EXPECT_TRUE(ok) << "pocore clients did not finish";
  EXPECT_TRUE(p.join()) << "asio server did not finish";
  EXPECT_FALSE(aerr) << aerr.message();
  for (std::size_t i = 0; i < cl.size(); ++i) {
    SCOPED_TRACE("pocore client " + std::to_string(i) + ", " + std::to_string(sizes[i]) + " bytes");
    const pocore_stats& c = cl[i]->stats;
    EXPECT_FALSE(cl[i]->connect_error) << cl[i]->connect_error.message();
    EXPECT_FALSE(c.read_error) << c.read_error.message();
    EXPECT_FALSE(c.write_error) << c.write_error.message();
    EXPECT_TRUE(c.eof);
    EXPECT_EQ(c.sent, sizes[i]);
    EXPECT_EQ(c.received, sizes[i]);
    EXPECT_EQ(c.first_bad, no_mismatch);
    EXPECT_TRUE(c.sent_sum == c.received_sum) << "checksum differs";
  }
  ASSERT_EQ(st.size(), sizes.size());
  for (const auto& s : st) {
    EXPECT_FALSE(s->read_error) << s->read_error.message();
    EXPECT_FALSE(s->write_error) << s->write_error.message();
    EXPECT_TRUE(s->eof);
    EXPECT_EQ(s->sent, s->received);
  }
}

const std::vector<std::uint64_t> k_payloads = {1, 64 * 1024, 1024 * 1024};

constexpr std::uint64_t k_huge = 64ull * 1024 * 1024;

}  // namespace

POCORE_INTEROP(tcp_v4_pocore_server) {
  pocore_server_echo(port(), address_family::ipv4, k_payloads);
}
POCORE_INTEROP(tcp_v4_asio_server) { asio_server_echo(port(), address_family::ipv4, k_payloads); }
POCORE_INTEROP(tcp_v6_pocore_server) {
  pocore_server_echo(port(), address_family::ipv6, k_payloads);
}
POCORE_INTEROP(tcp_v6_asio_server) { asio_server_echo(port(), address_family::ipv6, k_payloads); }
POCORE_INTEROP(tcp_many_pocore_server) {
  pocore_server_echo(port(), address_family::ipv4, many_payloads());
}
POCORE_INTEROP(tcp_many_asio_server) {
  asio_server_echo(port(), address_family::ipv4, many_payloads());
}
POCORE_INTEROP(tcp_64mib_pocore_server) {
  pocore_server_echo(port(), address_family::ipv4, {k_huge});
}
POCORE_INTEROP(tcp_64mib_asio_server) { asio_server_echo(port(), address_family::ipv4, {k_huge}); }

// Half-close, Asio client: it sends, shuts down its send side; pocore reads
// to EOF, then replies on the half-open connection and closes.
POCORE_INTEROP(half_close_pocore_server) {
  constexpr std::uint64_t k_request = 300000;
  constexpr std::uint64_t k_reply = 200000;
  pocore::endpoint bound;
  pocore::socket listener =
      pocore_test::make_listener(port(), loopback(address_family::ipv4), bound);
  ASSERT_TRUE(listener.is_open());
  stream::options o;
  o.send_total = k_reply;
  o.send_seed = 7;
  o.send_after_eof = true;
  o.recv_seed = 3;
  stream srv(port(), o);
  pocore_test::accept_rec acc;
  acc.then = [&](pocore_test::accept_rec& r) {
    if (!r.error) srv.start(std::move(r.accepted));
  };
  listener.async_accept(acc);
  auto st = std::make_shared<stream_stats>();
  auto cerr = std::make_shared<asio_error>();
  peer p;
  p.spawn(asio_echo_client(asio_tcp::endpoint(asio_loopback(false), bound.port()), k_request, 3, st,
                           cerr, 7));
  p.start(wait_budget());
  ASSERT_TRUE(run_until(port(), [&] { return acc.calls == 1; }));
  ASSERT_FALSE(acc.error) << acc.error.message();
  listener.close();
  EXPECT_TRUE(run_until(port(), [&] { return srv.done(); }));
  EXPECT_TRUE(p.join());
  EXPECT_FALSE(*cerr) << cerr->message();
  EXPECT_TRUE(srv.stats.eof) << "pocore did not see the Asio client's shutdown as EOF";
  EXPECT_EQ(srv.stats.received, k_request);
  EXPECT_EQ(srv.stats.first_bad, no_mismatch);
  EXPECT_FALSE(srv.stats.write_error) << srv.stats.write_error.message();
  EXPECT_EQ(srv.stats.sent, k_reply);
  EXPECT_FALSE(st->read_error) << st->read_error.message();
  EXPECT_TRUE(st->eof);
  EXPECT_EQ(st->received, k_reply) << "Asio client lost the reply sent after its shutdown";
  EXPECT_EQ(st->first_bad, no_mismatch);
  EXPECT_TRUE(st->received_sum == srv.stats.sent_sum);
}

// Half-close, pocore client: it sends, shuts down its send side; Asio reads
// to EOF, then replies and closes.
POCORE_INTEROP(half_close_asio_server) {
  constexpr std::uint64_t k_request = 300000;
  constexpr std::uint64_t k_reply = 200000;
  auto st = std::make_shared<stream_stats>();
  asio_error aerr;
  peer p;
  auto& acc = p.make<asio_tcp::acceptor>(p.io, asio_tcp::endpoint(asio_loopback(false), 0));
  p.spawn(accept_sink_reply(acc, st, aerr, k_reply));
  const auto ep = loopback(address_family::ipv4, acc.local_endpoint().port());
  p.start(wait_budget());
  stream::options o;
  o.send_total = k_request;
  o.send_seed = 3;
  o.recv_seed = 7;
  stream cl(port(), o);
  cl.connect(ep);
  EXPECT_TRUE(run_until(port(), [&] { return cl.done(); }));
  EXPECT_TRUE(p.join());
  EXPECT_FALSE(aerr) << aerr.message();
  EXPECT_FALSE(cl.connect_error) << cl.connect_error.message();
  EXPECT_TRUE(st->eof) << "Asio did not see pocore's shutdown as EOF";
  EXPECT_EQ(st->received, k_request);
  EXPECT_EQ(st->first_bad, no_mismatch);
  EXPECT_EQ(st->sent, k_reply);
  EXPECT_FALSE(cl.stats.read_error) << cl.stats.read_error.message();
  EXPECT_TRUE(cl.stats.eof);
  EXPECT_EQ(cl.stats.received, k_reply) << "pocore lost the reply sent after its shutdown";
  EXPECT_EQ(cl.stats.first_bad, no_mismatch);
  EXPECT_TRUE(cl.stats.received_sum == st->sent_sum);
}
