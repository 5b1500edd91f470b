// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// kqueue()/kevent() on epoll, for testing the kqueue backend on Linux. What
// it implements and what it does not is in kqueue_shim.h; this file says
// how.
//
// One `queue` per kqueue descriptor, found through a process-wide registry
// keyed by the epoll descriptor (which is what kqueue() returns). Its table
// of knotes is guarded by one mutex; epoll_wait() runs outside it, so any
// number of threads can wait while others change registrations, as with
// the kernel's kqueue.
//
// Stale events: an epoll event carries (generation << 32 | fd), and every
// new registration of a descriptor gets a new generation. An event that
// epoll_wait() returned just before another thread's EV_DELETE (or a
// delete and a re-add of a reused number) finds a different generation, or
// no entry, and is dropped: as in the kernel, no event is returned for a
// knote once its EV_DELETE has returned.

#include "kqueue_shim.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>

namespace {

// The epoll token of the user-event eventfd; socket tokens have a
// generation below 2^32 - 1 in the upper half, so never take this value.
constexpr std::uint64_t user_token = ~std::uint64_t{0};

// Epoll events one wait takes (each may become two kevents).
constexpr int max_epoll_events = 64;

struct fd_knotes {
  std::uint32_t generation = 0;
  bool read = false;
  bool write = false;
  void* read_udata = nullptr;
  void* write_udata = nullptr;
};

struct user_knote {
  void* udata = nullptr;
  bool triggered = false;
};

// A kevent that did not fit the caller's eventlist. The kernel keeps an
// undelivered event queued; so does the shim, until the next call, which
// checks that its knote still exists.
struct overflow_event {
  int fd;
  std::uint32_t generation;
  struct kevent ev;
};

struct queue {
  int epoll_fd = -1;
  int event_fd = -1;
  std::mutex mutex;
  std::unordered_map<int, fd_knotes> fds;
  std::map<std::uintptr_t, user_knote> users;
  bool armed = false;  // event_fd holds a count (some user knote is triggered)
  std::uint32_t next_generation = 1;
  std::deque<overflow_event> overflow;
};

struct registry {
  std::mutex mutex;
  std::unordered_map<int, std::shared_ptr<queue>> queues;
};

// Never destroyed: a thread still inside kevent() at exit must not meet a
// destroyed map.
registry& the_registry() {
  static registry* r = new registry;
  return *r;
}

std::shared_ptr<queue> find_queue(int kq) {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto it = r.queues.find(kq);
  return it == r.queues.end() ? nullptr : it->second;
}

std::uint32_t epoll_events_of(const fd_knotes& k) {
  // EPOLLRDHUP only with a READ knote: the peer's FIN is EV_EOF on READ.
  // EPOLLHUP and EPOLLERR come whatever is asked.
  std::uint32_t e = EPOLLET;
  if (k.read) e |= EPOLLIN | EPOLLRDHUP;
  if (k.write) e |= EPOLLOUT;
  return e;
}

std::uint64_t epoll_token(int fd, std::uint32_t generation) {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
}

// ---- user events ----

void arm(queue& q) {
  if (q.armed) return;
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(q.event_fd, &one, sizeof(one));
  q.armed = true;
}

void disarm_if_idle(queue& q) {
  if (!q.armed) return;
  for (const auto& [ident, u] : q.users) {
    if (u.triggered) return;
  }
  std::uint64_t count;
  [[maybe_unused]] ssize_t r = ::read(q.event_fd, &count, sizeof(count));
  q.armed = false;
}

int change_user(queue& q, const struct kevent& c) {
  auto it = q.users.find(c.ident);
  if ((c.flags & EV_DELETE) != 0) {
    if ((c.flags & EV_ADD) != 0) return EINVAL;
    if (it == q.users.end()) return ENOENT;
    q.users.erase(it);
    disarm_if_idle(q);
    return 0;
  }
  if ((c.fflags & ~std::uint32_t{NOTE_TRIGGER}) != 0) return EINVAL;  // no NOTE_FF*
  if ((c.flags & EV_ADD) != 0) {
    // Level user events (no EV_CLEAR) would need the reset-by-EV_CLEAR
    // dance, which the backend does not use.
    if ((c.flags & EV_CLEAR) == 0) return EINVAL;
    if (it == q.users.end()) it = q.users.emplace(c.ident, user_knote{}).first;
  } else {
    if ((c.flags & EV_CLEAR) != 0) return EINVAL;  // FreeBSD's reset: not needed
    if (it == q.users.end()) return ENOENT;
  }
  it->second.udata = c.udata;  // a modification replaces udata, as in the kernel
  if ((c.fflags & NOTE_TRIGGER) != 0) {
    it->second.triggered = true;
    arm(q);
  }
  return 0;
}

// ---- descriptor events ----

int change_fd(queue& q, const struct kevent& c) {
  if (c.ident > static_cast<std::uintptr_t>(INT_MAX)) return EBADF;
  if (c.fflags != 0 || c.data != 0) return EINVAL;  // no low-water marks
  const int fd = static_cast<int>(c.ident);
  const bool is_read = c.filter == EVFILT_READ;
  auto it = q.fds.find(fd);
  if ((c.flags & EV_DELETE) != 0) {
    if ((c.flags & EV_ADD) != 0) return EINVAL;
    if (it == q.fds.end() || !(is_read ? it->second.read : it->second.write)) return ENOENT;
    fd_knotes next = it->second;
    (is_read ? next.read : next.write) = false;
    int r;
    if (next.read || next.write) {
      epoll_event e{};
      e.events = epoll_events_of(next);
      e.data.u64 = epoll_token(fd, next.generation);
      r = ::epoll_ctl(q.epoll_fd, EPOLL_CTL_MOD, fd, &e);
      if (r == 0) it->second = next;
    } else {
      r = ::epoll_ctl(q.epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
      // Gone from the table even if epoll had already forgotten a closed
      // descriptor; the error is still reported, as the kernel would.
      q.fds.erase(it);
    }
    return r == 0 ? 0 : errno;
  }
  // Only edge-triggered knotes; EV_ENABLE/EV_DISABLE and level sockets are
  // not needed (one epoll registration cannot mix edge and level anyway).
  if ((c.flags & EV_ADD) == 0 || (c.flags & EV_CLEAR) == 0) return EINVAL;
  const bool fresh = it == q.fds.end();
  fd_knotes next = fresh ? fd_knotes{} : it->second;
  if (fresh) next.generation = q.next_generation++;
  (is_read ? next.read : next.write) = true;
  (is_read ? next.read_udata : next.write_udata) = c.udata;
  epoll_event e{};
  e.events = epoll_events_of(next);
  e.data.u64 = epoll_token(fd, next.generation);
  int r = ::epoll_ctl(q.epoll_fd, fresh ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &e);
  if (r != 0 && !fresh && errno == ENOENT) {
    // The entry belongs to a descriptor closed without EV_DELETE, whose
    // number was reused: the new registration replaces it.
    next = fd_knotes{};
    next.generation = q.next_generation++;
    (is_read ? next.read : next.write) = true;
    (is_read ? next.read_udata : next.write_udata) = c.udata;
    e.events = epoll_events_of(next);
    e.data.u64 = epoll_token(fd, next.generation);
    r = ::epoll_ctl(q.epoll_fd, EPOLL_CTL_ADD, fd, &e);
  }
  if (r != 0) return errno;
  q.fds[fd] = next;
  return 0;
}

int apply_change(queue& q, const struct kevent& c) {
  constexpr std::uint16_t known = EV_ADD | EV_DELETE | EV_CLEAR;
  if ((c.flags & ~known) != 0) return EINVAL;
  switch (c.filter) {
    case EVFILT_READ:
    case EVFILT_WRITE:
      return change_fd(q, c);
    case EVFILT_USER:
      return change_user(q, c);
    default:
      return EINVAL;
  }
}

// ---- delivery ----

struct sink {
  struct kevent* events;
  int capacity;
  int count = 0;
};

void emit(queue& q, sink& out, int fd, std::uint32_t generation, const struct kevent& ev) {
  if (out.count < out.capacity) {
    out.events[out.count++] = ev;
  } else {
    q.overflow.push_back({fd, generation, ev});
  }
}

void take_overflow(queue& q, sink& out) {
  while (out.count < out.capacity && !q.overflow.empty()) {
    overflow_event o = q.overflow.front();
    q.overflow.pop_front();
    auto it = q.fds.find(o.fd);
    if (it == q.fds.end() || it->second.generation != o.generation) continue;
    if (!(o.ev.filter == EVFILT_READ ? it->second.read : it->second.write)) continue;
    out.events[out.count++] = o.ev;
  }
}

void translate(queue& q, const epoll_event& e, sink& out) {
  if (e.data.u64 == user_token) {
    // Every triggered user knote, each cleared as it is returned (EV_CLEAR).
    // Those that do not fit stay triggered, and the eventfd stays readable.
    for (auto& [ident, u] : q.users) {
      if (!u.triggered || out.count == out.capacity) continue;
      struct kevent ev;
      EV_SET(&ev, ident, EVFILT_USER, EV_CLEAR, 0, 0, u.udata);
      out.events[out.count++] = ev;
      u.triggered = false;
    }
    disarm_if_idle(q);
    return;
  }
  const int fd = static_cast<int>(static_cast<std::uint32_t>(e.data.u64));
  const auto generation = static_cast<std::uint32_t>(e.data.u64 >> 32);
  auto it = q.fds.find(fd);
  if (it == q.fds.end() || it->second.generation != generation) return;  // deleted meanwhile
  const fd_knotes& k = it->second;
  const std::uint32_t ev = e.events;
  // The kernel's socket filters: READ fires on data, on the read side shut
  // (EV_EOF) and on a pending error; WRITE on space, on the write side shut
  // (EV_EOF) and on a pending error. EPOLLHUP means both sides are shut.
  if (k.read && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    const bool eof = (ev & (EPOLLRDHUP | EPOLLHUP)) != 0;
    struct kevent r;
    EV_SET(&r, static_cast<std::uintptr_t>(fd), EVFILT_READ, EV_CLEAR | (eof ? EV_EOF : 0), 0, 0,
           k.read_udata);
    emit(q, out, fd, generation, r);
  }
  if (k.write && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
    const bool eof = (ev & EPOLLHUP) != 0;
    struct kevent w;
    EV_SET(&w, static_cast<std::uintptr_t>(fd), EVFILT_WRITE, EV_CLEAR | (eof ? EV_EOF : 0), 0, 0,
           k.write_udata);
    emit(q, out, fd, generation, w);
  }
}

std::int64_t now_ms() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

int fail(int err) {
  errno = err;
  return -1;
}

int wait_events(queue& q, struct kevent* events, int nevents, const timespec* timeout) {
  // Rounded up: kevent() must not return before its timeout.
  std::int64_t deadline = 0;
  if (timeout != nullptr) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1'000'000'000)
      return fail(EINVAL);
    deadline =
        now_ms() + std::int64_t{timeout->tv_sec} * 1000 + (timeout->tv_nsec + 999'999) / 1'000'000;
  }
  epoll_event buf[max_epoll_events];
  const int max = nevents < max_epoll_events ? nevents : max_epoll_events;
  for (;;) {
    int ms = -1;
    if (timeout != nullptr) {
      std::int64_t left = deadline - now_ms();
      ms = left <= 0 ? 0 : (left > INT_MAX ? INT_MAX : static_cast<int>(left));
    }
    int n = ::epoll_wait(q.epoll_fd, buf, max, ms);
    if (n < 0) return -1;  // EINTR included, as kevent() reports it
    if (n == 0) return 0;
    sink out{events, nevents};
    {
      std::lock_guard lock(q.mutex);
      for (int i = 0; i < n; ++i) translate(q, buf[i], out);
    }
    if (out.count > 0) return out.count;
    // Everything was stale, or another waiter took the user events: the
    // kernel would not have returned yet, so wait out the rest.
    if (ms == 0) return 0;
  }
}

}  // namespace

extern "C" int kqueue(void) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return -1;
  int ev = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ev < 0) {
    int err = errno;
    ::close(ep);
    return fail(err);
  }
  epoll_event e{};
  e.events = EPOLLIN;  // level: every waiter sees a trigger until it is taken
  e.data.u64 = user_token;
  int err = ::epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) == 0 ? 0 : errno;
  if (err == 0) {
    try {
      auto q = std::make_shared<queue>();
      q->epoll_fd = ep;
      q->event_fd = ev;
      registry& r = the_registry();
      std::lock_guard lock(r.mutex);
      // An entry left under this number was closed with plain close().
      r.queues[ep] = std::move(q);
      return ep;
    } catch (const std::bad_alloc&) {
      err = ENOMEM;
    }
  }
  ::close(ev);
  ::close(ep);
  return fail(err);
}

