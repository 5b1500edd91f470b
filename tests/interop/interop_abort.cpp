// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Connections that end badly or are interrupted, between pocore and
// Boost.Asio: a reset (SO_LINGER 0 close) mid-transfer by either side, seen
// by the other as connection_reset, and pocore's cancel of a pending send
// or recv while Asio streams.
//
// Reset: the side that observes the reset only reads or only writes, never
// both, because Linux hands the pending error to whichever call asks first
// and the other call then sees a plain EOF.
//
// Cancel, as defined here: a cancelled operation completes exactly once
// with operation_aborted and `bytes` = what it moved; the connection stays
// usable, and the stream carries on from exactly `bytes` (the Asio peer
// checks every byte of the whole stream).

#include "interop_asio.hpp"
#include "interop_pocore.hpp"

using namespace iop;
using pocore::address_family;
using pocore::errc;
using pocore_test::accept_rec;
using pocore_test::op_rec;
using pocore_test::run_until;
using pocore_test::wait_budget;

namespace {

constexpr std::uint64_t k_mib = 1024 * 1024;

/// A pocore listener that hands its one connection to a `stream`.
struct one_accept {
  one_accept(pocore::io_port& port, stream& into)
      : sock(pocore_test::make_listener(port, loopback(address_family::ipv4), bound)) {
    acc.then = [this, &into](accept_rec& r) {
      if (!r.error) into.start(std::move(r.accepted));
      sock.close();
    };
    if (sock.is_open()) sock.async_accept(acc);
  }
  asio_tcp::endpoint asio_endpoint() const {
    return asio_tcp::endpoint(asio_loopback(false), bound.port());
  }
  pocore::endpoint bound;
  pocore::socket sock;
  accept_rec acc;
};

bool is_reset(const asio_error& ec) { return ec == asio::error::connection_reset; }

}  // namespace

// pocore sends 4 MiB, then resets; the reading Asio client sees
// connection_reset after a prefix of the stream.
POCORE_INTEROP(reset_by_pocore_sender) {
  stream::options o;
  o.send_total = 4 * k_mib;
  o.send_seed = 11;
  o.shutdown_after_send = false;
  o.receive = false;
  o.reset_when_done = true;
  stream srv(port(), o);
  one_accept la(port(), srv);
  ASSERT_TRUE(la.sock.is_open());
  auto st = std::make_shared<stream_stats>();
  asio_error cerr;
  peer p;
  role r;
  r.read = true;
  r.read_seed = 11;
  p.spawn(connect_role(la.asio_endpoint(), r, st, cerr));
  p.start(wait_budget());
  EXPECT_TRUE(run_until(port(), [&] { return srv.done(); }));
  EXPECT_TRUE(p.join()) << "Asio reader hung after the reset";
  EXPECT_FALSE(cerr) << cerr.message();
  EXPECT_FALSE(srv.stats.write_error) << srv.stats.write_error.message();
  EXPECT_TRUE(is_reset(st->read_error)) << "Asio saw: " << st->read_error.message();
  EXPECT_FALSE(st->eof);
  EXPECT_LE(st->received, 4 * k_mib);
  EXPECT_EQ(st->first_bad, no_mismatch);
}

// pocore reads 64 KiB of a 64 MiB stream, then resets; the writing Asio
// client sees connection_reset.
POCORE_INTEROP(reset_by_pocore_receiver) {
  stream::options o;
  o.send_total = 0;
  o.shutdown_after_send = false;
  o.recv_seed = 12;
  o.recv_limit = 64 * 1024;
  o.reset_at_limit = true;
  stream srv(port(), o);
  one_accept la(port(), srv);
  ASSERT_TRUE(la.sock.is_open());
  auto st = std::make_shared<stream_stats>();
  asio_error cerr;
  peer p;
  role r;
  r.write_total = 64 * k_mib;
  r.write_seed = 12;
  p.spawn(connect_role(la.asio_endpoint(), r, st, cerr));
  p.start(wait_budget());
  EXPECT_TRUE(run_until(port(), [&] { return srv.done(); }));
  EXPECT_TRUE(p.join()) << "Asio writer hung after the reset";
  EXPECT_FALSE(cerr) << cerr.message();
  EXPECT_EQ(srv.stats.received, 64 * 1024u);
  EXPECT_EQ(srv.stats.first_bad, no_mismatch);
  EXPECT_TRUE(is_reset(st->write_error)) << "Asio saw: " << st->write_error.message();
  EXPECT_LT(st->sent, 64 * k_mib);
}

