// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The native Windows backend: one I/O completion port per io_port.
//
// Every socket is associated with the port with its socket_state as the
// completion key and FILE_SKIP_COMPLETION_PORT_ON_SUCCESS set, so a call
// that finishes at once queues nothing and the backend posts the record's
// OVERLAPPED itself: callbacks only ever run from run(). Records finished
// by pocore (posts, cancelled timers, errors found at submission) travel
// through the port with the key `key_ready`; wake-ups are packets with no
// OVERLAPPED.
//
// run() dequeues with GetQueuedCompletionStatusEx. A batch of more than one
// packet goes to a small local queue that every thread in run() takes from
// one record at a time (expired timers join it too), so one thread never
// sits on completions while others idle, and one thread alone still sees
// the port's order.

// Winsock first, in the order the Windows SDK requires.
// clang-format off
#include <winsock2.h>
#include <windows.h>
// clang-format on

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <system_error>

#include "common/backend.hpp"
#include "common/op_queue.hpp"

namespace pocore::detail {

/// What the IOCP backend keeps per socket.
///
/// Lifetime: the socket object holds one reference and every operation in
/// flight holds one (taken at submission, dropped after its callback). The
/// completion key names this object, so it is deleted only when the last
/// reference goes, i.e. after the last completion packet that could name
/// it was dequeued.
struct iocp_socket_state final : socket_state {
  std::atomic<std::size_t> refs{1};
  /// Serialises close() and cancel() against what the backend does on the
  /// handle after submission (re-issuing the rest of a send, updating the
  /// accept/connect context), so the handle is never used after
  /// closesocket, when Windows may already have given its number to a new
  /// socket.
  std::mutex mutex;
  bool closed = false;                       // guarded by mutex
  std::atomic<std::uint32_t> cancel_gen{0};  // bumped by cancel-all, under mutex
  /// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is in force for this handle.
  bool skip_on_success = false;
  /// Under Wine only: the handle close() kept open because operations were
  /// still pending on it, and the next such socket of the port (both
  /// guarded by the port's linger mutex). See iocp_port::linger().
  SOCKET linger = INVALID_SOCKET;
  iocp_socket_state* linger_next = nullptr;
};

/// The backend's part of an operation record (op_private::native).
struct iocp_op_native {
  OVERLAPPED ov;         ///< what Winsock and the port see
  operation* self;       ///< the record, found again from the OVERLAPPED
  SOCKET accept_socket;  ///< AcceptEx's pre-made socket while in flight
};
static_assert(sizeof(iocp_op_native) <= sizeof(op_private::native) &&
                  alignof(iocp_op_native) <= alignof(op_private),
              "the IOCP state must fit in operation's native area");

/// The IOCP state in `op`'s native area.
inline iocp_op_native& native(operation& op) noexcept {
  return *reinterpret_cast<iocp_op_native*>(op_access::priv(op).native);
}

/// What the IOCP backend keeps per open file (iocp_file.cpp). The handle
/// is associated with the port under the key `iocp_port::key_file`; the
/// record's `owner` names this state. Lifetime as for sockets: the file
/// holds one reference, every record in flight one more.
struct iocp_file_state final : file_state {
  std::atomic<std::size_t> refs{1};
  /// Serialises close() and cancel() against issuing the next part of a
  /// record, so the handle is never used after CloseHandle.
  std::mutex mutex;
  bool closed = false;           // guarded by mutex
  std::uint32_t cancel_gen = 0;  // bumped by cancel-all, under mutex
  /// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is in force for this handle.
  bool skip_on_success = false;
};

class iocp_port;

/// Native overlapped file I/O on the port (iocp_file.cpp).
class iocp_files final : public file_service {
 public:
  explicit iocp_files(iocp_port& port) noexcept : port_(port) {}
  file_state* attach(std::intptr_t h, bool readable, bool writable,
                     std::error_code& ec) noexcept override;
  void submit(file_state& f, operation& op) noexcept override;
  void cancel(file_state& f, operation* op) noexcept override;
  void close(file_state& f) noexcept override;
  /// A dequeued packet of a file record: the finished record, or null when
  /// it went back to the kernel for the rest of its buffers.
  operation* on_packet(operation& op, unsigned long err, std::size_t bytes) noexcept;
  /// A packet dropped by the port's destructor.
  void discard(operation& op) noexcept;

 private:
  // Both with f.mutex held (iocp_file.cpp says more).
  bool apply(iocp_file_state& f, operation& op, unsigned long err, std::size_t bytes) noexcept;
  operation* issue(iocp_file_state& f, operation& op) noexcept;
  void release(iocp_file_state& f) noexcept;
  iocp_port& port_;
};

class iocp_port final : public port_backend {
 public:
  /// Makes the completion port; on failure `ec` is set.
  explicit iocp_port(std::error_code& ec) noexcept;
  ~iocp_port() override;
  iocp_port(const iocp_port&) = delete;
  iocp_port& operator=(const iocp_port&) = delete;

  std::string_view name() const noexcept override { return "iocp"; }
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
  file_service* files(std::error_code& ec) noexcept override {
    ec.clear();
    return &file_ops_;
  }

