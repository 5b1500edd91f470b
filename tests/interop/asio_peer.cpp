// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// pocore-asio-peer: the Boost.Asio side of the interop cases as a native
// Linux program, for the Wine leg (pocore built for Windows, run under
// Wine, talking to this over loopback). Server modes print
// `listening on <port>` once they listen; every mode checks what it saw and
// exits 0 when all was as expected, 1 otherwise (with the reason on
// stderr), 2 on bad usage. Every mode is bounded in time.
//
//   tcp-echo-server v4|v6 CONNS
//   tcp-echo-client v4|v6 PORT SIZE...      (one connection per size)
//   udp-echo-server v4|v6 COUNT
//   udp-echo-client v4|v6 PORT REPS
//   half-close-server v4|v6 REQUEST REPLY   (pattern 3 in, pattern 7 out)
//   half-close-client v4|v6 PORT REQUEST REPLY
//   reset-server v4|v6 WRITE READ_LIMIT EXPECT
//   reset-client v4|v6 PORT WRITE READ_LIMIT EXPECT
//     WRITE bytes of pattern 31 are written, then (READ_LIMIT > 0) up to
//     READ_LIMIT bytes read; the connection is reset at the end unless
//     EXPECT is `read-reset` or `write-reset`, the error that must be seen.
//   cancel-send-server v4|v6 FIRST TOTAL
//   cancel-recv-server v4|v6 FIRST TOTAL
//     Two connections, data then control. cancel-send: reads FIRST bytes of
//     pattern 41, writes one byte on control ("paused"), waits for one byte
//     back ("resume"), reads the data to EOF: TOTAL bytes, all intact.
//     cancel-recv: the same with the roles of the data swapped (writes
//     pattern 42, shuts down its send side after TOTAL, reads to EOF).

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "interop_asio.hpp"

using namespace iop;