// Asio sends 4 MiB, then resets; the reading pocore client sees
// connection_reset after a prefix of the stream.
POCORE_INTEROP(reset_by_asio_sender) {
  auto st = std::make_shared<stream_stats>();
  asio_error aerr;
  peer p;
  auto& acc = p.make<asio_tcp::acceptor>(p.io, asio_tcp::endpoint(asio_loopback(false), 0));
  role r;
  r.write_total = 4 * k_mib;
  r.write_seed = 13;
  r.reset = true;
  p.spawn(accept_role(acc, r, st, aerr));
  const auto ep = loopback(address_family::ipv4, acc.local_endpoint().port());
  p.start(wait_budget());
  stream::options o;
  o.send_total = 0;
  o.shutdown_after_send = false;
  o.recv_seed = 13;
  stream cl(port(), o);
  cl.connect(ep);
  EXPECT_TRUE(run_until(port(), [&] { return cl.done(); })) << "pocore reader hung";
  EXPECT_TRUE(p.join());
  EXPECT_FALSE(aerr) << aerr.message();
  EXPECT_FALSE(st->write_error) << st->write_error.message();
  EXPECT_FALSE(cl.connect_error) << cl.connect_error.message();
  EXPECT_EQ(cl.stats.read_error, errc::connection_reset)
      << "pocore saw: " << cl.stats.read_error.message();
  EXPECT_FALSE(cl.stats.eof);
  EXPECT_LE(cl.stats.received, 4 * k_mib);
  EXPECT_EQ(cl.stats.first_bad, no_mismatch);
}

// Asio reads 64 KiB of a 64 MiB stream, then resets; the writing pocore
// client sees connection_reset.
POCORE_INTEROP(reset_by_asio_receiver) {
  auto st = std::make_shared<stream_stats>();
  asio_error aerr;
  peer p;
  auto& acc = p.make<asio_tcp::acceptor>(p.io, asio_tcp::endpoint(asio_loopback(false), 0));
  role r;
  r.read = true;
  r.read_seed = 14;
  r.read_limit = 64 * 1024;
  r.reset = true;
  p.spawn(accept_role(acc, r, st, aerr));
  const auto ep = loopback(address_family::ipv4, acc.local_endpoint().port());
  p.start(wait_budget());
  stream::options o;
  o.send_total = 64 * k_mib;
  o.send_seed = 14;
  o.receive = false;
  stream cl(port(), o);
  cl.connect(ep);
  EXPECT_TRUE(run_until(port(), [&] { return cl.done(); })) << "pocore writer hung";
  EXPECT_TRUE(p.join());
  EXPECT_FALSE(aerr) << aerr.message();
  EXPECT_EQ(st->received, 64 * 1024u);
  EXPECT_EQ(st->first_bad, no_mismatch);
  EXPECT_EQ(cl.stats.write_error, errc::connection_reset)
      << "pocore saw: " << cl.stats.write_error.message();
  EXPECT_LT(cl.stats.sent, 64 * k_mib);
}

// pocore sends 32 MiB; Asio reads 256 KiB and stops reading, so the send
// stays pending; pocore cancels it, gets operation_aborted once with the
// bytes that went out, sends the rest from there, and Asio finds the whole
// 32 MiB stream intact.
POCORE_INTEROP(cancel_send_mid_transfer) {
  constexpr std::uint64_t k_total = 32 * k_mib;  // more than both socket buffers hold
  constexpr std::uint64_t k_first = 256 * 1024;
  std::vector<std::uint8_t> data(k_total);
  fill_pattern_bytes(data, 0, 21);

  op_rec paused;  // posted by the Asio thread when it stops reading
  auto st = std::make_shared<stream_stats>();
  asio_error aerr;
  peer p;
  auto& acc = p.make<asio_tcp::acceptor>(p.io, asio_tcp::endpoint(asio_loopback(false), 0));
  auto& pp = p.make<pause_point>(p.io);
  pocore::io_port& port_ref = port();
  port().add_work();  // the post below comes from another thread
  pp.on_pause = [&] { port_ref.post(paused); };
  p.spawn(accept_read_pause_read(acc, pp, k_first, 21, st, aerr));
  const auto ep = loopback(address_family::ipv4, acc.local_endpoint().port());
  p.start(wait_budget());

  pocore::socket s(port());
  ASSERT_FALSE(s.open(address_family::ipv4, pocore::socket_type::stream));
  op_rec conn;
  s.async_connect(conn, ep);
  ASSERT_TRUE(run_until(port(), [&] { return conn.calls == 1; }));
  ASSERT_FALSE(conn.error) << conn.error.message();

  op_rec send1;
  s.async_send(send1, pocore::const_buffer{data.data(), data.size()});
  ASSERT_TRUE(run_until(port(), [&] { return paused.calls == 1; }));
  port().remove_work();
  ASSERT_EQ(send1.calls, 0) << "send of 32 MiB finished though the peer stopped reading";
  s.cancel(send1);
  ASSERT_TRUE(run_until(port(), [&] { return send1.calls == 1; }));
  EXPECT_EQ(send1.error, errc::operation_aborted) << send1.error.message();
  EXPECT_GE(send1.bytes, k_first);
  EXPECT_LT(send1.bytes, k_total);
  port().poll();
  EXPECT_EQ(send1.calls, 1) << "cancelled send completed twice";

  // Still usable: the rest of the stream, from exactly where it stopped.
  pp.resume();
  op_rec send2;
  const std::size_t done = send1.bytes;
  s.async_send(send2, pocore::const_buffer{data.data() + done, data.size() - done});
  ASSERT_TRUE(run_until(port(), [&] { return send2.calls == 1; }));
  EXPECT_FALSE(send2.error) << send2.error.message();
  EXPECT_EQ(send2.bytes, k_total - done);
  s.close();
  EXPECT_TRUE(p.join());
  EXPECT_FALSE(aerr) << aerr.message();
  EXPECT_FALSE(st->read_error) << st->read_error.message();
  EXPECT_TRUE(st->eof);
  EXPECT_EQ(st->received, k_total);
  EXPECT_EQ(st->first_bad, no_mismatch) << "stream broken at the cancelled send";
}

