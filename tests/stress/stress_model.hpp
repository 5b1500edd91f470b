// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The race stress (stress.cpp), shared between its parts: the record and
// slot model, the failure log and counters, and the entry points of the
// workload (stress_workload.cpp: submissions, opening, closing, cancels,
// the workers' actions) and of the invariant checker (stress_check.cpp:
// every completion). stress.cpp has main(): the pool, the threads, the
// final drain and the books.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "pocore/pocore.hpp"

namespace stress_mix {

using pocore::errc;
using clk = std::chrono::steady_clock;

// ---- failures and counters (stress_workload.cpp) ----

extern std::atomic<long> g_failure_count;
extern std::uint64_t g_seed;
extern std::string g_backend;

/// Logs a failed check (the first 20 are printed).
void fail(const std::string& what);

struct counters {
  std::atomic<long> submitted{0}, completed{0}, cancels{0}, idle_cancels{0}, cancel_races{0},
      cancel_won{0}, closes{0}, reopens{0}, posts{0}, accepted{0}, connected{0}, refused{0},
      datagrams_sent{0}, datagrams_received{0}, timer_fired{0}, timer_aborted{0}, resubmits{0},
      aborted{0}, resets{0};
  std::atomic<long long> bytes_sent{0}, bytes_received{0};
};
extern counters g;

/// Set while this thread is inside a pocore call that submits.
extern thread_local bool t_submitting;

// ---- records ----

enum class kind : std::uint8_t { send, recv, accept, connect, send_to, recv_from, wait, post };
inline const char* kind_name(kind k) {
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

/// Every record's callback: the invariant checker (stress_check.cpp).
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

/// Completions wake the final phase through these.
extern std::mutex g_cv_mutex;
extern std::condition_variable g_cv;
extern std::atomic<bool> g_final;

std::string where(const track& t);

// Marks `t` pending for a submission on the socket's current epoch; false
// if it is still in use. Call with the slot's api mutex held.
bool begin(slot& s, track& t);

template <class F>
void submit(F&& f) {
  t_submitting = true;
  f();
  t_submitting = false;
}

// ---- the workload (stress_workload.cpp; api mutex held) ----

void submit_recv(slot& s, op_record& r, std::mt19937_64& rng);
void submit_recv_from(slot& s, dgram_record& r);
/// Closes the given sides, counting what is pending on them.
void close_sides(slot& s, std::initializer_list<int> sides);
void open_slot(slot& s);
/// Cancels one pending record, or every record of the socket.
void cancel_on(slot& s, int side, track* one, pocore::operation* op);
/// One random action on `s` (takes its api mutex).
void act(slot& s, std::mt19937_64& rng);

}  // namespace stress_mix
