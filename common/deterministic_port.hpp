// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The "deterministic" test backend: a wrapper around the platform's real
// backend (epoll, io_uring, kqueue or iocp) that holds every finished
// operation back and runs the callbacks in an order drawn from a seeded
// generator, and can fail chosen submissions with realistic errors. The
// same seed and the same program give the same callback order whenever
// readiness is decided by the program itself (posts, expired timers, data
// already on a loopback socket), so a race seen once replays exactly.
//
// What it keeps from the contract (DESIGN.md guarantee 4): one socket's
// completions of one direction run in the order the inner backend finished
// them, which the inner backend keeps in submission order; after a close
// the socket's completions of both directions run in that order, so none
// runs after its last aborted one (guarantee 6). Everything else is
// shuffled: sockets against each other, a socket's reads against its
// writes, posts, expired timers against the rest (among themselves they
// keep deadline order, then submission order, as on every backend), errors
// found at submission. A file's records are shuffled too, against each
// other as well: include/pocore/file.hpp promises no order among one
// file's concurrent operations.
//
// It is off the hot path of the real backends: they do not know it exists.
// It allocates per submission (a side table entry) and serialises its
// choice under one lock; it is a test backend.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "common/backend.hpp"
#include "pocore/port.hpp"

namespace pocore::detail {

/// Makes an inner backend by name (the platform selector's make_named).
using backend_factory = std::unique_ptr<port_backend> (*)(std::string_view name,
                                                          std::error_code& ec);

/// True if `name` asks for the deterministic backend ("deterministic" or
/// "deterministic:...").
bool is_deterministic_name(std::string_view name) noexcept;

/// Makes the deterministic backend described by `name` (grammar in
/// port_options::backend), wrapping `make_inner(default_inner)` unless the
/// name says `inner=...`. Bad options are errc::invalid_argument.
std::unique_ptr<port_backend> make_deterministic(std::string_view name,
                                                 std::string_view default_inner,
                                                 backend_factory make_inner, std::error_code& ec);

/// A splitmix64 generator: tiny, fast, and the same on every platform.
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// In [0, n), n > 0. The modulo bias (n / 2^64) is far below anything
  /// a test could see.
  std::size_t below(std::size_t n) noexcept { return static_cast<std::size_t>(next() % n); }
};

/// One injection rule: one in `one_in` submissions of `kind` fails.
struct inject_rule {
  op_kind kind = op_kind::none;  ///< none: every socket operation (not files)
  std::uint32_t one_in = 0;
};

class deterministic_port;

/// Files on the deterministic backend, on every platform: the inner
/// backend's own file service (native on IOCP and io_uring, the thread
/// pool on epoll and kqueue) with each record's callback swapped for the
/// trampoline, as a socket's is. A read_at/write_at that an `inject=read_at/N`
/// or `write_at/N` rule picks never reaches the inner service: it completes
/// once, with 0 bytes and the error a real one gives (see
/// injected_file_error in the .cpp), in no particular order (a file's
/// records keep none). `any` does not cover files.
class deterministic_files final : public file_service {
 public:
  explicit deterministic_files(deterministic_port& port) noexcept : port_(port) {}
  file_state* attach(std::intptr_t h, bool readable, bool writable,
                     std::error_code& ec) noexcept override;
  void submit(file_state& f, operation& op) noexcept override;
  void cancel(file_state& f, operation* op) noexcept override;
  void close(file_state& f) noexcept override;

 private:
  file_service& inner() const noexcept;
  deterministic_port& port_;
};

class deterministic_port final : public port_backend {
 public:
  deterministic_port(std::unique_ptr<port_backend> inner, std::string name, std::uint64_t seed,
                     std::vector<inject_rule> rules);
  ~deterministic_port() override;

  std::string_view name() const noexcept override { return name_; }
  std::size_t run(run_mode mode, std::chrono::milliseconds timeout) override;
  void stop() noexcept override;
  void restart() noexcept override;
  bool stopped() const noexcept override;
  void wake() noexcept override;
  void enqueue(operation& op) noexcept override;
  socket_state* attach(native_handle_type h, address_family family, socket_type type,
                       std::error_code& ec) noexcept override;
  void close(socket_state& s) noexcept override;
  void submit(socket_state& s, operation& op, const endpoint* ep) noexcept override;
  void cancel(socket_state& s, operation* op) noexcept override;
  file_service* files(std::error_code& ec) noexcept override;

  /// The figures deterministic_stats() reports.
  deterministic_stats stats() const noexcept;

 private:
  // A finished record waiting for its turn; `seq` is its arrival number.
  struct entry {
    operation* op;
    std::uint64_t seq;
  };
  // What the generator chooses among, uniformly: a single record free to go
  // at any time (key 0), or the oldest record of a lane (a socket and
  // direction, a closing socket, or the expired timers), whose records go
  // in arrival order.
  struct slot {
    std::uintptr_t key;
    entry single;
    std::deque<entry> lane;
  };
  // A submitted record not yet finished, in its lane (socket and
  // direction) in submission order. An injected failure waits here until
  // every record submitted before it on its lane has finished.
  struct pending {
    operation* op;
    std::uintptr_t key;  // where it goes once finished (the lane, or the socket's closing key)
    bool injected;
  };

  friend class deterministic_files;

  static void trampoline(operation& op);
  // Swaps the record's callback for the trampoline and hands its work to
  // the inner backend; the caller then submits it there.
  void hand_over(operation& op) noexcept;
  static void wake_done(operation& op);
  void arrived(operation& op) noexcept;
  void release_front(std::deque<pending>& lane) noexcept;  // needs mutex_
  void push_ready(operation& op, std::uintptr_t key);      // needs mutex_
  void remove_slot(std::size_t i) noexcept;                // needs mutex_
  operation* pick() noexcept;
  void gather() noexcept;
  void sync_sockets() noexcept;
  void wait(int ms) noexcept;
  bool inject(op_kind kind) noexcept;  // needs mutex_
  // Fails `op` (a file record) now if a rule picks it; true if it did.
  bool inject_file(operation& op) noexcept;
  // Whether `op` waits in the ready slots as a record free to go alone.
  bool finished_here(const operation& op) noexcept;

  std::unique_ptr<port_backend> inner_;
  const std::string name_;
  const std::uint64_t seed_;
  const std::vector<inject_rule> rules_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> wake_pending_{false};
  std::atomic<int> waiting_{0};
  operation wake_op_;

  mutable std::mutex mutex_;
  splitmix64 order_rng_;
  splitmix64 inject_rng_;
  std::vector<slot> slots_;
  std::unordered_map<std::uintptr_t, std::size_t> keyed_;  // lane key -> index in slots_
  std::set<std::uint64_t> ready_seqs_;                     // to tell a reordering
  std::uint64_t next_seq_ = 0;
  std::unordered_map<std::uintptr_t, std::deque<pending>> lanes_;
  std::uint64_t callbacks_ = 0;
  std::uint64_t reordered_ = 0;
  std::uint64_t injected_ = 0;
  // The callbacks of file records in flight. A file record keeps its
  // offset in priv.deadline, where a socket record's callback waits.
  std::unordered_map<const operation*, operation::callback> file_callbacks_;

  std::atomic<file_service*> inner_files_{nullptr};  // set by files()
  deterministic_files file_ops_{*this};
};

static_assert(backend_impl<deterministic_port>);

}  // namespace pocore::detail
