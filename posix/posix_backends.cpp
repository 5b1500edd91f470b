// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Backend selection on POSIX systems: an explicit name, else the
// POCORE_BACKEND environment variable, else the default. Asking for a
// backend that cannot run here is an error, never a silent fallback.

#include <array>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>

#include "common/backend.hpp"
#if defined(POCORE_HAVE_EPOLL)
#include "posix/epoll_reactor.hpp"
#endif

namespace pocore::detail {
namespace {

#if defined(POCORE_HAVE_EPOLL)
constexpr std::array<std::string_view, 1> compiled = {"epoll"};
constexpr std::string_view default_backend = "epoll";
#else
constexpr std::array<std::string_view, 0> compiled = {};
constexpr std::string_view default_backend = "";
#endif

// Names pocore knows on some platform; those not built here are
// backend_unavailable rather than unknown_backend.
constexpr std::array<std::string_view, 4> known = {"epoll", "io_uring", "kqueue", "iocp"};

}  // namespace

std::unique_ptr<port_backend> make_backend(std::string_view name, std::error_code& ec) {
  if (name.empty()) {
    const char* env = std::getenv("POCORE_BACKEND");
    name = env != nullptr && *env != '\0' ? std::string_view(env) : default_backend;
  }
  if (name.empty()) {  // nothing compiled for this system
    ec = make_ec(errc::backend_unavailable);
    return nullptr;
  }
#if defined(POCORE_HAVE_EPOLL)
  if (name == "epoll") return epoll_port::create(ec);
#endif
  for (std::string_view k : known) {
    if (name == k) {
      ec = make_ec(errc::backend_unavailable);
      return nullptr;
    }
  }
  ec = make_ec(errc::unknown_backend);
  return nullptr;
}

std::span<const std::string_view> backend_names() noexcept { return compiled; }

}  // namespace pocore::detail
