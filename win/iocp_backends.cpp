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

// The value of POCORE_BACKEND, empty if unset, at any length (the
// deterministic backend's options make long names). The first call gives
// the size with its NUL; the second fills the buffer and returns the
// length without it. A value that grew in between is asked for again; the
// loop is bounded, and one still changing after that is reported as an
// unknown backend (never half-read, never a silent fallback).
std::string backend_from_environment() {
  std::string value;
  DWORD size = GetEnvironmentVariableA("POCORE_BACKEND", nullptr, 0);
  for (int attempt = 0; attempt < 4 && size > 1; ++attempt) {
    value.resize(size);
    const DWORD n = GetEnvironmentVariableA("POCORE_BACKEND", value.data(), size);
    if (n < size) {  // it fitted: n characters, NUL excluded
      value.resize(n);
      return value;
    }
    size = n;  // grew meanwhile: n is the size it needs now
  }
  return size > 1 ? std::string("?") : std::string{};
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
