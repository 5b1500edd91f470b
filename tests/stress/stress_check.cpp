// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The race stress's invariant checker: every completion is checked as it
// arrives (exactly once, nothing after its socket's close-aborts, stream
// bytes in order, datagrams intact, timers and posts as promised), and a
// callback may resubmit its own receive. See stress.cpp for the list.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "pocore_test.hpp"
#include "stress_model.hpp"

namespace stress_mix {

// ---- completions ----

namespace {

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

}  // namespace

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

}  // namespace stress_mix
