// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The deterministic test backend itself: a seed fixes the callback order
// (same seed, same trace; different seeds, different traces), the order
// the contract promises survives every seed, and injected failures reach
// the right callback exactly once with a realistic error and leak nothing.
// These cases make their own ports ("deterministic:seed=N:...");
// tests/CMakeLists.txt registers POCORE_DETERMINISTIC_CASE on the
// deterministic backend alone.

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::address_family;
using pocore::buffer;
using pocore::const_buffer;
using pocore::endpoint;
using pocore::errc;

#define POCORE_DETERMINISTIC_CASE(name) TEST_F(conformance, name)

namespace {

bool deterministic(pocore::io_port& port) {
  pocore::deterministic_stats st;
  return pocore::get_deterministic_stats(port, st);
}

#define POCORE_DETERMINISTIC_ONLY() \
  ASSERT_TRUE(deterministic(port())) << "registered on the deterministic backend alone"

// A record that appends its id to a shared trace when its callback runs.
struct step : pocore::operation {
  step(int id_, std::vector<int>& trace_)
      : pocore::operation(&step::done), id(id_), trace(&trace_) {}
  int id;
  std::vector<int>* trace;
  int calls = 0;
  std::function<void(step&)> then;
  static void done(pocore::operation& o) {
    auto& s = static_cast<step&>(o);
    s.trace->push_back(s.id);
    ++s.calls;
    if (s.then) s.then(s);
  }
};

constexpr int kPairs = 4;
constexpr int kRecvs = 4;   // per server socket, pending at once, data already there
constexpr int kSends = 2;   // per client socket
constexpr int kPosts = 8;   // each posts one more from its callback
constexpr int kTimers = 4;  // all expired before run: they expire together
constexpr std::size_t kChunk = 16;

// Posts, expired timers and four loopback pairs with data sent before the
// port runs: every readiness is fixed by the program, so the trace is a
// function of the seed alone. Checks the per-socket, per-direction order
// and the bytes on the way.
std::vector<int> scenario(std::uint64_t seed, pocore::deterministic_stats* stats = nullptr) {
  const std::string name = "deterministic:seed=" + std::to_string(seed);
  pocore::io_port port(pocore::port_options{name});
  std::vector<int> trace;
  std::deque<step> steps;  // stable addresses
  std::vector<stream_pair> pairs;
  for (int i = 0; i < kPairs; ++i) pairs.push_back(make_tcp_pair(port));
  std::vector<std::vector<std::uint8_t>> in(kPairs, std::vector<std::uint8_t>(kRecvs * kChunk));
  std::vector<std::uint8_t> out(kRecvs * kChunk);
  const std::uint8_t extra[kSends][8] = {};
  for (int i = 0; i < kPairs; ++i) {
    fill_pattern(out, 0, static_cast<std::uint32_t>(i));
    std::error_code ec;
    EXPECT_EQ(pairs[i].client.send(const_buffer{out.data(), out.size()}, ec), out.size());
    EXPECT_FALSE(ec) << ec.message();
  }
  pocore::timer timer(port);
  submit([&] {
    for (int i = 0; i < kPairs; ++i) {
      for (int j = 0; j < kRecvs; ++j) {
        step& s = steps.emplace_back(1000 + i * 100 + j, trace);
        pairs[i].server.async_recv(s, buffer{in[i].data() + j * kChunk, kChunk});
      }
      for (int j = 0; j < kSends; ++j) {
        step& s = steps.emplace_back(2000 + i * 100 + j, trace);
        pairs[i].client.async_send(s, const_buffer{extra[j], sizeof extra[j]});
      }
    }
    for (int k = 0; k < kPosts; ++k) {
      step& again = steps.emplace_back(3100 + k, trace);
      step& s = steps.emplace_back(3000 + k, trace);
      s.then = [&port, &again](step&) { port.post(again); };
      port.post(s);
    }
    for (int k = 0; k < kTimers; ++k) {
      step& s = steps.emplace_back(4000 + k, trace);
      timer.async_wait_until(s, pocore::timer::clock::now() - std::chrono::milliseconds(1));
    }
  });
  const std::size_t total = steps.size();
  EXPECT_TRUE(run_until(port, [&] { return trace.size() == total; }))
      << "seed " << seed << ": " << trace.size() << " of " << total << " callbacks";
  for (const step& s : steps) {
    EXPECT_EQ(s.calls, 1) << "seed " << seed << " record " << s.id;
    EXPECT_FALSE(s.error) << "seed " << seed << " record " << s.id << ": " << s.error.message();
  }
  // One socket's completions of one direction in submission order.
  for (int lane = 0; lane < 2 * kPairs; ++lane) {
    const int base = (lane < kPairs ? 1000 : 2000) + (lane % kPairs) * 100;
    int next = 0;
    for (int id : trace) {
      if (id >= base && id < base + 100) {
        EXPECT_EQ(id - base, next) << "seed " << seed << ": lane " << base << " out of order";
        ++next;
      }
    }
  }
  for (int i = 0; i < kPairs; ++i) {
    EXPECT_EQ(check_pattern(in[i], 0, static_cast<std::uint32_t>(i)), in[i].size())
        << "seed " << seed << ": pair " << i << " received out of order";
    pairs[i].client.close();
    pairs[i].server.close();
  }
  EXPECT_TRUE(drain(port));
  EXPECT_EQ(port.outstanding(), 0u);
  EXPECT_EQ(port.open_sockets(), 0u);
  if (stats != nullptr) {
    EXPECT_TRUE(pocore::get_deterministic_stats(port, *stats));
  }
  return trace;
}

}  // namespace

