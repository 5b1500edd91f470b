// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The Winsock side of the fault seam (posix/fault_inject.hpp), MinGW
// builds only. Winsock's functions are declared dllimport, so pocore's
// objects call them through the import slots `__imp_X`, not through `X`:
// `--wrap=X` never sees those calls. `--wrap=__imp_X` does: every reference
// to the slot becomes one to `__wrap___imp_X`, which here is a pointer to
// a wrapper, and `__real___imp_X` is the real slot. The extension
// functions (AcceptEx, ConnectEx, DisconnectEx) are fetched at run time
// with WSAIoctl and are not reached this way.

#include <winsock2.h>

#include <cstdint>

#include "posix/fault_inject.hpp"

namespace pf = pocore::fault;

using wsarecv_fn = decltype(&::WSARecv);
using wsasend_fn = decltype(&::WSASend);
using wsasocket_fn = decltype(&::WSASocketW);
using closesocket_fn = decltype(&::closesocket);

extern "C" {
extern wsarecv_fn __real___imp_WSARecv;
extern wsasend_fn __real___imp_WSASend;
extern wsasocket_fn __real___imp_WSASocketW;
extern closesocket_fn __real___imp_closesocket;
}

namespace {

std::intptr_t id(SOCKET s) { return static_cast<std::intptr_t>(s); }

int WSAAPI fault_wsa_recv(SOCKET s, LPWSABUF bufs, DWORD n, LPDWORD got, LPDWORD flags,
                          LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  const auto d = pf::decide(pf::call::wsa_recv, id(s));
  if (!d.fault) return __real___imp_WSARecv(s, bufs, n, got, flags, ov, cr);
  WSASetLastError(d.error);  // failed at once: no completion packet comes
  return SOCKET_ERROR;
}

int WSAAPI fault_wsa_send(SOCKET s, LPWSABUF bufs, DWORD n, LPDWORD sent, DWORD flags,
                          LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  const auto d = pf::decide(pf::call::wsa_send, id(s));
  if (!d.fault) return __real___imp_WSASend(s, bufs, n, sent, flags, ov, cr);
  WSASetLastError(d.error);
  return SOCKET_ERROR;
}

SOCKET WSAAPI fault_wsa_socket(int af, int type, int protocol, LPWSAPROTOCOL_INFOW info, GROUP g,
                               DWORD flags) {
  const auto d = pf::decide(pf::call::wsa_socket, -1);
  if (!d.fault) return __real___imp_WSASocketW(af, type, protocol, info, g, flags);
  WSASetLastError(d.error);
  return INVALID_SOCKET;
}

int WSAAPI fault_closesocket(SOCKET s) {
  const auto d = pf::decide(pf::call::closesocket, id(s));
  if (!d.fault) return __real___imp_closesocket(s);
  if (d.real_first) (void)__real___imp_closesocket(s);
  WSASetLastError(d.error);
  return SOCKET_ERROR;
}

}  // namespace

extern "C" {
wsarecv_fn __wrap___imp_WSARecv = &fault_wsa_recv;
wsasend_fn __wrap___imp_WSASend = &fault_wsa_send;
wsasocket_fn __wrap___imp_WSASocketW = &fault_wsa_socket;
closesocket_fn __wrap___imp_closesocket = &fault_closesocket;
}
