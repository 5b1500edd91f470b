// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The proactor's non-blocking attempts, one per kind of operation. Each is
// called with the socket's lock held, may be called again after a
// readiness edge, and keeps what it has done so far in the record
// (priv.progress for a stream send, priv.state for a connect).

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "posix/posix_addr.hpp"
#include "posix/posix_compat.hpp"  // accept4, MSG_NOSIGNAL on macOS
#include "posix/posix_errors.hpp"
#include "posix/proactor.hpp"

namespace pocore::detail {
namespace {

// pocore's buffers are passed to the kernel as iovecs; their layout says so.
static_assert(sizeof(buffer) == sizeof(iovec) && alignof(buffer) == alignof(iovec));
static_assert(offsetof(buffer, data) == offsetof(iovec, iov_base) &&
              offsetof(buffer, size) == offsetof(iovec, iov_len));
static_assert(sizeof(const_buffer) == sizeof(iovec) &&
              offsetof(const_buffer, data) == offsetof(iovec, iov_base) &&
              offsetof(const_buffer, size) == offsetof(iovec, iov_len));
// send_to keeps its converted destination in the record.
static_assert(sizeof(posix_sockaddr) <= sizeof(datagram_operation::native_addr) &&
              alignof(posix_sockaddr) <= 8);

// The most iovecs one attempt passes (well below IOV_MAX = 1024). A longer
// stream send simply takes several attempts; a datagram must fit.
constexpr std::size_t iov_window = 64;

// An attempt's view of the record's buffer array: the buffers from byte
// `skip` on, copied into a stack window, empty ones left out.
struct iov_view {
  iovec iov[iov_window];
  std::size_t count = 0;
  std::size_t bytes = 0;
  bool all = true;  // the window holds everything from `skip` to the end
};

template <class B>
void fill(iov_view& v, const B* bufs, std::size_t nbufs, std::size_t skip) noexcept {
  for (std::size_t i = 0; i < nbufs; ++i) {
    std::size_t size = bufs[i].size;
    if (skip >= size) {
      skip -= size;
      continue;
    }
    if (v.count == iov_window) {
      v.all = false;
      return;
    }
    auto* base = static_cast<char*>(const_cast<void*>(bufs[i].data));
    v.iov[v.count].iov_base = base + skip;
    v.iov[v.count].iov_len = size - skip;
    v.bytes += size - skip;
    ++v.count;
    skip = 0;
  }
}

template <class B>
std::size_t total_of(const operation& op) noexcept {
  const auto& p = op_access::priv(op);
  const auto* bufs = static_cast<const B*>(p.bufs);
  if (p.nbufs == 1) return bufs[0].size;  // the common case, on the hot path
  std::size_t n = 0;
  for (std::size_t i = 0; i < p.nbufs; ++i) n += bufs[i].size;
  return n;
}

bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

perform_result finish(operation& op, std::size_t bytes) noexcept {
  op.bytes = bytes;
  clear_error(op.error);
  return perform_result::done;
}

perform_result finish(operation& op, std::size_t bytes, std::error_code ec) noexcept {
  op.bytes = bytes;
  op.error = ec;
  return perform_result::done;
}

// What a stream recv of `asked` bytes that returned `n` comes to, in `r`;
// false for EINTR (try again).
bool stream_recv_result(proactor_socket& s, operation& op, ssize_t n, std::size_t asked,
                        perform_result& r) noexcept {
  if (n >= 0) {
    // A short read left the receive queue empty (TCP and Unix-domain
    // recvmsg return early only then), so the next arrival is a new edge
    // and the next recv need not try first. Not so once the source saw
    // a sticky state (proactor_socket::sticky_read).
    if (static_cast<std::size_t>(n) < asked && n > 0 && !s.sticky_read) s.read_ready = false;
    r = finish(op, static_cast<std::size_t>(n));
    return true;
  }
  int err = errno;
  if (err == EINTR) return false;
  if (would_block(err)) {
    s.read_ready = false;
    r = perform_result::would_block;
  } else {
    r = finish(op, 0, posix_error(err));
  }
  return true;
}

// Stream recv: at least one byte, or zero at end of stream (guarantee 3).
perform_result stream_recv(proactor_socket& s, operation& op) noexcept {
  const auto& p = priv(op);
  perform_result r;
  if (p.nbufs == 1) {  // one buffer: no iovec window to build
    const buffer& b = *static_cast<const buffer*>(p.bufs);
    if (b.size == 0) return finish(op, 0);  // nothing asked, nothing to wait for
    while (!stream_recv_result(s, op, ::recv(s.handle, b.data, b.size, 0), b.size, r)) {
    }
    return r;
  }
  iov_view v;
  fill(v, static_cast<const buffer*>(p.bufs), p.nbufs, 0);
  if (v.bytes == 0) return finish(op, 0);  // nothing asked, nothing to wait for
  for (;;) {
    ssize_t n = v.count == 1 ? ::recv(s.handle, v.iov[0].iov_base, v.iov[0].iov_len, 0)
                             : ::readv(s.handle, v.iov, static_cast<int>(v.count));
    if (stream_recv_result(s, op, n, v.bytes, r)) return r;
  }
}

ssize_t send_iov(proactor_socket& s, iov_view& v) noexcept {
  msghdr msg{};
  msg.msg_iov = v.iov;
  msg.msg_iovlen = v.count;
  return ::sendmsg(s.handle, &msg, MSG_NOSIGNAL);
}

// Stream send: loops over partial writes until every byte is out
// (guarantee 3). Progress survives in priv.progress across edges.
perform_result stream_send(proactor_socket& s, operation& op) noexcept {
  auto& p = priv(op);
  const auto* bufs = static_cast<const const_buffer*>(p.bufs);
  for (;;) {
    ssize_t n;
    std::size_t asked;
    if (p.nbufs == 1) {  // one buffer: no iovec window to build
      asked = bufs[0].size - p.progress;
      if (asked == 0) return finish(op, p.progress);
      n = ::send(s.handle, static_cast<const char*>(bufs[0].data) + p.progress, asked,
                 MSG_NOSIGNAL);
    } else {
      iov_view v;
      fill(v, bufs, p.nbufs, p.progress);
      if (v.bytes == 0) return finish(op, p.progress);
      asked = v.bytes;
      n = v.count == 1 ? ::send(s.handle, v.iov[0].iov_base, v.iov[0].iov_len, MSG_NOSIGNAL)
                       : send_iov(s, v);
    }
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (would_block(err)) {
        s.write_ready = false;
        return perform_result::would_block;
      }
      return finish(op, p.progress,
                    posix_send_error(err, s.send_shut.load(std::memory_order_relaxed)));
    }
    p.progress += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < asked) {
      // The send buffer is full: the kernel takes no more until the peer
      // acknowledges, and says so with a new writable edge.
      s.write_ready = false;
      return perform_result::would_block;
    }
  }
}

