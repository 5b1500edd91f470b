// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The synchronous socket calls of common/sys.hpp for Windows, plus
// Winsock start-up and the extension-function cache. Blocking calls are
// Winsock's own blocking calls (they work on overlapped sockets); the
// user's non-blocking mode is FIONBIO, which leaves overlapped calls alone.

#include "win/win_socket.hpp"

// Winsock first, in the order the Windows SDK requires.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
// clang-format on

#include <atomic>
#include <climits>
#include <mutex>

#include "common/sys.hpp"
#include "win/win_addr.hpp"
#include "win/win_errors.hpp"

// MinGW-w64's mstcpip.h lacks SIO_UDP_NETRESET (Windows SDK: _WSAIOW(IOC_VENDOR, 15)).
#ifndef SIO_UDP_NETRESET
#define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15)
#endif

namespace pocore::detail::win {
namespace {

std::mutex wsa_mutex;
int wsa_refs = 0;  // guarded by wsa_mutex

struct extension_slot {
  std::atomic<bool> loaded{false};
  extension_functions fns;
};
extension_slot ext_slots[3];  // ipv4, ipv6, local; written under wsa_mutex

// The WSAID_* macros are brace initialisers, so they live in variables.
const GUID guid_accept_ex = WSAID_ACCEPTEX;
const GUID guid_connect_ex = WSAID_CONNECTEX;
const GUID guid_get_accept_ex_sockaddrs = WSAID_GETACCEPTEXSOCKADDRS;
const GUID guid_disconnect_ex = WSAID_DISCONNECTEX;

template <class Fn>
void load_extension(SOCKET s, const GUID& guid, Fn& out) noexcept {
  GUID id = guid;
  DWORD bytes = 0;
  Fn fn = nullptr;
  if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof(id), &fn, sizeof(fn), &bytes,
               nullptr, nullptr) == 0)
    out = fn;
}

}  // namespace

std::error_code wsa_acquire() noexcept {
  std::lock_guard lock(wsa_mutex);
  if (wsa_refs == 0) {
    WSADATA data;
    if (int rc = WSAStartup(MAKEWORD(2, 2), &data); rc != 0)
      return map_error(static_cast<unsigned long>(rc));
  }
  ++wsa_refs;
  return {};
}

void wsa_release() noexcept {
  std::lock_guard lock(wsa_mutex);
  if (wsa_refs == 0 || --wsa_refs != 0) return;
  for (extension_slot& slot : ext_slots) {
    slot.loaded.store(false, std::memory_order_relaxed);
    slot.fns = {};
  }
  WSACleanup();
}

const extension_functions& extensions(SOCKET s, address_family family) noexcept {
  std::size_t i = family == address_family::ipv6 ? 1 : family == address_family::local ? 2 : 0;
  extension_slot& slot = ext_slots[i];
  if (slot.loaded.load(std::memory_order_acquire)) return slot.fns;
  std::lock_guard lock(wsa_mutex);
  if (!slot.loaded.load(std::memory_order_relaxed)) {
    load_extension(s, guid_accept_ex, slot.fns.accept_ex);
    load_extension(s, guid_connect_ex, slot.fns.connect_ex);
    load_extension(s, guid_get_accept_ex_sockaddrs, slot.fns.get_accept_ex_sockaddrs);
    load_extension(s, guid_disconnect_ex, slot.fns.disconnect_ex);
    slot.loaded.store(true, std::memory_order_release);
  }
  return slot.fns;
}

bool running_on_wine() noexcept {
  static const bool wine = [] {
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
  }();
  return wine;
}

}  // namespace pocore::detail::win

