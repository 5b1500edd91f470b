// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Race stress: for a bounded time, several threads run one port while other
// threads submit (recv, send, accept, connect, recv_from, send_to, timer
// waits, posts), cancel and close at random over a shared pool of connected
// TCP pairs, UDP sockets, listeners and timers. Checked as it runs and at
// the end:
//   - every submission completes exactly once (per-record submit and
//     completion counts, and a state that must be "pending" when a callback
//     arrives);
//   - nothing completes after its socket's close-aborts: when a socket is
//     closed the records pending on it are counted; each old-epoch
//     completion takes one from that count, and one more is a failure;
//   - every stream byte arrives intact and in order (a per-stream pattern
//     checked at its offset), and at the end every byte a send reported
//     sent was received;
//   - callbacks never run inside the submitting call;
//   - the port ends clean (outstanding() == 0, open_sockets() == 0) and the
//     process has the descriptors (Windows: handles) it had before.
//
// Usage: pocore-stress --backend NAME [--seconds S] [--seed N]
//                      [--run-threads R] [--submit-threads W]
// The seed fixes each submitting thread's sequence of choices; the thread
// interleaving is not replayable (the deterministic backend of issue 5 part
// 7 is for that), but the printed seed reproduces the workload.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pocore/pocore.hpp"
#include "pocore_test.hpp"
#include "stress_util.hpp"

namespace {

using pocore::errc;
using clk = std::chrono::steady_clock;

// ---- failures and counters ----

std::mutex g_fail_mutex;
std::vector<std::string> g_failures;
std::atomic<long> g_failure_count{0};
std::uint64_t g_seed = 0;
std::string g_backend;

void fail(const std::string& what) {
  g_failure_count.fetch_add(1);
  std::lock_guard<std::mutex> lock(g_fail_mutex);
  if (g_failures.size() < 20) {
    g_failures.push_back(what);
    std::fprintf(stderr, "stress FAILURE (backend %s, seed %llu): %s\n", g_backend.c_str(),
                 static_cast<unsigned long long>(g_seed), what.c_str());
  }
}

struct counters {
  std::atomic<long> submitted{0}, completed{0}, cancels{0}, idle_cancels{0}, cancel_races{0},
      cancel_won{0}, closes{0}, reopens{0}, posts{0}, accepted{0}, connected{0}, refused{0},
      datagrams_sent{0}, datagrams_received{0}, timer_fired{0}, timer_aborted{0}, resubmits{0},
      aborted{0}, resets{0};
  std::atomic<long long> bytes_sent{0}, bytes_received{0};
};
counters g;

thread_local bool t_submitting = false;

// ---- records ----

enum class kind : std::uint8_t { send, recv, accept, connect, send_to, recv_from, wait, post };
const char* kind_name(kind k) {
  switch (k) {
    case kind::send:
      return "send";
    case kind::recv:
      return "recv";
    case kind::accept:
      return "accept";
    case kind::connect:
      return "connect";
    case kind::send_to:
      return "send_to";
    case kind::recv_from:
      return "recv_from";
    case kind::wait:
      return "timer wait";
    case kind::post:
      return "post";
  }
  return "?";
}

enum class rstate : std::uint8_t { idle, pending, completing };

struct slot;

// What the stress knows about one record. Guarded by its slot's data mutex.
struct track {
  kind k = kind::post;
  int side = 0;  // which socket of the slot it runs on
  slot* owner = nullptr;
  rstate state = rstate::idle;
  std::uint64_t submits = 0;
  std::uint64_t completions = 0;
  std::uint64_t epoch = 0;        // the socket's epoch at submission
  bool cancel_requested = false;  // a socket cancel was issued while pending
  int timer_cancel = -1;          // timer::cancel(op) result: 1 pending, 0 not
  std::uint64_t offset = 0;       // stream offset of a send/recv
  std::uint32_t seed = 0;         // stream / datagram seed
  std::size_t requested = 0;      // bytes asked for
  clk::time_point deadline{};     // timer waits
  std::uint16_t own_port = 0;     // UDP: the socket's port at submission
};

void stress_complete(pocore::operation& op);

struct op_record : pocore::operation {
  op_record() noexcept : pocore::operation(&stress_complete, &t) {}
  track t;
  std::vector<std::uint8_t> buf;
  std::array<pocore::const_buffer, 2> cbufs{};
  std::array<pocore::buffer, 2> mbufs{};
};
struct accept_record : pocore::accept_operation {
  accept_record() noexcept : pocore::accept_operation(&stress_complete, &t) {}
  track t;
};
struct dgram_record : pocore::datagram_operation {
  dgram_record() noexcept : pocore::datagram_operation(&stress_complete, &t) {}
  track t;
  std::vector<std::uint8_t> buf;
};

enum class slot_type : std::uint8_t { pair, listener, udp, timer, posts };

constexpr std::size_t max_stream_chunk = 64 * 1024;
constexpr std::size_t max_datagram = 1200;
constexpr std::uint32_t datagram_magic = 0x50435354;  // "PCST"

// One stream direction of a pair: side `d` sends to side `1 - d`.
struct stream_dir {
  std::uint32_t seed = 0;
  std::uint64_t sent = 0;       // bytes send completions reported
  std::uint64_t received = 0;   // bytes recv completions delivered
  std::uint64_t in_flight = 0;  // size of the pending send, if any
};

struct slot {
  slot_type type = slot_type::pair;
  int index = 0;
  pocore::io_port* port = nullptr;
  // Held around every pocore call on this slot's sockets or timer, since
  // close must not race with other calls on the same object. Callbacks
  // only try_lock it.
  std::mutex api;
  // Guards the tracks and the fields below; never held across a pocore
  // call.
  std::mutex m;
  std::array<pocore::socket, 2> sock;
  std::optional<pocore::timer> tmr;
  std::array<std::uint64_t, 2> epoch{1, 1};
  std::array<long, 2> old_pending{0, 0};  // records still owed by closed epochs
  std::array<stream_dir, 2> dir;
  pocore::endpoint ep;          // listener or UDP endpoint
  bool connector_used = false;  // the connector has had its connect
  std::uint32_t next_seed = 1;
  std::vector<std::unique_ptr<op_record>> ops;
  std::vector<std::unique_ptr<accept_record>> accepts;
  std::vector<std::unique_ptr<dgram_record>> dgrams;