// Datagram recv and recv_from: one datagram; a truncated one is
// message_size with the buffer filled (guarantee 7).
perform_result datagram_recv(proactor_socket& s, operation& op, datagram_operation* from) noexcept {
  const auto& p = priv(op);
  iov_view v;
  fill(v, static_cast<const buffer*>(p.bufs), p.nbufs, 0);
  if (!v.all) return finish(op, 0, make_error_code(errc::message_size));
  for (;;) {
    posix_sockaddr sa;
    msghdr msg{};
    if (from != nullptr) {
      msg.msg_name = &sa.storage;
      msg.msg_namelen = sizeof(sa.storage);
    }
    msg.msg_iov = v.iov;
    msg.msg_iovlen = v.count;
    ssize_t n = ::recvmsg(s.handle, &msg, 0);
    if (n >= 0) {
      if (from != nullptr) from->peer = from_sockaddr(sa.get(), msg.msg_namelen);
      if ((msg.msg_flags & MSG_TRUNC) != 0)
        return finish(op, v.bytes, make_error_code(errc::message_size));
      return finish(op, static_cast<std::size_t>(n));
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      s.read_ready = false;
      return perform_result::would_block;
    }
    return finish(op, 0, posix_error(err));
  }
}

// Datagram send and send_to: one datagram, whole or not at all.
perform_result datagram_send(proactor_socket& s, operation& op, posix_sockaddr* to) noexcept {
  const auto& p = priv(op);
  iov_view v;
  fill(v, static_cast<const const_buffer*>(p.bufs), p.nbufs, 0);
  if (!v.all) return finish(op, 0, make_error_code(errc::message_size));
  for (;;) {
    msghdr msg{};
    if (to != nullptr) {
      msg.msg_name = &to->storage;
      msg.msg_namelen = to->length;
    }
    msg.msg_iov = v.iov;
    msg.msg_iovlen = v.count;
    ssize_t n = ::sendmsg(s.handle, &msg, MSG_NOSIGNAL);
    if (n >= 0) return finish(op, static_cast<std::size_t>(n));
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      s.write_ready = false;
      return perform_result::would_block;
    }
    return finish(op, 0, posix_send_error(err, s.send_shut.load(std::memory_order_relaxed)));
  }
}

