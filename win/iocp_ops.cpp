// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The IOCP operations: accept (AcceptEx), connect (ConnectEx), stream
// recv/send (WSARecv/WSASend), datagrams (WSARecvFrom/WSASendTo) and
// disconnect (DisconnectEx), and how each one's packet becomes a result.
//
// Every path ends in exactly one of: a pending call (the port delivers a
// packet), an immediate success posted by us (skip-on-success queues
// nothing), or an immediate failure posted by us as a finished record. A
// Winsock call that fails with anything but WSA_IO_PENDING queues no
// packet; asio and libuv rely on the same rule.

// Winsock first, in the order the Windows SDK requires.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
// clang-format on

#include <climits>
#include <cstring>
#include <memory>
#include <new>

#include "common/op_access.hpp"
#include "common/sys.hpp"
#include "pocore/socket.hpp"
#include "win/iocp_port.hpp"
#include "win/win_addr.hpp"
#include "win/win_errors.hpp"
#include "win/win_socket.hpp"

namespace pocore::detail {
namespace {

// WSABUF entries kept on the stack. Winsock captures the WSABUF array
// before an overlapped call returns (the buffers stay locked, the array
// does not), so a stack array is enough; a longer gather gets a heap array
// freed right after the call, so that every send is still a single call
// and concurrent sends cannot interleave (guarantee 4). One entry holds at
// most 1 GiB (WSABUF::len is a ULONG).
constexpr std::size_t inline_wsabufs = 64;
constexpr ULONG max_wsabuf_len = 1ul << 30;

// AcceptEx wants room for each address plus 16 bytes.
constexpr DWORD accept_addr_len = sizeof(SOCKADDR_STORAGE) + 16;
static_assert(2 * accept_addr_len <= sizeof(accept_operation::native_addr));
static_assert(sizeof(SOCKADDR_STORAGE) + sizeof(INT) <= sizeof(datagram_operation::native_addr));

static_assert(sizeof(buffer) == sizeof(const_buffer) &&
                  offsetof(buffer, size) == offsetof(const_buffer, size),
              "buffer and const_buffer share one layout");

SOCKET sock(const socket_state& s) noexcept { return static_cast<SOCKET>(s.handle); }

// The record's buffers; recv and send arrays share one layout.
const buffer* bufs_of(operation& op) noexcept { return static_cast<const buffer*>(priv(op).bufs); }

std::size_t total_of(operation& op) noexcept {
  std::size_t n = 0;
  const buffer* b = bufs_of(op);
  for (std::size_t i = 0; i < priv(op).nbufs; ++i) n += b[i].size;
  return n;
}

// The WSABUF array for one Winsock call.
class wsabuf_list {
 public:
  /// Describes the record's bytes from `skip` on, skipping empty buffers.
  /// With `all`, every byte (sends: a heap array if needed; false when
  /// that allocation fails); without, as many as the stack array holds
  /// (receives may fill less than asked anyway).
  bool fill(operation& op, std::size_t skip, bool all) noexcept {
    const buffer* b = bufs_of(op);
    const std::size_t n = priv(op).nbufs;
    std::size_t want = 0;
    std::size_t s = skip;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t size = b[i].size;
      if (s >= size) {
        s -= size;
        continue;
      }
      size -= s;
      s = 0;
      want += (size + max_wsabuf_len - 1) / max_wsabuf_len;
    }
    std::size_t cap = inline_wsabufs;
    if (all && want > inline_wsabufs) {
      if (want > ULONG_MAX) return false;
      heap_.reset(new (std::nothrow) WSABUF[want]);
      if (!heap_) return false;
      bufs_ = heap_.get();
      cap = want;
    }
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t size = b[i].size;
      if (skip >= size) {
        skip -= size;
        continue;
      }
      auto* data = static_cast<char*>(b[i].data) + skip;
      size -= skip;
      skip = 0;
      while (size != 0 && count_ < cap) {
        ULONG len = size > max_wsabuf_len ? max_wsabuf_len : static_cast<ULONG>(size);
        bufs_[count_++] = WSABUF{len, data};
        data += len;
        size -= len;
      }
    }
    // Winsock wants at least one entry; an empty one sends or takes an
    // empty datagram.
    if (count_ == 0) bufs_[count_++] = WSABUF{0, nullptr};
    return true;
  }
  WSABUF* data() noexcept { return bufs_; }
  DWORD count() const noexcept { return static_cast<DWORD>(count_); }

