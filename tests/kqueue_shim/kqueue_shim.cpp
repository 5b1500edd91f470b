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
// READ and WRITE knotes live in two epoll instances: READ knotes in the
// main one (EPOLLIN | EPOLLRDHUP | EPOLLET), WRITE knotes in a second one
// (EPOLLOUT | EPOLLET) that is itself registered in the main one. Linux
// wakes an epoll entry only for the kinds of readiness it asked for (the
// wake-up's poll key), and reports only the events it asked for, so, as
// with kqueue's separate knotes, new data does not report the socket
// writable again and freed send space does not report it readable. One
// registration for both would report every ready direction on every edge:
// more events than kqueue gives, which could hide a backend that misses
// one. (An error or hang-up still wakes both, as it fires both knotes.)
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
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>

namespace {

// The epoll tokens of the user-event eventfd and of the WRITE instance in
// the main one; socket tokens have a generation below 2^32 - 2 in the upper
// half, so never take these values.
constexpr std::uint64_t user_token = ~std::uint64_t{0};
constexpr std::uint64_t write_token = ~std::uint64_t{0} - 1;

// Epoll events one wait takes.
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

struct queue {
  int epoll_fd = -1;  // READ knotes, the eventfd and write_fd
  int write_fd = -1;  // WRITE knotes
  int event_fd = -1;
  std::mutex mutex;
  std::unordered_map<int, fd_knotes> fds;
  std::map<std::uintptr_t, user_knote> users;
  bool armed = false;  // event_fd holds a count (some user knote is triggered)
  std::uint32_t next_generation = 1;
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

// What each kind of knote asks epoll for. The peer's FIN (EPOLLRDHUP) is
// EV_EOF on READ; EPOLLHUP and EPOLLERR come to both, asked or not.
constexpr std::uint32_t read_events = EPOLLIN | EPOLLRDHUP | EPOLLET;
constexpr std::uint32_t write_events = EPOLLOUT | EPOLLET;

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
  const int ep = is_read ? q.epoll_fd : q.write_fd;
  auto it = q.fds.find(fd);
  if ((c.flags & EV_DELETE) != 0) {
    if ((c.flags & EV_ADD) != 0) return EINVAL;
    if (it == q.fds.end() || !(is_read ? it->second.read : it->second.write)) return ENOENT;
    // Gone from the table even if epoll had already forgotten a closed
    // descriptor; the error is still reported, as the kernel would.
    const int r = ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr) == 0 ? 0 : errno;
    (is_read ? it->second.read : it->second.write) = false;
    if (!it->second.read && !it->second.write) q.fds.erase(it);
    return r;
  }
  // Only edge-triggered knotes; EV_ENABLE/EV_DISABLE and level sockets are
  // not needed.
  if ((c.flags & EV_ADD) == 0 || (c.flags & EV_CLEAR) == 0) return EINVAL;
  if (it == q.fds.end()) {
    it = q.fds.emplace(fd, fd_knotes{}).first;
    it->second.generation = q.next_generation++;
  }
  fd_knotes& k = it->second;
  epoll_event e{};
  e.events = is_read ? read_events : write_events;
  e.data.u64 = epoll_token(fd, k.generation);
  const bool known = is_read ? k.read : k.write;
  // Modifying a knote evaluates its filter again, as EV_ADD on an existing
  // knote does in the kernel.
  int r = ::epoll_ctl(ep, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e);
  if (r != 0 && known && errno == ENOENT) {
    // The entry belongs to a descriptor closed without EV_DELETE, whose
    // number was reused: a new registration under a new generation.
    if (k.read) ::epoll_ctl(q.epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    if (k.write) ::epoll_ctl(q.write_fd, EPOLL_CTL_DEL, fd, nullptr);
    k = fd_knotes{};
    k.generation = q.next_generation++;
    e.data.u64 = epoll_token(fd, k.generation);
    r = ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }
  if (r != 0) {
    const int err = errno;
    if (!k.read && !k.write) q.fds.erase(it);
    return err;
  }
  (is_read ? k.read : k.write) = true;
  (is_read ? k.read_udata : k.write_udata) = c.udata;
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
  bool full() const { return count == capacity; }
  void put(const struct kevent& ev) { events[count++] = ev; }
};

// Every triggered user knote, each cleared as it is returned (EV_CLEAR).
// Those that do not fit stay triggered, and the eventfd stays readable.
void take_user_events(queue& q, sink& out) {
  for (auto& [ident, u] : q.users) {
    if (!u.triggered || out.full()) continue;
    struct kevent ev;
    EV_SET(&ev, ident, EVFILT_USER, EV_CLEAR, 0, 0, u.udata);
    out.put(ev);
    u.triggered = false;
  }
  disarm_if_idle(q);
}

// The kernel's socket filters: READ fires on data, on the read side shut
// (EV_EOF: the peer's FIN, or EPOLLHUP, both sides shut) and on a pending
// error; WRITE on space, on the write side shut (EV_EOF, EPOLLHUP) and on a
// pending error.
void translate_socket(queue& q, const epoll_event& e, bool is_read, sink& out) {
  const int fd = static_cast<int>(static_cast<std::uint32_t>(e.data.u64));
  const auto generation = static_cast<std::uint32_t>(e.data.u64 >> 32);
  auto it = q.fds.find(fd);
  if (it == q.fds.end() || it->second.generation != generation) return;  // deleted meanwhile
  const fd_knotes& k = it->second;
  if (!(is_read ? k.read : k.write)) return;
  const bool eof = (e.events & (is_read ? (EPOLLRDHUP | EPOLLHUP) : EPOLLHUP)) != 0;
  struct kevent ev;
  EV_SET(&ev, static_cast<std::uintptr_t>(fd), is_read ? EVFILT_READ : EVFILT_WRITE,
         EV_CLEAR | (eof ? EV_EOF : 0), 0, 0, is_read ? k.read_udata : k.write_udata);
  out.put(ev);
}

// Turns one epoll_wait() on the main instance into kevents. READ events
// first: each is at most one kevent and the batch is no larger than the
// eventlist, so none is lost (epoll has already forgotten the edge). User
// and WRITE events only take the room left; what does not fit stays
// pending (a user knote stays triggered; the WRITE instance, registered
// level-triggered in the main one, stays readable with its edges queued).
void translate(queue& q, const epoll_event* events, int n, sink& out) {
  bool user = false;
  bool writes = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == user_token) {
      user = true;
    } else if (events[i].data.u64 == write_token) {
      writes = true;
    } else {
      translate_socket(q, events[i], true, out);
    }
  }
  if (user) take_user_events(q, out);
  if (writes && !out.full()) {
    epoll_event buf[max_epoll_events];
    const int room = out.capacity - out.count;
    const int m =
        ::epoll_wait(q.write_fd, buf, room < max_epoll_events ? room : max_epoll_events, 0);
    for (int i = 0; i < m; ++i) translate_socket(q, buf[i], false, out);
  }
}