perform_result accept_one(port_backend& port, proactor_socket& s, operation& op) noexcept {
  auto& a = static_cast<accept_operation&>(op);
  for (;;) {
    posix_sockaddr sa;
    sa.length = sizeof(sa.storage);
    int fd = posix_accept(s.handle, sa.get(), &sa.length);
    if (fd >= 0) {
      std::error_code ec;
      socket_state* ns = port.attach(fd, s.family, socket_type::stream, ec);
      if (ns == nullptr) return finish(op, 0, ec);
      a.accepted = socket(*a.accepted.port(), ns);
      a.peer = from_sockaddr(sa.get(), sa.length);
      return finish(op, 0);
    }
    int err = errno;
    switch (err) {
      case EINTR:
      // A connection that died in the backlog, and (Linux, accept(2)) the
      // network errors already pending on it, are not the listener's: take
      // the next one, as Windows' AcceptEx does.
      case ECONNABORTED:
      case EPROTO:
      case ENETDOWN:
      case ENOPROTOOPT:
      case EHOSTDOWN:
#if defined(ENONET)  // Linux only
      case ENONET:
#endif
      case EHOSTUNREACH:
      case ENETUNREACH:
        continue;
      default:
        break;
    }
    if (would_block(err)) {
      s.read_ready = false;
      return perform_result::would_block;
    }
    // EMFILE/ENFILE arrive here as too_many_files. The pending connection
    // stays in the backlog; the op completes rather than spinning on a
    // listener that stays readable.
    return finish(op, 0, posix_error(err));
  }
}

// A connect waiting in the write queue, after a writable edge.
perform_result finish_connect(proactor_socket& s, operation& op) noexcept {
  const bool local = s.family == address_family::local;
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  if (::getsockopt(s.handle, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
    return finish(op, 0, posix_error(errno));
  if (so_error != 0) return finish(op, 0, posix_connect_error(so_error, local));
  // SO_ERROR is 0 both when connected and while still connecting; only
  // the peer's name tells them apart, so a spurious edge does not finish
  // the connect early.
  posix_sockaddr sa;
  sa.length = sizeof(sa.storage);
  if (::getpeername(s.handle, sa.get(), &sa.length) == 0) return finish(op, 0);
  int err = errno;
  if (err != ENOTCONN) return finish(op, 0, posix_error(err));
  // Not connected: still in SYN_SENT (poll shows nothing), or failed and
  // the error was taken by a recv attempted meanwhile (poll shows hang-up).
  // The latter can only be a refusal or reset the recv already reported.
  pollfd pfd{s.handle, POLLOUT, 0};
  if (::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)) != 0)
    return finish(op, 0, make_error_code(errc::connection_refused));
  s.write_ready = false;
  return perform_result::would_block;
}