 private:
  friend class iocp_files;
  // Completion keys. Sockets use their state's address, never 0, 1 or 2.
  static constexpr ULONG_PTR key_wake = 0;
  static constexpr ULONG_PTR key_ready = 1;
  // Raw packets of file records (iocp_file.cpp); the record names its file.
  static constexpr ULONG_PTR key_file = 2;
  // priv.flags: the record holds a reference on its socket state.
  static constexpr std::uint16_t flag_ref = 1;
  // priv.flags: a parked raw I/O packet, not yet through complete(); its
  // status and byte count wait in ov.Internal/InternalHigh.
  static constexpr std::uint16_t flag_raw = 2;
  // priv.state: cancel(op) asked for this record (guarded by its socket's mutex).
  static constexpr std::uint8_t state_cancelled = 1;
  // NTSTATUS values in OVERLAPPED::Internal that are not an outcome: the
  // I/O is still in progress / Wine's "ready: the client may do the I/O".
  static constexpr std::uint32_t status_pending = 0x103;
  static constexpr std::uint32_t status_alerted = 0x101;

  // ---- iocp_port.cpp ----
  void post_ready(operation& op) noexcept;
  void park(operation& op) noexcept;
  void park_batch(const OVERLAPPED_ENTRY* e, ULONG count) noexcept;
  operation* pop_local() noexcept;
  void wake_up_to(std::size_t max) noexcept;
  void finish(operation& op) noexcept;
  void release(iocp_socket_state& s) noexcept;
  operation* take(const OVERLAPPED_ENTRY& e) noexcept;
  static void adopt_packet_status(const OVERLAPPED_ENTRY& e) noexcept;
  void discard(const OVERLAPPED_ENTRY& e) noexcept;
  std::size_t run_local(bool one, std::size_t done) noexcept;
  void drain_on_destroy() noexcept;
  void linger(iocp_socket_state& s, SOCKET h) noexcept;
  void unlinger(iocp_socket_state& s) noexcept;
  void sweep_lingering(bool now) noexcept;

  // ---- iocp_ops.cpp: starting operations and finishing their packets ----
  void start_accept(iocp_socket_state& s, operation& op) noexcept;
  void start_connect(iocp_socket_state& s, operation& op, const endpoint* ep) noexcept;
  void start_recv(iocp_socket_state& s, operation& op) noexcept;
  void start_send(iocp_socket_state& s, operation& op) noexcept;
  void start_recv_from(iocp_socket_state& s, operation& op) noexcept;
  void start_send_to(iocp_socket_state& s, operation& op) noexcept;
  void start_disconnect(iocp_socket_state& s, operation& op) noexcept;
  void issue_send(iocp_socket_state& s, operation& op) noexcept;
  /// Settles what a Winsock call returned: `ok` (finished at once),
  /// pending (nothing to do: a packet will come) or failed (`err`).
  void issued(iocp_socket_state& s, operation& op, bool ok, DWORD bytes, int err) noexcept;
  /// Completes `op` now with a Winsock error found at submission.
  void fail(iocp_socket_state& s, operation& op, unsigned long err) noexcept;
  void fail(iocp_socket_state& s, operation& op, errc e) noexcept;
  /// Turns a dequeued packet into a result. Returns the record when it is
  /// finished, or null when it was issued again (the rest of a send).
  operation* complete(iocp_socket_state& s, operation& op, unsigned long err,
                      std::size_t bytes) noexcept;
  void complete_accept(iocp_socket_state& s, operation& op, std::error_code ec,
                       bool addresses_lost) noexcept;
  /// A packet whose status is STATUS_ALERTED (Wine): the receive (or
  /// datagram send) was never done. Issues the record again (true), or sets
  /// `err` to "aborted" when the socket was closed or the record cancelled
  /// meanwhile; false with `err` untouched for the other kinds.
  bool issue_again(iocp_socket_state& s, operation& op, unsigned long& err) noexcept;
  static bool cancelled_since_issue(const iocp_socket_state& s, operation& op) noexcept;
  /// An accept whose connection died before it completed: issues it again
  /// for the next connection (true), or sets `ec` to aborted when the
  /// listener was closed or the record cancelled meanwhile.
  bool accept_again(iocp_socket_state& s, operation& op, unsigned long err,
                    std::error_code& ec) noexcept;

  HANDLE port_ = nullptr;
  bool wsa_ = false;
  std::atomic<bool> stopped_{false};
  /// Threads blocked in GetQueuedCompletionStatusEx: wake() posts one
  /// packet for each, as a port wakes one thread per packet.
  std::atomic<std::size_t> waiters_{0};
  /// Socket states not yet deleted (the destructor waits for their last
  /// packets so none leaks).
  std::atomic<std::size_t> states_{0};
  /// Records run() takes before blocking, one at a time: the rest of a
  /// dequeued batch, expired timers, what a run_one or stop left over (in
  /// order, ahead of newer packets) and what PostQueuedCompletionStatus
  /// had no memory for.
  std::mutex local_mutex_;
  op_queue local_;
  std::atomic<bool> has_local_{false};
  /// Wine 8.0 loses a receive that is pending when its socket is closed
  /// (tests/stress/CMakeLists.txt has the evidence). There close() keeps a
  /// busy handle open on this list and run() cancels its operations again
  /// every few milliseconds until the last one is done; then it is closed.
  bool wine_ = false;
  static constexpr int linger_period_ms = 10;
  std::mutex linger_mutex_;
  iocp_socket_state* lingering_ = nullptr;  // guarded by linger_mutex_
  std::atomic<bool> has_lingering_{false};
  std::atomic<ULONGLONG> last_sweep_{0};
  iocp_files file_ops_{*this};
};

static_assert(backend_impl<iocp_port>);

}  // namespace pocore::detail
