// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The Windows error table. Every Windows quirk pocore smooths over is
// handled here, with a note on what Windows (and Wine 8.0, the test
// target) does, so the rest of win/ never special-cases a number.

#include "win/win_errors.hpp"

// Winsock first, in the order the Windows SDK requires.
// clang-format off
#include <winsock2.h>
#include <windows.h>
// clang-format on

#include "common/backend.hpp"
#include "pocore/error.hpp"

// MinGW-w64's winerror.h lacks this one (STATUS_HANDLES_CLOSED's code).
#ifndef ERROR_HANDLES_CLOSED
#define ERROR_HANDLES_CLOSED 676L
#endif

namespace pocore::detail::win {
namespace {

struct entry {
  unsigned long code;
  errc value;
};

// Win32 ERROR_* and Winsock WSAE* codes. Winsock's overlapped results come
// back from GetQueuedCompletionStatus as ERROR_* (RtlNtStatusToDosError of
// the NTSTATUS), synchronous calls as WSAE*; both appear, so both are here.
constexpr entry table[] = {
    // Cancellation. 995 is CancelIoEx's result; WSAEINTR is a blocking call
    // interrupted by closesocket from another thread.
    {ERROR_OPERATION_ABORTED, errc::operation_aborted},  // 995 == WSA_OPERATION_ABORTED
    {ERROR_REQUEST_ABORTED, errc::operation_aborted},    // 1235
    {WSAEINTR, errc::operation_aborted},
    {WSAECANCELLED, errc::operation_aborted},
    // closesocket with a recv pending: Wine 8.0 reports STATUS_HANDLES_CLOSED
    // (676) on the recv. Windows reports 995 or 1236. We always cancel
    // first, so 676 only shows up on a socket already closed.
    {ERROR_HANDLES_CLOSED, errc::operation_aborted},

    {WSAEWOULDBLOCK, errc::would_block},
    {WSAEINPROGRESS, errc::in_progress},
    {WSAEALREADY, errc::in_progress},  // non-blocking connect already started

    // Connection refused: ConnectEx completes with ERROR_CONNECTION_REFUSED
    // (1225, STATUS_CONNECTION_REFUSED); connect() says WSAECONNREFUSED.
    {ERROR_CONNECTION_REFUSED, errc::connection_refused},
    {WSAECONNREFUSED, errc::connection_refused},
    // ICMP port unreachable on a connected UDP socket. Linux reports
    // ECONNREFUSED for the same event, so Windows does too here.
    {ERROR_PORT_UNREACHABLE, errc::connection_refused},

    // A peer's RST. A pending WSARecv/WSASend completes with
    // ERROR_NETNAME_DELETED (64, STATUS_CONNECTION_RESET); synchronous calls
    // say WSAECONNRESET. Guarantee 7 forbids 64 leaking out.
    {ERROR_NETNAME_DELETED, errc::connection_reset},
    {WSAECONNRESET, errc::connection_reset},
    {WSAENETRESET, errc::connection_reset},  // keep-alive found the peer gone

    {ERROR_CONNECTION_ABORTED, errc::connection_aborted},  // 1236
    {WSAECONNABORTED, errc::connection_aborted},

    {WSAENOTCONN, errc::not_connected},
    {ERROR_CONNECTION_INVALID, errc::not_connected},   // 1229
    {ERROR_GRACEFUL_DISCONNECT, errc::not_connected},  // 1226
    {WSAEDISCON, errc::not_connected},
    {WSAEISCONN, errc::already_connected},
    // Send after our own shutdown(SD_SEND) or DisconnectEx.
    {WSAESHUTDOWN, errc::shut_down},

    // ConnectEx gives up with ERROR_SEM_TIMEOUT (121, STATUS_IO_TIMEOUT).
    {WSAETIMEDOUT, errc::timed_out},
    {ERROR_SEM_TIMEOUT, errc::timed_out},
    {ERROR_TIMEOUT, errc::timed_out},
    {WAIT_TIMEOUT, errc::timed_out},

    {WSAEADDRINUSE, errc::address_in_use},
    {ERROR_ADDRESS_ALREADY_ASSOCIATED, errc::address_in_use},  // 1227
    {WSAEADDRNOTAVAIL, errc::address_not_available},
    {ERROR_INVALID_NETNAME, errc::address_not_available},  // 1214
    {WSAENETDOWN, errc::network_unreachable},
    {WSAENETUNREACH, errc::network_unreachable},
    {ERROR_NETWORK_UNREACHABLE, errc::network_unreachable},  // 1231
    {WSAEHOSTUNREACH, errc::host_unreachable},
    {WSAEHOSTDOWN, errc::host_unreachable},
    {ERROR_HOST_UNREACHABLE, errc::host_unreachable},  // 1232

    // A datagram larger than the buffer: WSARecvFrom completes with
    // ERROR_MORE_DATA (234, the warning STATUS_BUFFER_OVERFLOW) and the
    // buffer filled; recvfrom() says WSAEMSGSIZE.
    {ERROR_MORE_DATA, errc::message_size},
    {WSAEMSGSIZE, errc::message_size},

    {WSAENOTSOCK, errc::bad_descriptor},
    {WSAEBADF, errc::bad_descriptor},
    {ERROR_INVALID_HANDLE, errc::bad_descriptor},  // 6 == WSA_INVALID_HANDLE

    {WSAEINVAL, errc::invalid_argument},
    {WSAEFAULT, errc::invalid_argument},
    {WSAEDESTADDRREQ, errc::invalid_argument},
    {WSAENOPROTOOPT, errc::invalid_argument},
    {WSAEPROTOTYPE, errc::invalid_argument},
    {ERROR_INVALID_PARAMETER, errc::invalid_argument},  // 87 == WSA_INVALID_PARAMETER
    {WSANOTINITIALISED, errc::invalid_argument},

    {WSAEAFNOSUPPORT, errc::address_family_not_supported},
    {WSAEPFNOSUPPORT, errc::address_family_not_supported},
    {WSAEOPNOTSUPP, errc::operation_not_supported},
    {WSAEPROTONOSUPPORT, errc::operation_not_supported},
    {WSAESOCKTNOSUPPORT, errc::operation_not_supported},
    {ERROR_NOT_SUPPORTED, errc::operation_not_supported},

    {WSAEMFILE, errc::too_many_files},
    {ERROR_TOO_MANY_OPEN_FILES, errc::too_many_files},
    {WSAENOBUFS, errc::no_buffer_space},
    {ERROR_NO_SYSTEM_RESOURCES, errc::no_buffer_space},
    {ERROR_NONPAGED_SYSTEM_RESOURCES, errc::no_buffer_space},
    {ERROR_NOT_ENOUGH_MEMORY, errc::not_enough_memory},  // 8 == WSA_NOT_ENOUGH_MEMORY
    {ERROR_OUTOFMEMORY, errc::not_enough_memory},
    {ERROR_NOT_ENOUGH_QUOTA, errc::not_enough_memory},

    {WSAEACCES, errc::permission_denied},
    {ERROR_ACCESS_DENIED, errc::permission_denied},
    {ERROR_NETWORK_ACCESS_DENIED, errc::permission_denied},
    {WSAENAMETOOLONG, errc::name_too_long},
    {ERROR_FILENAME_EXCED_RANGE, errc::name_too_long},

    // Files (pocore::file).
    {ERROR_FILE_NOT_FOUND, errc::no_such_file},
    {ERROR_PATH_NOT_FOUND, errc::no_such_file},
    {ERROR_INVALID_NAME, errc::no_such_file},
    {ERROR_FILE_EXISTS, errc::file_exists},
    {ERROR_ALREADY_EXISTS, errc::file_exists},
    {ERROR_DIRECTORY, errc::is_a_directory},
    {ERROR_DISK_FULL, errc::no_space},
    {ERROR_HANDLE_DISK_FULL, errc::no_space},
    {ERROR_FILE_TOO_LARGE, errc::no_space},
};

// NTSTATUS values seen in OVERLAPPED::Internal after a socket operation.
// ntstatus.h clashes with winnt.h under MinGW, so the numbers are spelled
// out. Each maps to the Win32 code GetQueuedCompletionStatus reports for it.
struct nt_entry {
  std::uint32_t status;
  unsigned long code;
};
constexpr nt_entry nt_table[] = {
    {0xC0000120u, ERROR_OPERATION_ABORTED},    // STATUS_CANCELLED
    {0x8000000Au, ERROR_HANDLES_CLOSED},       // STATUS_HANDLES_CLOSED (Wine, on closesocket)
    {0x80000005u, ERROR_MORE_DATA},            // STATUS_BUFFER_OVERFLOW (truncated datagram)
    {0xC0000236u, ERROR_CONNECTION_REFUSED},   // STATUS_CONNECTION_REFUSED
    {0xC000020Du, ERROR_NETNAME_DELETED},      // STATUS_CONNECTION_RESET
    {0xC000013Bu, ERROR_NETNAME_DELETED},      // STATUS_LOCAL_DISCONNECT
    {0xC000013Cu, ERROR_NETNAME_DELETED},      // STATUS_REMOTE_DISCONNECT
    {0xC0000241u, ERROR_CONNECTION_ABORTED},   // STATUS_CONNECTION_ABORTED
    {0xC0000008u, ERROR_INVALID_HANDLE},       // STATUS_INVALID_HANDLE
    {0xC00000B5u, ERROR_SEM_TIMEOUT},          // STATUS_IO_TIMEOUT
    {0xC000023Cu, ERROR_NETWORK_UNREACHABLE},  // STATUS_NETWORK_UNREACHABLE
    {0xC000023Du, ERROR_HOST_UNREACHABLE},     // STATUS_HOST_UNREACHABLE
    {0xC000023Fu, ERROR_PORT_UNREACHABLE},     // STATUS_PORT_UNREACHABLE
    {0xC000020Au, WSAEADDRINUSE},              // STATUS_ADDRESS_ALREADY_EXISTS
    {0xC0000237u, ERROR_GRACEFUL_DISCONNECT},  // STATUS_GRACEFUL_DISCONNECT
    {0xC0000140u, ERROR_CONNECTION_INVALID},   // STATUS_INVALID_CONNECTION
    {0xC000009Au, ERROR_NO_SYSTEM_RESOURCES},  // STATUS_INSUFFICIENT_RESOURCES
    {0xC0000017u, ERROR_NOT_ENOUGH_MEMORY},    // STATUS_NO_MEMORY
    {0xC000000Du, ERROR_INVALID_PARAMETER},    // STATUS_INVALID_PARAMETER
    {0xC00000BBu, ERROR_NOT_SUPPORTED},        // STATUS_NOT_SUPPORTED
    {0xC0000022u, ERROR_ACCESS_DENIED},        // STATUS_ACCESS_DENIED
    {0xC0000128u, ERROR_INVALID_HANDLE},       // STATUS_FILE_CLOSED
    {0xC000020Cu, ERROR_NETNAME_DELETED},      // STATUS_CONNECTION_DISCONNECTED
};

using rtl_fn = ULONG(WINAPI*)(LONG);

// RtlNtStatusToDosError is ntdll's full table; looked up once so that
// pocore does not need to link ntdll for the rare status not listed above.
rtl_fn rtl_ntstatus_to_dos() noexcept {
  static const rtl_fn fn = [] {
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    if (ntdll == nullptr) return rtl_fn{nullptr};
    return reinterpret_cast<rtl_fn>(
        reinterpret_cast<void*>(GetProcAddress(ntdll, "RtlNtStatusToDosError")));
  }();
  return fn;
}

}  // namespace

std::error_code map_error(unsigned long code) noexcept {
  if (code == 0) return {};
  for (const entry& e : table)
    if (e.code == code) return make_error_code(e.value);
  return std::error_code(static_cast<int>(code), std::system_category());
}

std::error_code map_closed_error(unsigned long code) noexcept {
  switch (code) {
    // What an operation pending on a socket we closed completes with. After
    // CancelIoEx(s, NULL) Windows and Wine both give 995. Without it (a race
    // with closesocket) Wine 8.0 gives 676 for a recv, 6 for a send held by
    // flow control and 64 for a recv behind it; Windows is seen giving
    // 1236, 64 or 995. A closed socket has no peer to blame, so all of
    // them mean "aborted by close".
    case ERROR_OPERATION_ABORTED:
    case ERROR_HANDLES_CLOSED:
    case ERROR_CONNECTION_ABORTED:
    case ERROR_NETNAME_DELETED:
    case ERROR_INVALID_HANDLE:
    case ERROR_REQUEST_ABORTED:
    case WSAENOTSOCK:
    case WSAEINTR:
      return make_error_code(errc::operation_aborted);
    default:
      return map_error(code);
  }
}

unsigned long ntstatus_to_win32(std::int32_t status) noexcept {
  if (status == 0) return 0;
  const auto u = static_cast<std::uint32_t>(status);
  for (const nt_entry& e : nt_table)
    if (e.status == u) return e.code;
  if (rtl_fn fn = rtl_ntstatus_to_dos()) return fn(status);
  return ERROR_GEN_FAILURE;
}

std::error_code last_socket_error() noexcept {
  return map_error(static_cast<unsigned long>(WSAGetLastError()));
}

std::error_code last_error() noexcept { return map_error(GetLastError()); }

std::error_code map_bind_error(unsigned long code) noexcept {
  // A bind that collides with a socket holding SO_EXCLUSIVEADDRUSE (every
  // pocore listener has it) fails with WSAEACCES when the new socket set
  // SO_REUSEADDR, and Wine 8.0 gives WSAEACCES for any SO_REUSEADDR clash
  // with a listener. Windows has no privileged ports, so on bind WSAEACCES
  // always means "taken" (also for ports in Hyper-V's excluded ranges).
  if (code == WSAEACCES) return make_error_code(errc::address_in_use);
  return map_error(code);
}

}  // namespace pocore::detail::win

namespace pocore::detail {

std::error_code native_io_error() noexcept { return win::map_error(ERROR_IO_DEVICE); }

}  // namespace pocore::detail
