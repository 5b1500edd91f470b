// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The kqueue readiness source (macOS, FreeBSD). A socket is registered once,
// on its first operation that would block, with two knotes: EVFILT_READ and
// EVFILT_WRITE, both EV_CLEAR, which is kqueue's edge trigger: a knote is
// reported when the socket's state changes and then stays quiet until the
// next change, like epoll's EPOLLET. Both carry the socket's token in udata.
// EV_ADD evaluates the filter at once, so readiness that arrived between
// the attempt that met EAGAIN and the registration is not lost.
//
// Mapping to proactor::on_ready():
//   EVFILT_READ            -> readable; EV_EOF (the peer's FIN, a reset,
//                             a socket error) also marks the socket sticky:
//                             end of stream stays readable with no further
//                             edge. macOS EV_OOBAND (urgent data) likewise,
//                             as EPOLLPRI does for epoll.
//   EVFILT_WRITE           -> writable; with EV_EOF (the write side is shut:
//                             reset, refused connect) also readable and
//                             sticky, as epoll's EPOLLHUP/EPOLLERR are.
//
// Wake-ups use one EVFILT_USER knote registered with EV_CLEAR and fired with
// NOTE_TRIGGER. A trigger stays pending until a kevent() call returns it,
// whether a thread is waiting at that moment or comes later, and the call
// that returns it resets it: one trigger wakes exactly one waiter, which is
// what source_signal() promises (proactor.hpp). The core passes the wake-up
// on (a thread that consumed a signal signals again when it leaves run()),
// so a stop or "no more work" reaches every waiting thread, as with the
// epoll backend's eventfd. A level user event (no EV_CLEAR) would instead
// wake every waiter until reset, and its reset differs between FreeBSD
// (EV_CLEAR in a later change) and macOS; EV_CLEAR behaves the same on both.
//
// SIGPIPE: macOS has no MSG_NOSIGNAL; posix_socket.cpp sets SO_NOSIGPIPE on
// every socket it makes or accepts.

#include "posix/kqueue_reactor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <new>

#if defined(POCORE_KQUEUE_SHIM)
#include "kqueue_shim.h"  // tests/kqueue_shim: the test-only stand-in on epoll
#else
#include <sys/types.h>
// <sys/types.h> first: FreeBSD's <sys/event.h> needs its types.
#include <sys/event.h>
#include <sys/time.h>
#endif

#include "posix/posix_errors.hpp"

namespace pocore::detail {
namespace {

// A token is (generation << 32 | index); it travels in udata, a pointer.
static_assert(sizeof(void*) >= sizeof(std::uint64_t),
              "the kqueue backend needs 64-bit pointers to carry socket tokens in udata");

// The ident of the wake-up user event. User events have their own ident
// space, so it cannot meet a descriptor.
constexpr std::uintptr_t wake_ident = 1;

// Events one kevent() takes. More than this are left for the next call or
// another thread.
constexpr int max_events = 128;

void* to_udata(std::uint64_t token) noexcept {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(token));
}

std::uint64_t from_udata(void* udata) noexcept {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(udata));
}

// A change record. Not EV_SET: FreeBSD's expands to a C99 compound
// literal, which -Wpedantic may flag in C++; value-initialising also zeroes
// FreeBSD's ext[] and anything else a platform adds.
struct kevent change(std::uintptr_t ident, short filter, unsigned flags, unsigned fflags,
                     void* udata) noexcept {
  struct kevent ch {};
  ch.ident = ident;
  ch.filter = filter;
  ch.flags = static_cast<decltype(ch.flags)>(flags);
  ch.fflags = static_cast<decltype(ch.fflags)>(fflags);
  ch.udata = udata;
  return ch;
}

// Applies changes only (no event list, so kevent() does not wait).
int apply(int kq, struct kevent* changes, int n) noexcept {
  return ::kevent(kq, changes, n, nullptr, 0, nullptr);
}

void delete_filter(int kq, int fd, short filter) noexcept {
  struct kevent ch = change(static_cast<std::uintptr_t>(fd), filter, EV_DELETE, 0, nullptr);
  apply(kq, &ch, 1);
}

