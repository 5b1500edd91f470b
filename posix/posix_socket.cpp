// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The synchronous socket calls for POSIX (common/sys.hpp). Descriptors are
// always non-blocking inside pocore, because the proactor needs them so;
// a "blocking" call therefore retries after waiting in poll(), unless the
// user turned on socket_state::non_blocking, in which case it reports
// errc::would_block. EINTR is retried everywhere, and every send passes
// MSG_NOSIGNAL so SIGPIPE is never raised and no process-wide signal
// disposition has to change.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/sys.hpp"
#include "posix/posix_addr.hpp"
#include "posix/posix_compat.hpp"
#include "posix/posix_errors.hpp"

namespace pocore::detail::sys {
namespace {

// macOS has no MSG_NOSIGNAL; there SO_NOSIGPIPE is set on every socket at
// open and accept instead.
#if defined(MSG_NOSIGNAL)
constexpr int send_flags = MSG_NOSIGNAL;
#else
constexpr int send_flags = 0;
#endif

std::error_code last_error() noexcept { return posix_error(errno); }

// Blocks until `fd` shows `events` (or an error/hang-up, which the retried
// call then reports). Returns an error only if poll() itself fails.
std::error_code wait_for(int fd, short events) noexcept {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, -1);
    if (r >= 0) return {};
    if (errno != EINTR) return last_error();
  }
}

// After a call failed with EAGAIN: report would_block in non-blocking
// mode, otherwise wait. True means "retry the call".
bool wait_or_fail(socket_state& s, short events, std::error_code& ec) noexcept {
  if (s.non_blocking.load(std::memory_order_relaxed)) {
    ec = make_error_code(errc::would_block);
    return false;
  }
  ec = wait_for(s.handle, events);
  return !ec;
}

bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

void no_sigpipe([[maybe_unused]] int fd) noexcept {
#if defined(SO_NOSIGPIPE)
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
}

struct option_id {
  int level;
  int name;
};

bool option_of(socket_option opt, option_id& out) noexcept {
  switch (opt) {
    case socket_option::no_delay:
      out = {IPPROTO_TCP, TCP_NODELAY};
      return true;
    case socket_option::reuse_address:
      out = {SOL_SOCKET, SO_REUSEADDR};
      return true;
    case socket_option::keep_alive:
      out = {SOL_SOCKET, SO_KEEPALIVE};
      return true;
    case socket_option::linger:
      out = {SOL_SOCKET, SO_LINGER};
      return true;
    case socket_option::receive_buffer_size:
      out = {SOL_SOCKET, SO_RCVBUF};
      return true;
    case socket_option::send_buffer_size:
      out = {SOL_SOCKET, SO_SNDBUF};
      return true;
    case socket_option::v6_only:
      out = {IPPROTO_IPV6, IPV6_V6ONLY};
      return true;
  }
  return false;
}

}  // namespace

native_handle_type open_socket(address_family family, socket_type type,
                               std::error_code& ec) noexcept {
  int af = posix_family(family);
  if (af == AF_UNSPEC || (family == address_family::local && type != socket_type::stream)) {
    ec = make_error_code(errc::invalid_argument);
    return invalid_native_handle;
  }
  int st = type == socket_type::stream ? SOCK_STREAM : SOCK_DGRAM;
  int fd = posix_open_socket(af, st);
  if (fd < 0) {
    ec = last_error();
    return invalid_native_handle;
  }
  no_sigpipe(fd);
  ec.clear();
  return fd;
}

void close_handle(native_handle_type h) noexcept {
  // No retry on EINTR: Linux has released the descriptor whatever close()
  // returns, and a retry could close a number another thread just got.
  if (h >= 0) ::close(h);
}

std::error_code bind(socket_state& s, const endpoint& ep) noexcept {
  posix_sockaddr sa;
  if (auto ec = to_sockaddr(ep, s.family, sa)) return ec;
  if (::bind(s.handle, sa.get(), sa.length) != 0) return last_error();
  return {};
}

