// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: the fuzz input becomes a sequence of calls on one port:
// recv, send, connect, accept, cancel (one or all), shutdown, close (plain
// or with a reset), post, timer waits and cancels, and run_one_for/poll,
// across eight loopback TCP sockets and a listener. Checked throughout and
// at the end (the invariants of the race stress, issue 5 part 2):
//
//   - every submission completes exactly once, never inside the call that
//     submitted it;
//   - once a socket is closed, its operations still pending complete, and
//     no completion of that socket comes after the last of them;
//   - bytes received are the peer's (each side of each connection sends
//     its own byte value, so a reused descriptor that saw an old socket's
//     data would show);
//   - after closing everything the port drains within a bound, with
//     outstanding() == 0, open_sockets() == 0 and (Linux) the descriptor
//     count back to where it was.
//
// The first byte picks the backend among those this build can run here
// (epoll, io_uring, kqueue on the test shim), so one corpus covers all.
// Each input is bounded: at most 256 calls, each wait at most 1 ms, the
// final drain at most 5 s (a longer one is a hang, reported as a crash).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <pocore/pocore.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

#if defined(__linux__)
#include <dirent.h>
#endif

namespace {

using namespace std::chrono_literals;

int open_fds() {
#if defined(__linux__)
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory stream itself
#else
  return -1;
#endif
}

// The backends that work on this machine, found once.
const std::vector<std::string>& usable_backends() {
  static const std::vector<std::string> list = [] {
    std::vector<std::string> out;
    for (std::string_view name : pocore::compiled_backends()) {
      std::error_code ec;
      pocore::io_port p(pocore::port_options{name}, ec);
      if (!ec) out.emplace_back(name);
    }
    return out;
  }();
  return list;
}

constexpr int kSlots = 8;
constexpr std::size_t kBuf = 64 * 1024;
bool g_submitting = false;  // set while a call that submits is running
// POCORE_FUZZ_TRACE=1 prints every call and completion (to replay a crash).
const bool g_trace = std::getenv("POCORE_FUZZ_TRACE") != nullptr;
#define TRACE(...)                                  \
  do {                                              \
    if (g_trace) std::fprintf(stderr, __VA_ARGS__); \
  } while (0)

struct driver;

// Data buffers, one per recv/send record, made once: zeroing 2 MiB for
// every input cost more than the input itself.
std::array<std::array<std::uint8_t, kBuf>, kSlots * 2> recv_bufs;
std::array<std::array<std::uint8_t, kBuf>, kSlots * 2> send_bufs;

// One operation record and what the driver knows about it.
struct rec {
  driver* d = nullptr;
  int slot = -1;     // socket slot (-1: timer/post/listener)
  unsigned gen = 0;  // the slot's generation when submitted
  bool pending = false;
  enum kind_t { recv, send, connect, post, wait, accept } kind = recv;
};

struct op_rec : pocore::operation {
  rec r;
};
struct accept_rec : pocore::accept_operation {
  rec r;
};

struct slot_t {
  pocore::socket sock;
  unsigned gen = 0;            // bumped at every close
  bool connected = false;      // has a peer, tags known
  bool connector = false;      // made by connect (else by accept)
  bool was_connected = false;  // connected when its last connect started
  std::uint8_t my_tag = 0;     // the byte value this side sends
  std::uint8_t peer_tag = 0;   // the byte value it must receive
  int close_pending = -1;      // ops of the closed generation still to complete
  unsigned closed_gen = 0;
};

struct driver {
  pocore::io_port& port;
  pocore::socket listener;
  pocore::endpoint listen_ep;
  pocore::timer timer0, timer1;
  pocore::timer* timers[2] = {&timer0, &timer1};
  std::array<slot_t, kSlots> slots;
  // Per slot: two recvs, two sends, one connect.
  std::array<std::array<op_rec, 5>, kSlots> ops;
  std::array<accept_rec, 2> accepts;
  std::array<op_rec, 4> posts;
  std::array<op_rec, 4> waits;
  std::size_t submitted = 0, completed = 0;

  explicit driver(pocore::io_port& p) : port(p), listener(p), timer0(p), timer1(p) {
    for (auto& s : slots) s.sock = pocore::socket(p);
  }

