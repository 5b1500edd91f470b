// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Name resolution that never blocks the port: host and service names to
/// endpoints, completing through the port like any other operation.

#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "pocore/detail/handler.hpp"
#include "pocore/endpoint.hpp"
#include "pocore/operation.hpp"
#include "pocore/port.hpp"
#include "pocore/socket.hpp"

namespace pocore {

namespace detail {
class resolver_service;
}

/// What to look up, the counterpart of `addrinfo` hints.
struct resolve_hints {
  /// `ipv4` or `ipv6` to ask for one family; `unspecified` for both.
  address_family family = address_family::unspecified;
  /// The socket type the endpoints are for; each address is listed once.
  socket_type type = socket_type::stream;
  /// For a listener: an empty host gives the any-address (AI_PASSIVE);
  /// otherwise an empty host gives the loopback address.
  bool passive = false;
  /// The host must be a numeric address; no lookup is made
  /// (AI_NUMERICHOST). Anything else is `errc::host_not_found`.
  bool numeric_host = false;
  /// The service must be a port number (AI_NUMERICSERV).
  bool numeric_service = false;
};

/// The record for `resolver::async_resolve`. Fill in `host`, `service` and
/// `hints`; on success `results` holds the endpoints in the order the
/// system gave them (no duplicates) and `bytes` their number.
struct resolve_operation : operation {
  /// The constructors of `operation`.
  using operation::operation;
  std::string host;               ///< name or numeric address; may be empty
  std::string service;            ///< service name ("http") or port ("80"); may be empty
  resolve_hints hints;            ///< what to look up
  std::vector<endpoint> results;  ///< result: at least one endpoint on success
};

/// Resolves host and service names on a port without blocking it.
///
/// The system's resolver (getaddrinfo, GetAddrInfoW) blocks, so each
/// lookup runs on a small pool of worker threads that the resolver owns
/// (at most four, started on demand, joined by the destructor); its
/// completion then runs on the port like a socket's. A pending lookup
/// counts as outstanding work, so `run` does not return before it
/// completes. Each submission completes exactly once, never inline.
///
/// Errors: `host_not_found` (no such name, or a non-numeric host with
/// `numeric_host`), `service_not_found`, `try_again` (a temporary failure
/// of the name service), `no_recovery`, `address_family_not_supported`,
/// `invalid_argument` (host and service both empty), `not_enough_memory`,
/// and `operation_aborted` when cancelled or when the resolver is
/// destroyed first.
///
/// Every member is thread-safe. Destroy the resolver before its port.
class resolver {
 public:
  /// A resolver whose lookups complete on `port`. Starts no thread yet.
  /// Throws `std::bad_alloc`.
  explicit resolver(io_port& port);
  /// Cancels every pending lookup (each completes with
  /// `operation_aborted`), then waits for the worker threads. A system
  /// lookup already running cannot be interrupted, so this waits for it to
  /// return (at once for local names; up to the system's resolver timeout
  /// for names sent to a DNS server).
  ~resolver();
  resolver(const resolver&) = delete;
  resolver& operator=(const resolver&) = delete;

  /// Starts resolving `op.host` / `op.service` with `op.hints`.
  void async_resolve(resolve_operation& op) noexcept;
  /// `f(std::error_code, std::vector<pocore::endpoint>)` once resolved.
  template <class F>
  void async_resolve(std::string_view host, std::string_view service, const resolve_hints& hints,
                     F&& f);
  /// The same with default hints (both families, stream).
  template <class F>
  void async_resolve(std::string_view host, std::string_view service, F&& f) {
    async_resolve(host, service, resolve_hints{}, std::forward<F>(f));
  }

  /// Cancels one lookup: if still pending it completes with
  /// `operation_aborted` (and no results) and this returns true; if it
  /// already finished it completes normally and this returns false.
  bool cancel(resolve_operation& op) noexcept;
  /// Cancels every pending lookup; returns how many were aborted.
  std::size_t cancel() noexcept;
  /// Lookups submitted whose completion has not been queued yet.
  std::size_t pending() const noexcept;

  /// The port its lookups complete on.
  io_port& port() const noexcept { return *port_; }

 private:
  io_port* port_;
  std::unique_ptr<detail::resolver_service> service_;
};

namespace detail {

/// A resolve record that owns a callable (the convenience layer).
template <class F>
struct resolve_handler : resolve_operation {
  resolve_handler(io_port& p, F&& fn)
      : resolve_operation(&resolve_handler::complete), port(&p), f(std::move(fn)) {}
  io_port* port;
  F f;

  static void complete(operation& base) {
    auto* self = static_cast<resolve_handler*>(&base);
    io_port& p = *self->port;
    F fn(std::move(self->f));
    std::error_code ec = self->error;
    std::vector<endpoint> results(std::move(self->results));
    self->~resolve_handler();
    handler_deallocate(p, self, sizeof(resolve_handler));
    fn(ec, std::move(results));
  }
};

}  // namespace detail

template <class F>
void resolver::async_resolve(std::string_view host, std::string_view service,
                             const resolve_hints& hints, F&& f) {
  using handler = detail::resolve_handler<std::decay_t<F>>;
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::vector<endpoint>>,
                "handler must be callable as f(std::error_code, std::vector<pocore::endpoint>)");
  void* mem = detail::handler_allocate(*port_, sizeof(handler));
  auto* op = ::new (mem) handler(*port_, std::decay_t<F>(std::forward<F>(f)));
  try {
    op->host.assign(host);
    op->service.assign(service);
  } catch (...) {
    op->~handler();
    detail::handler_deallocate(*port_, mem, sizeof(handler));
    throw;
  }
  op->hints = hints;
  async_resolve(*op);
}

}  // namespace pocore