POCORE_DETERMINISTIC_CASE(deterministic_same_seed_same_trace) {
  POCORE_DETERMINISTIC_ONLY();
  pocore::deterministic_stats a{}, b{};
  const std::vector<int> first = scenario(42, &a);
  const std::vector<int> second = scenario(42, &b);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first, second) << "seed 42 gave two different orders";
  EXPECT_EQ(a.seed, 42u);
  EXPECT_EQ(a.reordered, b.reordered);
  EXPECT_GT(a.reordered, 0u) << "nothing was reordered";
  std::printf("[ pocore   ] seed 42: %zu callbacks traced, %llu run in all, %llu reordered\n",
              first.size(), static_cast<unsigned long long>(a.callbacks),
              static_cast<unsigned long long>(a.reordered));
}

POCORE_DETERMINISTIC_CASE(deterministic_seeds_give_different_orders) {
  POCORE_DETERMINISTIC_ONLY();
  // 44 records with 12 lanes: far more orders than seeds, so two equal
  // traces would mean the seed is ignored.
  std::set<std::vector<int>> seen;
  constexpr int kSeeds = 8;
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) seen.insert(scenario(seed));
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kSeeds));
}

POCORE_DETERMINISTIC_CASE(deterministic_order_kept_under_200_seeds) {
  POCORE_DETERMINISTIC_ONLY();
  const int seeds = on_wine() ? 20 : 200;
  std::uint64_t callbacks = 0, reordered = 0;
  for (int seed = 1; seed <= seeds && !HasFailure(); ++seed) {
    pocore::deterministic_stats st{};
    scenario(static_cast<std::uint64_t>(seed) * 0x9E3779B9u, &st);
    callbacks += st.callbacks;
    reordered += st.reordered;
  }
  std::printf("[ pocore   ] %d seeds: %llu callbacks, %llu run ahead of an older one\n", seeds,
              static_cast<unsigned long long>(callbacks),
              static_cast<unsigned long long>(reordered));
  EXPECT_GT(reordered, 0u);
}