// Graceful disconnect, run once every send queued before it has finished.
// shutdown(SHUT_RDWR): the peer sees end of stream after the last byte,
// pending and later recvs here complete with 0 bytes (end of stream), and
// later sends fail with shut_down, which is what DisconnectEx leaves too.
perform_result disconnect(proactor_socket& s, operation& op) noexcept {
  if (::shutdown(s.handle, SHUT_RDWR) != 0) return finish(op, 0, posix_error(errno));
  s.send_shut.store(true, std::memory_order_relaxed);
  return finish(op, 0);
}

// ---- the hot path: a stream recv or send of one buffer ----
//
// The same outcomes as stream_recv and stream_send, in fewer instructions.
// The front end cleared op.error and op.bytes at submission and nothing
// sets them before the operation finishes, so success stores only the
// byte count.

[[gnu::always_inline]] inline perform_result stream_recv_fast(proactor_socket& s,
                                                              operation& op) noexcept {
  const auto& p = priv(op);
  if (p.nbufs != 1) [[unlikely]]
    return stream_recv(s, op);
  const buffer& b = *static_cast<const buffer*>(p.bufs);
  if (b.size == 0) [[unlikely]]
    return finish(op, 0);  // nothing asked, nothing to wait for
  const ssize_t n = ::recv(s.handle, b.data, b.size, 0);
  if (n > 0) [[likely]] {
    // See stream_recv_result: a short read proves the queue empty.
    if (static_cast<std::size_t>(n) < b.size && !s.sticky_read) s.read_ready = false;
    op.bytes = static_cast<std::size_t>(n);
    return perform_result::done;
  }
  perform_result r;
  if (stream_recv_result(s, op, n, b.size, r)) return r;
  return stream_recv(s, op);  // EINTR: nothing was read, try again
}

[[gnu::always_inline]] inline perform_result stream_send_fast(proactor_socket& s,
                                                              operation& op) noexcept {
  auto& p = priv(op);
  if (p.nbufs != 1 || p.progress != 0) [[unlikely]]
    return stream_send(s, op);
  const buffer& b = *static_cast<const buffer*>(p.bufs);
  if (b.size == 0) [[unlikely]]
    return finish(op, 0);
  const ssize_t n = ::send(s.handle, b.data, b.size, MSG_NOSIGNAL);
  if (n >= 0) [[likely]] {
    p.progress = static_cast<std::size_t>(n);
    if (p.progress == b.size) [[likely]] {
      op.bytes = p.progress;
      return perform_result::done;
    }
    // The send buffer is full (see stream_send); the rest after an edge.
    s.write_ready = false;
    return perform_result::would_block;
  }
  const int err = errno;
  if (err == EINTR) return stream_send(s, op);  // nothing went out
  if (would_block(err)) {
    s.write_ready = false;
    return perform_result::would_block;
  }
  return finish(op, 0, posix_send_error(err, s.send_shut.load(std::memory_order_relaxed)));
}

template <bool Send>
perform_result stream_attempt(proactor_socket& s, operation& op) noexcept {
  if constexpr (Send)
    return stream_send_fast(s, op);
  else
    return stream_recv_fast(s, op);
}

// needs_readiness() of a stream recv (Send false) or send.
template <bool Send>
bool stream_needs_readiness(operation& op) noexcept {
  if constexpr (Send)
    return total_of<const_buffer>(op) != priv(op).progress;
  else
    return total_of<buffer>(op) != 0;
}

}  // namespace

