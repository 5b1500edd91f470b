// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared helpers for the conformance suite and the unit tests.
//
// A conformance case is written once with POCORE_CASE(name) and CMake
// registers it once per backend as `conformance.<name>.<backend>`, each run in
// its own process with POCORE_BACKEND set. The fixture makes the port, and
// after the case checks that it shut down clean: no callback owed, no socket
// open, and (on Linux) exactly the descriptors the process had before.
//
// Every wait goes through run_until(), bounded by wait_budget(), so a broken
// backend fails the case instead of hanging it. Nothing sleeps to
// synchronise.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "pocore/pocore.hpp"

/// A conformance case: runs on every backend the build can run.
#define POCORE_CASE(name) TEST_F(conformance, name)
/// A unit test: runs once.
#define POCORE_UNIT(name) TEST(unit, name)

/// Skips the current case when running under Wine, with the reason (which
/// WINE.md documents and real Windows does not share).
#define POCORE_SKIP_ON_WINE(reason) \
  do {                              \
    if (::pocore_test::on_wine()) { \
      GTEST_SKIP() << (reason);     \
    }                               \
  } while (false)

namespace pocore_test {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

/// True when the process is a Windows build running under Wine.
bool on_wine() noexcept;

/// How long any single wait in a case may take before it counts as a hang.
/// Generous (Wine is ~10x slower per operation; longer still under
/// ThreadSanitizer) but below the CTest timeout, so the failure message
/// names the wait that stuck.
std::chrono::milliseconds wait_budget() noexcept;

/// Open descriptors of this process (Linux: entries of /proc/self/fd);
/// -1 where the platform gives no reliable count.
int open_fd_count() noexcept;

/// True if `h` is close-on-exec (POSIX) or not inheritable (Windows).
bool handle_not_inherited(pocore::native_handle_type h) noexcept;

/// Threads of this process (Linux: entries of /proc/self/task); -1 where
/// the platform gives no reliable count.
int thread_count() noexcept;

/// Set while this thread submits an operation (see submit()); a callback
/// that sees it set ran inline, which guarantee 2 forbids. Functions rather
/// than an extern thread_local, whose access GCC's UBSan misreports.
void set_submitting(bool on) noexcept;
bool submitting() noexcept;
/// Callbacks of rec<> records that ran inside a submit() call.
extern std::atomic<int> g_inline_calls;

/// Runs `f` (which submits operations) with t_submitting set.
template <class F>
void submit(F&& f) {
  set_submitting(true);
  std::forward<F>(f)();
  set_submitting(false);
}

/// A counting operation record. `calls` counts callbacks; `then`, if set,
/// runs inside the callback after counting (it may resubmit).
template <class Base>
struct rec : Base {
  rec() noexcept : Base(&rec::done) {}
  std::atomic<int> calls{0};
  std::atomic<int> inline_calls{0};
  std::function<void(rec&)> then;

  static void done(pocore::operation& o) {
    auto& r = static_cast<rec&>(o);
    if (submitting()) {
      r.inline_calls.fetch_add(1);
      g_inline_calls.fetch_add(1);
    }
    r.calls.fetch_add(1);
    if (r.then) r.then(r);
  }
};
using op_rec = rec<pocore::operation>;
using accept_rec = rec<pocore::accept_operation>;
using dgram_rec = rec<pocore::datagram_operation>;

/// Runs `port` one callback at a time until `pred()` holds or the budget
/// runs out. Returns pred(). Returns early (false) if the port has no work
/// left and pred() still fails, since nothing can change it then.
template <class Pred>
bool run_until(pocore::io_port& port, Pred pred, std::chrono::milliseconds budget = wait_budget()) {
  const auto deadline = clock::now() + budget;
  while (!pred()) {
    const auto now = clock::now();
    if (now >= deadline) return pred();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const std::size_t ran = port.run_one_for(std::min<std::chrono::milliseconds>(left, 250ms));
    if (ran == 0 && port.outstanding() == 0) return pred();
  }
  return true;
}

/// Runs `port` until no callback is owed (bounded). True if it got there.
bool drain(pocore::io_port& port, std::chrono::milliseconds budget = wait_budget());

/// Deterministic test data: byte `i` of stream `seed`. Not periodic in any
/// small power of two, so reordering or duplication shows.
inline std::uint8_t pattern_byte(std::uint64_t i, std::uint32_t seed) noexcept {
  std::uint64_t x = (i / 8) * 0x9E3779B97F4A7C15ull + seed;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return static_cast<std::uint8_t>(x >> ((i % 8) * 8));
}
void fill_pattern(std::span<std::uint8_t> out, std::uint64_t offset, std::uint32_t seed);
/// Index of the first byte not matching the pattern, or out.size().
std::size_t check_pattern(std::span<const std::uint8_t> in, std::uint64_t offset,
                          std::uint32_t seed);

/// A connected pair of stream sockets.
struct stream_pair {
  pocore::socket client;
  pocore::socket server;
};

/// A listening TCP socket on `bind_ep` (port 0); `bound` gets its endpoint.
pocore::socket make_listener(pocore::io_port& port, const pocore::endpoint& bind_ep,
                             pocore::endpoint& bound);
/// A connected TCP pair over loopback made with async accept + connect.
/// On failure records a gtest failure and returns closed sockets.
stream_pair make_tcp_pair(pocore::io_port& port,
                          pocore::address_family family = pocore::address_family::ipv4);
/// A UDP socket bound to the loopback of `family`, port 0.
pocore::socket make_udp(pocore::io_port& port, pocore::address_family family,
                        pocore::endpoint& bound);
/// A loopback endpoint nobody listens on: a stream socket bound there and
/// never listening, so connecting there is refused. The socket holds the
/// port for as long as the object lives: a port merely freed could be
/// taken meanwhile by a parallel test's listener (which would accept the
/// connection) or by the connecting socket's own bind(0) (a ConnectEx then
/// connects the socket to itself).
struct refused_target {
  pocore::socket holder;
  pocore::endpoint at;
};
refused_target refused_endpoint(pocore::io_port& port, pocore::address_family family);

/// Receives exactly `n` bytes with async_recv, running the port. Returns
/// the bytes received (fewer at EOF/error; `ec` then holds the error).
std::size_t recv_exact(pocore::io_port& port, pocore::socket& s, void* data, std::size_t n,
                       std::error_code& ec);
/// Sends `n` bytes with async_send, running the port; returns op.bytes.
std::size_t send_all(pocore::io_port& port, pocore::socket& s, const void* data, std::size_t n,
                     std::error_code& ec);
/// Receives until end of stream (or error), bounded; returns the total.
std::size_t recv_to_eof(pocore::io_port& port, pocore::socket& s, std::vector<std::uint8_t>* out,
                        std::error_code& ec);

/// Threads running port.run(); stop() and join on destruction so a failed
/// assertion never leaves a joinable thread behind.
class run_threads {
 public:
  run_threads(pocore::io_port& port, int n);
  ~run_threads();
  run_threads(const run_threads&) = delete;
  run_threads& operator=(const run_threads&) = delete;
  /// Joins the threads (they return when the port runs out of work or is
  /// stopped). Returns the callbacks they ran in total.
  std::size_t join();

 private:
  pocore::io_port& port_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> ran_{0};
};

}  // namespace pocore_test

/// The fixture behind POCORE_CASE: one port per case, checked at the end.
class conformance : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  pocore::io_port& port() noexcept { return *port_; }

 private:
  int fds_at_start_ = -1;
  int threads_at_start_ = -1;
  std::unique_ptr<pocore::io_port> port_;
};
