// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Timers: overlapped waits until a deadline, cancellable.

#include <chrono>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "pocore/detail/handler.hpp"
#include "pocore/operation.hpp"
#include "pocore/port.hpp"

namespace pocore {

/// A timer on a port. Any number of waits may be pending on one timer;
/// each completes once: with no error at its deadline (never before it),
/// or with `operation_aborted` when cancelled. Waits due at the same time
/// complete in submission order. Destroying the timer cancels its waits.
class timer {
 public:
  /// Deadlines are on the monotonic clock.
  using clock = std::chrono::steady_clock;

  /// A timer on `port`, which must outlive it.
  explicit timer(io_port& port) noexcept : port_(&port) {}
  ~timer();
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;

  /// Waits until `deadline`.
  void async_wait_until(operation& op, clock::time_point deadline) noexcept;
  /// Waits for `d` from now.
  void async_wait_for(operation& op, clock::duration d) noexcept {
    async_wait_until(op, clock::now() + d);
  }
  /// Cancels every pending wait; returns how many were aborted.
  std::size_t cancel() noexcept;
  /// Cancels one wait; true if it was still pending (it then completes
  /// with `operation_aborted`).
  bool cancel(operation& op) noexcept;
  /// Waits pending on this timer.
  std::size_t pending() const noexcept;

  /// `f(std::error_code)` after `d`.
  template <class F>
  void async_wait_for(clock::duration d, F&& f) {
    async_wait_until(clock::now() + d, std::forward<F>(f));
  }
  /// `f(std::error_code)` at `deadline`.
  template <class F>
  void async_wait_until(clock::time_point deadline, F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code>,
                  "handler must be callable as f(std::error_code)");
    async_wait_until(*detail::make_handler<operation>(*port_, std::forward<F>(f)), deadline);
  }

  /// The port its waits complete on.
  io_port& port() const noexcept { return *port_; }

 private:
  io_port* port_;
};

}  // namespace pocore
