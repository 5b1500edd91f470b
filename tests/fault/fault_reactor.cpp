// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Injected faults on the reactor backends (epoll, and kqueue on its epoll
// shim): the proactor makes the socket calls itself, so each one can fail
// through the seam (fault_support.hpp).

#include <cerrno>
#include <cstdio>
#include <memory>
#include <vector>

#include "fault_support.hpp"

namespace pocore_fault_test {
namespace {

// ---------------------------------------------------------------------------
// EINTR and EAGAIN: the operation completes normally, exactly once.

POCORE_FAULT_REACTOR(recv_eintr) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.server.is_open());
  const int fd = fd_of(p.server);
  pf::scoped_plan plan;
  // One buffer: recv(); two buffers: readv(). Two EINTRs each, in a row.
  ASSERT_TRUE(pf::arm(pf::call::recv, on_fd(fd, EINTR, 1, 2)));
  ASSERT_TRUE(pf::arm(pf::call::readv, on_fd(fd, EINTR, 1, 2)));
  const auto data = pattern(3000, 1);
  send_sync(p.client, std::vector<std::uint8_t>(data.begin(), data.begin() + 1000));
  std::vector<std::uint8_t> got;
  op_rec r1;
  recv_once(port(), p.server, got, 1000, r1);
  port().poll();
  EXPECT_EQ(r1.calls, 1);
  EXPECT_FALSE(r1.error) << r1.error.message();
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(pf::injected(pf::call::recv), 2u);

  send_sync(p.client, std::vector<std::uint8_t>(data.begin() + 1000, data.end()));
  std::vector<std::uint8_t> a(700), b(1300);
  const pocore::buffer bufs[] = {{a.data(), a.size()}, {b.data(), b.size()}};
  op_rec r2;
  submit([&] { p.server.async_recv(r2, std::span<const pocore::buffer>(bufs)); });
  expect_one(port(), r2, "readv recv");
  EXPECT_FALSE(r2.error) << r2.error.message();
  EXPECT_EQ(r2.bytes, 2000u);
  EXPECT_EQ(pf::injected(pf::call::readv), 2u);
  got.insert(got.end(), a.begin(), a.end());
  got.insert(got.end(), b.begin(), b.end());
  EXPECT_EQ(got, data);
  p.client.close();
  p.server.close();
}

POCORE_FAULT_REACTOR(recv_eagain) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.server.is_open());
  const int fd = fd_of(p.server);
  pf::scoped_plan plan;
  // A socket not yet registered: the EAGAIN parks the recv, and
  // registering reports the data already queued.
  ASSERT_TRUE(pf::arm(pf::call::recv, on_fd(fd, EAGAIN)));
  const auto data = pattern(1500, 2);
  send_sync(p.client, std::vector<std::uint8_t>(data.begin(), data.begin() + 500));
  std::vector<std::uint8_t> got;
  op_rec r1;
  recv_once(port(), p.server, got, 4096, r1);
  port().poll();
  EXPECT_EQ(r1.calls, 1);
  EXPECT_FALSE(r1.error) << r1.error.message();
  EXPECT_EQ(got.size(), 500u);
  EXPECT_EQ(pf::injected(pf::call::recv), 1u);

  // A registered socket: the data came just after the EAGAIN, so the
  // kernel raises a new edge (edge_after), which must run the recv.
  pf::rule r = on_fd(fd, EAGAIN);
  r.edge_after = true;
  ASSERT_TRUE(pf::arm(pf::call::recv, r));
  send_sync(p.client, std::vector<std::uint8_t>(data.begin() + 500, data.end()));
  std::vector<std::uint8_t> more;
  op_rec r2;
  recv_once(port(), p.server, more, 4096, r2);
  port().poll();
  EXPECT_EQ(r2.calls, 1);
  EXPECT_FALSE(r2.error) << r2.error.message();
  EXPECT_EQ(pf::injected(pf::call::recv), 2u);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_EQ(got, data);
  p.client.close();
  p.server.close();
}

