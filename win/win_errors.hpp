// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The one place where Windows error numbers become pocore::errc values.
// Winsock reports WSAE* through WSAGetLastError, the I/O manager reports an
// NTSTATUS in OVERLAPPED::Internal, and Win32 calls report ERROR_* through
// GetLastError. All three land in the table in win_errors.cpp.

#include <cstdint>
#include <system_error>

namespace pocore::detail::win {

/// Maps a Win32 ERROR_* or Winsock WSAE* value (they share one number
/// space) to a pocore error. 0 gives an empty code. Values the table does
/// not know are kept in std::system_category so no information is lost.
std::error_code map_error(unsigned long code) noexcept;

/// Like map_error, but for an operation that completed on a socket pocore
/// has already closed: every status closesocket/CancelIoEx can produce
/// becomes operation_aborted.
std::error_code map_closed_error(unsigned long code) noexcept;

/// Turns the NTSTATUS an overlapped operation left in OVERLAPPED::Internal
/// into the Win32 error number GetQueuedCompletionStatus would have set.
unsigned long ntstatus_to_win32(std::int32_t status) noexcept;

/// The error of the last failed Winsock call (WSAGetLastError).
std::error_code last_socket_error() noexcept;

/// The error of the last failed Win32 call (GetLastError).
std::error_code last_error() noexcept;

/// bind() and listen() report a clash with another socket's exclusive
/// claim as WSAEACCES; this maps that case to address_in_use.
std::error_code map_bind_error(unsigned long code) noexcept;

}  // namespace pocore::detail::win
