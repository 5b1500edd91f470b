// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The convenience layer: any callable as a completion handler. Each call
/// takes a record from the port's recycling pool, so a steady stream of
/// operations reuses the same few blocks instead of allocating.

#include <concepts>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "pocore/socket.hpp"

namespace pocore::detail {

/// Takes a block of at least `size` bytes from the port's pool.
void* handler_allocate(io_port& port, std::size_t size);
/// Returns a block to the port's pool.
void handler_deallocate(io_port& port, void* p, std::size_t size) noexcept;

/// A record that owns a callable. The callable is moved out and the block
/// returned to the pool before the callable runs, so a handler that
/// submits again reuses the same block.
template <class Op, class F>
struct handler_op : Op {
  handler_op(io_port& p, F&& fn) : Op(&handler_op::complete), port(&p), f(std::move(fn)) {}
  io_port* port;
  F f;

  static void complete(operation& base) {
    auto* self = static_cast<handler_op*>(&base);
    io_port& p = *self->port;
    F fn(std::move(self->f));
    if constexpr (std::is_same_v<Op, accept_operation>) {
      std::error_code ec = self->error;
      socket s(std::move(self->accepted));
      self->~handler_op();
      handler_deallocate(p, self, sizeof(handler_op));
      fn(ec, std::move(s));
    } else if constexpr (std::is_same_v<Op, datagram_operation>) {
      std::error_code ec = self->error;
      std::size_t n = self->bytes;
      endpoint from = self->peer;
      self->~handler_op();
      handler_deallocate(p, self, sizeof(handler_op));
      // recv_from hands over the sender; send_to's handler takes no endpoint.
      if constexpr (std::is_invocable_v<F&, std::error_code, std::size_t, const endpoint&>)
        fn(ec, n, from);
      else
        fn(ec, n);
    } else {
      std::error_code ec = self->error;
      std::size_t n = self->bytes;
      self->~handler_op();
      handler_deallocate(p, self, sizeof(handler_op));
      if constexpr (std::is_invocable_v<F&, std::error_code, std::size_t>)
        fn(ec, n);
      else
        fn(ec);
    }
  }

  static handler_op* make(io_port& p, F&& fn) {
    void* mem = handler_allocate(p, sizeof(handler_op));
    return ::new (mem) handler_op(p, std::move(fn));
  }
};

template <class Op, class F>
auto* make_handler(io_port& p, F&& f) {
  return handler_op<Op, std::decay_t<F>>::make(p, std::decay_t<F>(std::forward<F>(f)));
}

/// A socket with no port cannot take a convenience handler: there is no
/// pool and no thread to run it. Such calls are a programming error.
[[noreturn]] void no_port_for_handler();

inline io_port& port_of(const socket& s) {
  if (s.port() == nullptr) no_port_for_handler();
  return *s.port();
}

}  // namespace pocore::detail

namespace pocore {

template <class F>
requires(!std::is_base_of_v<operation, std::remove_cvref_t<F>>) void socket::async_accept(F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, socket>,
                "handler must be callable as f(std::error_code, pocore::socket)");
  async_accept(*detail::make_handler<accept_operation>(detail::port_of(*this), std::forward<F>(f)));
}

template <class F>
void socket::async_connect(const endpoint& ep, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code>,
                "handler must be callable as f(std::error_code)");
  async_connect(*detail::make_handler<operation>(detail::port_of(*this), std::forward<F>(f)), ep);
}

template <class F>
void socket::async_recv(buffer b, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t>,
                "handler must be callable as f(std::error_code, std::size_t)");
  async_recv(*detail::make_handler<operation>(detail::port_of(*this), std::forward<F>(f)), b);
}

template <class F>
void socket::async_send(const_buffer b, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t>,
                "handler must be callable as f(std::error_code, std::size_t)");
  async_send(*detail::make_handler<operation>(detail::port_of(*this), std::forward<F>(f)), b);
}

template <class F>
void socket::async_recv_from(buffer b, F&& f) {
  static_assert(
      std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t, const endpoint&>,
      "handler must be callable as f(std::error_code, std::size_t, const pocore::endpoint&)");
  async_recv_from(
      *detail::make_handler<datagram_operation>(detail::port_of(*this), std::forward<F>(f)), b);
}

template <class F>
void socket::async_send_to(const_buffer b, const endpoint& to, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t>,
                "handler must be callable as f(std::error_code, std::size_t)");
  auto* op = detail::make_handler<datagram_operation>(detail::port_of(*this), std::forward<F>(f));
  op->peer = to;
  async_send_to(*op, b);
}

/// Posts any callable `f()` to run on the port.
template <class F>
void post(io_port& port, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "f must be callable as f()");
  auto wrapped = [fn = std::forward<F>(f)](std::error_code) mutable { fn(); };
  port.post(*detail::make_handler<operation>(port, std::move(wrapped)));
}

}  // namespace pocore