POCORE_FAULT_REACTOR(send_eintr_eagain) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open());
  const int fd = fd_of(p.client);
  pf::scoped_plan plan;
  ASSERT_TRUE(pf::arm(pf::call::send, on_fd(fd, EINTR, 1, 3)));
  ASSERT_TRUE(pf::arm(pf::call::sendmsg, on_fd(fd, EINTR, 1, 3)));
  transfer_ok(port(), p.client, p.server, 100 * 1000, 3, 1);
  transfer_ok(port(), p.client, p.server, 100 * 1000, 4, 3);
  EXPECT_EQ(pf::injected(pf::call::send), 3u);
  EXPECT_EQ(pf::injected(pf::call::sendmsg), 3u);
  pf::disarm_all();
  // EAGAIN: space came just after it, and with it a writable edge.
  pf::rule r = on_fd(fd, EAGAIN);
  r.edge_after = true;
  ASSERT_TRUE(pf::arm(pf::call::send, r));
  ASSERT_TRUE(pf::arm(pf::call::sendmsg, r));
  transfer_ok(port(), p.client, p.server, 100 * 1000, 5, 1);
  transfer_ok(port(), p.client, p.server, 100 * 1000, 6, 2);
  EXPECT_EQ(pf::injected(pf::call::send), 4u);
  EXPECT_EQ(pf::injected(pf::call::sendmsg), 4u);
  p.client.close();
  p.server.close();
}

