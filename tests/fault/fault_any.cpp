// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Injected and real faults every backend meets: socket() and close()
// through the seam, a real reset mid-transfer and real descriptor
// exhaustion (io_uring accepts inside the kernel, where the seam cannot
// reach).

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fault_support.hpp"

namespace pocore_fault_test {
namespace {

// A real reset mid-transfer, on every backend: the peer reads a little and
// closes with SO_LINGER 0 while a large send is under way. The send that
// meets the reset fails once with connection_reset and says how much went
// out; the send queued behind it fails once; a later one fails cleanly.
POCORE_FAULT_ANY(reset_mid_transfer_real) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open());
  // Small buffers so the transfer is still under way when the reset comes.
  EXPECT_FALSE(p.client.set_option(pocore::socket_option::send_buffer_size, 16 * 1024));
  EXPECT_FALSE(p.server.set_option(pocore::socket_option::receive_buffer_size, 16 * 1024));
  const auto data = pattern(8 * 1024 * 1024, 20);
  op_rec s1, s2;
  submit([&] {
    p.client.async_send(s1, pocore::const_buffer{data.data(), data.size()});
    p.client.async_send(s2, pocore::const_buffer{data.data(), 1000});
  });
  std::vector<std::uint8_t> got(64 * 1024);
  std::error_code ec;
  EXPECT_EQ(recv_exact(port(), p.server, got.data(), got.size(), ec), got.size());
  EXPECT_EQ(check_pattern(got, 0, 20), got.size());
  const linger hard{1, 0};
  ASSERT_EQ(::setsockopt(fd_of(p.server), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard)), 0);
  p.server.close();
  EXPECT_TRUE(run_until(port(), [&] { return s1.calls == 1 && s2.calls == 1; }));
  port().poll();
  EXPECT_EQ(s1.calls, 1);
  EXPECT_EQ(s2.calls, 1);
  EXPECT_EQ(s1.error, errc::connection_reset) << s1.error.message();
  EXPECT_GE(s1.bytes, got.size());
  EXPECT_LT(s1.bytes, data.size());
  EXPECT_TRUE(s2.error) << "the send queued behind the reset one succeeded";
  EXPECT_EQ(s2.bytes, 0u);
  op_rec s3;
  submit([&] { p.client.async_send(s3, pocore::const_buffer{data.data(), 10}); });
  expect_one(port(), s3, "send after reset");
  EXPECT_TRUE(s3.error);
  std::vector<std::uint8_t> b(10);
  op_rec r3;
  recv_once(port(), p.client, b, b.size(), r3);
  port().poll();
  EXPECT_EQ(r3.calls, 1);
  EXPECT_TRUE(r3.error || r3.bytes == 0) << "a recv after the reset got data";
  p.client.close();
}

/// Exhausts this process's descriptors for real: lowers RLIMIT_NOFILE to
/// a little above what is open and fills the rest with /dev/null. Undone
/// on destruction.
struct fd_exhaustion {
  rlimit saved{};
  std::vector<int> fillers;
  bool ok = false;
  fd_exhaustion() {
    if (getrlimit(RLIMIT_NOFILE, &saved) != 0) return;
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(open_fd_count() + 16);
    if (low.rlim_cur > saved.rlim_cur || setrlimit(RLIMIT_NOFILE, &low) != 0) return;
    for (int i = 0; i < 256; ++i) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        ok = errno == EMFILE;
        break;
      }
      fillers.push_back(fd);
    }
  }
  ~fd_exhaustion() {
    for (int fd : fillers) ::close(fd);
    setrlimit(RLIMIT_NOFILE, &saved);
  }
  fd_exhaustion(const fd_exhaustion&) = delete;
  fd_exhaustion& operator=(const fd_exhaustion&) = delete;
};

