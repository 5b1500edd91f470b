// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Injected system-call faults, for the tests in tests/fault only.
//
// The seam is at link time: the fault test executable links the static
// pocore library with `-Wl,--wrap=X` for each call below, so every call to X
// made by pocore's objects (and the kqueue test shim's) lands in
// `__wrap_X` (fault_inject.cpp), which either calls the real X or fails as
// the armed plan says. pocore's own sources are not touched and a build
// without POCORE_FAULT_INJECTION has no trace of it; a shared pocore, whose
// calls are bound when the library itself is linked, cannot be reached
// this way (tests/fault/CMakeLists.txt checks).
//
// A plan is a few rules per call. A rule counts the calls that match it
// (its descriptor, or any) from the moment it is armed; the `nth` matching
// call and the `times - 1` after it are faulted (times 0: every one from
// the nth on, until disarmed). A faulted call either fails with `error`
// (errno; io_uring_submit returns it negated, as liburing does), or, with
// `short_bytes`, passes at most that many bytes to the real call.
//
// Thread-safe: the wrappers run on whatever thread pocore makes the call.

#include <cstddef>
#include <cstdint>

namespace pocore::fault {

/// The interposed calls: those the posix backends make (checked with nm on
/// libpocore.a). epoll and kqueue (on the shim) make the socket calls;
/// io_uring makes its I/O inside the kernel, so for it only socket, close
/// and io_uring_submit apply. recvfrom, accept, writev and read/write are
/// not called on sockets by pocore, so they are not wrapped.
enum class call : unsigned {
  recv,
  send,
  recvmsg,
  sendmsg,
  sendto,
  readv,
  accept4,
  connect,
  socket,
  epoll_ctl,
  epoll_wait,
  close,
  io_uring_submit,
  // Windows (MinGW build, tests/fault/win_seam.cpp): Winsock is called
  // through __imp_ pointers, which the seam replaces (--wrap=__imp_X).
  wsa_recv,
  wsa_send,
  wsa_socket,
  closesocket,
  count_
};

/// The call's name, e.g. "accept4".
const char* name(call c) noexcept;

/// One rule of a plan.
struct rule {
  /// Only calls on this descriptor count (the socket for I/O calls, the
  /// listener for accept4, the target for epoll_ctl, the port's instance
  /// for epoll_wait); -1: every call. io_uring_submit: every call counts,
  /// and this selects the SQEs a short transfer cuts.
  std::intptr_t fd = -1;
  /// The first faulted call, counted from 1 among the matching calls
  /// since the rule was armed.
  std::uint64_t nth = 1;
  /// How many matching calls from the nth on are faulted; 0: all of them.
  std::uint64_t times = 1;
  /// errno of a faulted call (ignored when short_bytes is set).
  int error = 0;
  /// Send and recv calls: move at most this many bytes (a short transfer
  /// made by the real call) instead of failing.
  std::size_t short_bytes = 0;
  /// Make the real call first and then report `error`: the kernel did the
  /// work, as with close() or connect() interrupted by a signal on Linux.
  bool real_first = false;
  /// After the fault, make the kernel raise a readiness edge on `fd`, as
  /// it does when the state an EAGAIN or a short write waited for comes
  /// (a write edge through SO_SNDBUF, a read edge on TCP through
  /// SO_RCVLOWAT; both leave the socket as it was).
  bool edge_after = false;
};

/// Adds `r` to the plan of `c` (at most 4 rules per call; returns false
/// when full). The first matching rule that fires decides a call.
bool arm(call c, const rule& r) noexcept;
/// Removes every rule of `c`.
void disarm(call c) noexcept;
/// Removes every rule of every call.
void disarm_all() noexcept;

/// Calls to `c` made through the seam since the last reset_counts().
std::uint64_t calls(call c) noexcept;
/// Calls to `c` on descriptor `fd` since the last reset_counts() (the
/// descriptor as the rule's `fd` defines it; counted below 8192).
std::uint64_t calls_on(call c, std::intptr_t fd) noexcept;
/// Calls to `c` that were faulted since the last reset_counts().
std::uint64_t injected(call c) noexcept;
/// io_uring SQEs cut short (a rule on io_uring_submit with short_bytes:
/// every stream send waiting in the SQ for the rule's descriptor is cut to
/// that many bytes before the real submit).
std::uint64_t shortened_sqes() noexcept;
/// Faults injected into any call since the process started.
std::uint64_t injected_total() noexcept;
/// Sets every count to zero.
void reset_counts() noexcept;

/// For a seam's wrapper: what one call is to do.
struct decision {
  bool fault = false;
  int error = 0;
  std::size_t short_bytes = 0;
  bool real_first = false;
  bool edge_after = false;
  std::intptr_t fd = -1;  ///< the rule's descriptor
};
/// For a seam's wrapper: counts a call to `c` on `fd` and decides it.
/// `fd_filters`: the rules' descriptors select calls (false for
/// io_uring_submit, where they select the SQEs a short transfer cuts).
decision decide(call c, std::intptr_t fd, bool fd_filters = true) noexcept;

/// Disarms every call when it goes out of scope, so a failed assertion
/// never leaves a fault armed for the checks that follow.
struct scoped_plan {
  scoped_plan() = default;
  ~scoped_plan() { disarm_all(); }
  scoped_plan(const scoped_plan&) = delete;
  scoped_plan& operator=(const scoped_plan&) = delete;
};

}  // namespace pocore::fault