 private:
  WSABUF inline_[inline_wsabufs];
  std::unique_ptr<WSABUF[]> heap_;
  WSABUF* bufs_ = inline_;
  std::size_t count_ = 0;
};

void reset(operation& op) noexcept {
  iocp_op_native& n = native(op);
  std::memset(&n.ov, 0, sizeof(n.ov));
  n.self = &op;
}

int last_wsa() noexcept { return WSAGetLastError(); }

// ConnectEx needs a bound socket, so start_connect binds to port 0 first.
// The port that bind picks may be the very one the connect is aimed at
// when nothing listens there any more (a listener on the same host just
// closed), and then TCP's simultaneous open connects the socket to itself:
// a "success" with nobody at the other end. Seen under Wine 8.0 in about 1
// of 3,000 tries of bind 127.0.0.1:0 + close, then bind 0.0.0.0:0. A plain
// connect() on Linux rarely meets it (its automatic port has the other
// parity). Nobody listened on that port, so report what the caller would
// have got a moment earlier: refused. (Go's net package checks the same.)
bool connected_to_itself(SOCKET h) noexcept {
  win::sockaddr_buffer local;
  win::sockaddr_buffer peer;
  int local_len = sizeof(local);
  int peer_len = sizeof(peer);
  if (getsockname(h, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
      getpeername(h, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0)
    return false;
  return win::from_sockaddr(reinterpret_cast<const sockaddr*>(&local), local_len) ==
         win::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), peer_len);
}

}  // namespace

// Called under the socket's mutex before a record goes back to the kernel:
// true when close() or cancel() came for it since it was last issued.
bool iocp_port::cancelled_since_issue(const iocp_socket_state& s, operation& op) noexcept {
  const auto& p = priv(op);
  return s.closed || (p.state & state_cancelled) != 0 ||
         p.index != s.cancel_gen.load(std::memory_order_relaxed);
}

// ---- submission ----

void iocp_port::submit(socket_state& base, operation& op, const endpoint* ep) noexcept {
  auto& s = static_cast<iocp_socket_state&>(base);
  auto& p = priv(op);
  // The record pins the state until its callback has run.
  s.refs.fetch_add(1, std::memory_order_relaxed);
  p.flags = flag_ref;
  p.state = 0;
  // priv.index is the timer-heap slot, unused by socket records: it keeps
  // the cancel-all generation the record started under.
  p.index = s.cancel_gen.load(std::memory_order_relaxed);
  reset(op);
  switch (p.kind) {
    case op_kind::accept:
      return start_accept(s, op);
    case op_kind::connect:
      return start_connect(s, op, ep);
    case op_kind::recv:
      return start_recv(s, op);
    case op_kind::send:
      return start_send(s, op);
    case op_kind::recv_from:
      return start_recv_from(s, op);
    case op_kind::send_to:
      return start_send_to(s, op);
    case op_kind::disconnect:
      return start_disconnect(s, op);
    default:
      return fail(s, op, errc::invalid_argument);
  }
}

void iocp_port::fail(iocp_socket_state& s, operation& op, errc e) noexcept {
  (void)s;
  op.error = make_error_code(e);
  op.bytes = priv(op).progress;
  post_ready(op);
}

void iocp_port::fail(iocp_socket_state& s, operation& op, unsigned long err) noexcept {
  auto& p = priv(op);
  if (p.kind == op_kind::accept) closesocket(native(op).accept_socket);
  op.error = win::map_error(err);
  // A truncated datagram found at once: the buffer was filled.
  if (op.error == errc::message_size)
    op.bytes = total_of(op);
  else
    op.bytes = p.progress;
  (void)s;
  post_ready(op);
}

void iocp_port::issued(iocp_socket_state& s, operation& op, bool ok, DWORD bytes,
                       int err) noexcept {
  if (ok) {
    // Finished at once. With skip-on-success no packet is queued, so post
    // one that looks like the port's own; without it the port posts.
    if (!s.skip_on_success) return;
    iocp_op_native& n = native(op);
    n.ov.Internal = 0;  // STATUS_SUCCESS, read back by take()
    if (PostQueuedCompletionStatus(port_, bytes, reinterpret_cast<ULONG_PTR>(&s), &n.ov)) return;
    // No memory for a packet: park the raw result for run(), which turns
    // it into a result there (never here: we may hold the socket's mutex).
    n.ov.InternalHigh = bytes;
    priv(op).flags |= flag_raw;
    park(op);
    return;
  }
  if (err == WSA_IO_PENDING) return;  // the port delivers the packet
  fail(s, op, static_cast<unsigned long>(err));
}

