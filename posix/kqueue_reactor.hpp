// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The kqueue backend: the shared proactor core driven by a kqueue readiness
// source. macOS and FreeBSD; on Linux only in test builds, on the epoll
// stand-in in tests/kqueue_shim (CMake option POCORE_KQUEUE_SHIM).

#include <atomic>
#include <memory>
#include <string_view>
#include <system_error>

#include "posix/proactor.hpp"

namespace pocore::detail {

class kqueue_port final : public proactor {
 public:
  /// Makes the kqueue and registers its wake-up user event; null with `ec`
  /// set if either fails.
  static std::unique_ptr<port_backend> create(std::error_code& ec) noexcept;
  ~kqueue_port() override;

  std::string_view name() const noexcept override { return "kqueue"; }

 protected:
  std::error_code source_add(proactor_socket& s) noexcept override;
  void source_remove(proactor_socket& s) noexcept override;
  bool source_wait(int timeout_ms) noexcept override;
  void source_signal() noexcept override;

 private:
  explicit kqueue_port(int kq) noexcept : kq_(kq) {}

  int kq_;
  // Set by the signaller that triggered the user event, cleared by the
  // thread that took it: signals in between are folded into that trigger.
  std::atomic<bool> signalled_{false};
};

static_assert(backend_impl<kqueue_port>);

}  // namespace pocore::detail
