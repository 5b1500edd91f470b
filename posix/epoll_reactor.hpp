// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The epoll backend: the shared proactor core driven by an epoll readiness
// source. Linux only.

#include <atomic>
#include <memory>
#include <string_view>
#include <system_error>

#include "posix/proactor.hpp"

namespace pocore::detail {

class epoll_port final : public proactor {
 public:
  /// Makes the epoll instance and its wake-up eventfd; null with `ec` set
  /// if either cannot be made.
  static std::unique_ptr<port_backend> create(std::error_code& ec) noexcept;
  ~epoll_port() override;

  std::string_view name() const noexcept override { return "epoll"; }

 protected:
  std::error_code source_add(proactor_socket& s) noexcept override;
  void source_remove(proactor_socket& s) noexcept override;
  bool source_wait(int timeout_ms) noexcept override;
  void source_signal() noexcept override;

 private:
  epoll_port(int epoll_fd, int event_fd) noexcept : epoll_fd_(epoll_fd), event_fd_(event_fd) {}
  void drain() noexcept;

  int epoll_fd_;
  int event_fd_;
  // Set by the signaller that wrote the eventfd, cleared by the thread
  // that read it: signals in between are folded into that one write.
  std::atomic<bool> signalled_{false};
};

static_assert(backend_impl<epoll_port>);

}  // namespace pocore::detail
