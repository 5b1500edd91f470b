// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0

#include "posix/posix_errors.hpp"

#include <cerrno>

#include "common/backend.hpp"
#include "pocore/error.hpp"

namespace pocore::detail {

std::error_code posix_error(int err) noexcept {
  switch (err) {
    case 0:
      return {};
    // EAGAIN and EWOULDBLOCK are the same value on Linux but not on every
    // POSIX system; the second label is compiled only where they differ.
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return make_error_code(errc::would_block);
    // A non-blocking connect that has started. EALREADY (a second connect
    // while the first is still running) means the same thing to a caller.
    case EINPROGRESS:
    case EALREADY:
      return make_error_code(errc::in_progress);
    case ECONNREFUSED:
      return make_error_code(errc::connection_refused);
    case ECONNRESET:
      return make_error_code(errc::connection_reset);
    // Without knowing whether this side shut down sending, EPIPE can only
    // mean the connection is gone; sends go through posix_send_error.
    case EPIPE:
      return make_error_code(errc::connection_reset);
    case ECONNABORTED:
      return make_error_code(errc::connection_aborted);
    case ENOTCONN:
      return make_error_code(errc::not_connected);
    case EISCONN:
      return make_error_code(errc::already_connected);
    case ESHUTDOWN:
      return make_error_code(errc::shut_down);
    case ETIMEDOUT:
      return make_error_code(errc::timed_out);
    case EADDRINUSE:
      return make_error_code(errc::address_in_use);
    case EADDRNOTAVAIL:
      return make_error_code(errc::address_not_available);
    case ENETUNREACH:
      return make_error_code(errc::network_unreachable);
    case EHOSTUNREACH:
      return make_error_code(errc::host_unreachable);
    case EMSGSIZE:
      return make_error_code(errc::message_size);
    case EBADF:
    case ENOTSOCK:
      return make_error_code(errc::bad_descriptor);
    case EINVAL:
      return make_error_code(errc::invalid_argument);
    case EAFNOSUPPORT:
      return make_error_code(errc::address_family_not_supported);
    // Linux has one value for both; other systems keep ENOTSUP apart.
    case EOPNOTSUPP:
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
      return make_error_code(errc::operation_not_supported);
    // An option that does not apply to this socket's protocol, e.g.
    // IPV6_V6ONLY on an IPv4 socket (Windows: WSAENOPROTOOPT or WSAEINVAL).
    case ENOPROTOOPT:
      return make_error_code(errc::operation_not_supported);
    case EMFILE:
    case ENFILE:
      return make_error_code(errc::too_many_files);
    case ENOBUFS:
      return make_error_code(errc::no_buffer_space);
    case ENOMEM:
      return make_error_code(errc::not_enough_memory);
    // Linux answers EACCES for a privileged port and EPERM when a firewall
    // rule or a capability check says no; Windows has only WSAEACCES.
    case EACCES:
    case EPERM:
      return make_error_code(errc::permission_denied);
    case ENAMETOOLONG:
      return make_error_code(errc::name_too_long);
    // Files (pocore::file).
    case ENOENT:
    case ENOTDIR:
      return make_error_code(errc::no_such_file);
    case EEXIST:
      return make_error_code(errc::file_exists);
    case EISDIR:
      return make_error_code(errc::is_a_directory);
    case ENOSPC:
    case EFBIG:
      return make_error_code(errc::no_space);
    default:
      return {err, std::system_category()};
  }
}

std::error_code posix_send_error(int err, bool send_shut) noexcept {
  // Linux gives EPIPE for a send after our own shutdown(SHUT_WR) (Windows:
  // WSAESHUTDOWN) and also for every send after the first one that met a
  // peer's RST (the first gets ECONNRESET; Windows: WSAECONNRESET each
  // time). socket_state::send_shut is set by our shutdown and disconnect,
  // so it separates the two.
  if (err == EPIPE) return make_error_code(send_shut ? errc::shut_down : errc::connection_reset);
  return posix_error(err);
}

std::error_code posix_connect_error(int err, bool local) noexcept {
  // Linux answers ENOENT when no socket file exists at a Unix-domain path
  // and ECONNREFUSED when the file exists but nobody listens; Windows says
  // WSAECONNREFUSED for both. Either way nobody is listening there.
  if (local && err == ENOENT) return make_error_code(errc::connection_refused);
  return posix_error(err);
}

std::error_code native_io_error() noexcept { return posix_error(EIO); }

}  // namespace pocore::detail