// The same with the process really out of descriptors (RLIMIT_NOFILE), on
// every backend: io_uring accepts inside the kernel, where the seam cannot
// reach, and meets the same limit.
POCORE_FAULT_ANY(accept_emfile_real) {
  pocore::endpoint at;
  pocore::socket l = make_listener(port(), pocore::endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  std::vector<std::unique_ptr<pocore::socket>> clients;
  std::vector<std::unique_ptr<op_rec>> connects;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<pocore::socket>(port()));
    ASSERT_FALSE(clients.back()->open(pocore::address_family::ipv4, pocore::socket_type::stream));
    connects.push_back(std::make_unique<op_rec>());
    submit([&] { clients.back()->async_connect(*connects.back(), at); });
  }
  EXPECT_TRUE(run_until(port(), [&] {
    return std::all_of(connects.begin(), connects.end(), [](auto& k) { return k->calls == 1; });
  }));
  const std::uint64_t accept4_before = pf::calls_on(pf::call::accept4, fd_of(l));
  double cpu_ms = 0;
  int completions = 0;
  accept_rec a1;
  bool ran = false;
  {
    fd_exhaustion ex;
    if (!ex.ok) {
      for (auto& c : clients) c->close();
      l.close();
      GTEST_SKIP() << "could not exhaust the descriptor table";
    }
    // Nothing here may call a virtual function of an error category while
    // the table is full: UBSan's vptr check needs descriptors of its own
    // and reports a false error without them. The checks come after.
    submit([&] { l.async_accept(a1); });
    ran = run_until(port(), [&] { return a1.calls == 1; });
    // The bounded window, three connections still waiting.
    pocore::timer t(port());
    op_rec tw;
    const double cpu0 = thread_cpu_ms();
    t.async_wait_for(tw, std::chrono::milliseconds(300));
    EXPECT_TRUE(run_until(port(), [&] { return tw.calls == 1; }));
    cpu_ms = thread_cpu_ms() - cpu0;
    completions = a1.calls;
  }
  EXPECT_TRUE(ran) << "the accept did not complete while descriptors were exhausted";
  EXPECT_EQ(a1.error, errc::too_many_files) << a1.error.message();
  const std::uint64_t accept4_calls = pf::calls_on(pf::call::accept4, fd_of(l)) - accept4_before;
  std::printf(
      "accept_emfile_real (%s): 1 accept, %d completion, %llu accept4 calls, "
      "%.1f ms CPU in a 300 ms window\n",
      std::string(port().name()).c_str(), completions,
      static_cast<unsigned long long>(accept4_calls), cpu_ms);
  EXPECT_EQ(completions, 1);
  EXPECT_LE(accept4_calls, 1u);  // io_uring makes none through libc
  EXPECT_LT(cpu_ms, 100.0) << "the port burned CPU while descriptors were exhausted";
  // Descriptors back: the listener takes the three waiting connections.
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
    a->accepted.close();
  }
  for (auto& c : clients) c->close();
  l.close();
}

// ---------------------------------------------------------------------------
// Every backend: socket() and close().

POCORE_FAULT_ANY(open_fails) {
  pf::scoped_plan plan;
  const struct {
    int err;
    errc want;
  } cases[] = {{EMFILE, errc::too_many_files},
               {ENFILE, errc::too_many_files},
               {ENOBUFS, errc::no_buffer_space},
               {ENOMEM, errc::not_enough_memory}};
  for (const auto& c : cases) {
    ASSERT_TRUE(pf::arm(pf::call::socket, on_fd(-1, c.err)));
    pocore::socket s(port());
    const std::error_code ec = s.open(pocore::address_family::ipv4, pocore::socket_type::stream);
    EXPECT_EQ(ec, c.want) << "errno " << c.err << ": " << ec.message();
    EXPECT_FALSE(s.is_open());
    EXPECT_EQ(port().open_sockets(), 0u);
    pf::disarm_all();
  }
  EXPECT_EQ(pf::injected(pf::call::socket), 4u);
  // And then it works.
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open());
  transfer_ok(port(), p.client, p.server, 10000, 13, 1);
  p.client.close();
  p.server.close();
}

POCORE_FAULT_ANY(close_eintr) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.server.is_open());
  const int sfd = fd_of(p.server);
  pf::scoped_plan plan;
  // Linux frees the descriptor even when close() says EINTR; retrying
  // could close a number another thread was just given.
  pf::rule r = on_fd(sfd, EINTR);
  r.real_first = true;
  ASSERT_TRUE(pf::arm(pf::call::close, r));
  std::vector<std::uint8_t> buf(100);
  op_rec r1;
  submit([&] { p.server.async_recv(r1, pocore::buffer{buf.data(), buf.size()}); });
  const std::uint64_t closes_before = pf::calls_on(pf::call::close, sfd);
  p.server.close();
  expect_one(port(), r1, "recv pending at close");
  EXPECT_EQ(r1.error, errc::operation_aborted) << r1.error.message();
  EXPECT_EQ(pf::injected(pf::call::close), 1u);
  EXPECT_EQ(pf::calls_on(pf::call::close, sfd) - closes_before, 1u) << "close() retried";
  p.client.close();
}

}  // namespace
}  // namespace pocore_fault_test