extern "C" int kqueue_shim_close(int kq) {
  std::shared_ptr<queue> q;
  {
    registry& r = the_registry();
    std::lock_guard lock(r.mutex);
    auto it = r.queues.find(kq);
    if (it == r.queues.end()) return fail(EBADF);
    q = std::move(it->second);
    r.queues.erase(it);
  }
  ::close(q->event_fd);
  return ::close(q->epoll_fd);
}

extern "C" int kevent(int kq, const struct kevent* changelist, int nchanges,
                      struct kevent* eventlist, int nevents, const timespec* timeout) {
  if (nchanges < 0 || nevents < 0) return fail(EINVAL);
  std::shared_ptr<queue> q;
  try {
    q = find_queue(kq);
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM);
  }
  if (!q) return fail(EBADF);
  {
    std::lock_guard lock(q->mutex);
    int errors = 0;
    for (int i = 0; i < nchanges; ++i) {
      const struct kevent c = changelist[i];  // the lists may alias
      int err;
      try {
        err = apply_change(*q, c);
      } catch (const std::bad_alloc&) {
        err = ENOMEM;
      }
      if (err == 0) continue;
      // FreeBSD: a failed change is an EV_ERROR entry if there is room,
      // else the call fails with it and later changes are not applied.
      if (errors == nevents) return fail(err);
      eventlist[errors] = c;
      eventlist[errors].flags = EV_ERROR;
      eventlist[errors].data = err;
      ++errors;
    }
    // With errors to report the kernel returns them without waiting.
    if (errors > 0 || nevents == 0) return errors;
    sink out{eventlist, nevents};
    take_overflow(*q, out);
    if (out.count > 0) return out.count;
  }
  return wait_events(*q, eventlist, nevents, timeout);
}
