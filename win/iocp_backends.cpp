// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Backend selection on Windows: IOCP is the only one. The names of the
// other platforms' backends are known (so asking for them says
// "unavailable here", not "unknown"), and POCORE_BACKEND is honoured like
// on Linux.

#include <windows.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/backend.hpp"
#include "common/deterministic_port.hpp"
#include "win/iocp_port.hpp"

namespace pocore::detail {
namespace {

constexpr std::string_view names[] = {"iocp"};

// The value of POCORE_BACKEND, empty if unset.
std::string backend_from_environment() {
  char buf[64];
  DWORD n = GetEnvironmentVariableA("POCORE_BACKEND", buf, sizeof(buf));
  if (n == 0 || n >= sizeof(buf)) return n == 0 ? std::string{} : std::string("?");
  return std::string(buf, n);
}

}  // namespace

std::unique_ptr<port_backend> make_backend(std::string_view name, std::error_code& ec) {
  ec.clear();
  std::string env;
  if (name.empty()) {
    env = backend_from_environment();
    name = env.empty() ? std::string_view("iocp") : std::string_view(env);
  }
  // The test backend, wrapping IOCP (common/deterministic_port.hpp).
  if (is_deterministic_name(name)) return make_deterministic(name, "iocp", &make_backend, ec);
  if (name == "iocp") {
    auto port = std::make_unique<iocp_port>(ec);
    if (ec) return nullptr;
    return port;
  }
  if (name == "epoll" || name == "io_uring" || name == "kqueue") {
    ec = make_error_code(errc::backend_unavailable);
    return nullptr;
  }
  ec = make_error_code(errc::unknown_backend);
  return nullptr;
}

std::span<const std::string_view> backend_names() noexcept { return names; }

}  // namespace pocore::detail
