// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Injected faults (issue 5, part 3): the fixture and helpers shared by the
// cases in fault_reactor.cpp, fault_any.cpp and fault_uring.cpp. Each case
// arms a plan on the link-time seam (posix/fault_inject.hpp), drives real
// sockets over loopback through the fault, and asserts that the error
// reaches the right callback exactly once (or that the operation completes
// normally, once), that later operations behave, and, through the fixture,
// that the port ends with no callback owed, no socket open and exactly the
// descriptors it began with.
//
// POCORE_FAULT_REACTOR cases run on epoll and kqueue (the proactor makes
// the socket calls itself); POCORE_FAULT_URING on io_uring (the ring makes
// them inside the kernel, so the seam there is the submission);
// POCORE_FAULT_ANY on every backend.

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "fault_fixture.hpp"

namespace pocore_fault_test {

#define POCORE_FAULT_REACTOR(name) TEST_F(fault, name)
#define POCORE_FAULT_URING(name) TEST_F(fault, name)
#define POCORE_FAULT_ANY(name) TEST_F(fault, name)

inline int fd_of(const pocore::socket& s) { return static_cast<int>(s.native_handle()); }

/// Reads a stream into `got` until it holds `want` bytes, the stream ends
/// or an error comes, resubmitting from its own callback.
struct reader {
  pocore::socket& sock;
  std::size_t want;
  std::vector<std::uint8_t> got;
  std::vector<std::uint8_t> chunk = std::vector<std::uint8_t>(64 * 1024);
  op_rec r;
  std::error_code error;
  bool done = false;

  reader(pocore::socket& s, std::size_t n) : sock(s), want(n) {
    r.then = [this](op_rec& o) {
      if (o.error || o.bytes == 0) {
        error = o.error;
        done = true;
        return;
      }
      got.insert(got.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(o.bytes));
      if (got.size() >= want) {
        done = true;
        return;
      }
      sock.async_recv(o, pocore::buffer{chunk.data(), chunk.size()});
    };
  }
  void start() { sock.async_recv(r, pocore::buffer{chunk.data(), chunk.size()}); }
};

/// Sends `total` pattern bytes from `from` (as `nbufs` buffers, one
/// async_send) while `to` reads them; checks the send's one completion, its
/// count and every byte received, in order.
inline void transfer_ok(pocore::io_port& port, pocore::socket& from, pocore::socket& to,
                        std::size_t total, std::uint32_t seed, std::size_t nbufs) {
  std::vector<std::uint8_t> data(total);
  fill_pattern(data, 0, seed);
  std::vector<pocore::const_buffer> bufs;
  const std::size_t part = total / nbufs;
  for (std::size_t i = 0; i < nbufs; ++i) {
    const std::size_t n = i + 1 == nbufs ? total - part * i : part;
    bufs.emplace_back(data.data() + part * i, n);
  }
  reader rd(to, total);
  rd.start();
  op_rec s;
  submit([&] { from.async_send(s, std::span<const pocore::const_buffer>(bufs)); });
  EXPECT_TRUE(run_until(port, [&] { return s.calls == 1 && rd.done; }))
      << "send calls " << s.calls << ", received " << rd.got.size() << " of " << total;
  EXPECT_EQ(s.calls, 1);
  EXPECT_FALSE(s.error) << s.error.message();
  EXPECT_EQ(s.bytes, total);
  EXPECT_FALSE(rd.error) << rd.error.message();
  EXPECT_EQ(rd.got.size(), total);
  EXPECT_EQ(check_pattern(rd.got, 0, seed), rd.got.size()) << "bytes out of order or altered";
  if (!rd.done) {
    to.cancel(rd.r);
    drain(port);
  }
}

/// Sends `n` bytes synchronously (the socket is blocking for sync calls).
inline void send_sync(pocore::socket& s, const std::vector<std::uint8_t>& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    std::error_code ec;
    const std::size_t n = s.send(pocore::const_buffer{data.data() + off, data.size() - off}, ec);
    ASSERT_FALSE(ec) << ec.message();
    off += n;
  }
}

/// One async_recv of up to `cap` bytes, run to completion.
inline std::size_t recv_once(pocore::io_port& port, pocore::socket& s,
                             std::vector<std::uint8_t>& out, std::size_t cap, op_rec& r) {
  out.resize(cap);
  submit([&] { s.async_recv(r, pocore::buffer{out.data(), out.size()}); });
  EXPECT_TRUE(run_until(port, [&] { return r.calls >= 1; })) << "recv did not complete";
  out.resize(r.error ? 0 : r.bytes);
  return r.bytes;
}

inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  fill_pattern(v, 0, seed);
  return v;
}

/// Runs the port until `r` completed; fails the case if it did not.
inline void expect_one(pocore::io_port& port, op_rec& r, const char* what) {
  EXPECT_TRUE(run_until(port, [&] { return r.calls >= 1; })) << what << " did not complete";
  // Let anything else already due run, then check it came once only.
  port.poll();
  EXPECT_EQ(r.calls, 1) << what;
}

inline double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace pocore_fault_test