POCORE_FAULT_REACTOR(accept_eintr_eagain) {
  pocore::endpoint at;
  pocore::socket l = make_listener(port(), pocore::endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  const int lfd = fd_of(l);
  pf::scoped_plan plan;
  ASSERT_TRUE(pf::arm(pf::call::accept4, on_fd(lfd, EINTR, 1, 2)));
  pocore::socket c1(port());
  ASSERT_FALSE(c1.open(pocore::address_family::ipv4, pocore::socket_type::stream));
  op_rec c;
  accept_rec a1;
  submit([&] {
    l.async_accept(a1);
    c1.async_connect(c, at);
  });
  EXPECT_TRUE(run_until(port(), [&] { return a1.calls == 1 && c.calls == 1; }));
  port().poll();
  EXPECT_EQ(a1.calls, 1);
  EXPECT_FALSE(a1.error) << a1.error.message();
  EXPECT_TRUE(a1.accepted.is_open());
  EXPECT_EQ(pf::injected(pf::call::accept4), 2u);

  // EAGAIN on a registered listener with a connection waiting: the
  // connection "arrived just after" it, and the next one to arrive makes
  // the edge that runs the accept; both are then accepted.
  ASSERT_TRUE(pf::arm(pf::call::accept4, on_fd(lfd, EAGAIN, 3)));
  pocore::socket c2(port()), c3(port());
  ASSERT_FALSE(c2.open(pocore::address_family::ipv4, pocore::socket_type::stream));
  ASSERT_FALSE(c3.open(pocore::address_family::ipv4, pocore::socket_type::stream));
  op_rec k2, k3;
  accept_rec a2, a3;
  submit([&] { l.async_accept(a2); });  // nothing waiting: EAGAIN (real), parks
  submit([&] { c2.async_connect(k2, at); });
  EXPECT_TRUE(run_until(port(), [&] { return k2.calls == 1 && a2.calls == 1; }));
  submit([&] {
    l.async_accept(a3);
    c3.async_connect(k3, at);
  });
  EXPECT_TRUE(run_until(port(), [&] { return k3.calls == 1 && a3.calls == 1; }))
      << "accept after a spurious EAGAIN did not complete";
  port().poll();
  EXPECT_EQ(a2.calls, 1);
  EXPECT_EQ(a3.calls, 1);
  EXPECT_FALSE(a2.error) << a2.error.message();
  EXPECT_FALSE(a3.error) << a3.error.message();
  EXPECT_GE(pf::injected(pf::call::accept4), 3u);
  a1.accepted.close();
  a2.accepted.close();
  a3.accepted.close();
  c1.close();
  c2.close();
  c3.close();
  l.close();
}

POCORE_FAULT_REACTOR(connect_eintr_eagain) {
  pocore::endpoint at;
  pocore::socket l = make_listener(port(), pocore::endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  pocore::socket c1(port());
  ASSERT_FALSE(c1.open(pocore::address_family::ipv4, pocore::socket_type::stream));
  pf::scoped_plan plan;
  // EINTR: Linux goes on connecting; the connect completes once, connected.
  pf::rule intr = on_fd(fd_of(c1), EINTR);
  intr.real_first = true;
  ASSERT_TRUE(pf::arm(pf::call::connect, intr));
  op_rec k1;
  accept_rec a1;
  submit([&] {
    l.async_accept(a1);
    c1.async_connect(k1, at);
  });
  EXPECT_TRUE(run_until(port(), [&] { return a1.calls == 1 && k1.calls == 1; }));
  port().poll();
  EXPECT_EQ(k1.calls, 1);
  EXPECT_FALSE(k1.error) << k1.error.message();
  EXPECT_FALSE(a1.error) << a1.error.message();
  EXPECT_EQ(pf::injected(pf::call::connect), 1u);
  std::error_code ec;
  EXPECT_EQ(c1.remote_endpoint(ec).port(), at.port());

  // EAGAIN (Linux: no ephemeral port left): nothing was started; the
  // connect completes once with would_block and a second one works.
  pocore::socket c2(port());
  ASSERT_FALSE(c2.open(pocore::address_family::ipv4, pocore::socket_type::stream));
  ASSERT_TRUE(pf::arm(pf::call::connect, on_fd(fd_of(c2), EAGAIN)));
  op_rec k2;
  submit([&] { c2.async_connect(k2, at); });
  expect_one(port(), k2, "connect with EAGAIN");
  EXPECT_EQ(k2.error, errc::would_block) << k2.error.message();
  op_rec k3;
  accept_rec a3;
  submit([&] {
    l.async_accept(a3);
    c2.async_connect(k3, at);
  });
  EXPECT_TRUE(run_until(port(), [&] { return a3.calls == 1 && k3.calls == 1; }));
  EXPECT_FALSE(k3.error) << k3.error.message();
  EXPECT_FALSE(a3.error) << a3.error.message();
  a1.accepted.close();
  a3.accepted.close();
  c1.close();
  c2.close();
  l.close();
}

POCORE_FAULT_REACTOR(epoll_wait_eintr) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.server.is_open());
  pf::scoped_plan plan;
  // Every port's wait (epoll_wait; the kqueue shim waits with it too).
  ASSERT_TRUE(pf::arm(pf::call::epoll_wait, on_fd(-1, EINTR, 1, 3)));
  ASSERT_TRUE(pf::arm(pf::call::epoll_wait, on_fd(-1, EAGAIN, 4, 1)));
  std::vector<std::uint8_t> buf(4096);
  op_rec r;
  submit([&] { p.server.async_recv(r, pocore::buffer{buf.data(), buf.size()}); });
  // The recv waits; the waits fail four times before the data comes.
  for (int i = 0; i < 4; ++i) port().run_one_for(std::chrono::milliseconds(1));
  EXPECT_EQ(r.calls, 0);
  EXPECT_EQ(pf::injected(pf::call::epoll_wait), 4u);
  const auto data = pattern(777, 7);
  send_sync(p.client, data);
  expect_one(port(), r, "recv across failed waits");
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.bytes, data.size());
  p.client.close();
  p.server.close();
}

// ---------------------------------------------------------------------------
// Short writes: every byte arrives, in order, and the send reports all.