std::error_code listen(socket_state& s, int backlog) noexcept {
  if (::listen(s.handle, backlog) != 0) return last_error();
  return {};
}

native_handle_type accept(socket_state& s, endpoint* peer, std::error_code& ec) noexcept {
  for (;;) {
    posix_sockaddr sa;
    sa.length = sizeof(sa.storage);
    int fd = posix_accept(s.handle, sa.get(), &sa.length);
    if (fd >= 0) {
      no_sigpipe(fd);
      if (peer != nullptr) *peer = from_sockaddr(sa.get(), sa.length);
      ec.clear();
      return fd;
    }
    int err = errno;
    // A connection reset while still in the backlog is not the caller's
    // business: take the next one (Windows never reports it either).
    if (err == EINTR || err == ECONNABORTED) continue;
    if (would_block(err)) {
      if (wait_or_fail(s, POLLIN, ec)) continue;
      return invalid_native_handle;
    }
    ec = posix_error(err);
    return invalid_native_handle;
  }
}

std::error_code connect(socket_state& s, const endpoint& ep) noexcept {
  posix_sockaddr sa;
  if (auto ec = to_sockaddr(ep, s.family, sa)) return ec;
  if (s.type == socket_type::stream && posix_has_peer(s.handle))
    return make_error_code(errc::already_connected);
  if (::connect(s.handle, sa.get(), sa.length) == 0) return {};
  int err = errno;
  // Linux keeps connecting in the background after EINTR, like after
  // EINPROGRESS; a retried connect() would say EALREADY.
  if (err != EINPROGRESS && err != EINTR)
    return posix_connect_error(err, s.family == address_family::local);
  if (s.non_blocking.load(std::memory_order_relaxed)) return make_error_code(errc::in_progress);
  if (auto ec = wait_for(s.handle, POLLOUT)) return ec;
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  if (::getsockopt(s.handle, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) return last_error();
  return posix_connect_error(so_error, s.family == address_family::local);
}

std::size_t send(socket_state& s, const_buffer b, std::error_code& ec) noexcept {
  for (;;) {
    ssize_t n = ::send(s.handle, b.data, b.size, send_flags);
    if (n >= 0) {
      ec.clear();
      return static_cast<std::size_t>(n);
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      if (wait_or_fail(s, POLLOUT, ec)) continue;
      return 0;
    }
    ec = posix_send_error(err, s.send_shut.load(std::memory_order_relaxed));
    return 0;
  }
}

std::size_t recv(socket_state& s, buffer b, std::error_code& ec) noexcept {
  if (s.type == socket_type::datagram) {
    // A datagram that does not fit is message_size here too, as on Windows.
    endpoint ignored;
    return recv_from(s, b, ignored, ec);
  }
  for (;;) {
    ssize_t n = ::recv(s.handle, b.data, b.size, 0);
    if (n >= 0) {
      ec.clear();
      return static_cast<std::size_t>(n);
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      if (wait_or_fail(s, POLLIN, ec)) continue;
      return 0;
    }
    ec = posix_error(err);
    return 0;
  }
}

std::size_t send_to(socket_state& s, const_buffer b, const endpoint& to,
                    std::error_code& ec) noexcept {
  posix_sockaddr sa;
  if ((ec = to_sockaddr(to, s.family, sa))) return 0;
  for (;;) {
    ssize_t n = ::sendto(s.handle, b.data, b.size, send_flags, sa.get(), sa.length);
    if (n >= 0) {
      ec.clear();
      return static_cast<std::size_t>(n);
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      if (wait_or_fail(s, POLLOUT, ec)) continue;
      return 0;
    }
    ec = posix_send_error(err, s.send_shut.load(std::memory_order_relaxed));
    return 0;
  }
}

std::size_t recv_from(socket_state& s, buffer b, endpoint& from, std::error_code& ec) noexcept {
  for (;;) {
    posix_sockaddr sa;
    iovec iov{b.data, b.size};
    msghdr msg{};
    msg.msg_name = &sa.storage;
    msg.msg_namelen = sizeof(sa.storage);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(s.handle, &msg, 0);
    if (n >= 0) {
      from = from_sockaddr(sa.get(), msg.msg_namelen);
      // The kernel drops the rest of a datagram that did not fit and says
      // so with MSG_TRUNC; Windows reports WSAEMSGSIZE. Both become
      // message_size with the buffer filled.
      if ((msg.msg_flags & MSG_TRUNC) != 0 && s.type == socket_type::datagram) {
        ec = make_error_code(errc::message_size);
        return b.size;
      }
      ec.clear();
      return static_cast<std::size_t>(n);
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      if (wait_or_fail(s, POLLIN, ec)) continue;
      return 0;
    }
    ec = posix_error(err);
    return 0;
  }
}

std::error_code shutdown(socket_state& s, shutdown_how how) noexcept {
  int h = how == shutdown_how::receive ? SHUT_RD : how == shutdown_how::send ? SHUT_WR : SHUT_RDWR;
  if (::shutdown(s.handle, h) != 0) return last_error();
  if (how != shutdown_how::receive) s.send_shut.store(true, std::memory_order_relaxed);
  return {};
}

std::error_code set_option(socket_state& s, socket_option opt, int value) noexcept {
  option_id id;
  if (!option_of(opt, id)) return make_error_code(errc::invalid_argument);
  int r;
  if (opt == socket_option::linger) {
    ::linger l{value >= 0 ? 1 : 0, value >= 0 ? value : 0};
    r = ::setsockopt(s.handle, id.level, id.name, &l, sizeof(l));
  } else {
    r = ::setsockopt(s.handle, id.level, id.name, &value, sizeof(value));
  }
  if (r != 0) return last_error();
  return {};
}

int get_option(socket_state& s, socket_option opt, std::error_code& ec) noexcept {
  option_id id;
  if (!option_of(opt, id)) {
    ec = make_error_code(errc::invalid_argument);
    return 0;
  }
  if (opt == socket_option::linger) {
    ::linger l{};
    socklen_t len = sizeof(l);
    if (::getsockopt(s.handle, id.level, id.name, &l, &len) != 0) {
      ec = last_error();
      return 0;
    }
    ec.clear();
    return l.l_onoff != 0 ? l.l_linger : -1;
  }
  // Linux doubles SO_RCVBUF/SO_SNDBUF on set (room for its bookkeeping)
  // and reports the doubled value; it is returned as the kernel gives it.
  int value = 0;
  socklen_t len = sizeof(value);
  if (::getsockopt(s.handle, id.level, id.name, &value, &len) != 0) {
    ec = last_error();
    return 0;
  }
  ec.clear();
  return value;
}

std::error_code set_non_blocking(socket_state& s, bool on) noexcept {
  // The descriptor itself stays O_NONBLOCK; only the synchronous calls'
  // behaviour changes.
  s.non_blocking.store(on, std::memory_order_relaxed);
  return {};
}

endpoint local_endpoint(socket_state& s, std::error_code& ec) noexcept {
  posix_sockaddr sa;
  sa.length = sizeof(sa.storage);
  if (::getsockname(s.handle, sa.get(), &sa.length) != 0) {
    ec = last_error();
    return {};
  }
  ec.clear();
  return from_sockaddr(sa.get(), sa.length);
}

endpoint remote_endpoint(socket_state& s, std::error_code& ec) noexcept {
  posix_sockaddr sa;
  sa.length = sizeof(sa.storage);
  if (::getpeername(s.handle, sa.get(), &sa.length) != 0) {
    ec = last_error();
    return {};
  }
  ec.clear();
  return from_sockaddr(sa.get(), sa.length);
}

}  // namespace pocore::detail::sys