namespace pocore::detail::sys {
namespace {

using win::last_socket_error;

SOCKET sock(const socket_state& s) noexcept { return static_cast<SOCKET>(s.handle); }

// Winsock lengths are int; a larger request is cut to what one call can
// move (streams report the short count, as send/recv may).
int clamp_len(std::size_t n) noexcept { return n > INT_MAX ? INT_MAX : static_cast<int>(n); }

// A blocking call that failed with WSAEWOULDBLOCK on a socket the user made
// non-blocking is the portable would_block; that is what the table gives.
std::error_code fail() noexcept { return last_socket_error(); }

bool is_bound(SOCKET s) noexcept {
  win::sockaddr_buffer sa;
  int len = sizeof(sa);
  // getsockname on an unbound socket fails with WSAEINVAL.
  return getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len) == 0;
}

bool reuse_requested(SOCKET s) noexcept {
  BOOL on = FALSE;
  int len = sizeof(on);
  return getsockopt(s, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<char*>(&on), &len) == 0 &&
         on != FALSE;
}

// Stream sockets bound by pocore get SO_EXCLUSIVEADDRUSE, which Windows
// only accepts before bind. Without it, any later socket that sets
// SO_REUSEADDR may bind the same port and steal our listener's
// connections (Windows' "port hijack"); with it, the clash is
// WSAEADDRINUSE / WSAEACCES like on POSIX. The two options exclude each
// other, so a user who asked for reuse_address keeps Windows' sharing
// semantics. Failure is ignored: the bind itself still reports errors.
void claim_exclusive(socket_state& s) noexcept {
  if (s.type != socket_type::stream || s.family == address_family::local) return;
  if (reuse_requested(sock(s))) return;
  BOOL on = TRUE;
  setsockopt(sock(s), SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&on),
             sizeof(on));
}

struct option_spec {
  int level;
  int name;
};

option_spec spec_of(socket_option opt) noexcept {
  switch (opt) {
    case socket_option::no_delay:
      return {IPPROTO_TCP, TCP_NODELAY};
    case socket_option::reuse_address:
      return {SOL_SOCKET, SO_REUSEADDR};
    case socket_option::keep_alive:
      return {SOL_SOCKET, SO_KEEPALIVE};
    case socket_option::linger:
      return {SOL_SOCKET, SO_LINGER};
    case socket_option::receive_buffer_size:
      return {SOL_SOCKET, SO_RCVBUF};
    case socket_option::send_buffer_size:
      return {SOL_SOCKET, SO_SNDBUF};
    case socket_option::v6_only:
      return {IPPROTO_IPV6, IPV6_V6ONLY};
  }
  return {-1, -1};
}

}  // namespace

native_handle_type open_socket(address_family family, socket_type type,
                               std::error_code& ec) noexcept {
  int af = win::native_family(family);
  if (af == AF_UNSPEC) {
    ec = make_error_code(errc::invalid_argument);
    return invalid_native_handle;
  }
  int st = type == socket_type::stream ? SOCK_STREAM : SOCK_DGRAM;
  int proto = family == address_family::local ? 0
              : type == socket_type::stream   ? IPPROTO_TCP
                                              : IPPROTO_UDP;
  // Overlapped for IOCP; non-inheritable so a child process never holds
  // our sockets open (guarantee 9). WSA_FLAG_NO_HANDLE_INHERIT needs
  // Windows 7 SP1; older systems reject it with WSAEINVAL, so fall back
  // to clearing the flag by hand.
  SOCKET s =
      WSASocketW(af, st, proto, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) {
    s = WSASocketW(af, st, proto, nullptr, 0, WSA_FLAG_OVERLAPPED);
    if (s != INVALID_SOCKET)
      SetHandleInformation(reinterpret_cast<HANDLE>(s), HANDLE_FLAG_INHERIT, 0);
  }
  if (s == INVALID_SOCKET) {
    ec = last_socket_error();
    return invalid_native_handle;
  }
  if (type == socket_type::datagram) {
    // Windows turns an ICMP port-unreachable caused by one of our sends
    // into WSAECONNRESET on the next recvfrom of an unconnected UDP socket,
    // failing a receive that has nothing to do with that peer (Linux never
    // does this). SIO_UDP_NETRESET is the TTL-expired twin. Wine 8.0
    // accepts both and never reports the ICMP anyway. Failures are ignored:
    // old systems lack the ioctl and have nothing to turn off.
    BOOL off = FALSE;
    DWORD bytes = 0;
    WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof(off), nullptr, 0, &bytes, nullptr, nullptr);
    WSAIoctl(s, SIO_UDP_NETRESET, &off, sizeof(off), nullptr, 0, &bytes, nullptr, nullptr);
  }
  ec.clear();
  return static_cast<native_handle_type>(s);
}

void close_handle(native_handle_type h) noexcept {
  if (h != invalid_native_handle) closesocket(static_cast<SOCKET>(h));
}

std::error_code bind(socket_state& s, const endpoint& ep) noexcept {
  win::sockaddr_buffer sa;
  std::error_code ec;
  int len = win::to_sockaddr(ep, sa, ec);
  if (ec) return ec;
  if (win::native_family(ep.family()) != win::native_family(s.family))
    return make_error_code(errc::address_family_not_supported);
  claim_exclusive(s);
  if (::bind(sock(s), reinterpret_cast<const sockaddr*>(&sa), len) != 0)
    return win::map_bind_error(static_cast<unsigned long>(WSAGetLastError()));
  return {};
}