POCORE_FAULT_REACTOR(short_writes) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open());
  const int fd = fd_of(p.client);
  pf::scoped_plan plan;
  // Every send takes at most 1000 bytes. The kernel takes a short write
  // only when its buffer is full and raises a writable edge once there is
  // room again (edge_after stands for that).
  pf::rule r = on_fd(fd, 0, 1, 0);
  r.short_bytes = 1000;
  r.edge_after = true;
  ASSERT_TRUE(pf::arm(pf::call::send, r));
  ASSERT_TRUE(pf::arm(pf::call::sendmsg, r));
  constexpr std::size_t total = 256 * 1024;
  transfer_ok(port(), p.client, p.server, total, 8, 1);
  transfer_ok(port(), p.client, p.server, total, 9, 5);
  // Each transfer took at least total / 1000 calls (a gather send whose
  // rest lies in one buffer goes out with send()).
  EXPECT_GE(pf::calls_on(pf::call::send, fd) + pf::calls_on(pf::call::sendmsg, fd),
            2 * (total / 1000));
  std::printf("short_writes: %llu short send() and %llu short sendmsg() calls\n",
              static_cast<unsigned long long>(pf::injected(pf::call::send)),
              static_cast<unsigned long long>(pf::injected(pf::call::sendmsg)));
  p.client.close();
  p.server.close();
}

// ---------------------------------------------------------------------------
// ECONNRESET and EPIPE mid-transfer.

POCORE_FAULT_REACTOR(reset_mid_transfer) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open());
  const int cfd = fd_of(p.client);
  const int sfd = fd_of(p.server);
  pf::scoped_plan plan;
  // The first two sends take 64 KiB each, the third meets the peer's reset
  // (ECONNRESET), every one after it EPIPE, as on Linux.
  pf::rule part = on_fd(cfd, 0, 1, 2);
  part.short_bytes = 64 * 1024;
  part.edge_after = true;
  ASSERT_TRUE(pf::arm(pf::call::send, part));
  ASSERT_TRUE(pf::arm(pf::call::send, on_fd(cfd, ECONNRESET, 3)));
  ASSERT_TRUE(pf::arm(pf::call::send, on_fd(cfd, EPIPE, 4, 0)));
  const auto data = pattern(1024 * 1024, 10);
  reader rd(p.server, 128 * 1024);
  rd.start();
  op_rec s1, s2;
  submit([&] {
    p.client.async_send(s1, pocore::const_buffer{data.data(), data.size()});
    p.client.async_send(s2, pocore::const_buffer{data.data(), 1000});  // queued behind
  });
  EXPECT_TRUE(run_until(port(), [&] { return s1.calls == 1 && s2.calls == 1 && rd.done; }));
  port().poll();
  EXPECT_EQ(s1.calls, 1);
  EXPECT_EQ(s1.error, errc::connection_reset) << s1.error.message();
  EXPECT_EQ(s1.bytes, 128u * 1024) << "the reset send says how much went out";
  EXPECT_EQ(s2.calls, 1);
  EXPECT_EQ(s2.error, errc::connection_reset) << s2.error.message();
  EXPECT_EQ(s2.bytes, 0u);
  // What the first send said went out did, in order.
  EXPECT_EQ(rd.got.size(), 128u * 1024);
  EXPECT_EQ(check_pattern(rd.got, 0, 10), rd.got.size());
  // Later sends fail cleanly, once each.
  op_rec s3;
  submit([&] { p.client.async_send(s3, pocore::const_buffer{data.data(), 10}); });
  expect_one(port(), s3, "send after reset");
  EXPECT_EQ(s3.error, errc::connection_reset) << s3.error.message();

  // The receiving side: a recv pending when the reset comes gets it once;
  // so does the recv queued behind it. The reset arrives as an edge: here
  // a few real bytes make it.
  pf::disarm(pf::call::send);
  ASSERT_TRUE(pf::arm(pf::call::recv, on_fd(sfd, ECONNRESET, 1, 0)));
  std::vector<std::uint8_t> b1(100), b2(100);
  op_rec r1, r2;
  submit([&] {
    p.server.async_recv(r1, pocore::buffer{b1.data(), b1.size()});
    p.server.async_recv(r2, pocore::buffer{b2.data(), b2.size()});
  });
  send_sync(p.client, pattern(10, 17));
  EXPECT_TRUE(run_until(port(), [&] { return r1.calls == 1 && r2.calls == 1; }));
  port().poll();
  EXPECT_EQ(r1.calls, 1);
  EXPECT_EQ(r2.calls, 1);
  EXPECT_EQ(r1.error, errc::connection_reset) << r1.error.message();
  EXPECT_EQ(r2.error, errc::connection_reset) << r2.error.message();
  p.client.close();
  p.server.close();
}

