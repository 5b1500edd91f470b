// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The link-time fault seam (fault_inject.hpp): `__wrap_X` for each
// interposed call X. The fault test executable is linked with
// `-Wl,--wrap=X`, so pocore's calls to X arrive here and `__real_X` is the
// system's X. Nothing here is compiled into the library itself.

#include "posix/fault_inject.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <mutex>

// The rule engine is portable; the wrappers below it are for Linux. The
// Windows wrappers (Winsock) are in tests/fault/win_seam.cpp.
#if !defined(_WIN32)
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(POCORE_HAVE_IO_URING)
#include <liburing.h>
#endif
#endif  // !_WIN32

#if !defined(_WIN32)
extern "C" {
ssize_t __real_recv(int fd, void* buf, size_t len, int flags);
ssize_t __real_send(int fd, const void* buf, size_t len, int flags);
ssize_t __real_recvmsg(int fd, msghdr* msg, int flags);
ssize_t __real_sendmsg(int fd, const msghdr* msg, int flags);
ssize_t __real_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to,
                      socklen_t tolen);
ssize_t __real_readv(int fd, const iovec* iov, int iovcnt);
int __real_accept4(int fd, sockaddr* addr, socklen_t* len, int flags);
int __real_connect(int fd, const sockaddr* addr, socklen_t len);
int __real_socket(int domain, int type, int protocol);
int __real_epoll_ctl(int epfd, int op, int fd, epoll_event* event);
int __real_epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout);
int __real_close(int fd);
#if defined(POCORE_HAVE_IO_URING)
int __real_io_uring_submit(struct io_uring* ring);
#endif
}
#endif  // !_WIN32

namespace pocore::fault {
namespace {

constexpr unsigned ncalls = static_cast<unsigned>(call::count_);
constexpr std::size_t max_rules = 4;
// Per-descriptor counts are kept for descriptor numbers below this.
constexpr int max_counted_fd = 8192;

struct armed_rule {
  rule r;
  std::uint64_t seen = 0;
};

struct call_plan {
  std::array<armed_rule, max_rules> rules{};
  std::size_t nrules = 0;
};

struct state {
  std::mutex mutex;
  std::array<call_plan, ncalls> plans{};
  // Read without the lock on every call: false means "no rule, pass".
  std::array<std::atomic<bool>, ncalls> armed{};
  std::array<std::atomic<std::uint64_t>, ncalls> calls{};
  std::array<std::atomic<std::uint64_t>, ncalls> injected{};
  std::array<std::array<std::atomic<std::uint32_t>, max_counted_fd>, ncalls> per_fd{};
  std::atomic<std::uint64_t> injected_total{0};
  std::atomic<std::uint64_t> shortened_sqes{0};
};

state& st() noexcept {
  // Never destroyed, so calls made while the process exits (after static
  // destructors ran) still find it.
  static state* s = new state;
  return *s;
}

}  // namespace

decision decide(call c, std::intptr_t fd, bool fd_filters) noexcept {
  state& s = st();
  const auto i = static_cast<unsigned>(c);
  s.calls[i].fetch_add(1, std::memory_order_relaxed);
  if (fd >= 0 && fd < max_counted_fd) s.per_fd[i][fd].fetch_add(1, std::memory_order_relaxed);
  decision d;
  if (!s.armed[i].load(std::memory_order_acquire)) return d;
  std::lock_guard lock(s.mutex);
  call_plan& p = s.plans[i];
  // Every rule counts every call it matches, so `nth` is the index of the
  // call since the rule was armed whatever the other rules did; the first
  // rule that fires decides.
  for (std::size_t k = 0; k < p.nrules; ++k) {
    armed_rule& a = p.rules[k];
    if (fd_filters && a.r.fd != -1 && a.r.fd != fd) continue;
    const std::uint64_t n = ++a.seen;
    if (d.fault || n < a.r.nth || (a.r.times != 0 && n >= a.r.nth + a.r.times)) continue;
    d.fault = true;
    d.error = a.r.error;
    d.short_bytes = a.r.short_bytes;
    d.real_first = a.r.real_first;
    d.edge_after = a.r.edge_after;
    d.fd = a.r.fd;
    s.injected[i].fetch_add(1, std::memory_order_relaxed);
    s.injected_total.fetch_add(1, std::memory_order_relaxed);
  }
  return d;
}

namespace {

#if !defined(_WIN32)
// The kernel's promise behind EAGAIN and short writes on an edge-triggered
// source: when the state changes, a new edge comes. A faulted call changed
// nothing in the kernel, so the change it stands for is made visible here.
// Setting SO_SNDBUF runs the socket's write_space hook (a write edge where
// it is writable); setting SO_RCVLOWAT on TCP runs data_ready when data is
// queued (a read edge). Both are set to the value they had.
void raise_write_edge(int fd) noexcept {
  const int saved = errno;
  int v = 0;
  socklen_t len = sizeof(v);
  if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0) {
    v /= 2;  // Linux doubles what it is given and reports the doubled value
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
  }
  errno = saved;
}

void raise_read_edge(int fd) noexcept {
  const int saved = errno;
  int v = 1;
  socklen_t len = sizeof(v);
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len) == 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
  errno = saved;
}