std::error_code listen(socket_state& s, int backlog) noexcept {
  // Winsock refuses listen on an unbound socket (WSAEINVAL) where POSIX
  // binds to the any-address and an ephemeral port; do the same here so
  // both platforms behave alike, with the exclusive claim a bind gets.
  if (s.family != address_family::local && !is_bound(sock(s))) {
    win::sockaddr_buffer sa;
    int len = win::any_sockaddr(win::native_family(s.family), sa);
    claim_exclusive(s);
    if (::bind(sock(s), reinterpret_cast<const sockaddr*>(&sa), len) != 0)
      return win::map_bind_error(static_cast<unsigned long>(WSAGetLastError()));
  }
  if (::listen(sock(s), backlog) != 0)
    return win::map_bind_error(static_cast<unsigned long>(WSAGetLastError()));
  return {};
}

native_handle_type accept(socket_state& s, endpoint* peer, std::error_code& ec) noexcept {
  win::sockaddr_buffer sa;
  int len = sizeof(sa);
  SOCKET c = ::accept(sock(s), reinterpret_cast<sockaddr*>(&sa), &len);
  if (c == INVALID_SOCKET) {
    ec = fail();
    return invalid_native_handle;
  }
  // accept() copies the listener's attributes: overlapped (wanted) but
  // also its FIONBIO mode and, on some systems, inheritability. A new
  // pocore socket starts blocking and non-inheritable.
  SetHandleInformation(reinterpret_cast<HANDLE>(c), HANDLE_FLAG_INHERIT, 0);
  if (s.non_blocking.load(std::memory_order_relaxed)) {
    u_long off = 0;
    ioctlsocket(c, FIONBIO, &off);
  }
  if (peer != nullptr) *peer = win::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len);
  ec.clear();
  return static_cast<native_handle_type>(c);
}

std::error_code connect(socket_state& s, const endpoint& ep) noexcept {
  win::sockaddr_buffer sa;
  std::error_code ec;
  int len = win::to_sockaddr(ep, sa, ec);
  if (ec) return ec;
  if (::connect(sock(s), reinterpret_cast<const sockaddr*>(&sa), len) == 0) return {};
  int err = WSAGetLastError();
  // A non-blocking connect that has started says WSAEWOULDBLOCK on
  // Windows and EINPROGRESS on POSIX; pocore reports in_progress for both.
  if (err == WSAEWOULDBLOCK) return make_error_code(errc::in_progress);
  return win::map_error(static_cast<unsigned long>(err));
}

