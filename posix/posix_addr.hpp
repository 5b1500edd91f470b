// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Conversion between pocore::endpoint and the kernel's sockaddr forms,
// shared by the synchronous calls and the proactor.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <system_error>

#include "pocore/endpoint.hpp"
#include "pocore/error.hpp"

namespace pocore::detail {

/// A sockaddr large enough for every family, with its length.
struct posix_sockaddr {
  sockaddr_storage storage;
  socklen_t length;

  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// The AF_* value of a pocore family (AF_UNSPEC for `unspecified`).
inline int posix_family(address_family f) noexcept {
  switch (f) {
    case address_family::ipv4:
      return AF_INET;
    case address_family::ipv6:
      return AF_INET6;
    case address_family::local:
      return AF_UNIX;
    default:
      return AF_UNSPEC;
  }
}

/// Fills `out` from `ep`. `socket_family` is the family the socket was
/// opened with: an endpoint of another family is `invalid_argument` on
/// every platform, rather than whatever each kernel happens to answer
/// (Linux alone says EINVAL for bind and EAFNOSUPPORT for connect).
inline std::error_code to_sockaddr(const endpoint& ep, address_family socket_family,
                                   posix_sockaddr& out) noexcept {
  std::memset(&out.storage, 0, sizeof(out.storage));
  if (ep.family() == address_family::unspecified || ep.family() != socket_family)
    return make_error_code(errc::invalid_argument);
  auto bytes = ep.address_bytes();
  switch (ep.family()) {
    case address_family::ipv4: {
      auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(ep.port());
      std::memcpy(&sin->sin_addr, bytes.data(), 4);
      out.length = sizeof(sockaddr_in);
      return {};
    }
    case address_family::ipv6: {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(ep.port());
      sin6->sin6_scope_id = ep.scope_id();
      std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
      out.length = sizeof(sockaddr_in6);
      return {};
    }
    case address_family::local: {
      auto* sun = reinterpret_cast<sockaddr_un*>(&out.storage);
      auto path = ep.path();
      if (path.empty()) return make_error_code(errc::invalid_argument);
      if (path.size() >= sizeof(sun->sun_path)) return make_error_code(errc::name_too_long);
      sun->sun_family = AF_UNIX;
      std::memcpy(sun->sun_path, path.data(), path.size());
      out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
      return {};
    }
    default:
      return make_error_code(errc::invalid_argument);
  }
}

/// The endpoint a kernel-filled sockaddr names. Unnamed and abstract
/// Unix-domain addresses (which an endpoint cannot hold) give an
/// unspecified endpoint.
inline endpoint from_sockaddr(const sockaddr* sa, socklen_t length) noexcept {
  if (sa == nullptr || length < static_cast<socklen_t>(sizeof(sa_family_t))) return {};
  switch (sa->sa_family) {
    case AF_INET: {
      if (length < static_cast<socklen_t>(sizeof(sockaddr_in))) return {};
      const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
      std::array<std::uint8_t, 4> a;
      std::memcpy(a.data(), &sin->sin_addr, 4);
      return endpoint::ipv4(a, ntohs(sin->sin_port));
    }
    case AF_INET6: {
      if (length < static_cast<socklen_t>(sizeof(sockaddr_in6))) return {};
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
      std::array<std::uint8_t, 16> a;
      std::memcpy(a.data(), &sin6->sin6_addr, 16);
      return endpoint::ipv6(a, ntohs(sin6->sin6_port), sin6->sin6_scope_id);
    }
    case AF_UNIX: {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(sa);
      std::size_t n = static_cast<std::size_t>(length) - offsetof(sockaddr_un, sun_path);
      if (n > sizeof(sun->sun_path)) n = sizeof(sun->sun_path);
      if (n == 0 || sun->sun_path[0] == '\0') return {};  // unnamed or abstract
      std::size_t len = ::strnlen(sun->sun_path, n);
      std::error_code ec;
      endpoint ep = endpoint::local({sun->sun_path, len}, ec);
      return ec ? endpoint{} : ep;
    }
    default:
      return {};
  }
}

/// True when `fd` has a peer. A connect on such a stream socket must fail with
/// already_connected, but Linux answers the first connect() after a
/// non-blocking connect finished with 0 (the socket stays "connecting" until
/// connect() is called again), which Windows never does (WSAEISCONN).
inline bool posix_has_peer(int fd) noexcept {
  posix_sockaddr sa;
  sa.length = sizeof(sa.storage);
  return ::getpeername(fd, sa.get(), &sa.length) == 0;
}

}  // namespace pocore::detail