// ---------------------------------------------------------------------------
// EMFILE/ENFILE on accept: the error reaches the accept once, the port does
// not spin while descriptors stay exhausted, and the listener works again
// once they free up.

POCORE_FAULT_REACTOR(accept_emfile) {
  pocore::endpoint at;
  pocore::socket l = make_listener(port(), pocore::endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  const int lfd = fd_of(l);
  // A real accept first, waiting before its connection arrives: the
  // listener is then registered with the readiness source.
  accept_rec a0;
  pocore::socket c0(port());
  ASSERT_FALSE(c0.open(pocore::address_family::ipv4, pocore::socket_type::stream));
  op_rec k0;
  submit([&] { l.async_accept(a0); });
  submit([&] { c0.async_connect(k0, at); });
  EXPECT_TRUE(run_until(port(), [&] { return a0.calls == 1 && k0.calls == 1; }));
  EXPECT_FALSE(a0.error) << a0.error.message();
  a0.accepted.close();
  c0.close();
  pf::scoped_plan plan;
  ASSERT_TRUE(pf::arm(pf::call::accept4, on_fd(lfd, EMFILE, 1, 1)));
  ASSERT_TRUE(pf::arm(pf::call::accept4, on_fd(lfd, ENFILE, 2, 0)));
  accept_rec a1;
  submit([&] { l.async_accept(a1); });
  EXPECT_EQ(pf::injected(pf::call::accept4), 1u);  // the attempt at submission
  port().poll();
  EXPECT_EQ(a1.calls, 1);
  EXPECT_EQ(a1.error, errc::too_many_files) << a1.error.message();
  EXPECT_FALSE(a1.accepted.is_open());

  // Connections arrive while descriptors are exhausted (they wait in the
  // backlog); a second accept fails once with ENFILE, then nothing is
  // pending on the listener.
  std::vector<std::unique_ptr<pocore::socket>> clients;
  std::vector<std::unique_ptr<op_rec>> connects;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<pocore::socket>(port()));
    ASSERT_FALSE(clients.back()->open(pocore::address_family::ipv4, pocore::socket_type::stream));
    connects.push_back(std::make_unique<op_rec>());
    clients.back()->async_connect(*connects.back(), at);
  }
  accept_rec a2;
  submit([&] { l.async_accept(a2); });
  EXPECT_TRUE(run_until(port(), [&] {
    return a2.calls == 1 &&
           std::all_of(connects.begin(), connects.end(), [](auto& k) { return k->calls == 1; });
  }));
  EXPECT_EQ(a2.error, errc::too_many_files) << a2.error.message();

  // The bounded window: the port has other work (a timer) and the listener
  // stays readable with three connections queued. An edge-triggered source
  // reports it once; nothing may call accept4 or wake the port in a loop.
  const std::uint64_t accepts_before = pf::calls_on(pf::call::accept4, lfd);
  const std::uint64_t waits_before = pf::calls(pf::call::epoll_wait);
  pocore::timer t(port());
  op_rec tw;
  const auto window = std::chrono::milliseconds(300);
  const double cpu0 = thread_cpu_ms();
  t.async_wait_for(tw, window);
  EXPECT_TRUE(run_until(port(), [&] { return tw.calls == 1; }));
  const double cpu_ms = thread_cpu_ms() - cpu0;
  const std::uint64_t accepts = pf::calls_on(pf::call::accept4, lfd) - accepts_before;
  const std::uint64_t waits = pf::calls(pf::call::epoll_wait) - waits_before;
  std::printf("accept_emfile: %.0f ms window: %llu accept4 calls, %llu waits, %.1f ms CPU\n",
              static_cast<double>(window.count()), static_cast<unsigned long long>(accepts),
              static_cast<unsigned long long>(waits), cpu_ms);
  EXPECT_EQ(accepts, 0u) << "accept4 called with no accept pending";
  EXPECT_LE(waits, 40u) << "the port woke in a loop while the listener stayed readable";
  EXPECT_LT(cpu_ms, 100.0) << "the port burned CPU while descriptors were exhausted";

  // Descriptors free up: the same listener accepts the three waiting
  // connections, one accept call each.
  pf::disarm_all();
  std::vector<std::unique_ptr<accept_rec>> accepted;
  for (int i = 0; i < 3; ++i) {
    accepted.push_back(std::make_unique<accept_rec>());
    submit([&] { l.async_accept(*accepted.back()); });
  }
  EXPECT_TRUE(run_until(port(), [&] {
    return std::all_of(accepted.begin(), accepted.end(), [](auto& a) { return a->calls == 1; });
  }));
  for (auto& a : accepted) {
    EXPECT_FALSE(a->error) << a->error.message();
    EXPECT_TRUE(a->accepted.is_open());
    a->accepted.close();
  }
  for (auto& c : clients) c->close();
  l.close();
}

