// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The public socket: argument checks and record set-up, then one call into
// the backend (overlapped) or the platform's synchronous functions.

#include "pocore/socket.hpp"

#include <atomic>

#include "common/sys.hpp"

namespace pocore {
namespace {

using detail::op_kind;
using detail::priv;

// Completes a record submitted on a socket that is not open with
// `bad_descriptor`, through the port (never inline); with no port at all
// the process aborts, because no thread could ever run the callback. Kept
// out of begin() so its fast path saves no registers for it.
void not_open(io_port* port, operation& op) noexcept {
  if (port == nullptr) detail::no_port_for_handler();
  detail::port_backend& b = port->backend();
  b.work_started();
  op.error = make_error_code(errc::bad_descriptor);
  b.enqueue(op);
}

// Prepares a record for submission. Returns false when the socket cannot
// take it; the record has then been completed by not_open().
bool begin(io_port* port, detail::socket_state* s, operation& op, op_kind kind, const void* bufs,
           std::size_t nbufs) noexcept {
  auto& p = priv(op);
  p.kind = kind;
  p.owner = s;
  p.bufs = bufs;
  p.nbufs = nbufs;
  p.progress = 0;
  p.state = 0;
  p.flags = 0;
  detail::clear_error(op.error);
  op.bytes = 0;
  if (port == nullptr || s == nullptr) [[unlikely]] {
    not_open(port, op);
    return false;
  }
  port->backend().work_started();
  return true;
}

// The system error category, cached so that clearing a record's error on
// the fast path costs one load instead of a guarded static (whose rare
// initialisation would make every call save registers). Null until the
// first submission, which takes the slow path and fills it in.
std::atomic<const std::error_category*> system_cat{nullptr};

// The complete, rarely taken path: fills in the cache, prepares the record
// and either submits it or completes it with bad_descriptor through the
// port. Kept out of submit_one() so the fast path is a straight line that
// ends in the backend call.
void submit_slow(io_port* port, detail::socket_state* s, operation& op, op_kind kind,
                 const void* bufs, std::size_t nbufs, const endpoint* ep) noexcept {
  system_cat.store(&std::system_category(), std::memory_order_relaxed);
  if (begin(port, s, op, kind, bufs, nbufs)) port->backend().submit(*s, op, ep);
}

// The submission every overlapped call makes: when the socket is open,
// prepare the record, count the work and hand it to the backend (a tail
// call); anything unusual goes to submit_slow().
inline void submit_one(io_port* port, detail::socket_state* s, operation& op, op_kind kind,
                       const void* bufs, std::size_t nbufs, const endpoint* ep) noexcept {
  const std::error_category* cat = system_cat.load(std::memory_order_relaxed);
  if (s == nullptr || cat == nullptr) [[unlikely]] {
    submit_slow(port, s, op, kind, bufs, nbufs, ep);
    return;
  }
  auto& p = priv(op);
  p.kind = kind;
  p.owner = s;
  p.bufs = bufs;
  p.nbufs = nbufs;
  p.progress = 0;
  p.state = 0;
  p.flags = 0;
  op.error.assign(0, *cat);
  op.bytes = 0;
  // An open socket always has a port (state_ is only set with one).
  detail::port_backend& b = port->backend();
  b.work_started();
  b.submit(*s, op, ep);
}

}  // namespace

socket& socket::operator=(socket&& other) noexcept {
  if (this != &other) {
    close();
    port_ = other.port_;
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

socket::~socket() { close(); }

std::error_code socket::open(address_family family, socket_type type) noexcept {
  if (port_ == nullptr) return make_error_code(errc::bad_descriptor);
  if (state_ != nullptr) return make_error_code(errc::invalid_argument);
  if (family == address_family::unspecified ||
      (family == address_family::local && type != socket_type::stream))
    return make_error_code(errc::invalid_argument);
  std::error_code ec;
  native_handle_type h = detail::sys::open_socket(family, type, ec);
  if (ec) return ec;
  state_ = port_->backend().attach(h, family, type, ec);
  return ec;
}

void socket::close() noexcept {
  if (state_ == nullptr) return;
  detail::socket_state* s = std::exchange(state_, nullptr);
  port_->backend().close(*s);
}

native_handle_type socket::native_handle() const noexcept {
  return state_ ? state_->handle : invalid_native_handle;
}

address_family socket::family() const noexcept {
  return state_ ? state_->family : address_family::unspecified;
}

// ---- synchronous calls ----

#define POCORE_REQUIRE_OPEN_EC() \
  if (state_ == nullptr) return make_error_code(errc::bad_descriptor)
#define POCORE_REQUIRE_OPEN(ec, value)          \
  if (state_ == nullptr) {                      \
    ec = make_error_code(errc::bad_descriptor); \
    return value;                               \
  }

std::error_code socket::bind(const endpoint& ep) noexcept {
  POCORE_REQUIRE_OPEN_EC();
  return detail::sys::bind(*state_, ep);
}

std::error_code socket::listen(int backlog) noexcept {
  POCORE_REQUIRE_OPEN_EC();
  if (backlog < 0) return make_error_code(errc::invalid_argument);
  return detail::sys::listen(*state_, backlog);
}

socket socket::accept(std::error_code& ec, endpoint* peer) noexcept {
  POCORE_REQUIRE_OPEN(ec, port_ ? socket(*port_) : socket())
  native_handle_type h = detail::sys::accept(*state_, peer, ec);
  if (ec) return socket(*port_);
  detail::socket_state* s = port_->backend().attach(h, state_->family, state_->type, ec);
  if (ec) return socket(*port_);
  return socket(*port_, s);
}

std::error_code socket::connect(const endpoint& ep) noexcept {
  POCORE_REQUIRE_OPEN_EC();
  return detail::sys::connect(*state_, ep);
}

std::size_t socket::send(const_buffer b, std::error_code& ec) noexcept {
  POCORE_REQUIRE_OPEN(ec, 0)
  return detail::sys::send(*state_, b, ec);
}

std::size_t socket::recv(buffer b, std::error_code& ec) noexcept {
  POCORE_REQUIRE_OPEN(ec, 0)
  return detail::sys::recv(*state_, b, ec);
}

std::size_t socket::send_to(const_buffer b, const endpoint& to, std::error_code& ec) noexcept {
  POCORE_REQUIRE_OPEN(ec, 0)
  return detail::sys::send_to(*state_, b, to, ec);
}

std::size_t socket::recv_from(buffer b, endpoint& from, std::error_code& ec) noexcept {
  POCORE_REQUIRE_OPEN(ec, 0)
  return detail::sys::recv_from(*state_, b, from, ec);
}

std::error_code socket::shutdown(shutdown_how how) noexcept {
  POCORE_REQUIRE_OPEN_EC();
  return detail::sys::shutdown(*state_, how);
}

std::error_code socket::set_option(socket_option opt, int value) noexcept {
  POCORE_REQUIRE_OPEN_EC();
  return detail::sys::set_option(*state_, opt, value);
}

int socket::get_option(socket_option opt, std::error_code& ec) const noexcept {
  POCORE_REQUIRE_OPEN(ec, 0)
  return detail::sys::get_option(*state_, opt, ec);
}

std::error_code socket::set_non_blocking(bool on) noexcept {
  POCORE_REQUIRE_OPEN_EC();
  return detail::sys::set_non_blocking(*state_, on);
}

bool socket::non_blocking() const noexcept {
  return state_ != nullptr && state_->non_blocking.load(std::memory_order_relaxed);
}

endpoint socket::local_endpoint(std::error_code& ec) const noexcept {
  POCORE_REQUIRE_OPEN(ec, endpoint{})
  return detail::sys::local_endpoint(*state_, ec);
}

endpoint socket::remote_endpoint(std::error_code& ec) const noexcept {
  POCORE_REQUIRE_OPEN(ec, endpoint{})
  return detail::sys::remote_endpoint(*state_, ec);
}

#undef POCORE_REQUIRE_OPEN
#undef POCORE_REQUIRE_OPEN_EC

// ---- overlapped calls ----

void socket::async_accept(accept_operation& op) noexcept {
  op.accepted = socket(*port_);
  op.peer = endpoint{};
  submit_one(port_, state_, op, op_kind::accept, nullptr, 0, nullptr);
}

void socket::async_connect(operation& op, const endpoint& ep) noexcept {
  submit_one(port_, state_, op, op_kind::connect, nullptr, 0, &ep);
}

void socket::async_recv(operation& op, buffer b) noexcept {
  priv(op).single = b;
  submit_one(port_, state_, op, op_kind::recv, &priv(op).single, 1, nullptr);
}

void socket::async_recv(operation& op, std::span<const buffer> bufs) noexcept {
  submit_one(port_, state_, op, op_kind::recv, bufs.data(), bufs.size(), nullptr);
}

void socket::async_send(operation& op, const_buffer b) noexcept {
  // const_buffer and buffer share one layout; the single slot holds either.
  priv(op).single = buffer{const_cast<void*>(b.data), b.size};
  submit_one(port_, state_, op, op_kind::send, &priv(op).single, 1, nullptr);
}

void socket::async_send(operation& op, std::span<const const_buffer> bufs) noexcept {
  submit_one(port_, state_, op, op_kind::send, bufs.data(), bufs.size(), nullptr);
}

void socket::async_recv_from(datagram_operation& op, buffer b) noexcept {
  op.peer = endpoint{};
  priv(op).single = b;
  submit_one(port_, state_, op, op_kind::recv_from, &priv(op).single, 1, nullptr);
}

void socket::async_recv_from(datagram_operation& op, std::span<const buffer> bufs) noexcept {
  op.peer = endpoint{};
  submit_one(port_, state_, op, op_kind::recv_from, bufs.data(), bufs.size(), nullptr);
}

void socket::async_send_to(datagram_operation& op, const_buffer b) noexcept {
  priv(op).single = buffer{const_cast<void*>(b.data), b.size};
  submit_one(port_, state_, op, op_kind::send_to, &priv(op).single, 1, nullptr);
}

void socket::async_send_to(datagram_operation& op, std::span<const const_buffer> bufs) noexcept {
  submit_one(port_, state_, op, op_kind::send_to, bufs.data(), bufs.size(), nullptr);
}

void socket::async_disconnect(operation& op) noexcept {
  submit_one(port_, state_, op, op_kind::disconnect, nullptr, 0, nullptr);
}

void socket::cancel(operation& op) noexcept {
  if (state_ != nullptr) port_->backend().cancel(*state_, &op);
}

void socket::cancel() noexcept {
  if (state_ != nullptr) port_->backend().cancel(*state_, nullptr);
}

}  // namespace pocore
