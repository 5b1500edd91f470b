// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Sockets: synchronous calls, non-blocking mode, and overlapped operations.

#include <cstddef>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

#include "pocore/buffer.hpp"
#include "pocore/endpoint.hpp"
#include "pocore/native.hpp"
#include "pocore/operation.hpp"
#include "pocore/port.hpp"

namespace pocore {

/// Stream (TCP, Unix-domain) or datagram (UDP).
enum class socket_type : std::uint8_t { stream, datagram };

/// Which directions `shutdown` closes.
enum class shutdown_how : std::uint8_t { receive, send, both };

/// Socket options with an integer value.
enum class socket_option : std::uint8_t {
  no_delay,             ///< TCP_NODELAY (0/1)
  reuse_address,        ///< SO_REUSEADDR (0/1); on Windows see `listen`
  keep_alive,           ///< SO_KEEPALIVE (0/1)
  linger,               ///< SO_LINGER: seconds, or -1 for off
  receive_buffer_size,  ///< SO_RCVBUF in bytes
  send_buffer_size,     ///< SO_SNDBUF in bytes
  v6_only,              ///< IPV6_V6ONLY (0/1)
};

class socket;

/// The record for `socket::async_accept`. On success `accepted` holds the
/// new connection (already associated with the port) and `peer` its
/// remote endpoint.
struct accept_operation;

/// The record for `async_recv_from` and `async_send_to`. `peer` receives
/// the sender (recv_from) or names the destination (send_to).
struct datagram_operation;

/// A socket on a port. Move-only; the destructor closes it.
///
/// Synchronous calls block unless non-blocking mode is on, in which case
/// they fail with `errc::would_block` instead of waiting. Overlapped calls
/// (`async_*`) never block and never run their callback inline; their
/// errors, including "socket not open" (`errc::bad_descriptor`), arrive
/// through the callback. Every member is safe to call from any thread,
/// but `close` and the move operations must not race with other calls on
/// the same object.
class socket {
 public:
  /// A closed socket belonging to no port.
  socket() noexcept = default;
  /// A closed socket on `port`; call `open`. A moved-from socket keeps its
  /// port and is closed.
  explicit socket(io_port& port) noexcept : port_(&port) {}
  /// Takes over `other`'s port and open socket; `other` is left closed.
  socket(socket&& other) noexcept
      : port_(other.port_), state_(std::exchange(other.state_, nullptr)) {}
  /// Closes this socket (aborting its pending operations), then takes
  /// over `other`'s port and open socket.
  socket& operator=(socket&& other) noexcept;
  /// Closes the socket: as `close`.
  ~socket();

  /// Opens a socket of `family` and `type` on the port. Descriptors are
  /// close-on-exec and handles non-inheritable. Errors:
  /// `bad_descriptor` (no port), `address_family_not_supported`,
  /// `too_many_files`, `invalid_argument` (already open, bad combination).
  std::error_code open(address_family family, socket_type type) noexcept;
  /// Closes the socket. Every pending operation completes with
  /// `operation_aborted`; none runs after the last of those.
  void close() noexcept;
  /// True between a successful `open`/accept and `close`.
  bool is_open() const noexcept { return state_ != nullptr; }
  /// The port, or null.
  io_port* port() const noexcept { return port_; }
  /// The native descriptor or SOCKET (invalid when closed).
  native_handle_type native_handle() const noexcept;
  /// The family the socket was opened with.
  address_family family() const noexcept;

  // ---- synchronous calls ----
  /// Binds to `ep`. Errors: `address_in_use`, `address_not_available`,
  /// `permission_denied`, `invalid_argument` (family mismatch, already
  /// bound), `bad_descriptor` (not open).
  std::error_code bind(const endpoint& ep) noexcept;
  /// The largest accept queue the system allows: the default backlog, as in
  /// Boost.Asio. Linux and the BSDs clamp it to `somaxconn` (4096 on Linux
  /// 5.4 and later), Windows reads it as SOMAXCONN (a provider maximum).
  static constexpr int max_backlog = 0x7fffffff;
  /// Starts listening with an accept queue of up to `backlog` connections.
  /// On Windows listeners get SO_EXCLUSIVEADDRUSE. Errors:
  /// `invalid_argument` (negative backlog), `bad_descriptor` (not open).
  std::error_code listen(int backlog = max_backlog) noexcept;
  /// Accepts a connection; `peer`, if given, receives its endpoint.
  socket accept(std::error_code& ec, endpoint* peer = nullptr) noexcept;
  /// Connects, blocking unless in non-blocking mode (then `would_block`
  /// or `in_progress`). Errors: `connection_refused`, `timed_out`,
  /// `network_unreachable`, `host_unreachable`, `already_connected`.
  std::error_code connect(const endpoint& ep) noexcept;
  /// Sends some bytes; returns how many (a stream may send fewer).
  std::size_t send(const_buffer b, std::error_code& ec) noexcept;
  /// Receives some bytes; 0 with no error means end of stream.
  std::size_t recv(buffer b, std::error_code& ec) noexcept;
  /// Sends one datagram to `to`; a datagram too large for the protocol is
  /// `message_size`.
  std::size_t send_to(const_buffer b, const endpoint& to, std::error_code& ec) noexcept;
  /// Receives one datagram; a larger one is `message_size` with `b` filled.
  std::size_t recv_from(buffer b, endpoint& from, std::error_code& ec) noexcept;
  /// Shuts down one or both directions; the peer sees end of stream after
  /// a send shutdown. Errors: `not_connected`, `bad_descriptor`.
  std::error_code shutdown(shutdown_how how) noexcept;
  /// Sets an option (booleans as 0/1, sizes in bytes, linger in seconds).
  /// Errors: `invalid_argument` (wrong socket type or value),
  /// `bad_descriptor`.
  std::error_code set_option(socket_option opt, int value) noexcept;
  /// Reads an option back; errors as `set_option`.
  int get_option(socket_option opt, std::error_code& ec) const noexcept;
  /// Non-blocking mode: synchronous calls report `would_block`. Overlapped
  /// calls are unaffected.
  std::error_code set_non_blocking(bool on) noexcept;
  /// True in non-blocking mode.
  bool non_blocking() const noexcept;
  /// The bound address. Errors: `bad_descriptor`.
  endpoint local_endpoint(std::error_code& ec) const noexcept;
  /// The connected peer. Errors: `not_connected`, `bad_descriptor`.
  endpoint remote_endpoint(std::error_code& ec) const noexcept;

