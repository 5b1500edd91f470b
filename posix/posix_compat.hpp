// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The few socket calls whose spelling differs between Linux, FreeBSD and
// macOS, so the callers (posix_socket.cpp, proactor_ops.cpp) stay free of
// #if. Linux and FreeBSD have SOCK_NONBLOCK/SOCK_CLOEXEC, accept4() and
// MSG_NOSIGNAL; macOS has none of them and gets the same result in two
// steps, with SO_NOSIGPIPE on every socket in place of MSG_NOSIGNAL.

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#if !defined(MSG_NOSIGNAL)
// macOS: sends pass no flag; SO_NOSIGPIPE, set on every socket pocore makes
// or accepts, keeps SIGPIPE away instead.
#define MSG_NOSIGNAL 0
#endif

namespace pocore::detail {

#if !defined(SOCK_NONBLOCK)
/// Makes `fd` non-blocking, close-on-exec and SIGPIPE-free; on failure
/// closes it and returns -1 with errno set. Between socket()/accept() and
/// this call another thread's fork()+exec() could inherit the descriptor;
/// macOS offers no way to close that window.
inline int posix_finish_socket(int fd) noexcept {
  if (fd < 0) return fd;
  const int fl = ::fcntl(fd, F_GETFL);
  bool ok = fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
            ::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
#if defined(SO_NOSIGPIPE)
  int one = 1;
  ok = ok && ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)) == 0;
#endif
  if (ok) return fd;
  const int err = errno;
  ::close(fd);
  errno = err;
  return -1;
}
#endif

/// socket() for a descriptor that is non-blocking and close-on-exec.
inline int posix_open_socket(int family, int type) noexcept {
#if defined(SOCK_NONBLOCK)
  return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
  return posix_finish_socket(::socket(family, type, 0));
#endif
}

/// accept() of a descriptor that is non-blocking and close-on-exec.
inline int posix_accept(int listener, sockaddr* sa, socklen_t* length) noexcept {
#if defined(SOCK_NONBLOCK)
  return ::accept4(listener, sa, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
  return posix_finish_socket(::accept(listener, sa, length));
#endif
}

}  // namespace pocore::detail