// ---------------------------------------------------------------------------
// ENOBUFS and ENOMEM on send and recv: the operation that met it fails
// once, with the mapped code and no byte lost; the next one works.

POCORE_FAULT_REACTOR(enobufs_enomem) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open());
  const int cfd = fd_of(p.client);
  const int sfd = fd_of(p.server);
  pf::scoped_plan plan;
  ASSERT_TRUE(pf::arm(pf::call::send, on_fd(cfd, ENOBUFS)));
  const auto data = pattern(5000, 11);
  op_rec s1;
  submit([&] { p.client.async_send(s1, pocore::const_buffer{data.data(), data.size()}); });
  expect_one(port(), s1, "send with ENOBUFS");
  EXPECT_EQ(s1.error, errc::no_buffer_space) << s1.error.message();
  EXPECT_EQ(s1.bytes, 0u);
  ASSERT_TRUE(pf::arm(pf::call::recv, on_fd(sfd, ENOMEM)));
  std::error_code ec;
  EXPECT_EQ(send_all(port(), p.client, data.data(), data.size(), ec), data.size());
  EXPECT_FALSE(ec) << ec.message();
  std::vector<std::uint8_t> got;
  op_rec r1;
  recv_once(port(), p.server, got, data.size(), r1);
  port().poll();
  EXPECT_EQ(r1.calls, 1);
  EXPECT_EQ(r1.error, errc::not_enough_memory) << r1.error.message();
  std::vector<std::uint8_t> all(data.size());
  EXPECT_EQ(recv_exact(port(), p.server, all.data(), all.size(), ec), data.size());
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(all, data) << "a failed recv must not lose bytes";

  // Datagrams: send_to and recv_from go through sendmsg and recvmsg.
  pocore::endpoint ua, ub;
  pocore::socket u1 = make_udp(port(), pocore::address_family::ipv4, ua);
  pocore::socket u2 = make_udp(port(), pocore::address_family::ipv4, ub);
  ASSERT_TRUE(pf::arm(pf::call::sendmsg, on_fd(fd_of(u1), ENOBUFS)));
  ASSERT_TRUE(pf::arm(pf::call::recvmsg, on_fd(fd_of(u2), ENOMEM)));
  dgram_rec d1;
  d1.peer = ub;
  submit([&] { u1.async_send_to(d1, pocore::const_buffer{data.data(), 100}); });
  EXPECT_TRUE(run_until(port(), [&] { return d1.calls == 1; }));
  EXPECT_EQ(d1.error, errc::no_buffer_space) << d1.error.message();
  dgram_rec d2;
  d2.peer = ub;
  submit([&] { u1.async_send_to(d2, pocore::const_buffer{data.data(), 100}); });
  EXPECT_TRUE(run_until(port(), [&] { return d2.calls == 1; }));
  EXPECT_FALSE(d2.error) << d2.error.message();
  std::vector<std::uint8_t> dg(200);
  dgram_rec r2, r3;
  submit([&] { u2.async_recv_from(r2, pocore::buffer{dg.data(), dg.size()}); });
  EXPECT_TRUE(run_until(port(), [&] { return r2.calls == 1; }));
  EXPECT_EQ(r2.error, errc::not_enough_memory) << r2.error.message();
  submit([&] { u2.async_recv_from(r3, pocore::buffer{dg.data(), dg.size()}); });
  EXPECT_TRUE(run_until(port(), [&] { return r3.calls == 1; }));
  EXPECT_FALSE(r3.error) << r3.error.message();
  EXPECT_EQ(r3.bytes, 100u);
  port().poll();
  EXPECT_EQ(d1.calls + d2.calls + r2.calls + r3.calls, 4);
  u1.close();
  u2.close();
  p.client.close();
  p.server.close();
}