std::int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int fail(int err) {
  errno = err;
  return -1;
}

int wait_events(queue& q, struct kevent* events, int nevents, const timespec* timeout) {
  std::int64_t deadline = 0;
  if (timeout != nullptr) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1'000'000'000)
      return fail(EINVAL);
    deadline = now_ns() + std::int64_t{timeout->tv_sec} * 1'000'000'000 + timeout->tv_nsec;
  }
  epoll_event buf[max_epoll_events];
  const int max = nevents < max_epoll_events ? nevents : max_epoll_events;
  for (;;) {
    int ms = -1;
    if (timeout != nullptr) {
      // Rounded up: kevent() must not return before its timeout.
      const std::int64_t left = (deadline - now_ns() + 999'999) / 1'000'000;
      ms = left <= 0 ? 0 : (left > INT_MAX ? INT_MAX : static_cast<int>(left));
    }
    int n = ::epoll_wait(q.epoll_fd, buf, max, ms);
    if (n < 0) return -1;  // EINTR included, as kevent() reports it
    if (n == 0) return 0;
    sink out{events, nevents};
    {
      std::lock_guard lock(q.mutex);
      translate(q, buf, n, out);
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
  int wr = ::epoll_create1(EPOLL_CLOEXEC);
  int ev = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int err = wr < 0 || ev < 0 ? errno : 0;
  if (err == 0) {
    epoll_event e{};
    e.events = EPOLLIN;  // level: every waiter sees a trigger until it is taken
    e.data.u64 = user_token;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) != 0) err = errno;
  }
  if (err == 0) {
    epoll_event e{};
    e.events = EPOLLIN;  // level: readable while it holds an undelivered edge
    e.data.u64 = write_token;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, wr, &e) != 0) err = errno;
  }
  if (err == 0) {
    try {
      auto q = std::make_shared<queue>();
      q->epoll_fd = ep;
      q->write_fd = wr;
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
  if (ev >= 0) ::close(ev);
  if (wr >= 0) ::close(wr);
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
  ::close(q->write_fd);
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
  }
  return wait_events(*q, eventlist, nevents, timeout);
}
