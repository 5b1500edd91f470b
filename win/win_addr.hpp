// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// pocore::endpoint <-> Winsock SOCKADDR, including AF_UNIX (afunix.h,
// Windows 10 1803+). Header-only: the conversions are a few lines each and
// both win_socket.cpp and the IOCP operations use them.

// Winsock first, in the order the Windows SDK requires.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <afunix.h>
// clang-format on

#include <array>
#include <cstring>
#include <system_error>

#include "pocore/endpoint.hpp"
#include "pocore/error.hpp"

namespace pocore::detail::win {

/// Room for any address pocore converts (SOCKADDR_STORAGE is 128 bytes,
/// SOCKADDR_UN 110).
using sockaddr_buffer = SOCKADDR_STORAGE;
static_assert(sizeof(SOCKADDR_UN) <= sizeof(sockaddr_buffer));

/// The Winsock address family of a pocore family (AF_UNSPEC if none).
inline int native_family(address_family f) noexcept {
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

/// Writes `ep` into `out`; returns the address length, or 0 with `ec` set
/// when `ep` is unspecified.
inline int to_sockaddr(const endpoint& ep, sockaddr_buffer& out, std::error_code& ec) noexcept {
  std::memset(&out, 0, sizeof(out));
  switch (ep.family()) {
    case address_family::ipv4: {
      auto* sa = reinterpret_cast<sockaddr_in*>(&out);
      sa->sin_family = AF_INET;
      sa->sin_port = htons(ep.port());
      std::memcpy(&sa->sin_addr, ep.address_bytes().data(), 4);
      return static_cast<int>(sizeof(sockaddr_in));
    }
    case address_family::ipv6: {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&out);
      sa->sin6_family = AF_INET6;
      sa->sin6_port = htons(ep.port());
      sa->sin6_scope_id = ep.scope_id();
      std::memcpy(&sa->sin6_addr, ep.address_bytes().data(), 16);
      return static_cast<int>(sizeof(sockaddr_in6));
    }
    case address_family::local: {
      auto* sa = reinterpret_cast<SOCKADDR_UN*>(&out);
      sa->sun_family = AF_UNIX;
      std::string_view path = ep.path();
      // endpoint::local caps the path at 107 bytes, so the NUL always fits.
      std::memcpy(sa->sun_path, path.data(), path.size());
      return static_cast<int>(offsetof(SOCKADDR_UN, sun_path) + path.size() + 1);
    }
    default:
      ec = make_error_code(errc::invalid_argument);
      return 0;
  }
}

/// Reads an address Winsock produced. Unknown families give an
/// unspecified endpoint.
inline endpoint from_sockaddr(const sockaddr* sa, int len) noexcept {
  if (sa == nullptr || len < static_cast<int>(sizeof(sa->sa_family))) return {};
  switch (sa->sa_family) {
    case AF_INET: {
      if (len < static_cast<int>(sizeof(sockaddr_in))) return {};
      const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
      std::array<std::uint8_t, 4> a;
      std::memcpy(a.data(), &in->sin_addr, 4);
      return endpoint::ipv4(a, ntohs(in->sin_port));
    }
    case AF_INET6: {
      if (len < static_cast<int>(sizeof(sockaddr_in6))) return {};
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
      std::array<std::uint8_t, 16> a;
      std::memcpy(a.data(), &in6->sin6_addr, 16);
      return endpoint::ipv6(a, ntohs(in6->sin6_port), in6->sin6_scope_id);
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const SOCKADDR_UN*>(sa);
      int max = len - static_cast<int>(offsetof(SOCKADDR_UN, sun_path));
      if (max > static_cast<int>(sizeof(un->sun_path)))
        max = static_cast<int>(sizeof(un->sun_path));
      if (max <= 0) return {};  // an unnamed (unbound) AF_UNIX socket
      std::size_t n = strnlen(un->sun_path, static_cast<std::size_t>(max));
      if (n == 0) return {};
      std::error_code ec;
      return endpoint::local(std::string_view(un->sun_path, n), ec);
    }
    default:
      return {};
  }
}

/// The any-address of `family` with port 0 (ConnectEx's implicit bind).
inline int any_sockaddr(int family, sockaddr_buffer& out) noexcept {
  std::memset(&out, 0, sizeof(out));
  out.ss_family = static_cast<ADDRESS_FAMILY>(family);
  if (family == AF_INET6) return static_cast<int>(sizeof(sockaddr_in6));
  return static_cast<int>(sizeof(sockaddr_in));
}

}  // namespace pocore::detail::win