namespace {

constexpr auto k_budget = std::chrono::seconds(60);

int usage() {
  std::cerr << "usage: see the comment at the top of tests/interop/asio_peer.cpp\n";
  return 2;
}

std::uint64_t num(const char* s) { return std::strtoull(s, nullptr, 10); }

int fail(const std::string& why) {
  std::cerr << "pocore-asio-peer: " << why << "\n";
  return 1;
}

void announce(std::uint16_t port) {
  std::printf("listening on %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
}

int check_echo_session(const stream_stats& s, std::size_t i) {
  const std::string who = "session " + std::to_string(i) + ": ";
  if (s.read_error) return fail(who + "read: " + s.read_error.message());
  if (s.write_error) return fail(who + "write: " + s.write_error.message());
  if (!s.eof) return fail(who + "no EOF");
  if (s.sent != s.received || !(s.sent_sum == s.received_sum)) return fail(who + "echo differs");
  return 0;
}

int check_echo_client(const stream_stats& s, const asio_error& cerr, std::uint64_t total,
                      std::size_t i) {
  const std::string who = "client " + std::to_string(i) + ": ";
  if (cerr) return fail(who + "connect: " + cerr.message());
  if (int rc = check_echo_session(s, i)) return rc;
  if (s.received != total) return fail(who + "got " + std::to_string(s.received) + " bytes");
  if (s.first_bad != no_mismatch) return fail(who + "bad byte at " + std::to_string(s.first_bad));
  return 0;
}

/// The cancel modes' peer side; see the comment at the top.
asio::awaitable<void> cancel_peer(asio_tcp::acceptor& acc, bool peer_reads, std::uint64_t first,
                                  std::uint64_t total, std::shared_ptr<stream_stats> st,
                                  asio_error& err) {
  asio_tcp::socket data(acc.get_executor());
  asio_tcp::socket ctl(acc.get_executor());
  co_await accept_one(acc, data, err);
  if (!err) co_await accept_one(acc, ctl, err);
  if (err) co_return;
  if (peer_reads) {
    co_await read_all(data, *st, 41, first);
  } else {
    co_await write_pattern(data, *st, first, 42);
  }
  std::uint8_t flag = 'P';
  co_await asio::async_write(ctl, asio::buffer(&flag, 1),
                             asio::redirect_error(asio::use_awaitable, err));
  if (!err) {
    co_await asio::async_read(ctl, asio::buffer(&flag, 1),
                              asio::redirect_error(asio::use_awaitable, err));
  }
  if (err) co_return;
  if (peer_reads) {
    co_await read_all(data, *st, 41);
  } else {
    co_await write_pattern(data, *st, total, 42, first);
    asio_error ignore;
    data.shutdown(asio_tcp::socket::shutdown_send, ignore);
    co_await read_all(data, *st, no_seed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  const bool v6 = std::string(argv[2]) == "v6";
  peer p;

  if (mode == "tcp-echo-server" && argc == 4) {
    auto& acc = p.make<asio_tcp::acceptor>(p.io, asio_tcp::endpoint(asio_loopback(v6), 0));
    std::vector<std::shared_ptr<stream_stats>> st;
    asio_error aerr;
    const int n = static_cast<int>(num(argv[3]));
    p.spawn(asio_echo_server(acc, n, st, aerr));
    announce(acc.local_endpoint().port());
    p.start(k_budget);
    if (!p.join()) return fail("timed out");
    if (aerr) return fail("accept: " + aerr.message());
    if (static_cast<int>(st.size()) != n) return fail("too few connections");
    for (std::size_t i = 0; i < st.size(); ++i) {
      if (int rc = check_echo_session(*st[i], i)) return rc;
    }
    return 0;
  }
  if (mode == "tcp-echo-client" && argc >= 5) {
    const asio_tcp::endpoint ep(asio_loopback(v6), static_cast<std::uint16_t>(num(argv[3])));
    std::vector<std::uint64_t> sizes;
    std::vector<std::shared_ptr<stream_stats>> st;
    std::vector<std::shared_ptr<asio_error>> cerr;
    // "many": the 64 sizes of the many-connections cases.
    const std::vector<std::uint64_t> many = many_payloads();
    const bool is_many = std::string(argv[4]) == "many";
    const int count = is_many ? static_cast<int>(many.size()) : argc - 4;
    for (int i = 4; i < 4 + count; ++i) {
      sizes.push_back(is_many ? many[static_cast<std::size_t>(i - 4)] : num(argv[i]));
      st.push_back(std::make_shared<stream_stats>());
      cerr.push_back(std::make_shared<asio_error>());
      const auto seed = static_cast<std::uint32_t>(100 + i - 4);
      p.spawn(asio_echo_client(ep, sizes.back(), seed, st.back(), cerr.back(), seed));
    }
    p.start(k_budget);
    if (!p.join()) return fail("timed out");
    for (std::size_t i = 0; i < st.size(); ++i) {
      if (int rc = check_echo_client(*st[i], *cerr[i], sizes[i], i)) return rc;
    }
    return 0;
  }
  if (mode == "udp-echo-server" && argc == 4) {
    auto& s = p.make<asio_udp::socket>(p.io, asio_udp::endpoint(asio_loopback(v6), 0));
    int echoed = 0;
    asio_error err;
    const int n = static_cast<int>(num(argv[3]));
    p.spawn(udp_echo(s, n, echoed, err));
    announce(s.local_endpoint().port());
    p.start(k_budget);
    if (!p.join()) return fail("timed out after " + std::to_string(echoed) + " datagrams");
    if (err) return fail(err.message());
    return echoed == n ? 0 : fail("echoed " + std::to_string(echoed));
  }
  if (mode == "udp-echo-client" && argc == 5) {
    auto& s = p.make<asio_udp::socket>(p.io, asio_udp::endpoint(asio_loopback(v6), 0));
    const asio_udp::endpoint to(asio_loopback(v6), static_cast<std::uint16_t>(num(argv[3])));
    const auto sizes = udp_sizes(static_cast<int>(num(argv[4])));
    udp_stats st;
    p.spawn(udp_client(s, to, sizes, st));
    p.start(k_budget);
    if (!p.join()) return fail("timed out after " + std::to_string(st.echoed) + " datagrams");
    if (st.error) return fail(st.error.message());
    if (st.bad != 0) return fail(std::to_string(st.bad) + " bad echoes");
    return st.echoed == static_cast<int>(sizes.size()) ? 0 : fail("too few echoes");
  }
  if (mode == "half-close-server" && argc == 5) {
    auto& acc = p.make<asio_tcp::acceptor>(p.io, asio_tcp::endpoint(asio_loopback(v6), 0));
    auto st = std::make_shared<stream_stats>();
    asio_error aerr;
    p.spawn(accept_sink_reply(acc, st, aerr, num(argv[4])));
    announce(acc.local_endpoint().port());
    p.start(k_budget);
    if (!p.join()) return fail("timed out");
    if (aerr) return fail("accept: " + aerr.message());
    if (st->read_error) return fail("read: " + st->read_error.message());
    if (!st->eof) return fail("no EOF after the client's shutdown");
    if (st->received != num(argv[3]) || st->first_bad != no_mismatch) return fail("bad request");
    if (st->write_error || st->sent != num(argv[4])) return fail("reply not sent");
    return 0;
  }
  if (mode == "half-close-client" && argc == 6) {
    const asio_tcp::endpoint ep(asio_loopback(v6), static_cast<std::uint16_t>(num(argv[3])));
    auto st = std::make_shared<stream_stats>();
    auto cerr = std::make_shared<asio_error>();
    p.spawn(asio_echo_client(ep, num(argv[4]), 3, st, cerr, 7));
    p.start(k_budget);
    if (!p.join()) return fail("timed out");
    if (*cerr) return fail("connect: " + cerr->message());
    if (st->read_error) return fail("read: " + st->read_error.message());
    if (st->write_error || st->sent != num(argv[4])) return fail("request not sent");
    if (!st->eof) return fail("no EOF after the reply");
    if (st->received != num(argv[5]) || st->first_bad != no_mismatch) return fail("bad reply");
    return 0;
  }
  const bool reset_server = mode == "reset-server" && argc == 6;
  const bool reset_client = mode == "reset-client" && argc == 7;
  if (reset_server || reset_client) {
    const int a = reset_client ? 4 : 3;
    role r;
    r.write_total = num(argv[a]);
    r.write_seed = 31;
    r.read_limit = num(argv[a + 1]);
    r.read = r.read_limit > 0;
    r.read_seed = 31;
    const std::string expect = argv[a + 2];
    r.reset = expect != "read-reset" && expect != "write-reset";
    auto st = std::make_shared<stream_stats>();
    asio_error cerr;
    if (reset_server) {
      auto& acc = p.make<asio_tcp::acceptor>(p.io, asio_tcp::endpoint(asio_loopback(v6), 0));
      p.spawn(accept_role(acc, r, st, cerr));
      announce(acc.local_endpoint().port());
    } else {
      const asio_tcp::endpoint ep(asio_loopback(v6), static_cast<std::uint16_t>(num(argv[3])));
      p.spawn(connect_role(ep, r, st, cerr));
    }
    p.start(k_budget);
    if (!p.join()) return fail("timed out");
    if (cerr) return fail("connect/accept: " + cerr.message());
    if (st->first_bad != no_mismatch) return fail("bad byte at " + std::to_string(st->first_bad));
    const auto reset = [](const asio_error& e) { return e == asio::error::connection_reset; };
    if (expect == "read-reset") {
      return reset(st->read_error) ? 0 : fail("read saw: " + st->read_error.message());
    }
    if (expect == "write-reset") {
      return reset(st->write_error) ? 0 : fail("write saw: " + st->write_error.message());
    }
    if (st->write_error) return fail("write: " + st->write_error.message());
    if (st->read_error) return fail("read: " + st->read_error.message());
    return 0;
  }
  const bool cancel_send = mode == "cancel-send-server" && argc == 5;
  if (cancel_send || (mode == "cancel-recv-server" && argc == 5)) {
    auto& acc = p.make<asio_tcp::acceptor>(p.io, asio_tcp::endpoint(asio_loopback(v6), 0));
    auto st = std::make_shared<stream_stats>();
    asio_error err;
    const std::uint64_t total = num(argv[4]);
    p.spawn(cancel_peer(acc, cancel_send, num(argv[3]), total, st, err));
    announce(acc.local_endpoint().port());
    p.start(k_budget);
    if (!p.join()) return fail("timed out");
    if (err) return fail("control/accept: " + err.message());
    if (st->read_error) return fail("read: " + st->read_error.message());
    if (st->write_error) return fail("write: " + st->write_error.message());
    if (!st->eof) return fail("no EOF");
    if (st->first_bad != no_mismatch) return fail("bad byte at " + std::to_string(st->first_bad));
    if ((cancel_send ? st->received : st->sent) != total) return fail("stream incomplete");
    return 0;
  }
  return usage();
}