POCORE_DETERMINISTIC_CASE(deterministic_injected_recv_errors_once_each) {
  POCORE_DETERMINISTIC_ONLY();
  pocore::io_port port(pocore::port_options{"deterministic:seed=7:inject=recv/3"});
  stream_pair p = make_tcp_pair(port);
  ASSERT_TRUE(p.client.is_open() && p.server.is_open());
  constexpr int kOps = 60;
  std::vector<std::uint8_t> out(kOps * kChunk), in(kOps * kChunk);
  fill_pattern(out, 0, 9);
  std::error_code ec;
  ASSERT_EQ(p.client.send(const_buffer{out.data(), out.size()}, ec), out.size());
  std::vector<int> trace;
  std::deque<step> steps;
  submit([&] {
    for (int j = 0; j < kOps; ++j) {
      step& s = steps.emplace_back(j, trace);
      p.server.async_recv(s, buffer{in.data() + j * kChunk, kChunk});
    }
  });
  ASSERT_TRUE(run_until(port, [&] { return trace.size() == steps.size(); }));
  int failed = 0;
  std::size_t got = 0;
  for (const step& s : steps) {
    EXPECT_EQ(s.calls, 1) << "record " << s.id;
    if (s.error) {
      ++failed;
      EXPECT_EQ(s.error, errc::connection_reset) << s.error.message();
      EXPECT_EQ(s.bytes, 0u);
    } else {
      // An injected failure takes no data: the others read the stream on.
      EXPECT_EQ(s.bytes, kChunk);
      EXPECT_EQ(check_pattern({in.data() + s.id * kChunk, kChunk}, got, 9), kChunk)
          << "record " << s.id;
      got += s.bytes;
    }
  }
  for (int j = 1; j < kOps; ++j) EXPECT_LT(trace[j - 1], trace[j]) << "recvs out of order";
  pocore::deterministic_stats st{};
  ASSERT_TRUE(pocore::get_deterministic_stats(port, st));
  EXPECT_EQ(st.injected, static_cast<std::uint64_t>(failed));
  EXPECT_GT(failed, 5);
  EXPECT_LT(failed, kOps - 5);
  std::printf("[ pocore   ] %d recvs, %d failed by injection (seed %llu)\n", kOps, failed,
              static_cast<unsigned long long>(st.seed));
  p.client.close();
  p.server.close();
  EXPECT_TRUE(drain(port));
  EXPECT_EQ(port.outstanding(), 0u);
  EXPECT_EQ(port.open_sockets(), 0u);
}

POCORE_DETERMINISTIC_CASE(deterministic_injected_connect_and_accept) {
  POCORE_DETERMINISTIC_ONLY();
  pocore::io_port port(pocore::port_options{"deterministic:seed=3:inject=connect/1+accept/1"});
  endpoint at;
  pocore::socket l = make_listener(port, endpoint::loopback_v4(), at);
  ASSERT_TRUE(l.is_open());
  pocore::socket c(port);
  ASSERT_FALSE(c.open(address_family::ipv4, pocore::socket_type::stream));
  accept_rec a;
  op_rec k;
  submit([&] {
    l.async_accept(a);
    c.async_connect(k, at);
  });
  ASSERT_TRUE(run_until(port, [&] { return a.calls == 1 && k.calls == 1; }));
  EXPECT_EQ(a.error, errc::connection_aborted) << a.error.message();
  EXPECT_FALSE(a.accepted.is_open());
  EXPECT_EQ(k.error, errc::connection_refused) << k.error.message();
  EXPECT_EQ(a.inline_calls + k.inline_calls, 0);
  c.close();
  l.close();
  EXPECT_TRUE(drain(port));
  EXPECT_EQ(port.outstanding(), 0u);
  EXPECT_EQ(port.open_sockets(), 0u);
}

// An injected failure queued behind a pending record of the same direction
// waits for it (order kept); cancelling it lets it go at once; a close
// turns a waiting one into operation_aborted, after the record before it.
POCORE_DETERMINISTIC_CASE(deterministic_injected_failure_waits_its_turn) {
  POCORE_DETERMINISTIC_ONLY();
  pocore::io_port port(pocore::port_options{"deterministic:seed=5:inject=recv_from/1"});
  endpoint a_ep;
  pocore::socket a = make_udp(port, address_family::ipv4, a_ep);
  ASSERT_TRUE(a.is_open());
  char b1[8], b2[8], b3[8];
  std::vector<int> trace;
  std::deque<step> steps;
  step& first = steps.emplace_back(1, trace);
  dgram_rec held, closed;
  submit([&] {
    a.async_recv(first, buffer{b1, sizeof b1});  // no data: stays pending
    a.async_recv_from(held, buffer{b2, sizeof b2});
    a.async_recv_from(closed, buffer{b3, sizeof b3});
  });
  EXPECT_EQ(port.poll(), 0u) << "the injected failures must wait behind the pending recv";
  a.cancel(held);
  ASSERT_TRUE(run_until(port, [&] { return held.calls == 1; }));
  EXPECT_EQ(held.error, errc::operation_aborted) << held.error.message();
  EXPECT_EQ(first.calls + closed.calls, 0);
  a.close();
  ASSERT_TRUE(run_until(port, [&] { return first.calls == 1 && closed.calls == 1; }));
  EXPECT_EQ(first.error, errc::operation_aborted) << first.error.message();
  EXPECT_EQ(closed.error, errc::operation_aborted) << closed.error.message();
  EXPECT_EQ(held.calls + first.calls + closed.calls, 3);
  EXPECT_TRUE(drain(port));
  EXPECT_EQ(port.outstanding(), 0u);
  EXPECT_EQ(port.open_sockets(), 0u);
}