int close_kqueue(int kq) noexcept {
#if defined(POCORE_KQUEUE_SHIM)
  // The shim cannot see close() (kqueue_shim.h): it frees its epoll
  // instance, eventfd and table here.
  return ::kqueue_shim_close(kq);
#else
  return ::close(kq);
#endif
}

}  // namespace

std::unique_ptr<port_backend> kqueue_port::create(std::error_code& ec) noexcept {
  int kq = ::kqueue();
  if (kq < 0) {
    ec = posix_error(errno);
    return nullptr;
  }
  // A kqueue is not inherited by fork() but its descriptor is by exec();
  // FreeBSD's kqueuex(KQUEUE_CLOEXEC) is too new to rely on.
  ::fcntl(kq, F_SETFD, FD_CLOEXEC);
  struct kevent ch = change(wake_ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, nullptr);
  if (apply(kq, &ch, 1) != 0) {
    ec = posix_error(errno);
    close_kqueue(kq);
    return nullptr;
  }
  std::unique_ptr<port_backend> port(new (std::nothrow) kqueue_port(kq));
  if (!port) {
    close_kqueue(kq);
    ec = make_error_code(errc::not_enough_memory);
    return nullptr;
  }
  ec.clear();
  return port;
}

kqueue_port::~kqueue_port() {
  shutdown_files();  // joins the file pool while enqueue() still works
  close_kqueue(kq_);
}

std::error_code kqueue_port::source_add(proactor_socket& s) noexcept {
  const auto fd = static_cast<std::uintptr_t>(s.handle);
  struct kevent ch[2] = {change(fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, to_udata(s.token())),
                         change(fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, to_udata(s.token()))};
  if (apply(kq_, ch, 2) == 0) return {};
  // With no event list a failed change fails the call, and the changes
  // before it may have been applied: undo them so a later attempt starts
  // clean. One call each, so neither stops the other.
  const int err = errno;
  delete_filter(kq_, s.handle, EVFILT_READ);
  delete_filter(kq_, s.handle, EVFILT_WRITE);
  return posix_error(err);
}

void kqueue_port::source_remove(proactor_socket& s) noexcept {
  // close() would drop the knotes too, but only on the last close of the
  // file: a dup() or fork() could keep them alive with a stale token.
  const auto fd = static_cast<std::uintptr_t>(s.handle);
  struct kevent ch[2] = {change(fd, EVFILT_READ, EV_DELETE, 0, nullptr),
                         change(fd, EVFILT_WRITE, EV_DELETE, 0, nullptr)};
  apply(kq_, ch, 2);
}

bool kqueue_port::source_wait(int timeout_ms) noexcept {
  struct kevent events[max_events];
  timespec ts{};
  const timespec* bound = nullptr;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1'000'000;
    bound = &ts;
  }
  int n = ::kevent(kq_, nullptr, 0, events, max_events, bound);
  // n < 0 is EINTR (a signal handler ran): the caller re-checks and waits
  // again, like after a timeout.
  bool woken = false;
  for (int i = 0; i < n; ++i) {
    const struct kevent& e = events[i];
    if ((e.flags & EV_ERROR) != 0) continue;  // only failed changes; none passed here
    if (e.filter == EVFILT_USER) {
      // Taking the event reset it (EV_CLEAR); now let the next signal
      // through. Cleared after the take, so a signal folded in meanwhile
      // is seen by this thread's re-check (acq_rel pairs with the
      // signaller's exchange).
      signalled_.exchange(false, std::memory_order_acq_rel);
      woken = true;
      continue;
    }
    bool sticky = (e.flags & EV_EOF) != 0;
    if (e.filter == EVFILT_READ) {
#if defined(EV_OOBAND)
      sticky = sticky || (e.flags & EV_OOBAND) != 0;
#endif
      on_ready(from_udata(e.udata), true, false, sticky);
    } else if (e.filter == EVFILT_WRITE) {
      on_ready(from_udata(e.udata), sticky, true, sticky);
    }
  }
  return woken;
}

void kqueue_port::source_signal() noexcept {
  if (signalled_.exchange(true, std::memory_order_acq_rel)) return;
  struct kevent ch = change(wake_ident, EVFILT_USER, 0, NOTE_TRIGGER, nullptr);
  apply(kq_, &ch, 1);
}

}  // namespace pocore::detail