  // ---- overlapped calls, with caller-owned records ----
  /// Accepts a connection into `op.accepted` / `op.peer`.
  void async_accept(accept_operation& op) noexcept;
  /// Connects; binds to the any-address first if needed (ConnectEx rule).
  void async_connect(operation& op, const endpoint& ep) noexcept;
  /// Receives at least one byte, or 0 at end of stream.
  void async_recv(operation& op, buffer b) noexcept;
  /// Scatter receive; the array must stay valid until the callback.
  void async_recv(operation& op, std::span<const buffer> bufs) noexcept;
  /// Sends every byte, or fails saying how many went out.
  void async_send(operation& op, const_buffer b) noexcept;
  /// Gather send; the array must stay valid until the callback.
  void async_send(operation& op, std::span<const const_buffer> bufs) noexcept;
  /// Receives one datagram into `b`, the sender into `op.peer`.
  void async_recv_from(datagram_operation& op, buffer b) noexcept;
  /// Scatter form of `async_recv_from`; the array must stay valid until
  /// the callback.
  void async_recv_from(datagram_operation& op, std::span<const buffer> bufs) noexcept;
  /// Sends one datagram to `op.peer`.
  void async_send_to(datagram_operation& op, const_buffer b) noexcept;
  /// Gather form of `async_send_to`; the array must stay valid until the
  /// callback.
  void async_send_to(datagram_operation& op, std::span<const const_buffer> bufs) noexcept;
  /// Graceful disconnect after every pending send: no more sends or
  /// receives; the peer sees end of stream. The socket must still be
  /// closed.
  void async_disconnect(operation& op) noexcept;

  /// Cancels one operation: if still pending it completes with
  /// `operation_aborted` and the bytes already moved; otherwise nothing.
  void cancel(operation& op) noexcept;
  /// Cancels every pending operation of this socket.
  void cancel() noexcept;

  // ---- overlapped calls with any callable (allocates, recycles) ----
  /// `f(std::error_code, socket)`.
  template <class F>
  requires(!std::is_base_of_v<operation, std::remove_cvref_t<F>>) void async_accept(F&& f);
  /// `f(std::error_code)`.
  template <class F>
  void async_connect(const endpoint& ep, F&& f);
  /// `f(std::error_code, std::size_t)`.
  template <class F>
  void async_recv(buffer b, F&& f);
  /// `f(std::error_code, std::size_t)`.
  template <class F>
  void async_send(const_buffer b, F&& f);
  /// `f(std::error_code, std::size_t, const endpoint&)`.
  template <class F>
  void async_recv_from(buffer b, F&& f);
  /// `f(std::error_code, std::size_t)`.
  template <class F>
  void async_send_to(const_buffer b, const endpoint& to, F&& f);

  /// pocore-internal: the backend's state for this socket.
  detail::socket_state* state() const noexcept { return state_; }
  /// pocore-internal: adopts a state made by the backend.
  socket(io_port& port, detail::socket_state* state) noexcept : port_(&port), state_(state) {}

 private:
  io_port* port_ = nullptr;
  detail::socket_state* state_ = nullptr;
};

/// The record of `socket::async_accept`: on success `accepted` holds the
/// new connection (on the listener's port) and `peer` its address.
struct accept_operation : operation {
  /// The constructors of `operation`.
  using operation::operation;
  socket accepted;  ///< result: the new connection
  endpoint peer;    ///< result: its remote endpoint
  /// pocore-internal: native address buffers (AcceptEx output).
  alignas(8) unsigned char native_addr[2 * (128 + 16)] = {};
};

/// The record of `socket::async_recv_from` / `async_send_to`.
struct datagram_operation : operation {
  /// The constructors of `operation`.
  using operation::operation;
  endpoint peer;  ///< result of recv_from, destination of send_to
  /// pocore-internal: a native sockaddr and its length.
  alignas(8) unsigned char native_addr[128 + 8] = {};
};

}  // namespace pocore

#include "pocore/detail/handler.hpp"  // IWYU pragma: export