std::size_t send(socket_state& s, const_buffer b, std::error_code& ec) noexcept {
  int n = ::send(sock(s), static_cast<const char*>(b.data), clamp_len(b.size), 0);
  if (n == SOCKET_ERROR) {
    ec = fail();
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

std::size_t recv(socket_state& s, buffer b, std::error_code& ec) noexcept {
  int n = ::recv(sock(s), static_cast<char*>(b.data), clamp_len(b.size), 0);
  if (n == SOCKET_ERROR) {
    int err = WSAGetLastError();
    // A truncated datagram on a connected UDP socket: the buffer is full.
    if (err == WSAEMSGSIZE) {
      ec = make_error_code(errc::message_size);
      return b.size;
    }
    ec = win::map_error(static_cast<unsigned long>(err));
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

std::size_t send_to(socket_state& s, const_buffer b, const endpoint& to,
                    std::error_code& ec) noexcept {
  win::sockaddr_buffer sa;
  ec.clear();
  int len = win::to_sockaddr(to, sa, ec);
  if (ec) return 0;
  int n = ::sendto(sock(s), static_cast<const char*>(b.data), clamp_len(b.size), 0,
                   reinterpret_cast<const sockaddr*>(&sa), len);
  if (n == SOCKET_ERROR) {
    ec = fail();
    return 0;
  }
  return static_cast<std::size_t>(n);
}

std::size_t recv_from(socket_state& s, buffer b, endpoint& from, std::error_code& ec) noexcept {
  win::sockaddr_buffer sa;
  int len = sizeof(sa);
  int n = ::recvfrom(sock(s), static_cast<char*>(b.data), clamp_len(b.size), 0,
                     reinterpret_cast<sockaddr*>(&sa), &len);
  if (n == SOCKET_ERROR) {
    int err = WSAGetLastError();
    // Windows fills the buffer and the sender's address, then reports
    // WSAEMSGSIZE; Linux reports the same case through MSG_TRUNC. Both
    // become message_size with bytes = buffer size (guarantee 7).
    if (err == WSAEMSGSIZE) {
      from = win::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len);
      ec = make_error_code(errc::message_size);
      return b.size;
    }
    ec = win::map_error(static_cast<unsigned long>(err));
    return 0;
  }
  from = win::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len);
  ec.clear();
  return static_cast<std::size_t>(n);
}

std::error_code shutdown(socket_state& s, shutdown_how how) noexcept {
  int h = how == shutdown_how::receive ? SD_RECEIVE : how == shutdown_how::send ? SD_SEND : SD_BOTH;
  if (::shutdown(sock(s), h) != 0) return fail();
  if (how != shutdown_how::receive) s.send_shut.store(true, std::memory_order_relaxed);
  return {};
}

std::error_code set_option(socket_state& s, socket_option opt, int value) noexcept {
  option_spec sp = spec_of(opt);
  if (sp.level < 0) return make_error_code(errc::invalid_argument);
  // IPV6_V6ONLY on an IPv4 socket: Linux says ENOPROTOOPT, Windows
  // WSAEINVAL, and Wine 8.0 accepts it silently. Refuse it up front so
  // every platform says invalid_argument.
  if (opt == socket_option::v6_only && s.family != address_family::ipv6)
    return make_error_code(errc::invalid_argument);
  if (opt == socket_option::linger) {
    LINGER l{};
    l.l_onoff = static_cast<u_short>(value >= 0 ? 1 : 0);
    l.l_linger = static_cast<u_short>(value >= 0 ? (value > 65535 ? 65535 : value) : 0);
    if (setsockopt(sock(s), sp.level, sp.name, reinterpret_cast<const char*>(&l), sizeof(l)) != 0)
      return fail();
    return {};
  }
  if (setsockopt(sock(s), sp.level, sp.name, reinterpret_cast<const char*>(&value),
                 sizeof(value)) != 0)
    return fail();
  return {};
}

int get_option(socket_state& s, socket_option opt, std::error_code& ec) noexcept {
  option_spec sp = spec_of(opt);
  if (sp.level < 0 || (opt == socket_option::v6_only && s.family != address_family::ipv6)) {
    ec = make_error_code(errc::invalid_argument);
    return 0;
  }
  ec.clear();
  if (opt == socket_option::linger) {
    LINGER l{};
    int len = sizeof(l);
    if (getsockopt(sock(s), sp.level, sp.name, reinterpret_cast<char*>(&l), &len) != 0) {
      ec = fail();
      return 0;
    }
    return l.l_onoff ? static_cast<int>(l.l_linger) : -1;
  }
  // Zero first: some Windows versions write a single byte for the boolean
  // TCP options (optlen 1).
  int value = 0;
  int len = sizeof(value);
  if (getsockopt(sock(s), sp.level, sp.name, reinterpret_cast<char*>(&value), &len) != 0) {
    ec = fail();
    return 0;
  }
  if (len == 1) value &= 0xff;
  switch (opt) {
    case socket_option::no_delay:
    case socket_option::reuse_address:
    case socket_option::keep_alive:
    case socket_option::v6_only:
      return value != 0 ? 1 : 0;
    default:
      return value;
  }
}

std::error_code set_non_blocking(socket_state& s, bool on) noexcept {
  u_long mode = on ? 1 : 0;
  if (ioctlsocket(sock(s), FIONBIO, &mode) != 0) return fail();
  s.non_blocking.store(on, std::memory_order_relaxed);
  return {};
}

endpoint local_endpoint(socket_state& s, std::error_code& ec) noexcept {
  win::sockaddr_buffer sa;
  int len = sizeof(sa);
  if (getsockname(sock(s), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    // Winsock fails on an unbound socket (WSAEINVAL); POSIX reports the
    // any-address with port 0. Report what POSIX does.
    if (WSAGetLastError() == WSAEINVAL && s.family != address_family::local) {
      len = win::any_sockaddr(win::native_family(s.family), sa);
      ec.clear();
      return win::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len);
    }
    ec = fail();
    return {};
  }
  ec.clear();
  return win::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len);
}

endpoint remote_endpoint(socket_state& s, std::error_code& ec) noexcept {
  win::sockaddr_buffer sa;
  int len = sizeof(sa);
  if (getpeername(sock(s), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ec = fail();
    return {};
  }
  ec.clear();
  return win::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len);
}

}  // namespace pocore::detail::sys