  static std::uint8_t tag_for(std::uint16_t key, bool connector) {
    return static_cast<std::uint8_t>((connector ? 1 : 129) + key % 127);
  }

  void adopt(int i, bool connector) {
    slot_t& s = slots[i];
    std::error_code ec;
    pocore::endpoint ep = connector ? s.sock.local_endpoint(ec) : s.sock.remote_endpoint(ec);
    if (ec) return;  // e.g. already reset by its peer: leave it unconnected
    s.connected = true;
    s.connector = connector;
    s.my_tag = tag_for(ep.port(), connector);
    s.peer_tag = tag_for(ep.port(), !connector);
    TRACE("  slot %d adopted (%s, key %u): sends %u, expects %u\n", i,
          connector ? "connected" : "accepted", ep.port(), s.my_tag, s.peer_tag);
  }

  void begin(rec& r, rec::kind_t k, int slot) {
    FUZZ_CHECK(!r.pending);
    r.d = this;
    r.kind = k;
    r.slot = slot;
    r.gen = slot >= 0 ? slots[slot].gen : 0;
    r.pending = true;
    ++submitted;
    g_submitting = true;
  }
  static void end_submit() { g_submitting = false; }

  // Every completion goes through here first.
  void complete(rec& r, const pocore::operation& op) {
    FUZZ_CHECK(!g_submitting);  // never inline
    FUZZ_CHECK(r.pending);      // exactly once
    TRACE("  done kind %d slot %d gen %u: %s, %zu bytes\n", static_cast<int>(r.kind), r.slot, r.gen,
          op.error.message().c_str(), op.bytes);
    r.pending = false;
    ++completed;
    FUZZ_CHECK(op.error != pocore::errc::would_block);
    if (r.slot >= 0) {
      slot_t& s = slots[r.slot];
      if (r.gen != s.gen) {
        // Its socket was closed since: it must be one of the operations
        // that were pending at the close, and they are not all done yet.
        FUZZ_CHECK(r.gen == s.closed_gen && s.close_pending > 0);
        --s.close_pending;
      }
    }
  }

  static void on_op(pocore::operation& base) {
    auto& op = static_cast<op_rec&>(base);
    driver& d = *op.r.d;
    d.complete(op.r, op);
    if (op.r.kind == rec::recv && !op.error && op.r.slot >= 0) {
      // Only the connection's own peer's bytes.
      slot_t& s = d.slots[op.r.slot];
      if (op.r.gen == s.gen && s.connected) {
        FUZZ_CHECK(op.bytes <= kBuf);
        const auto* b = static_cast<const std::uint8_t*>(op.context);
        for (std::size_t i = 0; i < op.bytes; ++i) FUZZ_CHECK(b[i] == s.peer_tag);
      }
    }
    // A connect makes the slot a connector; a failed one on a socket that
    // was connected (already_connected) leaves it what it was. After any
    // other failure the slot stays unconnected: a cancelled connect may
    // still have connected in the kernel, to a peer we cannot name.
    if (op.r.kind == rec::connect && op.r.slot >= 0 && op.r.gen == d.slots[op.r.slot].gen) {
      slot_t& s = d.slots[op.r.slot];
      if (!op.error)
        d.adopt(op.r.slot, true);
      else if (s.was_connected)
        d.adopt(op.r.slot, s.connector);
    }
  }

  static void on_accept(pocore::operation& base) {
    auto& op = static_cast<accept_rec&>(base);
    driver& d = *op.r.d;
    d.complete(op.r, op);
    if (op.error) return;
    FUZZ_CHECK(op.accepted.is_open());
    for (int i = 0; i < kSlots; ++i) {
      if (!d.slots[i].sock.is_open() && d.slots[i].close_pending <= 0) {
        d.slots[i].sock = std::move(op.accepted);
        d.adopt(i, false);
        return;
      }
    }
    op.accepted.close();  // no room: drop it
  }

  int free_op(int slot, int first, int count) {
    for (int k = first; k < first + count; ++k)
      if (!ops[slot][k].r.pending) return k;
    return -1;
  }

