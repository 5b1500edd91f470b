// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Winsock start-up and the Microsoft extension functions (AcceptEx,
// ConnectEx, GetAcceptExSockaddrs, DisconnectEx), shared by the
// synchronous calls (win_socket.cpp) and the IOCP backend.

// Winsock first, in the order the Windows SDK requires.
// clang-format off
#include <winsock2.h>
#include <mswsock.h>
// clang-format on

#include <system_error>

#include "pocore/endpoint.hpp"

namespace pocore::detail::win {

/// Takes one reference on Winsock, calling WSAStartup on the first.
/// Thread-safe; every iocp_port holds one for its lifetime, so users never
/// call WSAStartup themselves.
std::error_code wsa_acquire() noexcept;
/// Drops one reference; the last one calls WSACleanup.
void wsa_release() noexcept;

/// The extension functions of one provider, fetched with
/// WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER). A null member is one the
/// provider does not offer.
struct extension_functions {
  LPFN_ACCEPTEX accept_ex = nullptr;
  LPFN_CONNECTEX connect_ex = nullptr;
  LPFN_GETACCEPTEXSOCKADDRS get_accept_ex_sockaddrs = nullptr;
  LPFN_DISCONNECTEX disconnect_ex = nullptr;
};

/// The extension functions for sockets of `family`, fetched through `s`
/// on first use and cached per process until the last wsa_release(). The
/// pointers belong to the provider DLL, which stays loaded while Winsock
/// is started, so the cache is dropped together with Winsock.
const extension_functions& extensions(SOCKET s, address_family family) noexcept;

/// True when the process runs under Wine (ntdll exports wine_get_version).
/// Used only to step around Wine bugs, each documented where it is used.
bool running_on_wine() noexcept;

}  // namespace pocore::detail::win
