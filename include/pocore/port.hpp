// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The completion port: owns a backend and runs completion callbacks.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>

#include "pocore/operation.hpp"

namespace pocore {

namespace detail {
class port_backend;
}

/// Options fixed when a port is made.
struct port_options {
  /// Backend name: "epoll", "iocp" (later "io_uring", "kqueue"). Empty
  /// means the `POCORE_BACKEND` environment variable if set, else the
  /// platform default. Asking for a backend that cannot run here is an
  /// error (`errc::backend_unavailable` or `errc::unknown_backend`), never a
  /// silent fallback.
  ///
  /// `"deterministic"` is the test backend: it wraps a real backend (see
  /// `inner`) and runs callbacks in an order drawn from a seed, keeping
  /// only the order the contract promises (one socket's completions of one
  /// direction in submission order), and can fail chosen submissions. Options
  /// follow the name, each after a colon:
  /// `"deterministic:seed=42:inject=recv/10+connect/3:inner=io_uring"`.
  /// - `seed=N` (decimal or 0x hex, or `random`): the order's seed; without
  ///   it the `POCORE_SEED` environment variable, else 1.
  /// - `inject=K/N+...`: one in N submissions of kind K (`accept`,
  ///   `connect`, `recv`, `send`, `recv_from`, `send_to`, `disconnect`,
  ///   `any` for all of those, or the file kinds `read_at`, `write_at`)
  ///   completes once, without touching the socket or file, with the error
  ///   a real failure of that kind gives (`connection_aborted` for accept,
  ///   `connection_refused` for connect, `connection_reset` for stream
  ///   recv/send/disconnect, `connection_refused` for datagram receives,
  ///   `no_buffer_space` for datagram sends, `no_space` for write_at, and
  ///   for read_at the native I/O error, EIO or ERROR_IO_DEVICE in
  ///   `std::system_category()`); without it `POCORE_INJECT`.
  /// - `inner=NAME`: the real backend underneath (default epoll on Linux,
  ///   kqueue on the BSDs, iocp on Windows).
  ///
  /// With one thread running the port, the same seed and program give the
  /// same callback order wherever the program decides readiness (posts,
  /// expired timers, data already sent on loopback); what arrives while the
  /// port runs still depends on timing. With several threads the choice is
  /// serialised but callbacks run concurrently, so the order also depends
  /// on scheduling. Expired timers keep deadline order among themselves.
  /// It is a test backend: it allocates per submission and takes one lock
  /// per callback; file operations go through the inner backend's own
  /// file service, shuffled like the rest. A malformed option is
  /// `errc::invalid_argument`. The name is not listed by
  /// compiled_backends(). See deterministic_stats().
  std::string_view backend = {};
};

/// A completion port, the counterpart of a Windows I/O completion port.
///
/// Operations submitted on the port's sockets and timers complete by
/// having their callbacks run from `run`, `run_one`, `poll` or `poll_one`.
/// Any number of threads may run one port at once; callbacks are spread
/// over them. Every member function is thread-safe. Ports are independent:
/// a process may hold many.
///
/// Sockets and timers must be closed or destroyed before their port.
class io_port {
 public:
  /// Makes a port with the default backend (or `POCORE_BACKEND`).
  /// Throws `std::system_error` if it cannot be made.
  io_port();
  /// Makes a port with the given options. Throws `std::system_error`.
  explicit io_port(const port_options& options);
  /// Makes a port; on failure `ec` is set and the port is unusable
  /// (`valid()` is false).
  io_port(const port_options& options, std::error_code& ec) noexcept;
  ~io_port();
  io_port(const io_port&) = delete;
  io_port& operator=(const io_port&) = delete;

  /// True when the backend was made successfully.
  bool valid() const noexcept { return backend_ != nullptr; }
  /// The backend's name: "epoll", "iocp", ...
  std::string_view name() const noexcept;

  /// Runs callbacks until the port is stopped or no work is outstanding
  /// (no submitted operation awaits its callback). Returns how many ran.
  std::size_t run();
  /// Runs at most one callback, waiting for one if work is outstanding.
  std::size_t run_one();
  /// Like `run_one` but waits at most `timeout`.
  std::size_t run_one_for(std::chrono::milliseconds timeout);
  /// Runs every callback that is ready now, without waiting.
  std::size_t poll();
  /// Runs at most one ready callback, without waiting.
  std::size_t poll_one();

  /// Makes every `run` return as soon as it can. Pending operations stay
  /// pending and complete after `restart` and another `run`.
  void stop() noexcept;
  /// True after `stop` until `restart`.
  bool stopped() const noexcept;
  /// Clears the stopped state so `run` may be called again.
  void restart() noexcept;

  /// Queues `op` to complete with no error and `op.bytes` unchanged
  /// (PostQueuedCompletionStatus). Callable from any thread.
  void post(operation& op) noexcept;

  /// Operations submitted but whose callbacks have not started.
  std::size_t outstanding() const noexcept;
  /// Sockets opened on this port and not yet closed.
  std::size_t open_sockets() const noexcept;

  /// Keeps `run` from returning for lack of work while held.
  void add_work() noexcept;
  /// Releases one `add_work`.
  void remove_work() noexcept;

  /// The backend (pocore-internal).
  detail::port_backend& backend() const noexcept { return *backend_; }

 private:
  std::unique_ptr<detail::port_backend> backend_;
};

/// Figures of a port on the "deterministic" backend.
struct deterministic_stats {
  std::uint64_t seed = 0;       ///< the seed in use: `POCORE_SEED=<seed>` replays the run
  std::uint64_t callbacks = 0;  ///< callbacks run so far
  std::uint64_t reordered = 0;  ///< callbacks run ahead of a record that finished before them
  std::uint64_t injected = 0;   ///< submissions failed by injection
};

/// Fills `out` with the figures of `port` and returns true if it runs the
/// "deterministic" backend; returns false (and leaves `out` alone)
/// otherwise.
bool get_deterministic_stats(const io_port& port, deterministic_stats& out) noexcept;

/// The backends this build can make, in order of preference, as
/// comma-free names; each entry is usable in `port_options::backend` if it
/// works on this machine.
std::span<const std::string_view> compiled_backends() noexcept;

}  // namespace pocore
