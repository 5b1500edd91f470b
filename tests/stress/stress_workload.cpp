// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The race stress's workload: what the submitting threads do to the pool
// (submit, cancel, close, reopen, post) and the failure log and counters
// everything shares. See stress.cpp for what is checked.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "pocore_test.hpp"
#include "stress_model.hpp"

namespace stress_mix {

// ---- failures and counters ----

namespace {
std::mutex g_fail_mutex;
std::vector<std::string> g_failures;
}  // namespace

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

counters g;

thread_local bool t_submitting = false;

std::mutex g_cv_mutex;
std::condition_variable g_cv;
std::atomic<bool> g_final{false};

std::string where(const track& t) {
  return std::string(kind_name(t.k)) + " on slot " + std::to_string(t.owner->index) + " side " +
         std::to_string(t.side) + " epoch " + std::to_string(t.epoch) + " submit #" +
         std::to_string(t.submits);
}

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
  // The listener's port is an ephemeral one that another process on the
  // host may have just used as a "refused" endpoint and connect to: take
  // connections until the one from `c` (a few at most), or the pair would
  // be two strangers and report data loss nobody caused.
  pocore::endpoint from;
  if (!ec) from = c.local_endpoint(ec);
  bool ours = false;
  for (int i = 0; !ec && !ours && i < 4; ++i) {
    a = l.accept(ec);
    if (ec) break;
    const pocore::endpoint peer = a.remote_endpoint(ec);
    ours = !ec && peer == from;
    if (!ours) {
      a.close();
      ec.clear();
    }
  }
  if (!ec && !ours) ec = pocore::errc::connection_aborted;
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

}  // namespace stress_mix