  void close_slot(int i, bool reset) {
    slot_t& s = slots[i];
    if (!s.sock.is_open()) return;
    int pending = 0;
    for (auto& o : ops[i])
      if (o.r.pending && o.r.gen == s.gen) ++pending;
    if (reset) s.sock.set_option(pocore::socket_option::linger, 0);
    s.closed_gen = s.gen;
    s.close_pending = pending;
    ++s.gen;
    s.connected = false;
    s.my_tag = s.peer_tag = 0;
    s.sock.close();
  }

  // One call from the input. Returns false when the input is used up.
  bool step(const std::uint8_t*& p, const std::uint8_t* end) {
    if (end - p < 2) return false;
    const std::uint8_t cmd = p[0], arg = p[1];
    p += 2;
    const int i = arg % kSlots;
    slot_t& s = slots[i];
    TRACE("call %d arg %d slot %d (gen %u, %s)\n", cmd % 16, arg, i, s.gen,
          s.sock.is_open() ? (s.connected ? "connected" : "open") : "closed");
    switch (cmd % 16) {
      case 0:
      case 1: {  // recv into one of the shared buffers
        int k = free_op(i, 0, 2);
        if (k < 0) break;
        auto& op = ops[i][k];
        auto& b = recv_bufs[i * 2 + k];
        op.context = b.data();
        begin(op.r, rec::recv, i);
        std::size_t n = 1 + (arg >> 3) * 2048u;  // 1 .. 63 KiB
        s.sock.async_recv(op, pocore::make_buffer(b.data(), std::min(n, kBuf)));
        end_submit();
        break;
      }
      case 2:
      case 3: {  // send (1 byte .. 64 KiB) of this side's tag
        // Not while a connect is in progress: this side's tag is not known
        // until it completes. (On a closed socket: the error path.)
        if (s.sock.is_open() && !s.connected) break;
        int k = free_op(i, 2, 2);
        if (k < 0) break;
        auto& op = ops[i][k];
        auto& b = send_bufs[i * 2 + (k - 2)];
        std::size_t n = std::min<std::size_t>(kBuf, 1 + std::size_t{arg} * arg);
        std::memset(b.data(), s.my_tag, n);
        begin(op.r, rec::send, i);
        s.sock.async_send(op, pocore::make_buffer(b.data(), n));
        end_submit();
        break;
      }
      case 4: {  // cancel one of this slot's records (pending or not)
        auto& op = ops[i][(arg >> 3) % 5];
        // Not one still pending on the slot's previous (closed) socket: it
        // was never submitted on this one.
        if (!op.r.pending || op.r.gen == s.gen) s.sock.cancel(op);
        break;
      }
      case 5:
        s.sock.cancel();
        break;
      case 6:
        close_slot(i, false);
        break;
      case 7:
        close_slot(i, true);
        break;
      case 8: {  // a new connection on a closed slot (or an error on an open one)
        auto& op = ops[i][4];
        if (op.r.pending) break;
        if (!s.sock.is_open() && s.close_pending <= 0) {
          if (s.sock.open(pocore::address_family::ipv4, pocore::socket_type::stream)) break;
        }
        // Until it completes the slot's peer (and so its tags) is unknown:
        // Linux lets a reset socket connect again, from a new port.
        s.was_connected = s.connected;
        s.connected = false;
        begin(op.r, rec::connect, i);
        s.sock.async_connect(op, listen_ep);
        end_submit();
        break;
      }
      case 9: {  // accept
        auto& op = accepts[arg % 2];
        if (op.r.pending) break;
        begin(op.r, rec::accept, -1);
        listener.async_accept(op);
        end_submit();
        break;
      }
      case 10:
        s.sock.shutdown((arg >> 3) % 2 ? pocore::shutdown_how::send
                                       : pocore::shutdown_how::receive);
        break;
      case 11: {  // post
        auto& op = posts[arg % 4];
        if (op.r.pending) break;
        begin(op.r, rec::post, -1);
        op.bytes = arg;
        port.post(op);
        end_submit();
        break;
      }
      case 12: {  // timer wait, 0..7 ms
        auto& op = waits[arg % 4];
        if (op.r.pending) break;
        begin(op.r, rec::wait, -1);
        timers[(arg >> 2) % 2]->async_wait_for(op, std::chrono::milliseconds((arg >> 3) % 8));
        end_submit();
        break;
      }
      case 13:
        if (arg % 2)
          timers[(arg >> 1) % 2]->cancel();
        else
          timers[(arg >> 1) % 2]->cancel(waits[(arg >> 2) % 4]);
        break;
      case 14:  // mostly without waiting, to keep each input short
        port.run_one_for(std::chrono::milliseconds(arg % 8 == 0 ? 1 : 0));
        break;
      default:
        if (arg % 2)
          port.poll();
        else
          port.poll_one();
        break;
    }
    return true;
  }