template <class T>
T fail(int error) noexcept {
  errno = error;
  return static_cast<T>(-1);
}

// A copy of `iov` that holds at most `limit` bytes.
struct short_iov {
  std::array<iovec, 64> v{};
  int n = 0;
  short_iov(const iovec* iov, std::size_t count, std::size_t limit) noexcept {
    for (std::size_t i = 0; i < count && limit > 0 && n < static_cast<int>(v.size()); ++i) {
      if (iov[i].iov_len == 0) continue;
      v[static_cast<std::size_t>(n)] = iov[i];
      const std::size_t take = std::min(limit, iov[i].iov_len);
      v[static_cast<std::size_t>(n)].iov_len = take;
      limit -= take;
      ++n;
    }
  }
};
#endif  // !_WIN32

}  // namespace

const char* name(call c) noexcept {
  static constexpr const char* names[ncalls] = {
      "recv",    "send",       "recvmsg",    "sendmsg",    "sendto", "readv",           "accept4",
      "connect", "socket",     "epoll_ctl",  "epoll_wait", "close",  "io_uring_submit", "WSARecv",
      "WSASend", "WSASocketW", "closesocket"};
  const auto i = static_cast<unsigned>(c);
  return i < ncalls ? names[i] : "?";
}

bool arm(call c, const rule& r) noexcept {
  state& s = st();
  const auto i = static_cast<unsigned>(c);
  if (i >= ncalls) return false;
  std::lock_guard lock(s.mutex);
  call_plan& p = s.plans[i];
  if (p.nrules == max_rules) return false;
  p.rules[p.nrules++] = armed_rule{r, 0};
  s.armed[i].store(true, std::memory_order_release);
  return true;
}

void disarm(call c) noexcept {
  state& s = st();
  const auto i = static_cast<unsigned>(c);
  if (i >= ncalls) return;
  std::lock_guard lock(s.mutex);
  s.plans[i].nrules = 0;
  s.armed[i].store(false, std::memory_order_release);
}

void disarm_all() noexcept {
  for (unsigned i = 0; i < ncalls; ++i) disarm(static_cast<call>(i));
}

std::uint64_t calls(call c) noexcept {
  const auto i = static_cast<unsigned>(c);
  return i < ncalls ? st().calls[i].load(std::memory_order_relaxed) : 0;
}

std::uint64_t calls_on(call c, std::intptr_t fd) noexcept {
  const auto i = static_cast<unsigned>(c);
  if (i >= ncalls || fd < 0 || fd >= max_counted_fd) return 0;
  return st().per_fd[i][fd].load(std::memory_order_relaxed);
}

std::uint64_t injected(call c) noexcept {
  const auto i = static_cast<unsigned>(c);
  return i < ncalls ? st().injected[i].load(std::memory_order_relaxed) : 0;
}

std::uint64_t shortened_sqes() noexcept {
  return st().shortened_sqes.load(std::memory_order_relaxed);
}

std::uint64_t injected_total() noexcept {
  return st().injected_total.load(std::memory_order_relaxed);
}

