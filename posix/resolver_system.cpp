// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The blocking lookup behind pocore::resolver on POSIX: getaddrinfo, run on
// the resolver's worker threads (common/resolver.cpp says why not
// getaddrinfo_a), and the one table from EAI_* to pocore's errors.

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/resolver.hpp"
#include "posix/posix_addr.hpp"
#include "posix/posix_errors.hpp"

namespace pocore::detail {
namespace {

std::error_code map_eai(int rc, int saved_errno) noexcept {
  switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:  // the name exists but has no address (glibc)
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:  // the name has no address of the asked family
#endif
      return make_error_code(errc::host_not_found);
    case EAI_SERVICE:
      return make_error_code(errc::service_not_found);
    case EAI_AGAIN:
      return make_error_code(errc::try_again);
    case EAI_FAIL:
      return make_error_code(errc::no_recovery);
    case EAI_FAMILY:
      return make_error_code(errc::address_family_not_supported);
    case EAI_MEMORY:
      return make_error_code(errc::not_enough_memory);
    case EAI_SYSTEM:
      return saved_errno != 0 ? posix_error(saved_errno) : make_error_code(errc::no_recovery);
    default:  // EAI_BADFLAGS, EAI_SOCKTYPE: a bad combination of hints
      return make_error_code(errc::invalid_argument);
  }
}

}  // namespace

std::error_code system_resolve(const std::string& host, const std::string& service,
                               const resolve_hints& hints, std::vector<endpoint>& out) {
  addrinfo want{};
  want.ai_family = posix_family(hints.family);
  want.ai_socktype = hints.type == socket_type::datagram ? SOCK_DGRAM : SOCK_STREAM;
  want.ai_flags = (hints.passive ? AI_PASSIVE : 0) | (hints.numeric_host ? AI_NUMERICHOST : 0) |
                  (hints.numeric_service ? AI_NUMERICSERV : 0);
  addrinfo* list = nullptr;
  errno = 0;
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                               service.empty() ? nullptr : service.c_str(), &want, &list);
  if (rc != 0) return map_eai(rc, errno);
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    endpoint ep = from_sockaddr(a->ai_addr, a->ai_addrlen);
    if (ep.family() == address_family::unspecified) continue;
    if (std::find(out.begin(), out.end(), ep) == out.end()) out.push_back(ep);
  }
  ::freeaddrinfo(list);
  return out.empty() ? make_error_code(errc::host_not_found) : std::error_code{};
}

}  // namespace pocore::detail
