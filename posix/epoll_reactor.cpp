// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The epoll readiness source. Sockets are registered once, edge-triggered
// for both directions (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET), so an
// idle socket costs nothing and a busy one is reported once per change of
// state rather than on every wait. Any number of run() threads may sit in
// epoll_wait() at once; each edge goes to one of them.
//
// Wake-ups use one eventfd registered level-triggered: while it holds a
// count, every epoll_wait() on the instance returns it, so one write
// reaches all sleepers until a thread reads it. The thread that reads it
// re-checks the stop flag, the work count, the completion queue and the
// timers, and proactor::run() passes the signal on when it leaves.

#include "posix/epoll_reactor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>

#include "posix/posix_errors.hpp"

namespace pocore::detail {
namespace {

// The token of the eventfd; socket tokens are (generation << 32 | index)
// with index below 2^21, so they never take this value.
constexpr std::uint64_t wake_token = ~std::uint64_t{0};

// Events one epoll_wait() takes. More than this are left for the next
// call or another thread.
constexpr int max_events = 128;

}  // namespace

std::unique_ptr<port_backend> epoll_port::create(std::error_code& ec) noexcept {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    ec = posix_error(errno);
    return nullptr;
  }
  int ev = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ev < 0) {
    ec = posix_error(errno);
    ::close(ep);
    return nullptr;
  }
  epoll_event e{};
  e.events = EPOLLIN;  // level-triggered, see the file comment
  e.data.u64 = wake_token;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) != 0) {
    ec = posix_error(errno);
    ::close(ev);
    ::close(ep);
    return nullptr;
  }
  std::unique_ptr<port_backend> port(new (std::nothrow) epoll_port(ep, ev));
  if (!port) {
    ::close(ev);
    ::close(ep);
    ec = make_error_code(errc::not_enough_memory);
    return nullptr;
  }
  ec.clear();
  return port;
}

epoll_port::~epoll_port() {
  shutdown_files();  // joins the file pool while enqueue() still works
  ::close(event_fd_);
  ::close(epoll_fd_);
}

std::error_code epoll_port::source_add(proactor_socket& s) noexcept {
  epoll_event e{};
  // EPOLLPRI only to learn of TCP urgent data, see proactor_socket.
  e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  e.data.u64 = s.token();
  // Adding checks the current state at once, so readiness that arrived
  // between the attempt that met EAGAIN and this call is not lost.
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.handle, &e) != 0) return posix_error(errno);
  return {};
}

void epoll_port::source_remove(proactor_socket& s) noexcept {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.handle, nullptr);
}

void epoll_port::drain() noexcept {
  std::uint64_t count;
  // EAGAIN: another waiter read it first. Either way this thread is awake
  // and re-checks everything.
  [[maybe_unused]] ssize_t r = ::read(event_fd_, &count, sizeof(count));
  // Read, then clear: a signal folded in while the flag was still set is
  // seen by this thread's re-check (acq_rel pairs with the signaller's).
  signalled_.exchange(false, std::memory_order_acq_rel);
}

bool epoll_port::source_wait(int timeout_ms) noexcept {
  epoll_event events[max_events];
  int n = ::epoll_wait(epoll_fd_, events, max_events, timeout_ms);
  // n < 0 is EINTR (a signal handler ran): the caller re-checks and waits
  // again, like after a timeout.
  bool woken = false;
  for (int i = 0; i < n; ++i) {
    const epoll_event& e = events[i];
    if (e.data.u64 == wake_token) {
      drain();
      woken = true;
      continue;
    }
    const std::uint32_t sticky = e.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI);
    on_ready(e.data.u64, (e.events & EPOLLIN) != 0 || sticky != 0,
             (e.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0, sticky != 0);
  }
  return woken;
}

void epoll_port::source_signal() noexcept {
  if (signalled_.exchange(true, std::memory_order_acq_rel)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(event_fd_, &one, sizeof(one));
}

}  // namespace pocore::detail