// ---------------------------------------------------------------------------
// epoll_ctl fails when a socket is registered: the operation that needed
// the registration fails once with the error; no hang, and the socket can
// register later.

POCORE_FAULT_REACTOR(epoll_ctl_fails) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.server.is_open());
  const int sfd = fd_of(p.server);
  pf::scoped_plan plan;
  ASSERT_TRUE(pf::arm(pf::call::epoll_ctl, on_fd(sfd, ENOMEM)));
  std::vector<std::uint8_t> buf(100);
  op_rec r1;
  submit([&] { p.server.async_recv(r1, pocore::buffer{buf.data(), buf.size()}); });
  expect_one(port(), r1, "recv whose registration failed");
  EXPECT_EQ(r1.error, errc::not_enough_memory) << r1.error.message();
  EXPECT_EQ(pf::injected(pf::call::epoll_ctl), 1u);
  // The limit on watches (ENOSPC) likewise, with a clear error.
  ASSERT_TRUE(pf::arm(pf::call::epoll_ctl, on_fd(sfd, ENOSPC)));
  op_rec r2;
  submit([&] { p.server.async_recv(r2, pocore::buffer{buf.data(), buf.size()}); });
  expect_one(port(), r2, "recv whose registration met ENOSPC");
  EXPECT_TRUE(r2.error);
  EXPECT_NE(r2.error, errc::operation_aborted);
  pf::disarm_all();
  // Registration works again.
  op_rec r3;
  submit([&] { p.server.async_recv(r3, pocore::buffer{buf.data(), buf.size()}); });
  const auto data = pattern(50, 12);
  send_sync(p.client, data);
  expect_one(port(), r3, "recv after registration recovered");
  EXPECT_FALSE(r3.error) << r3.error.message();
  EXPECT_EQ(r3.bytes, 50u);

  // A connect waiting for writability whose registration fails.
  pocore::endpoint at;
  pocore::socket l = make_listener(port(), pocore::endpoint::loopback_v4(), at);
  pocore::socket c(port());
  ASSERT_FALSE(c.open(pocore::address_family::ipv4, pocore::socket_type::stream));
  ASSERT_TRUE(pf::arm(pf::call::epoll_ctl, on_fd(fd_of(c), ENOMEM)));
  op_rec k;
  submit([&] { c.async_connect(k, at); });
  expect_one(port(), k, "connect whose registration failed");
  EXPECT_EQ(k.error, errc::not_enough_memory) << k.error.message();
  c.close();
  l.close();
  p.client.close();
  p.server.close();
}

}  // namespace
}  // namespace pocore_fault_test