perform_result start_connect(proactor_socket& s, operation& op, const endpoint& ep) noexcept {
  posix_sockaddr sa;
  if (auto ec = to_sockaddr(ep, s.family, sa)) return finish(op, 0, ec);
  if (s.type == socket_type::stream && posix_has_peer(s.handle))
    return finish(op, 0, make_error_code(errc::already_connected));
  if (::connect(s.handle, sa.get(), sa.length) == 0) return finish(op, 0);  // Unix domain
  int err = errno;
  // EINTR: Linux goes on connecting in the background, as for EINPROGRESS.
  if (err == EINPROGRESS || err == EINTR) {
    priv(op).state = 1;
    return perform_result::would_block;
  }
  // A Unix-domain listener with a full backlog answers EAGAIN without
  // starting anything; it is reported (would_block) rather than retried.
  return finish(op, 0, posix_connect_error(err, s.family == address_family::local));
}

std::error_code prepare_send_to(proactor_socket& s, operation& op) noexcept {
  auto& d = static_cast<datagram_operation&>(op);
  return to_sockaddr(d.peer, s.family, *reinterpret_cast<posix_sockaddr*>(d.native_addr));
}

bool needs_readiness(const proactor_socket& s, operation& op) noexcept {
  switch (priv(op).kind) {
    case op_kind::disconnect:
      return false;
    case op_kind::recv:
      return s.type != socket_type::stream || total_of<buffer>(op) != 0;
    case op_kind::send:
      return s.type != socket_type::stream || total_of<const_buffer>(op) != priv(op).progress;
    default:
      return true;
  }
}

perform_result perform_op(proactor& port, proactor_socket& s, operation& op) noexcept {
  const bool stream = s.type == socket_type::stream;
  switch (priv(op).kind) {
    case op_kind::recv:
      return stream ? stream_recv(s, op) : datagram_recv(s, op, nullptr);
    case op_kind::recv_from:
      return datagram_recv(s, op, &static_cast<datagram_operation&>(op));
    case op_kind::send:
      return stream ? stream_send(s, op) : datagram_send(s, op, nullptr);
    case op_kind::send_to: {
      auto& d = static_cast<datagram_operation&>(op);
      return datagram_send(s, op, reinterpret_cast<posix_sockaddr*>(d.native_addr));
    }
    case op_kind::accept:
      return accept_one(port, s, op);
    case op_kind::connect:
      return finish_connect(s, op);
    case op_kind::disconnect:
      return disconnect(s, op);
    default:
      return finish(op, 0, make_error_code(errc::invalid_argument));
  }
}

// The hot path lives here rather than in proactor.cpp, so the attempts
// above inline into it: submission, readiness and the queue runner.

void proactor::run_queue(proactor_socket& s, op_list& q, bool& ready, op_queue& done) noexcept {
  run_queue_inline(s, q, ready, done);
}

[[gnu::always_inline]] inline void proactor::run_queue_inline(proactor_socket& s, op_list& q,
                                                              bool& ready,
                                                              op_queue& done) noexcept {
  const bool stream = s.type == socket_type::stream;
  while (operation* op = q.front()) {
    const op_kind kind = priv(*op).kind;
    perform_result r;
    if (stream && kind == op_kind::recv) {
      if (!ready && stream_needs_readiness<false>(*op)) break;
      r = stream_recv_fast(s, *op);
    } else if (stream && kind == op_kind::send) {
      if (!ready && stream_needs_readiness<true>(*op)) break;
      r = stream_send_fast(s, *op);
    } else {
      if (!ready && needs_readiness(s, *op)) break;
      r = perform_op(*this, s, *op);
    }
    if (r == perform_result::would_block) break;
    q.pop();
    done.push(*op);
  }
}