void reset_counts() noexcept {
  state& s = st();
  for (unsigned i = 0; i < ncalls; ++i) {
    s.calls[i].store(0, std::memory_order_relaxed);
    s.injected[i].store(0, std::memory_order_relaxed);
    s.shortened_sqes.store(0, std::memory_order_relaxed);
    for (auto& n : s.per_fd[i]) n.store(0, std::memory_order_relaxed);
  }
}

#if defined(POCORE_HAVE_IO_URING) && !defined(_WIN32)
// Cuts every stream send waiting in the SQ for `fd` (-1: any) to at most
// `limit` bytes, so the kernel makes a real short send. A sendmsg's iovecs
// live in the socket state and are rebuilt for each request; the kernel
// copies them at submission.
void shorten_sends(io_uring& ring, std::intptr_t fd, std::size_t limit) noexcept {
  io_uring_sq& sq = ring.sq;
  for (unsigned i = *sq.khead; i != sq.sqe_tail; ++i) {
    io_uring_sqe& sqe = sq.sqes[i & sq.ring_mask];
    if (fd != -1 && sqe.fd != fd) continue;
    if (sqe.opcode == IORING_OP_SEND && sqe.len > limit) {
      sqe.len = static_cast<unsigned>(limit);
    } else if (sqe.opcode == IORING_OP_SENDMSG) {
      auto* msg = reinterpret_cast<msghdr*>(static_cast<std::uintptr_t>(sqe.addr));
      if (msg->msg_name != nullptr) continue;  // a datagram: all or nothing
      std::size_t left = limit;
      std::size_t n = 0;
      for (; n < msg->msg_iovlen && left > 0; ++n) {
        msg->msg_iov[n].iov_len = std::min(left, msg->msg_iov[n].iov_len);
        left -= msg->msg_iov[n].iov_len;
      }
      if (n == msg->msg_iovlen && left > 0) continue;  // no longer than the limit anyway
      msg->msg_iovlen = n;
    } else {
      continue;
    }
    st().shortened_sqes.fetch_add(1, std::memory_order_relaxed);
  }
}
#endif

}  // namespace pocore::fault

#if !defined(_WIN32)
using pocore::fault::call;
using pocore::fault::decide;
using pocore::fault::fail;

extern "C" {

ssize_t __wrap_recv(int fd, void* buf, size_t len, int flags) {
  const auto d = decide(call::recv, fd);
  if (d.fault && d.short_bytes != 0)
    return __real_recv(fd, buf, std::min(len, d.short_bytes), flags);
  if (!d.fault) return __real_recv(fd, buf, len, flags);
  if (d.real_first) (void)__real_recv(fd, buf, len, flags);
  if (d.edge_after) pocore::fault::raise_read_edge(fd);
  return fail<ssize_t>(d.error);
}

ssize_t __wrap_readv(int fd, const iovec* iov, int iovcnt) {
  const auto d = decide(call::readv, fd);
  if (d.fault && d.short_bytes != 0 && iovcnt > 0) {
    pocore::fault::short_iov s(iov, static_cast<std::size_t>(iovcnt), d.short_bytes);
    return __real_readv(fd, s.v.data(), s.n);
  }
  if (!d.fault) return __real_readv(fd, iov, iovcnt);
  if (d.real_first) (void)__real_readv(fd, iov, iovcnt);
  if (d.edge_after) pocore::fault::raise_read_edge(fd);
  return fail<ssize_t>(d.error);
}

ssize_t __wrap_recvmsg(int fd, msghdr* msg, int flags) {
  const auto d = decide(call::recvmsg, fd);
  if (!d.fault || d.short_bytes != 0) return __real_recvmsg(fd, msg, flags);
  if (d.real_first) (void)__real_recvmsg(fd, msg, flags);
  if (d.edge_after) pocore::fault::raise_read_edge(fd);
  return fail<ssize_t>(d.error);
}

ssize_t __wrap_send(int fd, const void* buf, size_t len, int flags) {
  const auto d = decide(call::send, fd);
  if (d.fault && d.short_bytes != 0) {
    const ssize_t n = __real_send(fd, buf, std::min(len, d.short_bytes), flags);
    if (d.edge_after) pocore::fault::raise_write_edge(fd);
    return n;
  }
  if (!d.fault) return __real_send(fd, buf, len, flags);
  if (d.real_first) (void)__real_send(fd, buf, len, flags);
  if (d.edge_after) pocore::fault::raise_write_edge(fd);
  return fail<ssize_t>(d.error);
}

ssize_t __wrap_sendmsg(int fd, const msghdr* msg, int flags) {
  const auto d = decide(call::sendmsg, fd);
  if (d.fault && d.short_bytes != 0 && msg != nullptr) {
    // Datagrams are all or nothing; a short stream write sends a prefix.
    pocore::fault::short_iov s(msg->msg_iov, msg->msg_iovlen, d.short_bytes);
    msghdr m = *msg;
    m.msg_iov = s.v.data();
    m.msg_iovlen = static_cast<std::size_t>(s.n);
    const ssize_t n = __real_sendmsg(fd, &m, flags);
    if (d.edge_after) pocore::fault::raise_write_edge(fd);
    return n;
  }
  if (!d.fault) return __real_sendmsg(fd, msg, flags);
  if (d.real_first) (void)__real_sendmsg(fd, msg, flags);
  if (d.edge_after) pocore::fault::raise_write_edge(fd);
  return fail<ssize_t>(d.error);
}

ssize_t __wrap_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to,
                      socklen_t tolen) {
  const auto d = decide(call::sendto, fd);
  if (!d.fault || d.short_bytes != 0) return __real_sendto(fd, buf, len, flags, to, tolen);
  if (d.real_first) (void)__real_sendto(fd, buf, len, flags, to, tolen);
  return fail<ssize_t>(d.error);
}