void iocp_port::start_accept(iocp_socket_state& s, operation& op) noexcept {
  if (s.type != socket_type::stream) return fail(s, op, errc::operation_not_supported);
  const win::extension_functions& ext = win::extensions(sock(s), s.family);
  if (ext.accept_ex == nullptr || ext.get_accept_ex_sockaddrs == nullptr)
    return fail(s, op, errc::operation_not_supported);
  std::error_code ec;
  native_handle_type acc = sys::open_socket(s.family, s.type, ec);
  if (ec) {
    op.error = ec;
    return post_ready(op);
  }
  native(op).accept_socket = static_cast<SOCKET>(acc);
  auto& aop = static_cast<accept_operation&>(op);
  DWORD bytes = 0;
  BOOL ok = ext.accept_ex(sock(s), static_cast<SOCKET>(acc), aop.native_addr, 0, accept_addr_len,
                          accept_addr_len, &bytes, &native(op).ov);
  issued(s, op, ok != FALSE, bytes, ok ? 0 : last_wsa());
}

void iocp_port::start_connect(iocp_socket_state& s, operation& op, const endpoint* ep) noexcept {
  if (ep == nullptr) return fail(s, op, errc::invalid_argument);
  win::sockaddr_buffer sa;
  std::error_code ec;
  int len = win::to_sockaddr(*ep, sa, ec);
  if (ec) return fail(s, op, errc::invalid_argument);
  if (win::native_family(ep->family()) != win::native_family(s.family))
    return fail(s, op, errc::address_family_not_supported);
  if (s.family == address_family::local) {
    // ConnectEx needs a bound socket and AF_UNIX has no any-address to
    // bind to, so Unix-domain sockets connect synchronously. That is
    // immediate (accepted into the backlog or refused at once); the
    // result still arrives through the port like any other.
    if (::connect(sock(s), reinterpret_cast<const sockaddr*>(&sa), len) != 0)
      return fail(s, op, static_cast<unsigned long>(last_wsa()));
    op.error.clear();
    return post_ready(op);
  }
  // ConnectEx refuses an unbound socket (WSAEINVAL) where connect() binds
  // implicitly; bind to the family's any-address and an ephemeral port.
  win::sockaddr_buffer local;
  int local_len = sizeof(local);
  if (getsockname(sock(s), reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    local_len = win::any_sockaddr(win::native_family(s.family), local);
    if (::bind(sock(s), reinterpret_cast<const sockaddr*>(&local), local_len) != 0)
      return fail(s, op, static_cast<unsigned long>(last_wsa()));
  }
  const win::extension_functions& ext = win::extensions(sock(s), s.family);
  if (ext.connect_ex == nullptr) return fail(s, op, errc::operation_not_supported);
  // Winsock copies the address when the call starts; the stack copy is fine.
  DWORD bytes = 0;
  BOOL ok = ext.connect_ex(sock(s), reinterpret_cast<const sockaddr*>(&sa), len, nullptr, 0, &bytes,
                           &native(op).ov);
  issued(s, op, ok != FALSE, 0, ok ? 0 : last_wsa());
}

void iocp_port::start_recv(iocp_socket_state& s, operation& op) noexcept {
  // A zero-byte WSARecv pends until data arrives and then reports 0 bytes,
  // indistinguishable from end of stream. pocore's zero-byte stream recv
  // completes at once with 0 bytes and no error instead (guarantee 3).
  if (s.type == socket_type::stream && total_of(op) == 0) {
    op.error.clear();
    return post_ready(op);
  }
  wsabuf_list list;
  list.fill(op, 0, false);
  DWORD bytes = 0;
  DWORD flags = 0;
  int rc = WSARecv(sock(s), list.data(), list.count(), &bytes, &flags, &native(op).ov, nullptr);
  issued(s, op, rc == 0, bytes, rc == 0 ? 0 : last_wsa());
}

void iocp_port::start_send(iocp_socket_state& s, operation& op) noexcept {
  if (s.type == socket_type::stream) {
    if (total_of(op) == 0) {
      op.error.clear();
      return post_ready(op);
    }
    return issue_send(s, op);
  }
  wsabuf_list list;
  if (!list.fill(op, 0, true)) return fail(s, op, errc::no_buffer_space);
  DWORD bytes = 0;
  int rc = WSASend(sock(s), list.data(), list.count(), &bytes, 0, &native(op).ov, nullptr);
  issued(s, op, rc == 0, bytes, rc == 0 ? 0 : last_wsa());
}

// Sends the stream bytes from priv.progress on, in one call. Overlapped
// WSASend completes only when all of them went out or the connection
// failed; should a provider ever complete one short without an error,
// complete() sends the rest (a send submitted meanwhile may then go
// first, which no Microsoft provider is known to cause).
void iocp_port::issue_send(iocp_socket_state& s, operation& op) noexcept {
  wsabuf_list list;
  if (!list.fill(op, priv(op).progress, true)) return fail(s, op, errc::no_buffer_space);
  reset(op);
  DWORD bytes = 0;
  int rc = WSASend(sock(s), list.data(), list.count(), &bytes, 0, &native(op).ov, nullptr);
  issued(s, op, rc == 0, bytes, rc == 0 ? 0 : last_wsa());
}

void iocp_port::start_recv_from(iocp_socket_state& s, operation& op) noexcept {
  auto& dop = static_cast<datagram_operation&>(op);
  auto* from = reinterpret_cast<sockaddr*>(dop.native_addr);
  auto* from_len = reinterpret_cast<INT*>(dop.native_addr + sizeof(SOCKADDR_STORAGE));
  // Written by Winsock when the datagram arrives, so both live in the record.
  *from_len = sizeof(SOCKADDR_STORAGE);
  wsabuf_list list;
  list.fill(op, 0, false);
  DWORD bytes = 0;
  DWORD flags = 0;
  int rc = WSARecvFrom(sock(s), list.data(), list.count(), &bytes, &flags, from, from_len,
                       &native(op).ov, nullptr);
  int err = rc == 0 ? 0 : last_wsa();
  // Truncated at once: the buffer and the sender are filled in now.
  if (err == WSAEMSGSIZE) dop.peer = win::from_sockaddr(from, *from_len);
  issued(s, op, rc == 0, bytes, err);
}

void iocp_port::start_send_to(iocp_socket_state& s, operation& op) noexcept {
  auto& dop = static_cast<datagram_operation&>(op);
  win::sockaddr_buffer sa;
  std::error_code ec;
  int len = win::to_sockaddr(dop.peer, sa, ec);
  if (ec) return fail(s, op, errc::invalid_argument);
  wsabuf_list list;
  if (!list.fill(op, 0, true)) return fail(s, op, errc::no_buffer_space);
  DWORD bytes = 0;
  int rc = WSASendTo(sock(s), list.data(), list.count(), &bytes, 0,
                     reinterpret_cast<const sockaddr*>(&sa), len, &native(op).ov, nullptr);
  issued(s, op, rc == 0, bytes, rc == 0 ? 0 : last_wsa());
}

void iocp_port::start_disconnect(iocp_socket_state& s, operation& op) noexcept {
  if (s.type != socket_type::stream) return fail(s, op, errc::operation_not_supported);
  s.send_shut.store(true, std::memory_order_relaxed);
  const win::extension_functions& ext = win::extensions(sock(s), s.family);
  if (ext.disconnect_ex == nullptr) {
    // A provider without DisconnectEx (AF_UNIX on some builds): shutdown
    // queues the FIN behind every pending send just the same.
    if (::shutdown(sock(s), SD_BOTH) != 0)
      return fail(s, op, static_cast<unsigned long>(last_wsa()));
    op.error.clear();
    return post_ready(op);
  }
  if (win::running_on_wine()) {
    // Wine 8.0 bug: an overlapped DisconnectEx on a socket with
    // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS returns ERROR_IO_PENDING but
    // never queues its packet (it finished synchronously inside). Wine
    // does the disconnect at once either way, so the synchronous form
    // (no OVERLAPPED) loses nothing there.
    if (!ext.disconnect_ex(sock(s), nullptr, 0, 0))
      return fail(s, op, static_cast<unsigned long>(last_wsa()));
    op.error.clear();
    return post_ready(op);
  }
  // Flags 0: a graceful disconnect, queued behind pending sends; the
  // socket is not reused (pocore closes it).
  BOOL ok = ext.disconnect_ex(sock(s), &native(op).ov, 0, 0);
  issued(s, op, ok != FALSE, 0, ok ? 0 : last_wsa());
}

// ---- completion ----

operation* iocp_port::complete(iocp_socket_state& s, operation& op, unsigned long err,
                               std::size_t bytes) noexcept {
  auto& p = priv(op);
  // Wine only (see adopt_packet_status): the operation's APC was dropped.
  // An AcceptEx has then accepted the connection, only the addresses were
  // not copied out; a receive has not run at all.
  bool addresses_lost = false;
  if (static_cast<std::uint32_t>(native(op).ov.Internal) == status_alerted && bytes == 0) {
    if (p.kind == op_kind::accept) {
      err = 0;
      addresses_lost = true;
    } else if (issue_again(s, op, err)) {
      return nullptr;
    }
  }
  std::error_code ec;
  if (err != 0) {
    // A closed socket's operations end as "aborted" whatever status the
    // close produced (see map_closed_error). `closed` is only read here:
    // close() runs under the mutex, but a stale "open" merely gives the
    // native code for an operation that finished before the close.
    bool closed;
    {
      std::lock_guard lock(s.mutex);
      closed = s.closed;
    }
    ec = closed ? win::map_closed_error(err) : win::map_error(err);
  }
  op.error = ec;
  switch (p.kind) {
    case op_kind::send:
      if (s.type == socket_type::stream) {
        p.progress += bytes;
        op.bytes = p.progress;
        if (ec || bytes == 0 || p.progress >= total_of(op)) return &op;
        // More to send: a short completion or the next WSABUF array. Under
        // the mutex so close() cannot free the handle number in between and
        // cancel() cannot miss the record while it is not in the kernel.
        std::lock_guard lock(s.mutex);
        if (cancelled_since_issue(s, op)) {
          op.error = make_error_code(errc::operation_aborted);
          return &op;
        }
        issue_send(s, op);
        return nullptr;
      }
      op.bytes = bytes;
      return &op;
    case op_kind::recv:
    case op_kind::send_to:
      // A truncated datagram reports the buffer size (it was filled).
      op.bytes = ec == errc::message_size ? total_of(op) : bytes;
      return &op;
    case op_kind::recv_from: {
      auto& dop = static_cast<datagram_operation&>(op);
      op.bytes = ec == errc::message_size ? total_of(op) : bytes;
      if (!ec || ec == errc::message_size) {
        auto* from = reinterpret_cast<const sockaddr*>(dop.native_addr);
        auto len = *reinterpret_cast<const INT*>(dop.native_addr + sizeof(SOCKADDR_STORAGE));
        dop.peer = win::from_sockaddr(from, len);
      }
      return &op;
    }
    case op_kind::connect:
      op.bytes = 0;
      if (!ec) {
        std::lock_guard lock(s.mutex);
        if (s.closed) {
          op.error = make_error_code(errc::operation_aborted);
        } else if (setsockopt(sock(s), SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0) != 0) {
          // Without it getpeername/shutdown fail on Windows (Wine does not
          // care, WINE.md). It only fails if the socket is unusable.
          op.error = win::last_socket_error();
        } else if (connected_to_itself(sock(s))) {
          op.error = make_error_code(errc::connection_refused);
        }
      }
      return &op;
    case op_kind::accept:
      op.bytes = 0;
      if (ec && accept_again(s, op, err, ec)) return nullptr;
      complete_accept(s, op, ec, addresses_lost);
      return &op;
    default:
      op.bytes = bytes;
      return &op;
  }
}

// Wine 8.0 can finish a receive it never performed: the packet says
// STATUS_ALERTED with 0 bytes (see adopt_packet_status in iocp_port.cpp).
// Nothing was read (the client-side read, which would have written the
// OVERLAPPED, never ran), so issuing the record again loses and repeats
// nothing. The same holds for a datagram send (all or nothing), but not for
// a stream send: earlier tries may have sent part of it, which the packet
// does not count; that one is reported as it came. Windows never completes
// an I/O with this status.
bool iocp_port::issue_again(iocp_socket_state& s, operation& op, unsigned long& err) noexcept {
  auto& p = priv(op);
  const bool whole = p.kind == op_kind::recv || p.kind == op_kind::recv_from ||
                     p.kind == op_kind::send_to ||
                     (p.kind == op_kind::send && s.type != socket_type::stream);
  if (!whole) return false;
  std::lock_guard lock(s.mutex);
  if (cancelled_since_issue(s, op)) {
    err = ERROR_OPERATION_ABORTED;
    return false;
  }
  reset(op);
  switch (p.kind) {
    case op_kind::recv:
      start_recv(s, op);
      break;
    case op_kind::send:
      start_send(s, op);
      break;
    case op_kind::recv_from:
      start_recv_from(s, op);
      break;
    default:
      start_send_to(s, op);
      break;
  }
  return true;
}

// AcceptEx took a connection that died before the accept completed: reset
// by the peer (ERROR_NETNAME_DELETED, as Windows reports it), aborted, or,
// under Wine 8.0, "not connected": its server reads the peer address with
// getpeername(), which fails with ENOTCONN once the peer has reset, and
// completes the AcceptEx with STATUS_INVALID_CONNECTION. The listener is
// fine, so take the next connection with a fresh socket, as the POSIX
// backends do for ECONNABORTED (and libuv and Asio for AcceptEx). Each
// retry consumes one dead connection of the backlog, so this cannot spin.
// Returns true when the record went back to the kernel; when the listener
// was closed or the record cancelled meanwhile, the record completes as
// aborted instead (`ec`), the dead connection being nobody's business.
bool iocp_port::accept_again(iocp_socket_state& s, operation& op, unsigned long err,
                             std::error_code& ec) noexcept {
  switch (err) {
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED:
    case ERROR_CONNECTION_INVALID:
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAENOTCONN:
      break;
    default:
      return false;
  }
  std::lock_guard lock(s.mutex);
  if (cancelled_since_issue(s, op)) {
    ec = make_error_code(errc::operation_aborted);
    op.error = ec;
    return false;
  }
  closesocket(native(op).accept_socket);
  reset(op);
  start_accept(s, op);
  return true;
}

void iocp_port::complete_accept(iocp_socket_state& s, operation& op, std::error_code ec,
                                bool addresses_lost) noexcept {
  auto& aop = static_cast<accept_operation&>(op);
  SOCKET acc = native(op).accept_socket;
  if (!ec) {
    std::lock_guard lock(s.mutex);
    if (s.closed) {
      // The listener is gone; its handle number may already name another
      // socket, so no context update. The connection is dropped.
      ec = make_error_code(errc::operation_aborted);
    } else {
      // Gives the new socket the listener's properties; without it
      // getpeername and shutdown fail on Windows.
      SOCKET listener = sock(s);
      if (setsockopt(acc, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                     reinterpret_cast<const char*>(&listener), sizeof(listener)) != 0)
        ec = win::last_socket_error();
    }
  }
  if (ec) {
    closesocket(acc);
    op.error = ec;
    return;
  }
  if (s.non_blocking.load(std::memory_order_relaxed)) {
    // The context update copies the listener's FIONBIO mode too; a new
    // pocore socket starts blocking.
    u_long off = 0;
    ioctlsocket(acc, FIONBIO, &off);
  }
  if (addresses_lost) {
    // The AcceptEx buffer was never filled: ask the socket itself.
    win::sockaddr_buffer sa;
    int len = sizeof(sa);
    aop.peer = getpeername(acc, reinterpret_cast<sockaddr*>(&sa), &len) == 0
                   ? win::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len)
                   : endpoint{};
  } else {
    const win::extension_functions& ext = win::extensions(acc, s.family);
    sockaddr* local = nullptr;
    sockaddr* remote = nullptr;
    INT local_len = 0;
    INT remote_len = 0;
    ext.get_accept_ex_sockaddrs(aop.native_addr, 0, accept_addr_len, accept_addr_len, &local,
                                &local_len, &remote, &remote_len);
    aop.peer = win::from_sockaddr(remote, remote_len);
  }
  socket_state* ns = attach(static_cast<native_handle_type>(acc), s.family, s.type, ec);
  if (ns == nullptr) {  // attach closed the handle
    aop.peer = endpoint{};
    op.error = ec;
    return;
  }
  aop.accepted = pocore::socket(*aop.accepted.port(), ns);
}

}  // namespace pocore::detail