// Asio streams 16 MiB, pausing after 1 MiB. pocore cancels a recv that is
// certainly pending (the pause: aborted with 0 bytes), then keeps cancelling
// every other recv at once while the stream flows (each completes exactly
// once, aborted or not, and whatever bytes it reports are part of the
// stream). The stream must come out whole.
POCORE_INTEROP(cancel_recv_mid_transfer) {
  constexpr std::uint64_t k_total = 16 * k_mib;
  constexpr std::uint64_t k_first = k_mib;
  pocore::endpoint bound;
  pocore::socket listener =
      pocore_test::make_listener(port(), loopback(address_family::ipv4), bound);
  ASSERT_TRUE(listener.is_open());

  op_rec paused;
  auto st = std::make_shared<stream_stats>();
  asio_error cerr;
  peer p;
  auto& pp = p.make<pause_point>(p.io);
  pocore::io_port& port_ref = port();
  port().add_work();
  pp.on_pause = [&] { port_ref.post(paused); };
  p.spawn(connect_write_pause_write(asio_tcp::endpoint(asio_loopback(false), bound.port()), pp,
                                    k_first, k_total, 22, st, cerr));
  p.start(wait_budget());

  accept_rec acc;
  listener.async_accept(acc);
  ASSERT_TRUE(run_until(port(), [&] { return acc.calls == 1; }));
  ASSERT_FALSE(acc.error) << acc.error.message();
  listener.close();
  pocore::socket s = std::move(acc.accepted);

  std::vector<std::uint8_t> buf(64 * 1024);
  std::uint64_t received = 0;
  std::uint64_t first_bad = no_mismatch;
  std::error_code ec;
  while (received < k_first) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), k_first - received));
    const std::size_t n = pocore_test::recv_exact(port(), s, buf.data(), want, ec);
    ASSERT_FALSE(ec) << ec.message();
    note_pattern(first_bad, {buf.data(), n}, received, 22);
    received += n;
  }
  ASSERT_TRUE(run_until(port(), [&] { return paused.calls == 1; }));
  port().remove_work();

  // The peer is paused and everything it sent has been read: this recv
  // cannot complete by itself.
  op_rec r0;
  s.async_recv(r0, pocore::buffer{buf.data(), buf.size()});
  s.cancel(r0);
  ASSERT_TRUE(run_until(port(), [&] { return r0.calls == 1; }));
  EXPECT_EQ(r0.error, errc::operation_aborted) << r0.error.message();
  EXPECT_EQ(r0.bytes, 0u);
  port().poll();
  EXPECT_EQ(r0.calls, 1) << "cancelled recv completed twice";

  pp.resume();
  int aborted = 0;
  int iterations = 0;
  bool eof = false;
  while (!eof && iterations < 1000000) {
    op_rec r;
    s.async_recv(r, pocore::buffer{buf.data(), buf.size()});
    if (iterations++ % 2 == 0) s.cancel(r);
    ASSERT_TRUE(run_until(port(), [&] { return r.calls == 1; }));
    if (r.error == errc::operation_aborted) {
      ++aborted;
    } else {
      ASSERT_FALSE(r.error) << r.error.message();
      eof = r.bytes == 0;
    }
    note_pattern(first_bad, {buf.data(), r.bytes}, received, 22);
    received += r.bytes;
  }
  EXPECT_TRUE(eof);
  EXPECT_EQ(received, k_total);
  EXPECT_EQ(first_bad, no_mismatch) << "stream broken at a cancelled recv";
  RecordProperty("aborted_while_streaming", aborted);
  s.close();
  EXPECT_TRUE(p.join());
  EXPECT_FALSE(cerr) << cerr.message();
  EXPECT_FALSE(st->write_error) << st->write_error.message();
  EXPECT_EQ(st->sent, k_total);
  EXPECT_TRUE(st->eof);
}