int __wrap_accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  const auto d = decide(call::accept4, fd);
  if (!d.fault) return __real_accept4(fd, addr, len, flags);
  // An accepted descriptor reported as a failure would leak: real_first
  // is ignored here. A failed accept leaves the connection in the backlog,
  // as EMFILE/ENFILE do.
  return fail<int>(d.error);
}

int __wrap_connect(int fd, const sockaddr* addr, socklen_t len) {
  const auto d = decide(call::connect, fd);
  if (!d.fault) return __real_connect(fd, addr, len);
  if (d.real_first) (void)__real_connect(fd, addr, len);
  return fail<int>(d.error);
}

int __wrap_socket(int domain, int type, int protocol) {
  const auto d = decide(call::socket, -1);
  if (!d.fault) return __real_socket(domain, type, protocol);
  return fail<int>(d.error);  // never real_first: the descriptor would leak
}

int __wrap_epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  const auto d = decide(call::epoll_ctl, fd);
  if (!d.fault) return __real_epoll_ctl(epfd, op, fd, event);
  if (d.real_first) (void)__real_epoll_ctl(epfd, op, fd, event);
  return fail<int>(d.error);
}

int __wrap_epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout) {
  const auto d = decide(call::epoll_wait, epfd);
  if (!d.fault) return __real_epoll_wait(epfd, events, maxevents, timeout);
  return fail<int>(d.error);
}

int __wrap_close(int fd) {
  const auto d = decide(call::close, fd);
  if (!d.fault) return __real_close(fd);
  // Linux frees the descriptor even when close() reports EINTR or EIO, so
  // a caller must never retry: real_first is how such a failure looks.
  if (d.real_first) (void)__real_close(fd);
  return fail<int>(d.error);
}

#if defined(POCORE_HAVE_IO_URING)
int __wrap_io_uring_submit(io_uring* ring) {
  const auto d = decide(call::io_uring_submit, -1, false);
  if (!d.fault) return __real_io_uring_submit(ring);
  if (d.short_bytes != 0) {
    pocore::fault::shorten_sends(*ring, d.fd, d.short_bytes);
    return __real_io_uring_submit(ring);
  }
  // Not submitted: the prepared SQEs stay in the SQ, as after -EBUSY.
  return -d.error;
}
#endif

}  // extern "C"
#endif  // !_WIN32
