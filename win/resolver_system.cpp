// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The blocking lookup behind pocore::resolver on Windows: GetAddrInfoW on
// the resolver's worker threads, and the table from its WSA* codes to
// pocore's errors.
//
// Why not GetAddrInfoExW with overlapped completion: measured under
// Wine 8.0 it does complete asynchronously through its completion routine
// (WSA_IO_PENDING, then the routine once with 0, WSAHOST_NOT_FOUND or
// WSATYPE_NOT_FOUND), but it hands back a null cancel handle and
// GetAddrInfoExCancel fails with WSA_INVALID_HANDLE, so a lookup there
// cannot be stopped; and its routine runs on a system thread pocore cannot
// join before the port goes. The worker threads give the same observable
// behaviour on Windows, Wine and POSIX, cancellation included (see
// common/resolver.cpp). The port's WSAStartup covers these calls: a
// resolver is destroyed, and its threads joined, before its port.

#include <winsock2.h>
#include <ws2tcpip.h>

#include <algorithm>
#include <string>

#include "common/resolver.hpp"
#include "win/win_addr.hpp"
#include "win/win_errors.hpp"

namespace pocore::detail {
namespace {

std::error_code map_gai(int rc) noexcept {
  switch (rc) {
    case WSAHOST_NOT_FOUND:
    case WSANO_DATA:  // the name exists but has no address of this kind
      return make_error_code(errc::host_not_found);
    case WSATYPE_NOT_FOUND:
      return make_error_code(errc::service_not_found);
    case WSATRY_AGAIN:
      return make_error_code(errc::try_again);
    case WSANO_RECOVERY:
      return make_error_code(errc::no_recovery);
    case WSAEAFNOSUPPORT:
      return make_error_code(errc::address_family_not_supported);
    case WSA_NOT_ENOUGH_MEMORY:
      return make_error_code(errc::not_enough_memory);
    case WSAEINVAL:
    case WSAESOCKTNOSUPPORT:
      return make_error_code(errc::invalid_argument);
    default:
      return win::map_error(static_cast<unsigned long>(rc));
  }
}

// UTF-8 to UTF-16; false if `in` is not valid UTF-8.
bool widen(const std::string& in, std::wstring& out) {
  out.clear();
  if (in.empty()) return true;
  const int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, in.data(),
                                    static_cast<int>(in.size()), nullptr, 0);
  if (n <= 0) return false;
  out.resize(static_cast<std::size_t>(n));
  return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, in.data(), static_cast<int>(in.size()),
                             out.data(), n) == n;
}

}  // namespace

std::error_code system_resolve(const std::string& host, const std::string& service,
                               const resolve_hints& hints, std::vector<endpoint>& out) {
  std::wstring whost, wservice;
  if (!widen(host, whost)) return make_error_code(errc::host_not_found);
  if (!widen(service, wservice)) return make_error_code(errc::service_not_found);
  ADDRINFOW want{};
  want.ai_family = win::native_family(hints.family);
  want.ai_socktype = hints.type == socket_type::datagram ? SOCK_DGRAM : SOCK_STREAM;
  want.ai_protocol = hints.type == socket_type::datagram ? IPPROTO_UDP : IPPROTO_TCP;
  want.ai_flags = (hints.passive ? AI_PASSIVE : 0) | (hints.numeric_host ? AI_NUMERICHOST : 0);
  // numeric_service was checked by the front end (Windows has no flag).
  ADDRINFOW* list = nullptr;
  const int rc = GetAddrInfoW(whost.empty() ? nullptr : whost.c_str(),
                              wservice.empty() ? nullptr : wservice.c_str(), &want, &list);
  if (rc != 0) return map_gai(rc);
  for (const ADDRINFOW* a = list; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    endpoint ep = win::from_sockaddr(a->ai_addr, static_cast<int>(a->ai_addrlen));
    if (ep.family() == address_family::unspecified) continue;
    if (std::find(out.begin(), out.end(), ep) == out.end()) out.push_back(ep);
  }
  FreeAddrInfoW(list);
  return out.empty() ? make_error_code(errc::host_not_found) : std::error_code{};
}

}  // namespace pocore::detail
