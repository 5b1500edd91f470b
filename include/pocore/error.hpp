// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The portable error set. Every backend maps its native codes (errno,
/// WSA*, NTSTATUS-derived ERROR_*) to these values in exactly one table, so
/// user code compares against `pocore::errc` or `std::errc` and never
/// branches on the platform.

#include <string>
#include <system_error>

namespace pocore {

/// Portable error values reported through `std::error_code`.
///
/// Each value compares equal to the matching `std::errc` condition, so
/// `ec == std::errc::connection_refused` and
/// `ec == pocore::errc::connection_refused` both work.
enum class errc : int {
  success = 0,
  operation_aborted = 1,         ///< cancelled, or its socket was closed
  would_block,                   ///< non-blocking call could not finish now
  in_progress,                   ///< non-blocking connect started
  connection_refused,            ///< nobody listening at the remote endpoint
  connection_reset,              ///< the peer reset the connection
  connection_aborted,            ///< the local stack aborted the connection
  not_connected,                 ///< the socket is not connected
  already_connected,             ///< connect on a connected socket
  shut_down,                     ///< send after this side's shutdown
  timed_out,                     ///< the network timed out
  address_in_use,                ///< bind to an endpoint in use
  address_not_available,         ///< bind to an address not on this host
  network_unreachable,           ///< no route to the network
  host_unreachable,              ///< no route to the host
  message_size,                  ///< datagram larger than the buffer (truncated)
  bad_descriptor,                ///< the socket is not open
  invalid_argument,              ///< a bad argument (endpoint, buffer, option)
  address_family_not_supported,  ///< e.g. AF_UNIX where it is missing
  operation_not_supported,       ///< the call does not apply to this socket type
  too_many_files,                ///< out of descriptors or handles
  no_buffer_space,               ///< the stack is out of buffer space
  not_enough_memory,             ///< out of memory
  permission_denied,             ///< e.g. a privileged port
  name_too_long,                 ///< a Unix-domain path longer than the limit
  backend_unavailable,           ///< the requested backend cannot run here
  unknown_backend,               ///< the requested backend name is not known
  host_not_found,                ///< name resolution: no such host (or no address for it)
  try_again,                     ///< name resolution: temporary failure; try again later
  no_recovery,                   ///< name resolution: the name service failed for good
  service_not_found,             ///< name resolution: unknown service for this socket type
  no_such_file,                  ///< files: no file or directory at the path
  file_exists,                   ///< files: `exclusive` create of a path that exists
  is_a_directory,                ///< files: the path names a directory
  no_space,                      ///< files: the device is full (or the file too large)
};

/// The category of `pocore::errc`; its name is "pocore".
const std::error_category& error_category() noexcept;

/// Makes an error code in pocore's category.
std::error_code make_error_code(errc e) noexcept;

/// Makes an error condition in pocore's category.
std::error_condition make_error_condition(errc e) noexcept;

}  // namespace pocore

template <>
struct std::is_error_code_enum<pocore::errc> : std::true_type {};