template <bool Send>
[[gnu::always_inline]] inline void proactor::submit_stream(proactor_socket& s,
                                                           operation& op) noexcept {
  op_list& q = Send ? s.write_q : s.read_q;
  std::lock_guard lock(s.mutex);
  if (s.closed) [[unlikely]] {
    op.error = make_error_code(errc::bad_descriptor);
    complete_one(op);
    return;
  }
  // Only the front of a queue is ever tried, which keeps sends in
  // submission order on the wire and recvs in submission order on the
  // data (guarantee 4): an attempt now only into an empty queue.
  if (q.empty() && ((Send ? s.write_ready : s.read_ready) || !stream_needs_readiness<Send>(op))) {
    if (stream_attempt<Send>(s, op) == perform_result::done) {
      complete_one(op);
      return;
    }
  }
  q.push(op);
  if (!s.registered) [[unlikely]] {
    op_queue done;
    park(s, q, op, done);
    complete(done);
  }
}

void proactor::submit(socket_state& state, operation& op, const endpoint* ep) noexcept {
  auto& s = static_cast<proactor_socket&>(state);
  // The type is fixed while the socket is open, which it is for as long
  // as the caller may submit on it.
  if (s.type == socket_type::stream) [[likely]] {
    if (priv(op).kind == op_kind::recv) return submit_stream<false>(s, op);
    if (priv(op).kind == op_kind::send) return submit_stream<true>(s, op);
  }
  submit_other(s, op, ep);
}

void proactor::submit_other(proactor_socket& s, operation& op, const endpoint* ep) noexcept {
  op_queue done;
  if (priv(op).kind == op_kind::send_to) {
    if (auto ec = prepare_send_to(s, op)) {
      op.error = ec;
      enqueue(op);
      return;
    }
  }
  std::lock_guard lock(s.mutex);
  op_list* q = nullptr;
  bool* ready = nullptr;
  switch (priv(op).kind) {
    case op_kind::recv:
    case op_kind::recv_from:
    case op_kind::accept:
      q = &s.read_q;
      ready = &s.read_ready;
      break;
    case op_kind::send:
    case op_kind::send_to:
    case op_kind::disconnect:
    case op_kind::connect:
      q = &s.write_q;
      ready = &s.write_ready;
      break;
    default:
      break;
  }
  if (s.closed || q == nullptr) {
    op.error = make_error_code(s.closed ? errc::bad_descriptor : errc::invalid_argument);
    done.push(op);
  } else if (priv(op).kind == op_kind::connect) {
    // connect() is made now whatever the queue holds: the destination is
    // only valid during this call. What remains waits for writability.
    if (ep == nullptr) {
      op.error = make_error_code(errc::invalid_argument);
      done.push(op);
    } else if (start_connect(s, op, *ep) == perform_result::done) {
      done.push(op);
    } else {
      s.write_ready = false;
      q->push(op);
      park(s, *q, op, done);
    }
  } else {
    // Only the front of a queue is ever tried (guarantee 4, as above).
    bool was_empty = q->empty();
    q->push(op);
    if (was_empty) run_queue(s, *q, *ready, done);
    if (!q->empty() && !s.registered) park(s, *q, op, done);
  }
  complete(done);
}

void proactor::on_ready(std::uint64_t token, bool readable, bool writable, bool sticky) noexcept {
  proactor_socket* s = lookup(static_cast<std::uint32_t>(token));
  if (s == nullptr) return;
  std::lock_guard lock(s->mutex);
  // Generation first: for a stale event it is the only field read (see
  // attach()).
  if (s->generation != static_cast<std::uint32_t>(token >> 32) || s->closed) return;
  if (sticky) s->sticky_read = true;
  // The sole run() thread finishes straight into its private list, as
  // complete() would move them there.
  op_queue shared;
  op_queue& done = solo() ? *tls_run.list : shared;
  // Writes first: a failed connect must read its error (SO_ERROR) before
  // a recv queued behind it could consume the same pending error.
  if (writable) {
    s->write_ready = true;
    if (!s->write_q.empty()) run_queue_inline(*s, s->write_q, s->write_ready, done);
  }
  if (readable) {
    s->read_ready = true;
    if (!s->read_q.empty()) run_queue_inline(*s, s->read_q, s->read_ready, done);
  }
  if (!shared.empty()) complete_shared(shared);
}

}  // namespace pocore::detail