namespace {

// A fresh directory under the system's temporary directory, removed with
// everything in it on destruction.
class scratch_dir {
 public:
  scratch_dir() {
    namespace fs = std::filesystem;
    std::random_device rd;
    const fs::path base = fs::temp_directory_path();
    for (int attempt = 0; attempt < 100 && path_.empty(); ++attempt) {
      fs::path p = base / ("pocore-det-" + std::to_string(rd()) + "-" + std::to_string(attempt));
      std::error_code ec;
      if (fs::create_directory(p, ec)) path_ = p;
    }
  }
  ~scratch_dir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  bool ok() const { return !path_.empty(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// What an injected read_at fails with: the native I/O error, as the
// backends report an EIO / ERROR_IO_DEVICE (pocore::errc has no value).
std::error_code injected_read_error() {
#if defined(_WIN32)
  return {1117, std::system_category()};  // ERROR_IO_DEVICE
#else
  return {EIO, std::system_category()};
#endif
}

constexpr std::size_t kBlock = 64;
constexpr std::uint32_t kFileSeed = 0x494e4a46;  // "INJF"

// What one run of the file scenario saw.
struct file_outcome {
  std::vector<int> failed_writes;  // ids, in id order
  std::vector<int> failed_reads;
  std::uint64_t injected = 0;
};

// `ops` overlapped writes of one block each (block j at offset j * kBlock),
// all in flight at once, on a port that injects write_at and read_at
// failures; then the file is checked synchronously, filled in whole, and
// read back by `ops` overlapped reads. Checks every record ran once, each
// failure has the injected error and moved nothing (the file and the read
// buffer show it), and every other one moved the right bytes.
file_outcome file_scenario(const std::string& port_name, int ops) {
  file_outcome out;
  scratch_dir dir;
  EXPECT_TRUE(dir.ok());
  if (!dir.ok()) return out;
  pocore::io_port port(pocore::port_options{port_name});
  pocore::file f(port);
  const std::error_code open_ec =
      f.open(dir.file("data"), pocore::file_mode::read_write | pocore::file_mode::create |
                                   pocore::file_mode::truncate);
  EXPECT_FALSE(open_ec) << open_ec.message();
  if (open_ec) return out;
  const std::size_t total = static_cast<std::size_t>(ops) * kBlock;
  std::vector<std::uint8_t> pattern(total);
  fill_pattern(pattern, 0, kFileSeed);

  // ---- writes ----
  std::vector<int> trace;
  std::deque<step> writes;
  submit([&] {
    for (int j = 0; j < ops; ++j) {
      step& s = writes.emplace_back(j, trace);
      f.async_write_at(s, static_cast<std::uint64_t>(j) * kBlock,
                       const_buffer{pattern.data() + j * kBlock, kBlock});
    }
  });
  EXPECT_TRUE(run_until(port, [&] { return trace.size() == writes.size(); }))
      << trace.size() << " of " << writes.size() << " write callbacks";
  int last_written = -1;
  for (const step& s : writes) {
    EXPECT_EQ(s.calls, 1) << "write " << s.id;
    if (s.error) {
      EXPECT_EQ(s.error, errc::no_space) << "write " << s.id << ": " << s.error.message();
      EXPECT_EQ(s.bytes, 0u) << "write " << s.id;
      out.failed_writes.push_back(s.id);
    } else {
      EXPECT_EQ(s.bytes, kBlock) << "write " << s.id;
      last_written = s.id;
    }
  }
  // The file holds exactly the blocks that succeeded: a failed one left a
  // gap of zeros (or, at the end, no bytes at all).
  std::error_code ec;
  const std::uint64_t size = f.size(ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(size, static_cast<std::uint64_t>(last_written + 1) * kBlock);
  std::vector<std::uint8_t> back(total, 0xEE);
  EXPECT_EQ(f.read_at(0, buffer{back.data(), back.size()}, ec), size);
  EXPECT_FALSE(ec) << ec.message();
  std::size_t fi = 0;
  for (int j = 0; j <= last_written; ++j) {
    const std::span<const std::uint8_t> block(back.data() + j * kBlock, kBlock);
    if (fi < out.failed_writes.size() && out.failed_writes[fi] == j) {
      ++fi;
      EXPECT_EQ(std::count(block.begin(), block.end(), std::uint8_t{0}),
                static_cast<std::ptrdiff_t>(kBlock))
          << "block " << j << ": its write failed by injection yet bytes reached the file";
    } else {
      EXPECT_EQ(check_pattern(block, static_cast<std::uint64_t>(j) * kBlock, kFileSeed), kBlock)
          << "block " << j;
    }
  }

  // ---- reads ----
  EXPECT_EQ(f.write_at(0, const_buffer{pattern.data(), pattern.size()}, ec), total);
  EXPECT_FALSE(ec) << ec.message();
  std::vector<std::uint8_t> in(total, 0xEE);
  trace.clear();
  std::deque<step> reads;
  submit([&] {
    for (int j = 0; j < ops; ++j) {
      step& s = reads.emplace_back(j, trace);
      f.async_read_at(s, static_cast<std::uint64_t>(j) * kBlock,
                      buffer{in.data() + j * kBlock, kBlock});
    }
  });
  EXPECT_TRUE(run_until(port, [&] { return trace.size() == reads.size(); }))
      << trace.size() << " of " << reads.size() << " read callbacks";
  for (const step& s : reads) {
    EXPECT_EQ(s.calls, 1) << "read " << s.id;
    const std::span<const std::uint8_t> block(in.data() + s.id * kBlock, kBlock);
    if (s.error) {
      EXPECT_EQ(s.error, injected_read_error()) << "read " << s.id << ": " << s.error.message();
#if !defined(_WIN32)
      EXPECT_EQ(s.error, std::errc::io_error);
#endif
      EXPECT_EQ(s.bytes, 0u) << "read " << s.id;
      EXPECT_EQ(std::count(block.begin(), block.end(), std::uint8_t{0xEE}),
                static_cast<std::ptrdiff_t>(kBlock))
          << "read " << s.id << " failed by injection yet its buffer was written";
      out.failed_reads.push_back(s.id);
    } else {
      EXPECT_EQ(s.bytes, kBlock) << "read " << s.id;
      EXPECT_EQ(check_pattern(block, static_cast<std::uint64_t>(s.id) * kBlock, kFileSeed), kBlock)
          << "read " << s.id;
    }
  }
  pocore::deterministic_stats st{};
  EXPECT_TRUE(pocore::get_deterministic_stats(port, st));
  out.injected = st.injected;
  f.close();
  EXPECT_TRUE(drain(port));
  EXPECT_EQ(port.outstanding(), 0u);
  return out;
}

}  // namespace

// read_at/write_at failures: each picked record completes once with the
// error a real one gives and moves nothing; the others move their bytes.
// Over every inner backend that runs here (the thread pool under epoll and
// kqueue, native files under io_uring and iocp): the picks are drawn in
// submission order, so the same seed fails the same records on each.
POCORE_DETERMINISTIC_CASE(deterministic_injected_file_errors_once_each) {
  POCORE_DETERMINISTIC_ONLY();
  constexpr int kOps = 48;
  const std::string base = "deterministic:seed=11:inject=write_at/4+read_at/3";
  std::vector<std::string> inners;
  for (std::string_view b : pocore::compiled_backends()) {
    std::error_code ec;
    pocore::io_port probe(pocore::port_options{b}, ec);
    if (!ec) inners.emplace_back(b);
  }
  ASSERT_FALSE(inners.empty());
  file_outcome first;
  for (const std::string& inner : inners) {
    const file_outcome a = file_scenario(base + ":inner=" + inner, kOps);
    ASSERT_FALSE(HasFailure()) << "inner " << inner;
    const int fw = static_cast<int>(a.failed_writes.size());
    const int fr = static_cast<int>(a.failed_reads.size());
    EXPECT_EQ(a.injected, static_cast<std::uint64_t>(fw + fr)) << "inner " << inner;
    EXPECT_GT(fw, 2);
    EXPECT_LT(fw, kOps - 2);
    EXPECT_GT(fr, 2);
    EXPECT_LT(fr, kOps - 2);
    std::printf(
        "[ pocore   ] seed 11, inner %s: %d of %d writes and %d of %d reads failed by "
        "injection\n",
        inner.c_str(), fw, kOps, fr, kOps);
    if (&inner == &inners.front()) {
      first = a;
    } else {
      EXPECT_EQ(a.failed_writes, first.failed_writes) << "inner " << inner;
      EXPECT_EQ(a.failed_reads, first.failed_reads) << "inner " << inner;
    }
  }
  // The same seed, run again, fails the same records.
  const file_outcome again = file_scenario(base, kOps);
  EXPECT_EQ(again.failed_writes, first.failed_writes);
  EXPECT_EQ(again.failed_reads, first.failed_reads);
}

// `any` covers socket operations only; a cancelled injected file record
// has finished already and still completes once, with its injected error.
POCORE_DETERMINISTIC_CASE(deterministic_injected_file_scope_and_cancel) {
  POCORE_DETERMINISTIC_ONLY();
  scratch_dir dir;
  ASSERT_TRUE(dir.ok());
  std::uint8_t data[kBlock];
  {
    pocore::io_port port(pocore::port_options{"deterministic:seed=2:inject=any/1"});
    pocore::file f(port);
    ASSERT_FALSE(
        f.open(dir.file("any"), pocore::file_mode::read_write | pocore::file_mode::create));
    std::vector<std::uint8_t> pattern(kBlock);
    fill_pattern(pattern, 0, kFileSeed);
    std::vector<int> trace;
    step w(1, trace), r(2, trace);
    submit([&] { f.async_write_at(w, 0, const_buffer{pattern.data(), pattern.size()}); });
    ASSERT_TRUE(run_until(port, [&] { return w.calls == 1; }));
    EXPECT_FALSE(w.error) << "inject=any failed a file write: " << w.error.message();
    EXPECT_EQ(w.bytes, kBlock);
    submit([&] { f.async_read_at(r, 0, buffer{data, sizeof data}); });
    ASSERT_TRUE(run_until(port, [&] { return r.calls == 1; }));
    EXPECT_FALSE(r.error) << "inject=any failed a file read: " << r.error.message();
    EXPECT_EQ(r.bytes, kBlock);
    EXPECT_EQ(check_pattern({data, kBlock}, 0, kFileSeed), kBlock);
    pocore::deterministic_stats st{};
    ASSERT_TRUE(pocore::get_deterministic_stats(port, st));
    EXPECT_EQ(st.injected, 0u);
    f.close();
    EXPECT_TRUE(drain(port));
  }
  {
    pocore::io_port port(pocore::port_options{"deterministic:seed=2:inject=read_at/1"});
    pocore::file f(port);
    ASSERT_FALSE(f.open(dir.file("any"), pocore::file_mode::read_only));
    std::vector<int> trace;
    step r(1, trace), all(2, trace);
    submit([&] {
      f.async_read_at(r, 0, buffer{data, sizeof data});
      f.async_read_at(all, 0, buffer{data, sizeof data});
    });
    f.cancel(r);
    f.cancel();
    ASSERT_TRUE(run_until(port, [&] { return r.calls == 1 && all.calls == 1; }));
    EXPECT_EQ(r.error, injected_read_error()) << r.error.message();
    EXPECT_EQ(all.error, injected_read_error()) << all.error.message();
    EXPECT_EQ(r.bytes + all.bytes, 0u);
    f.close();
    EXPECT_TRUE(drain(port));
    EXPECT_EQ(r.calls + all.calls, 2) << "a record ran twice";
    EXPECT_EQ(port.outstanding(), 0u);
  }
}

POCORE_DETERMINISTIC_CASE(deterministic_bad_options) {
  POCORE_DETERMINISTIC_ONLY();
  for (const char* name :
       {"deterministic:seed=12x", "deterministic:seed=", "deterministic:colour=blue",
        "deterministic:inject=recv", "deterministic:inject=recv/0", "deterministic:inject=read/3",
        "deterministic:inject=write_at/0", "deterministic:inject=read_at",
        "deterministic:inner=deterministic", "deterministic:seed"}) {
    std::error_code ec;
    pocore::io_port p(pocore::port_options{name}, ec);
    EXPECT_EQ(ec, errc::invalid_argument) << name << ": " << ec.message();
    EXPECT_FALSE(p.valid()) << name;
  }
  std::error_code ec;
  pocore::io_port p(pocore::port_options{"deterministic:seed=0x10:inject=any/1000"}, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.name(), "deterministic:seed=0x10:inject=any/1000");
  pocore::deterministic_stats st{};
  ASSERT_TRUE(pocore::get_deterministic_stats(p, st));
  EXPECT_EQ(st.seed, 16u);
  pocore::io_port plain(pocore::port_options{pocore::compiled_backends()[0]});
  EXPECT_FALSE(pocore::get_deterministic_stats(plain, st));
}
