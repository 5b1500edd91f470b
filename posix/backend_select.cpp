// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The whole run-time choice of backend on POSIX systems, in one place.
//
// An explicit name (port_options::backend), else the POCORE_BACKEND
// environment variable, else the default: on Linux io_uring when a trial
// ring can be set up (some kernels, containers and seccomp profiles refuse
// io_uring, or lack an opcode pocore needs), else epoll; on macOS and FreeBSD
// kqueue (on Linux a test build may also have kqueue, on the test shim, but
// never as the default). A backend asked for by name that cannot run here
// is errc::backend_unavailable, never a silent fallback; only the default
// falls back.

#include <array>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>

#include "common/backend.hpp"
#include "common/deterministic_port.hpp"
#if defined(POCORE_HAVE_EPOLL)
#include "posix/epoll_reactor.hpp"
#endif
#if defined(POCORE_HAVE_IO_URING)
#include "posix/uring_port.hpp"
#endif
#if defined(POCORE_HAVE_KQUEUE)
// macOS and FreeBSD; on Linux only in test builds, on tests/kqueue_shim.
#include "posix/kqueue_reactor.hpp"
#endif

namespace pocore::detail {
namespace {

// The backends this build contains, in order of preference.
constexpr std::string_view compiled[] = {
#if defined(POCORE_HAVE_IO_URING)
    "io_uring",
#endif
#if defined(POCORE_HAVE_EPOLL)
    "epoll",
#endif
#if defined(POCORE_HAVE_KQUEUE)
    "kqueue",  // the default on macOS and FreeBSD; last, so never on Linux
#endif
    "",  // keeps the array non-empty; not part of the list
};
constexpr std::size_t compiled_count = std::size(compiled) - 1;

// Names pocore knows on some platform; those not built here are
// backend_unavailable rather than unknown_backend.
constexpr std::array<std::string_view, 4> known = {"epoll", "io_uring", "kqueue", "iocp"};

// The real backend the test backend "deterministic" wraps by default.
#if defined(POCORE_HAVE_EPOLL)
constexpr std::string_view deterministic_inner = "epoll";
#else
constexpr std::string_view deterministic_inner = "kqueue";
#endif

std::unique_ptr<port_backend> make_named(std::string_view name, std::error_code& ec) {
  if (is_deterministic_name(name))
    return make_deterministic(name, deterministic_inner, &make_named, ec);
#if defined(POCORE_HAVE_IO_URING)
  if (name == "io_uring") return uring_port::create(ec);
#endif
#if defined(POCORE_HAVE_EPOLL)
  if (name == "epoll") return epoll_port::create(ec);
#endif
#if defined(POCORE_HAVE_KQUEUE)
  if (name == "kqueue") return kqueue_port::create(ec);
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

}  // namespace

std::unique_ptr<port_backend> make_backend(std::string_view name, std::error_code& ec) {
  if (name.empty()) {
    const char* env = std::getenv("POCORE_BACKEND");
    if (env != nullptr && *env != '\0') name = env;
  }
  if (!name.empty()) return make_named(name, ec);
  // The default: the first compiled backend that works here. The ring set-up
  // in uring_port::create is the trial; a refusal falls through to epoll.
  ec = make_ec(errc::backend_unavailable);
  for (std::size_t i = 0; i < compiled_count; ++i) {
    if (auto b = make_named(compiled[i], ec)) return b;
  }
  return nullptr;
}

std::span<const std::string_view> backend_names() noexcept { return {compiled, compiled_count}; }

}  // namespace pocore::detail