  std::vector<track*> tracks() {
    std::vector<track*> v;
    for (auto& r : ops) v.push_back(&r->t);
    for (auto& r : accepts) v.push_back(&r->t);
    for (auto& r : dgrams) v.push_back(&r->t);
    return v;
  }
};

std::mutex g_cv_mutex;
std::condition_variable g_cv;
std::atomic<bool> g_final{false};

std::string where(const track& t) {
  return std::string(kind_name(t.k)) + " on slot " + std::to_string(t.owner->index) + " side " +
         std::to_string(t.side) + " epoch " + std::to_string(t.epoch) + " submit #" +
         std::to_string(t.submits);
}

// Marks `t` pending for a submission on the socket's current epoch; false
// if it is still in use. Call with the slot's api mutex held.
bool begin(slot& s, track& t) {
  std::lock_guard<std::mutex> lock(s.m);
  if (t.state != rstate::idle) return false;
  t.state = rstate::pending;
  ++t.submits;
  t.epoch = s.epoch[t.side];
  t.cancel_requested = false;
  t.timer_cancel = -1;
  g.submitted.fetch_add(1, std::memory_order_relaxed);
  return true;
}

template <class F>
void submit(F&& f) {
  t_submitting = true;
  f();
  t_submitting = false;
}

// ---- submissions (api mutex held) ----

void submit_send(slot& s, op_record& r, std::mt19937_64& rng) {
  const int side = r.t.side;
  if (!s.sock[side].is_open() || !begin(s, r.t)) return;
  std::size_t n = 1 + rng() % (rng() % 4 == 0 ? max_stream_chunk : 2048);
  {
    std::lock_guard<std::mutex> lock(s.m);
    stream_dir& d = s.dir[side];
    r.t.offset = d.sent;
    r.t.seed = d.seed;
    r.t.requested = n;
    d.in_flight = n;
  }
  pocore_test::fill_pattern(std::span<std::uint8_t>(r.buf.data(), n), r.t.offset, r.t.seed);
  if (n > 1 && rng() % 3 == 0) {
    const std::size_t cut = 1 + rng() % (n - 1);
    r.cbufs[0] = pocore::const_buffer(r.buf.data(), cut);
    r.cbufs[1] = pocore::const_buffer(r.buf.data() + cut, n - cut);
    submit([&] { s.sock[side].async_send(r, std::span<const pocore::const_buffer>(r.cbufs)); });
  } else {
    submit([&] { s.sock[side].async_send(r, pocore::const_buffer(r.buf.data(), n)); });
  }
}

void submit_recv(slot& s, op_record& r, std::mt19937_64& rng) {
  const int side = r.t.side;
  if (!s.sock[side].is_open() || !begin(s, r.t)) return;
  const std::size_t n = 1 + rng() % max_stream_chunk;
  {
    std::lock_guard<std::mutex> lock(s.m);
    stream_dir& d = s.dir[1 - side];
    r.t.offset = d.received;
    r.t.seed = d.seed;
    r.t.requested = n;
  }
  if (n > 1 && rng() % 3 == 0) {
    const std::size_t cut = 1 + rng() % (n - 1);
    r.mbufs[0] = pocore::buffer{r.buf.data(), cut};
    r.mbufs[1] = pocore::buffer{r.buf.data() + cut, n - cut};
    submit([&] { s.sock[side].async_recv(r, std::span<const pocore::buffer>(r.mbufs)); });
  } else {
    submit([&] { s.sock[side].async_recv(r, pocore::buffer{r.buf.data(), n}); });
  }
}

void submit_send_to(slot& s, dgram_record& r, std::mt19937_64& rng) {
  if (!s.sock[0].is_open() || !begin(s, r.t)) return;
  const std::size_t n = 16 + rng() % (max_datagram - 16);
  std::uint32_t seed;
  {
    std::lock_guard<std::mutex> lock(s.m);
    seed = s.next_seed++;
    r.t.seed = seed;
    r.t.requested = n;
    r.peer = s.ep;
  }
  const std::uint32_t hdr[4] = {datagram_magic, static_cast<std::uint32_t>(n), seed, 0};
  std::memcpy(r.buf.data(), hdr, sizeof hdr);
  pocore_test::fill_pattern(std::span<std::uint8_t>(r.buf.data() + 16, n - 16), 0, seed);
  submit([&] { s.sock[0].async_send_to(r, pocore::const_buffer(r.buf.data(), n)); });
}

void submit_recv_from(slot& s, dgram_record& r) {
  if (!s.sock[0].is_open() || !begin(s, r.t)) return;
  {
    std::lock_guard<std::mutex> lock(s.m);
    r.t.requested = r.buf.size();
    r.t.own_port = s.ep.port();
  }
  submit([&] { s.sock[0].async_recv_from(r, pocore::buffer{r.buf.data(), r.buf.size()}); });
}

// ---- completions ----

bool allowed_after_close(const std::error_code& e) {
  return !e || e == errc::operation_aborted || e == errc::connection_reset ||
         e == errc::connection_aborted;
}

void check_stream_recv(slot& s, op_record& r, bool current) {
  track& t = r.t;
  if (r.bytes > t.requested) {
    fail(where(t) + ": recv reports " + std::to_string(r.bytes) + " bytes for a buffer of " +
         std::to_string(t.requested));
    return;
  }
  const std::size_t bad = pocore_test::check_pattern(
      std::span<const std::uint8_t>(r.buf.data(), r.bytes), t.offset, t.seed);
  if (bad != r.bytes) {
    fail(where(t) + ": stream byte " + std::to_string(t.offset + bad) +
         " differs from what was sent (lost, duplicated or reordered data)");
  }
  g.bytes_received.fetch_add(static_cast<long long>(r.bytes), std::memory_order_relaxed);
  if (!current) return;
  stream_dir& d = s.dir[1 - t.side];
  d.received += r.bytes;
  if (d.received > d.sent + d.in_flight) {
    fail(where(t) + ": received " + std::to_string(d.received) + " bytes but only " +
         std::to_string(d.sent + d.in_flight) + " were submitted");
  }
  if (!r.error && r.bytes == 0) {
    fail(where(t) + ": end of stream on a pair nobody closed");
  }
}

void check_stream_send(slot& s, op_record& r, bool current) {
  track& t = r.t;
  if (r.bytes > t.requested || (!r.error && r.bytes != t.requested)) {
    fail(where(t) + ": send of " + std::to_string(t.requested) + " bytes completed with " +
         std::to_string(r.bytes) + " (" + r.error.message() + ")");
  }
  g.bytes_sent.fetch_add(static_cast<long long>(std::min(r.bytes, t.requested)),
                         std::memory_order_relaxed);
  if (!current) return;
  stream_dir& d = s.dir[t.side];
  d.sent += std::min(r.bytes, t.requested);
  d.in_flight = 0;
}

// Checks one completion; called with the slot's data mutex held. `current`
// is false when the socket was closed since submission.
void check_completion(slot& s, pocore::operation& op, track& t, bool current) {
  const std::error_code& e = op.error;
  if (e == errc::operation_aborted) g.aborted.fetch_add(1, std::memory_order_relaxed);
  if (e == errc::connection_reset) g.resets.fetch_add(1, std::memory_order_relaxed);
  if (t.cancel_requested) {
    if (e == errc::operation_aborted) {
      g.cancel_won.fetch_add(1, std::memory_order_relaxed);
    } else {
      g.cancel_races.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Errors a live, uncancelled operation may not see.
  const bool may_abort = t.cancel_requested || !current || t.timer_cancel == 1;
  if (e == errc::operation_aborted && !may_abort) {
    fail(where(t) + ": operation_aborted with no cancel or close");
  }
  if (!current && !allowed_after_close(e) && t.k != kind::connect && t.k != kind::accept) {
    fail(where(t) + ": unexpected error after close: " + e.message());
  }
  switch (t.k) {
    case kind::send:
      if (current && e && e != errc::operation_aborted) {
        fail(where(t) + ": send on a live pair failed: " + e.message());
      }
      check_stream_send(s, static_cast<op_record&>(op), current);
      break;
    case kind::recv:
      if (current && e && e != errc::operation_aborted) {
        fail(where(t) + ": recv on a live pair failed: " + e.message());
      }
      check_stream_recv(s, static_cast<op_record&>(op), current);
      break;
    case kind::accept: {
      auto& a = static_cast<accept_record&>(op);
      if (!e) {
        g.accepted.fetch_add(1, std::memory_order_relaxed);
        if (!a.accepted.is_open()) fail(where(t) + ": accept succeeded without a socket");
      } else if (e != errc::operation_aborted && e != errc::connection_aborted &&
                 e != errc::connection_reset) {
        fail(where(t) + ": accept failed: " + e.message());
      }
      break;
    }
    case kind::connect:
      if (!e) {
        g.connected.fetch_add(1, std::memory_order_relaxed);
      } else if (e == errc::connection_refused || e == errc::connection_reset) {
        g.refused.fetch_add(1, std::memory_order_relaxed);  // listener closed meanwhile
      } else if (e != errc::operation_aborted) {
        fail(where(t) + ": connect failed: " + e.message());
      }
      break;
    case kind::send_to:
      if (!e) {
        g.datagrams_sent.fetch_add(1, std::memory_order_relaxed);
        if (op.bytes != t.requested) fail(where(t) + ": send_to sent part of a datagram");
      } else if (current && e != errc::operation_aborted && e != errc::no_buffer_space &&
                 e != errc::would_block) {
        fail(where(t) + ": send_to failed: " + e.message());
      }
      break;
    case kind::recv_from: {
      auto& d = static_cast<dgram_record&>(op);
      if (!e) {
        g.datagrams_received.fetch_add(1, std::memory_order_relaxed);
        std::uint32_t hdr[4] = {};
        bool ok = op.bytes >= 16;
        if (ok) {
          std::memcpy(hdr, d.buf.data(), sizeof hdr);
          ok = hdr[0] == datagram_magic && hdr[1] == op.bytes &&
               pocore_test::check_pattern(
                   std::span<const std::uint8_t>(d.buf.data() + 16, op.bytes - 16), 0, hdr[2]) ==
                   op.bytes - 16;
        }
        if (!ok) fail(where(t) + ": datagram of " + std::to_string(op.bytes) + " bytes corrupt");
        // Each UDP socket sends only to itself.
        if (d.peer.port() != t.own_port || !d.peer.is_loopback()) {
          fail(where(t) + ": datagram from " + d.peer.to_string() + ", expected port " +
               std::to_string(t.own_port));
        }
      } else if (current && e != errc::operation_aborted) {
        fail(where(t) + ": recv_from failed: " + e.message());
      }
      break;
    }
    case kind::wait:
      if (!e) {
        g.timer_fired.fetch_add(1, std::memory_order_relaxed);
        if (clk::now() < t.deadline) fail(where(t) + ": timer fired before its deadline");
        if (t.timer_cancel == 1) fail(where(t) + ": cancel said pending, yet the wait fired");
      } else if (e == errc::operation_aborted) {
        g.timer_aborted.fetch_add(1, std::memory_order_relaxed);
        if (t.timer_cancel == 1) g.cancel_won.fetch_add(1, std::memory_order_relaxed);
        if (t.timer_cancel == 0 && current && !t.cancel_requested) {
          fail(where(t) + ": cancel said not pending, yet the wait was aborted");
        }
      } else {
        fail(where(t) + ": timer wait failed: " + e.message());
      }
      break;
    case kind::post:
      if (e || op.bytes != 0x5eed) fail(where(t) + ": post changed error or bytes");
      break;
  }
}

// A callback may resubmit its own record (recv and recv_from keep going,
// as real servers do), but only if it gets the api mutex at once: a worker
// may hold it while closing.
bool maybe_resubmit(slot& s, pocore::operation& op, track& t) {
  if (t.k != kind::recv && t.k != kind::recv_from) return false;
  const bool final_phase = g_final.load();
  if (final_phase && t.k == kind::recv_from) return false;
  thread_local std::mt19937_64 rng(g_seed ^
                                   std::hash<std::thread::id>{}(std::this_thread::get_id()));
  if (!final_phase && rng() % 2 == 0) return false;
  std::unique_lock<std::mutex> api(s.api, std::try_to_lock);
  if (!api.owns_lock()) return false;
  {
    std::lock_guard<std::mutex> lock(s.m);
    if (t.state != rstate::completing || t.epoch != s.epoch[t.side]) return false;
    if (final_phase) {
      const stream_dir& d = s.dir[1 - t.side];
      if (d.received >= d.sent + d.in_flight) return false;
    }
    t.state = rstate::idle;  // begin() below takes it again
  }
  g.resubmits.fetch_add(1, std::memory_order_relaxed);
  if (t.k == kind::recv) {
    submit_recv(s, static_cast<op_record&>(op), rng);
  } else {
    submit_recv_from(s, static_cast<dgram_record&>(op));
  }
  return true;
}

void stress_complete(pocore::operation& op) {
  auto& t = *static_cast<track*>(op.context);
  slot& s = *t.owner;
  if (t_submitting) fail(where(t) + ": callback ran inside a submitting call");
  {
    std::lock_guard<std::mutex> lock(s.m);
    ++t.completions;
    g.completed.fetch_add(1, std::memory_order_relaxed);
    if (t.state != rstate::pending) {
      fail(where(t) + ": completed while not pending (a second completion?)");
      return;
    }
    t.state = rstate::completing;
    const bool current = t.epoch == s.epoch[t.side];
    if (!current && --s.old_pending[t.side] < 0) {
      fail(where(t) + ": completed after its socket's close-aborted completions");
    }
    check_completion(s, op, t, current);
  }
  if (t.k == kind::accept) {
    // The accepted connection is not needed; closing it here, on a run
    // thread, is part of the mix.
    static_cast<accept_record&>(op).accepted.close();
  }
  if (!maybe_resubmit(s, op, t)) {
    std::lock_guard<std::mutex> lock(s.m);
    t.state = rstate::idle;
  }
  g_cv.notify_all();
}

// ---- opening and closing (api mutex held) ----

// Closes side `side` (both sides of a pair): counts what is pending on it
// so later completions can be checked against that count.
void close_sides(slot& s, std::initializer_list<int> sides) {
  {
    std::lock_guard<std::mutex> lock(s.m);
    for (track* t : s.tracks()) {
      for (int side : sides) {
        if (t->side == side && t->state == rstate::pending && t->epoch == s.epoch[side]) {
          ++s.old_pending[side];
        }
      }
    }
    for (int side : sides) ++s.epoch[side];
  }
  for (int side : sides) {
    if (s.type == slot_type::timer) {
      s.tmr.reset();
    } else {
      s.sock[side].close();
    }
  }
  g.closes.fetch_add(1, std::memory_order_relaxed);
}

bool open_pair(slot& s) {
  pocore::socket l(*s.port);
  std::error_code ec = l.open(pocore::address_family::ipv4, pocore::socket_type::stream);
  if (!ec) ec = l.bind(pocore::endpoint::loopback_v4());
  if (!ec) ec = l.listen(4);
  pocore::endpoint at;
  if (!ec) at = l.local_endpoint(ec);
  pocore::socket c(*s.port);
  if (!ec) ec = c.open(pocore::address_family::ipv4, pocore::socket_type::stream);
  if (!ec) ec = c.connect(at);
  pocore::socket a;
  if (!ec) a = l.accept(ec);
  if (ec) {
    fail("slot " + std::to_string(s.index) + ": cannot make a TCP pair: " + ec.message());
    return false;
  }
  std::lock_guard<std::mutex> lock(s.m);
  s.sock[0] = std::move(c);
  s.sock[1] = std::move(a);
  for (auto& d : s.dir) d = stream_dir{s.next_seed++ * 2654435761u + s.index, 0, 0, 0};
  return true;
}

bool open_listener(slot& s) {
  pocore::socket l(*s.port);
  std::error_code ec = l.open(pocore::address_family::ipv4, pocore::socket_type::stream);
  if (!ec) ec = l.bind(pocore::endpoint::loopback_v4());
  if (!ec) ec = l.listen(64);
  pocore::endpoint at;
  if (!ec) at = l.local_endpoint(ec);
  if (ec) {
    fail("slot " + std::to_string(s.index) + ": cannot make a listener: " + ec.message());
    return false;
  }
  std::lock_guard<std::mutex> lock(s.m);
  s.sock[0] = std::move(l);
  s.ep = at;
  return true;
}

bool open_connector(slot& s) {
  pocore::socket c(*s.port);
  std::error_code ec = c.open(pocore::address_family::ipv4, pocore::socket_type::stream);
  if (ec) {
    fail("slot " + std::to_string(s.index) + ": cannot open a connector: " + ec.message());
    return false;
  }
  std::lock_guard<std::mutex> lock(s.m);
  s.sock[1] = std::move(c);
  s.connector_used = false;
  return true;
}

bool open_udp(slot& s) {
  pocore::socket u(*s.port);
  std::error_code ec = u.open(pocore::address_family::ipv4, pocore::socket_type::datagram);
  if (!ec) ec = u.bind(pocore::endpoint::loopback_v4());
  pocore::endpoint at;
  if (!ec) at = u.local_endpoint(ec);
  if (ec) {
    fail("slot " + std::to_string(s.index) + ": cannot make a UDP socket: " + ec.message());
    return false;
  }
  std::lock_guard<std::mutex> lock(s.m);
  s.sock[0] = std::move(u);
  s.ep = at;
  return true;
}

void open_slot(slot& s) {
  switch (s.type) {
    case slot_type::pair:
      open_pair(s);
      break;
    case slot_type::listener:
      open_listener(s);
      open_connector(s);
      break;
    case slot_type::udp:
      open_udp(s);
      break;
    case slot_type::timer:
      s.tmr.emplace(*s.port);
      break;
    case slot_type::posts:
      break;
  }
}

// Cancels one pending record, or every record of the socket.
void cancel_on(slot& s, int side, track* one, pocore::operation* op) {
  bool any = false;
  {
    std::lock_guard<std::mutex> lock(s.m);
    for (track* t : s.tracks()) {
      if (t->side == side && t->state == rstate::pending && (one == nullptr || one == t)) {
        t->cancel_requested = true;
        any = true;
      }
    }
  }
  // A cancel with nothing of ours pending must be harmless too; it is
  // made, but counted apart.
  (any ? g.cancels : g.idle_cancels).fetch_add(1, std::memory_order_relaxed);
  submit([&] {
    if (op != nullptr) {
      s.sock[side].cancel(*op);
    } else {
      s.sock[side].cancel();
    }
  });
}

// ---- the workers ----

void act(slot& s, std::mt19937_64& rng) {
  std::lock_guard<std::mutex> api(s.api);
  const unsigned roll = static_cast<unsigned>(rng() % 100);
  switch (s.type) {
    case slot_type::pair: {
      if (!s.sock[0].is_open()) {
        g.reopens.fetch_add(1, std::memory_order_relaxed);
        open_pair(s);
        return;
      }
      auto& r = *s.ops[rng() % s.ops.size()];
      if (roll < 2) {
        close_sides(s, {0, 1});
      } else if (roll < 20) {
        cancel_on(s, r.t.side, roll < 15 ? &r.t : nullptr, roll < 15 ? &r : nullptr);
      } else if (r.t.k == kind::send) {
        submit_send(s, r, rng);
      } else {
        submit_recv(s, r, rng);
      }
      return;
    }
    case slot_type::listener: {
      if (!s.sock[0].is_open()) {
        g.reopens.fetch_add(1, std::memory_order_relaxed);
        open_listener(s);
        return;
      }
      if (roll < 2) {
        close_sides(s, {0});
      } else if (roll < 8) {
        if (s.sock[1].is_open()) close_sides(s, {1});
      } else if (roll < 20) {
        const bool accept_side = roll < 14;
        if (accept_side) {
          auto& a = *s.accepts[rng() % s.accepts.size()];
          cancel_on(s, 0, roll < 11 ? &a.t : nullptr, roll < 11 ? &a : nullptr);
        } else if (s.sock[1].is_open()) {
          cancel_on(s, 1, nullptr, nullptr);
        }
      } else if (roll < 60) {
        auto& a = *s.accepts[rng() % s.accepts.size()];
        if (begin(s, a.t)) submit([&] { s.sock[0].async_accept(a); });
      } else {
        bool used;
        bool connecting;
        {
          std::lock_guard<std::mutex> lock(s.m);
          used = s.connector_used;
          connecting = s.ops[0]->t.state != rstate::idle;
        }
        if (!s.sock[1].is_open() || used) {
          if (s.sock[1].is_open()) {
            if (connecting) return;  // its connect is still pending
            close_sides(s, {1});
          }
          if (!open_connector(s)) return;
        }
        auto& c = *s.ops[0];
        if (!begin(s, c.t)) return;
        {
          std::lock_guard<std::mutex> lock(s.m);
          s.connector_used = true;
        }
        submit([&] { s.sock[1].async_connect(c, s.ep); });
      }
      return;
    }
    case slot_type::udp: {
      if (!s.sock[0].is_open()) {
        g.reopens.fetch_add(1, std::memory_order_relaxed);
        open_udp(s);
        return;
      }
      auto& d = *s.dgrams[rng() % s.dgrams.size()];
      if (roll < 2) {
        close_sides(s, {0});
      } else if (roll < 15) {
        cancel_on(s, 0, roll < 10 ? &d.t : nullptr, roll < 10 ? &d : nullptr);
      } else if (d.t.k == kind::send_to) {
        submit_send_to(s, d, rng);
      } else {
        submit_recv_from(s, d);
      }
      return;
    }
    case slot_type::timer: {
      if (!s.tmr) {
        g.reopens.fetch_add(1, std::memory_order_relaxed);
        s.tmr.emplace(*s.port);
        return;
      }
      auto& w = *s.ops[rng() % s.ops.size()];
      if (roll < 2) {
        close_sides(s, {0});  // destroying the timer aborts its waits
      } else if (roll < 25) {
        if (roll < 20) {
          std::lock_guard<std::mutex> lock(s.m);
          const bool ours = w.t.state == rstate::pending;
          (ours ? g.cancels : g.idle_cancels).fetch_add(1, std::memory_order_relaxed);
          const bool was_pending = s.tmr->cancel(w);
          if (ours && w.t.timer_cancel != 1) {
            // A second cancel of an already cancelled wait finds nothing
            // pending; only the first answer counts.
            w.t.timer_cancel = was_pending ? 1 : 0;
            if (!was_pending) g.cancel_races.fetch_add(1, std::memory_order_relaxed);
          } else if (was_pending) {
            fail("timer slot " + std::to_string(s.index) + ": cancel found a wait we never made");
          }
        } else {
          // Holding the data mutex keeps any completion from being
          // classified between the cancel and the marking.
          std::lock_guard<std::mutex> lock(s.m);
          std::size_t pending = 0;
          for (auto& r : s.ops) {
            if (r->t.state != rstate::pending) continue;
            ++pending;
            r->t.cancel_requested = true;
          }
          (pending != 0 ? g.cancels : g.idle_cancels).fetch_add(1, std::memory_order_relaxed);
          const std::size_t n = s.tmr->cancel();
          if (n > pending) fail("timer slot: cancel() aborted more waits than were pending");
          (void)n;
        }
      } else {
        if (!begin(s, w.t)) return;
        const auto d = std::chrono::microseconds(rng() % 3000);
        w.t.deadline = clk::now() + d;
        submit([&] { s.tmr->async_wait_until(w, w.t.deadline); });
      }
      return;
    }
    case slot_type::posts: {
      auto& p = *s.ops[rng() % s.ops.size()];
      if (!begin(s, p.t)) return;
      p.bytes = 0x5eed;
      g.posts.fetch_add(1, std::memory_order_relaxed);
      submit([&] { s.port->post(p); });
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using pocore_stress::arg_number;
  using pocore_stress::arg_string;
  g_backend = arg_string(argc, argv, "--backend", "");
  if (g_backend.empty()) {
    const char* env = std::getenv("POCORE_BACKEND");
    g_backend = env != nullptr ? env : "";
  }
  const long long seconds = arg_number(argc, argv, "--seconds", 20);
  g_seed = static_cast<std::uint64_t>(arg_number(
      argc, argv, "--seed", static_cast<long long>(std::random_device{}() & 0x7fffffff)));
  const int run_threads = static_cast<int>(arg_number(argc, argv, "--run-threads", 3));
  const int submit_threads = static_cast<int>(arg_number(argc, argv, "--submit-threads", 3));
  std::printf("stress: backend=%s seconds=%lld seed=%llu run-threads=%d submit-threads=%d\n",
              g_backend.empty() ? "(default)" : g_backend.c_str(), seconds,
              static_cast<unsigned long long>(g_seed), run_threads, submit_threads);
  std::printf(
      "stress: replay with --seed %llu (same choices per thread; the interleaving "
      "differs)\n",
      static_cast<unsigned long long>(g_seed));
  std::fflush(stdout);

  // Baseline after a warm-up, so one-time library state (Winsock's helper
  // handles, the SIGPIPE set-up) is not counted as a leak.
  {
    pocore::port_options o;
    o.backend = g_backend;
    std::error_code ec;
    pocore::io_port warm(o, ec);
    if (ec == errc::backend_unavailable) {
      std::printf("SKIPPED: backend '%s' cannot run on this machine: %s\n", g_backend.c_str(),
                  ec.message().c_str());
      return 0;
    }
    if (ec) {
      std::fprintf(stderr, "cannot make a port for '%s': %s\n", g_backend.c_str(),
                   ec.message().c_str());
      return 1;
    }
    pocore::socket s(warm);
    (void)s.open(pocore::address_family::ipv4, pocore::socket_type::stream);
    s.close();
    pocore::socket u(warm);
    (void)u.open(pocore::address_family::ipv4, pocore::socket_type::datagram);
    u.close();
  }
  const long handles_before = pocore_stress::handle_count();

  bool ok = true;
  {
    pocore::port_options o;
    o.backend = g_backend;
    pocore::io_port port(o);
    if (!g_backend.empty() && port.name() != g_backend) {
      std::fprintf(stderr, "asked for backend %s, got %.*s\n", g_backend.c_str(),
                   static_cast<int>(port.name().size()), port.name().data());
      return 1;
    }

    // The pool: 8 pairs, 4 listeners, 4 UDP sockets, 4 timers, 1 post pool.
    std::vector<std::unique_ptr<slot>> slots;
    auto add = [&](slot_type type) -> slot& {
      slots.push_back(std::make_unique<slot>());
      slot& s = *slots.back();
      s.type = type;
      s.index = static_cast<int>(slots.size()) - 1;
      s.port = &port;
      return s;
    };
    auto add_op = [](slot& s, kind k, int side, std::size_t buf) {
      s.ops.push_back(std::make_unique<op_record>());
      auto& r = *s.ops.back();
      r.t.k = k;
      r.t.side = side;
      r.t.owner = &s;
      r.buf.resize(buf);
    };
    for (int i = 0; i < 8; ++i) {
      slot& s = add(slot_type::pair);
      for (int side = 0; side < 2; ++side) {
        add_op(s, kind::send, side, max_stream_chunk);
        add_op(s, kind::recv, side, max_stream_chunk);
      }
    }
    for (int i = 0; i < 4; ++i) {
      slot& s = add(slot_type::listener);
      add_op(s, kind::connect, 1, 0);
      for (int j = 0; j < 2; ++j) {
        s.accepts.push_back(std::make_unique<accept_record>());
        s.accepts.back()->t.k = kind::accept;
        s.accepts.back()->t.owner = &s;
      }
    }
    for (int i = 0; i < 4; ++i) {
      slot& s = add(slot_type::udp);
      for (int j = 0; j < 4; ++j) {
        s.dgrams.push_back(std::make_unique<dgram_record>());
        auto& d = *s.dgrams.back();
        d.t.k = j < 2 ? kind::send_to : kind::recv_from;
        d.t.owner = &s;
        d.buf.resize(max_datagram + 64);
      }
    }
    for (int i = 0; i < 4; ++i) {
      slot& s = add(slot_type::timer);
      for (int j = 0; j < 4; ++j) add_op(s, kind::wait, 0, 0);
    }
    {
      slot& s = add(slot_type::posts);
      for (int j = 0; j < 16; ++j) add_op(s, kind::post, 0, 0);
    }
    for (auto& s : slots) {
      std::lock_guard<std::mutex> api(s->api);
      open_slot(*s);
    }

    port.add_work();
    std::vector<std::thread> runners;
    for (int i = 0; i < run_threads; ++i) runners.emplace_back([&] { port.run(); });

    const auto start = clk::now();
    const auto stop_at = start + std::chrono::seconds(seconds);
    std::atomic<long> actions{0};
    std::vector<std::thread> workers;
    for (int i = 0; i < submit_threads; ++i) {
      workers.emplace_back([&, i] {
        std::mt19937_64 rng(g_seed * 1000003u + static_cast<std::uint64_t>(i));
        long n = 0;
        while (clk::now() < stop_at && g_failure_count.load() < 20) {
          act(*slots[rng() % slots.size()], rng);
          ++n;
        }
        actions.fetch_add(n);
      });
    }
    for (auto& w : workers) w.join();
    const double run_secs = std::chrono::duration<double>(clk::now() - start).count();

    // ---- final phase: stop timers, accepts, UDP; let every stream drain ----
    g_final = true;
    for (auto& sp : slots) {
      slot& s = *sp;
      std::lock_guard<std::mutex> api(s.api);
      if (s.type == slot_type::timer && s.tmr) {
        std::lock_guard<std::mutex> lock(s.m);
        for (auto& r : s.ops) {
          if (r->t.state == rstate::pending) r->t.cancel_requested = true;
        }
        s.tmr->cancel();
      } else if (s.type == slot_type::listener || s.type == slot_type::udp) {
        for (int side = 0; side < 2; ++side) {
          if (s.sock[side].is_open()) cancel_on(s, side, nullptr, nullptr);
        }
      }
    }
    const auto drain_deadline = clk::now() + std::chrono::seconds(pocore_test::on_wine() ? 60 : 30);
    long long streams_checked = 0;
    std::mt19937_64 rng(g_seed ^ 0xf1a1);
    for (auto& sp : slots) {
      slot& s = *sp;
      if (s.type != slot_type::pair) continue;
      for (;;) {
        bool done = true;
        {
          std::lock_guard<std::mutex> api(s.api);
          if (!s.sock[0].is_open()) break;
          for (int side = 0; side < 2; ++side) {
            op_record* recv = nullptr;
            for (auto& r : s.ops) {
              if (r->t.side == side && r->t.k == kind::recv) recv = r.get();
            }
            bool idle;
            bool behind;
            {
              std::lock_guard<std::mutex> lock(s.m);
              const stream_dir& d = s.dir[1 - side];
              idle = recv->t.state == rstate::idle;
              behind = d.received < d.sent + d.in_flight;
              done = done && !behind && d.in_flight == 0;
            }
            if (idle && behind) submit_recv(s, *recv, rng);
          }
        }
        if (done) break;
        if (clk::now() > drain_deadline) {
          std::lock_guard<std::mutex> lock(s.m);
          fail("pair slot " + std::to_string(s.index) + ": streams did not drain: sent " +
               std::to_string(s.dir[0].sent) + "/" + std::to_string(s.dir[1].sent) + ", received " +
               std::to_string(s.dir[0].received) + "/" + std::to_string(s.dir[1].received));
          break;
        }
        std::unique_lock<std::mutex> lock(g_cv_mutex);
        g_cv.wait_for(lock, std::chrono::milliseconds(20));
      }
      std::lock_guard<std::mutex> lock(s.m);
      if (s.sock[0].is_open()) {
        for (int d = 0; d < 2; ++d) {
          ++streams_checked;
          if (s.dir[d].received != s.dir[d].sent || s.dir[d].in_flight != 0) {
            fail("pair slot " + std::to_string(s.index) + " direction " + std::to_string(d) +
                 ": sent " + std::to_string(s.dir[d].sent) + " bytes, received " +
                 std::to_string(s.dir[d].received));
          }
        }
      }
    }

    // ---- close everything, let the aborts arrive, stop the runners ----
    for (auto& sp : slots) {
      slot& s = *sp;
      std::lock_guard<std::mutex> api(s.api);
      if (s.type == slot_type::timer) {
        if (s.tmr) close_sides(s, {0});
      } else if (s.type != slot_type::posts) {
        if (s.sock[0].is_open() && s.sock[1].is_open()) {
          close_sides(s, {0, 1});
        } else if (s.sock[0].is_open()) {
          close_sides(s, {0});
        } else if (s.sock[1].is_open()) {
          close_sides(s, {1});
        }
      }
    }
    port.remove_work();
    // run() returns once nothing is outstanding; bound that wait.
    const auto join_deadline = clk::now() + std::chrono::seconds(30);
    while (port.outstanding() != 0 && clk::now() < join_deadline) {
      std::unique_lock<std::mutex> lock(g_cv_mutex);
      g_cv.wait_for(lock, std::chrono::milliseconds(20));
    }
    if (port.outstanding() != 0) {
      fail(std::to_string(port.outstanding()) + " operations never completed after close");
      port.stop();
    }
    for (auto& r : runners) r.join();

    // ---- the books ----
    long long records = 0;
    for (auto& sp : slots) {
      slot& s = *sp;
      std::lock_guard<std::mutex> lock(s.m);
      for (track* t : s.tracks()) {
        ++records;
        if (t->completions != t->submits) {
          fail(where(*t) + ": " + std::to_string(t->submits) + " submissions, " +
               std::to_string(t->completions) + " completions");
        }
        if (t->state != rstate::idle) {
          fail(where(*t) + ": still pending at the end (socket epoch now " +
               std::to_string(s.epoch[t->side]) + ", cancel requested " +
               (t->cancel_requested ? "yes" : "no") + ", " + std::to_string(t->completions) +
               " earlier completions)");
        }
      }
      for (int side = 0; side < 2; ++side) {
        if (s.old_pending[side] != 0) {
          fail("slot " + std::to_string(s.index) + " side " + std::to_string(side) + ": " +
               std::to_string(s.old_pending[side]) +
               " operations pending at close never completed");
        }
      }
    }
    if (g.submitted.load() != g.completed.load()) {
      fail("submitted " + std::to_string(g.submitted.load()) + ", completed " +
           std::to_string(g.completed.load()));
    }
    if (port.outstanding() != 0) fail("port.outstanding() = " + std::to_string(port.outstanding()));
    if (port.open_sockets() != 0) {
      fail("port.open_sockets() = " + std::to_string(port.open_sockets()));
    }

    std::printf("stress: %s ran %.1f s: %ld actions over %lld records\n",
                std::string(port.name()).c_str(), run_secs, actions.load(), records);
    std::printf(
        "stress: operations %ld submitted, %ld completed (%ld resubmitted from callbacks)\n",
        g.submitted.load(), g.completed.load(), g.resubmits.load());
    std::printf(
        "stress: cancels %ld with operations pending (and %ld with none): %ld operations "
        "aborted by them, %ld times the cancel met a completion already in flight\n",
        g.cancels.load(), g.idle_cancels.load(), g.cancel_won.load(), g.cancel_races.load());
    std::printf("stress: closes %ld, reopens %ld, posts %ld, aborted completions %ld, resets %ld\n",
                g.closes.load(), g.reopens.load(), g.posts.load(), g.aborted.load(),
                g.resets.load());
    std::printf(
        "stress: accepted %ld, connected %ld (refused %ld), datagrams %ld sent / %ld "
        "received, timer waits %ld fired / %ld aborted\n",
        g.accepted.load(), g.connected.load(), g.refused.load(), g.datagrams_sent.load(),
        g.datagrams_received.load(), g.timer_fired.load(), g.timer_aborted.load());
    std::printf(
        "stress: stream bytes %lld sent, %lld received and verified; %lld open streams "
        "balanced at the end\n",
        g.bytes_sent.load(), g.bytes_received.load(), streams_checked);
    slots.clear();
  }
  const long handles_after = pocore_stress::handle_count();
  std::printf("stress: %s before %ld, after %ld (allowed rise %ld)\n", pocore_stress::handle_kind(),
              handles_before, handles_after, pocore_stress::handle_slack());
  if (!pocore_stress::handles_ok(handles_before, handles_after)) {
    fail("descriptors/handles leaked: " + std::to_string(handles_before) + " before, " +
         std::to_string(handles_after) + " after");
  }
  ok = g_failure_count.load() == 0;
  std::printf("stress: %s (%ld failures)\n", ok ? "PASSED" : "FAILED", g_failure_count.load());
  return ok ? 0 : 1;
}