  bool any_pending() const {
    for (auto& row : ops)
      for (auto& o : row)
        if (o.r.pending) return true;
    for (auto& o : accepts)
      if (o.r.pending) return true;
    for (auto& o : posts)
      if (o.r.pending) return true;
    for (auto& o : waits)
      if (o.r.pending) return true;
    return false;
  }
};

void init_ops(driver& d) {
  for (int i = 0; i < kSlots; ++i)
    for (auto& o : d.ops[i]) {
      o.on_complete = &driver::on_op;
      o.r.d = &d;
    }
  for (auto& o : d.accepts) o.on_complete = &driver::on_accept, o.r.d = &d;
  for (auto& o : d.posts) o.on_complete = &driver::on_op, o.r.d = &d;
  for (auto& o : d.waits) o.on_complete = &driver::on_op, o.r.d = &d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& backends = usable_backends();
  if (size < 1 || backends.empty()) return 0;
  const int fds_before = open_fds();
  {
    std::error_code ec;
    pocore::io_port port(pocore::port_options{backends[data[0] % backends.size()]}, ec);
    FUZZ_CHECK(!ec);
    auto d = std::make_unique<driver>(port);
    init_ops(*d);
    FUZZ_CHECK(!d->listener.open(pocore::address_family::ipv4, pocore::socket_type::stream));
    FUZZ_CHECK(!d->listener.bind(pocore::endpoint::loopback_v4(0)));
    FUZZ_CHECK(!d->listener.listen(64));
    d->listen_ep = d->listener.local_endpoint(ec);
    FUZZ_CHECK(!ec);
    // Start with four connected pairs: slots 0-3 connect, 4-7 accepted.
    for (int i = 0; i < 4; ++i) {
      auto& c = d->slots[i].sock;
      FUZZ_CHECK(!c.open(pocore::address_family::ipv4, pocore::socket_type::stream));
      FUZZ_CHECK(!c.connect(d->listen_ep));
      d->slots[4 + i].sock = d->listener.accept(ec);
      FUZZ_CHECK(!ec);
      d->adopt(i, true);
      d->adopt(4 + i, false);
    }

    const std::uint8_t* p = data + 1;
    const std::uint8_t* end = data + std::min<std::size_t>(size, 1 + 2 * 256);
    while (d->step(p, end)) {
    }

    // Close everything, then every callback owed must come, and soon.
    for (int i = 0; i < kSlots; ++i) d->close_slot(i, false);
    d->listener.close();
    d->timer0.cancel();
    d->timer1.cancel();
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (port.outstanding() > 0 && std::chrono::steady_clock::now() < until) {
      port.run_one_for(10ms);
      // An accept that completed while closing handed us a new socket.
      for (int i = 0; i < kSlots; ++i) d->close_slot(i, false);
    }
    port.poll();
    if (port.outstanding() != 0 || d->any_pending())
      std::fprintf(stderr, "not drained: outstanding %zu, submitted %zu, completed %zu\n",
                   port.outstanding(), d->submitted, d->completed);
    FUZZ_CHECK(port.outstanding() == 0);
    FUZZ_CHECK(!d->any_pending());
    FUZZ_CHECK(d->submitted == d->completed);
    for (auto& s : d->slots) FUZZ_CHECK(s.close_pending <= 0);
    FUZZ_CHECK(port.open_sockets() == 0);
  }
  const int fds_after = open_fds();
  if (fds_after != fds_before) std::fprintf(stderr, "fds %d -> %d\n", fds_before, fds_after);
  FUZZ_CHECK(fds_after == fds_before);
  return 0;
}
