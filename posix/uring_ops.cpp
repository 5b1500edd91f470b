// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The io_uring backend's operations: what each kind puts into the ring, and
// what its completion comes to (finished, or back into the ring). Called
// with the socket's lock held.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>

#include "common/sys.hpp"
#include "posix/posix_errors.hpp"
#include "posix/uring_port.hpp"

namespace pocore::detail {
namespace {

// pocore's buffers go to the kernel as iovecs; their layout says so.
static_assert(sizeof(buffer) == sizeof(iovec) && alignof(buffer) == alignof(iovec));
static_assert(offsetof(buffer, data) == offsetof(iovec, iov_base) &&
              offsetof(buffer, size) == offsetof(iovec, iov_len));
static_assert(sizeof(const_buffer) == sizeof(iovec) &&
              offsetof(const_buffer, data) == offsetof(iovec, iov_base) &&
              offsetof(const_buffer, size) == offsetof(iovec, iov_len));
// recv_from/send_to keep their sockaddr in the record, accept its peer's.
static_assert(sizeof(posix_sockaddr) <= sizeof(datagram_operation::native_addr) &&
              sizeof(posix_sockaddr) <= sizeof(accept_operation::native_addr) &&
              alignof(posix_sockaddr) <= 8);

template <class B>
std::size_t total_of(const operation& op) noexcept {
  const auto& p = op_access::priv(op);
  const auto* bufs = static_cast<const B*>(p.bufs);
  if (p.nbufs == 1) return bufs[0].size;  // the common case, on the hot path
  std::size_t n = 0;
  for (std::size_t i = 0; i < p.nbufs; ++i) n += bufs[i].size;
  return n;
}

iovec* as_iov(const void* bufs) noexcept { return static_cast<iovec*>(const_cast<void*>(bufs)); }

posix_sockaddr& addr_of(operation& op) noexcept {
  if (priv(op).kind == op_kind::accept)
    return *reinterpret_cast<posix_sockaddr*>(static_cast<accept_operation&>(op).native_addr);
  return *reinterpret_cast<posix_sockaddr*>(static_cast<datagram_operation&>(op).native_addr);
}

// priv(op).state of a connect that waits for writability (see finish_op).
constexpr std::uint8_t uring_connect_polling = 1;

// Linux's UIO_MAXIOV: the most iovecs one call takes.
constexpr std::size_t uio_maxiov = 1024;

// An SQE's length field is 32 bits; the kernel moves at most MAX_RW_COUNT
// (INT_MAX rounded down to a page) per call anyway, and a stream op simply
// goes round again for the rest.
unsigned clamp_len(std::size_t n) noexcept {
  constexpr std::size_t max_rw = 0x7ffff000;
  return static_cast<unsigned>(n < max_rw ? n : max_rw);
}

bool done(operation& op, std::size_t bytes) noexcept {
  op.bytes = bytes;
  clear_error(op.error);
  return true;
}

bool done(operation& op, std::size_t bytes, std::error_code ec) noexcept {
  op.bytes = bytes;
  op.error = ec;
  return true;
}

// The window of a stream send's buffers from byte `skip` on. A send longer
// than the window simply goes into the ring again for the rest.
std::size_t send_window(uring_socket_cold& s, const operation& op, std::size_t skip) noexcept {
  const auto& p = op_access::priv(op);
  const auto* bufs = static_cast<const const_buffer*>(p.bufs);
  std::size_t count = 0;
  for (std::size_t i = 0; i < p.nbufs && count < uring_socket_cold::iov_window; ++i) {
    std::size_t size = bufs[i].size;
    if (skip >= size) {
      skip -= size;
      continue;
    }
    s.write_iov[count].iov_base = static_cast<char*>(const_cast<void*>(bufs[i].data)) + skip;
    s.write_iov[count].iov_len = size - skip;
    ++count;
    skip = 0;
  }
  return count;
}

// Accept errors that belong to one dead connection in the backlog, not to
// the listener (Linux accept(2)): take the next connection instead, as
// Windows' AcceptEx does. Same list as the epoll proactor.
bool accept_retry(int err) noexcept {
  switch (err) {
    case EINTR:
    case EAGAIN:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool uring_port::issue(uring_socket& s, operation& op) noexcept {
  auto& p = priv(op);
  const bool stream = s.type == socket_type::stream;
  if (!uring_is_read(p.kind) && !uring_is_write(p.kind)) {
    done(op, 0, make_ec(errc::invalid_argument));
    return false;
  }
  // A one-buffer stream recv or send (the hot path) and an accept need
  // nothing but the SQE; the rest keep their msghdr, iovecs or sockaddr in
  // the socket's cold part, made here on first use.
  uring_socket_cold* c = nullptr;
  if (!(stream && p.nbufs == 1 && (p.kind == op_kind::recv || p.kind == op_kind::send)) &&
      p.kind != op_kind::accept) {
    c = s.cold_part();
    if (c == nullptr) {
      done(op, p.progress, make_ec(errc::not_enough_memory));
      return false;
    }
  }
  std::lock_guard lock(sq_mutex_);
  io_uring_sqe* sqe = sqe_locked();
  if (sqe == nullptr) {
    done(op, p.progress, make_ec(errc::no_buffer_space));
    return false;
  }
  const int fd = s.handle;
  switch (p.kind) {
    case op_kind::recv:
      if (stream && p.nbufs == 1) {
        const auto& b = static_cast<const buffer*>(p.bufs)[0];
        io_uring_prep_recv(sqe, fd, b.data, clamp_len(b.size), 0);
        p.state = uring_state_hot;  // its CQE may take the fast path
        break;
      }
      [[fallthrough]];
    case op_kind::recv_from: {
      // MSG_TRUNC makes a datagram recv return the datagram's real length,
      // so a truncation shows as a result larger than the buffers.
      c->read_msg = msghdr{};
      if (p.kind == op_kind::recv_from) {
        posix_sockaddr& sa = addr_of(op);
        sa.storage.ss_family = AF_UNSPEC;
        c->read_msg.msg_name = &sa.storage;
        c->read_msg.msg_namelen = sizeof(sa.storage);
      }
      c->read_msg.msg_iov = as_iov(p.bufs);
      // A stream recv may fill just the first IOV_MAX buffers.
      c->read_msg.msg_iovlen = stream && p.nbufs > uio_maxiov ? uio_maxiov : p.nbufs;
      io_uring_prep_recvmsg(sqe, fd, &c->read_msg, stream ? 0 : MSG_TRUNC);
      break;
    }
    case op_kind::send:
      if (stream) {
        if (p.nbufs == 1) {
          const auto& b = static_cast<const const_buffer*>(p.bufs)[0];
          io_uring_prep_send(sqe, fd, static_cast<const char*>(b.data) + p.progress,
                             clamp_len(b.size - p.progress), MSG_NOSIGNAL);
          p.state = uring_state_hot;
          break;
        }
        c->write_msg = msghdr{};
        c->write_msg.msg_iov = c->write_iov;
        c->write_msg.msg_iovlen = send_window(*c, op, p.progress);
        io_uring_prep_sendmsg(sqe, fd, &c->write_msg, MSG_NOSIGNAL);
        break;
      }
      [[fallthrough]];
    case op_kind::send_to: {
      c->write_msg = msghdr{};
      if (p.kind == op_kind::send_to) {
        posix_sockaddr& sa = addr_of(op);
        c->write_msg.msg_name = &sa.storage;
        c->write_msg.msg_namelen = sa.length;
      }
      c->write_msg.msg_iov = as_iov(p.bufs);
      c->write_msg.msg_iovlen = p.nbufs;
      io_uring_prep_sendmsg(sqe, fd, &c->write_msg, MSG_NOSIGNAL);
      break;
    }
    case op_kind::accept: {
      // Non-blocking like every pocore descriptor (the synchronous calls
      // rely on it), close-on-exec (guarantee 9).
      posix_sockaddr& sa = addr_of(op);
      sa.length = sizeof(sa.storage);
      io_uring_prep_accept(sqe, fd, sa.get(), &sa.length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    }
    case op_kind::connect:
      if (p.state == uring_connect_polling)
        io_uring_prep_poll_add(sqe, fd, POLLOUT);
      else
        io_uring_prep_connect(sqe, fd, c->connect_addr.get(), c->connect_addr.length);
      break;
    default:
      // A disconnect never gets here (start_next runs it); anything else
      // was refused above. The SQE goes in as a NOP nobody waits for.
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, uring_tag_cancel);
      prepared_locked();
      done(op, 0, make_ec(errc::invalid_argument));
      return false;
  }
  POCORE_URING_HANDOFF(&op);
  io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&op)));
  prepared_locked();
  ++s.inflight;
  return true;
}

void uring_port::request_cancel(operation& op) noexcept {
  auto& p = priv(op);
  if ((p.flags & uring_flag_cancel) != 0) return;
  p.flags |= uring_flag_cancel;
  std::lock_guard lock(sq_mutex_);
  io_uring_sqe* sqe = sqe_locked();
  if (sqe == nullptr) return;  // the record still completes with its request
  io_uring_prep_cancel64(sqe, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&op)), 0);
  io_uring_sqe_set_data64(sqe, uring_tag_cancel);
  // At once, even on a run() thread: the record cannot finish meanwhile
  // (its CQE needs the socket's lock, which the caller holds), so the
  // cancel reaches the kernel before the record could be resubmitted under
  // the same user_data.
  flush_locked();
}

void uring_port::start_next(uring_socket& s, bool write, op_queue& finished) noexcept {
  operation*& active = write ? s.write_active : s.read_active;
  op_list& q = write ? s.write_q : s.read_q;
  const bool stream = s.type == socket_type::stream;
  while (active == nullptr) {
    operation* op = q.pop();
    if (op == nullptr) return;
    auto& p = priv(*op);
    // What needs no ring finishes here, in its turn (after the records
    // queued before it), and still only through the completion queue.
    if (p.kind == op_kind::disconnect) {
      // Every send queued before it has finished. SHUT_RDWR: the peer sees
      // end of stream after the last byte, recvs here end, later sends
      // fail with shut_down, as DisconnectEx leaves a socket.
      if (::shutdown(s.handle, SHUT_RDWR) != 0) {
        done(*op, 0, posix_error(errno));
      } else {
        s.send_shut.store(true, std::memory_order_relaxed);
        done(*op, 0);
      }
      finished.push(*op);
      continue;
    }
    if (stream && p.kind == op_kind::recv && total_of<buffer>(*op) == 0) {
      done(*op, 0);  // nothing asked, nothing to wait for (guarantee 3)
      finished.push(*op);
      continue;
    }
    if (stream && p.kind == op_kind::send && total_of<const_buffer>(*op) == 0) {
      done(*op, 0);
      finished.push(*op);
      continue;
    }
    if (!issue(s, *op)) {
      finished.push(*op);
      continue;
    }
    active = op;
  }
}

bool uring_port::finish_op(uring_socket& s, operation& op, int res) noexcept {
  auto& p = priv(op);
  // The hot path: a stream recv that got data, a one-buffer stream send
  // that went out whole, on an open socket nobody cancels. Same outcome
  // as the general code below, without its cases.
  if (res > 0 && p.flags == 0 && !s.closed && s.type == socket_type::stream) {
    if (p.kind == op_kind::recv) return done(op, static_cast<std::size_t>(res));
    if (p.kind == op_kind::send && p.nbufs == 1 &&
        p.progress + static_cast<std::size_t>(res) >=
            static_cast<const const_buffer*>(p.bufs)[0].size) {
      p.progress += static_cast<std::size_t>(res);
      return done(op, p.progress);
    }
  }
  // Once closed, everything still in the ring completes as aborted
  // (guarantee 6), with the bytes it had moved.
  const bool closed = s.closed;
  const bool stopping = closed || (p.flags & uring_flag_cancel) != 0;
  const auto aborted = [&](std::size_t extra) {
    return done(op, p.progress + extra, make_ec(errc::operation_aborted));
  };
  // Re-issues `op`; false (still in the ring) unless the ring refused.
  const auto again = [&] { return !issue(s, op); };
  if (res == -ECANCELED) {
    if (stopping) return aborted(0);
    // Nobody here asked for it: the kernel ends a request whose submitting
    // thread has exited when it becomes ready (its task_work falls back to
    // a kernel thread, which cancels; Linux 5.11 on, io_uring_cancel_generic
    // and io_should_terminate_tw). Nothing moved in that attempt, so this
    // thread, which is alive, submits it again. A connect cannot simply be
    // repeated (the kernel goes on connecting, a new connect() says
    // EALREADY): it waits for writability instead and reads SO_ERROR.
    if (p.kind == op_kind::connect) p.state = uring_connect_polling;
    return again();
  }
  // -EAGAIN/-EINTR are never final on a socket io_uring polls for us; they
  // can only surface from a retry the kernel gave up. Try again.
  const bool retry = res == -EAGAIN || res == -EINTR;
  const bool stream = s.type == socket_type::stream;
  switch (p.kind) {
    case op_kind::recv:
    case op_kind::recv_from: {
      if (res >= 0) {
        if (closed) return aborted(static_cast<std::size_t>(res));
        if (stream) return done(op, static_cast<std::size_t>(res));  // 0: end of stream
        if (p.kind == op_kind::recv_from) {
          auto& d = static_cast<datagram_operation&>(op);
          posix_sockaddr& sa = addr_of(op);
          d.peer = from_sockaddr(sa.get(), s.cold->read_msg.msg_namelen);
        }
        // The kernel drops the rest of a datagram that did not fit; with
        // MSG_TRUNC the result is its whole length. Windows says
        // WSAEMSGSIZE; both become message_size with the buffer filled.
        const std::size_t room = total_of<buffer>(op);
        if (static_cast<std::size_t>(res) > room)
          return done(op, room, make_ec(errc::message_size));
        return done(op, static_cast<std::size_t>(res));
      }
      if (retry) return stopping ? aborted(0) : again();
      if (closed) return aborted(0);
      return done(op, 0, posix_error(-res));
    }
    case op_kind::send: {
      if (!stream) break;
      if (res > 0) p.progress += static_cast<std::size_t>(res);
      if (res >= 0 || retry) {
        // A short send goes back into the ring for its remainder before
        // any send queued behind it starts (guarantees 3 and 4).
        if (p.progress >= total_of<const_buffer>(op))
          return closed ? aborted(0) : done(op, p.progress);
        return stopping ? aborted(0) : again();
      }
      if (closed) return aborted(0);
      return done(op, p.progress,
                  posix_send_error(-res, s.send_shut.load(std::memory_order_relaxed)));
    }
    case op_kind::send_to:
      break;
    case op_kind::accept: {
      if (res >= 0) {
        if (closed) {
          sys::close_handle(res);
          return aborted(0);
        }
        auto& a = static_cast<accept_operation&>(op);
        std::error_code ec;
        socket_state* ns = attach(res, s.family, socket_type::stream, ec);
        if (ns == nullptr) return done(op, 0, ec);
        a.accepted = socket(*a.accepted.port(), ns);
        posix_sockaddr& sa = addr_of(op);
        a.peer = from_sockaddr(sa.get(), sa.length);
        return done(op, 0);
      }
      if (accept_retry(-res)) return stopping ? aborted(0) : again();
      if (closed) return aborted(0);
      // EMFILE/ENFILE arrive here as too_many_files; the connection stays
      // in the backlog for a later accept.
      return done(op, 0, posix_error(-res));
    }
    case op_kind::connect: {
      if (closed) return aborted(0);
      const bool local = s.family == address_family::local;
      if (res < 0) {
        if (!retry) return done(op, 0, posix_connect_error(-res, local));
        if (stopping) return aborted(0);
        p.state = uring_connect_polling;  // the kernel goes on connecting
        return again();
      }
      if (p.state != uring_connect_polling) return done(op, 0);
      // A writability poll after a re-issue: SO_ERROR says how it went,
      // the peer's name whether it is over (SO_ERROR is 0 while connecting).
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      if (::getsockopt(s.handle, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        return done(op, 0, posix_error(errno));
      if (so_error != 0) return done(op, 0, posix_connect_error(so_error, local));
      posix_sockaddr peer;
      peer.length = sizeof(peer.storage);
      if (::getpeername(s.handle, peer.get(), &peer.length) == 0) return done(op, 0);
      if (errno != ENOTCONN) return done(op, 0, posix_error(errno));
      // Not connected yet, or failed and the error was already taken by a
      // recv (then the poll shows hang-up): only a refusal or reset can
      // end a connect so, and the recv reported it.
      if ((res & (POLLHUP | POLLERR)) != 0) return done(op, 0, make_ec(errc::connection_refused));
      return stopping ? aborted(0) : again();
    }
    default:
      return done(op, 0, make_ec(errc::invalid_argument));
  }
  // Datagram send and send_to: one datagram, whole or not at all.
  if (res >= 0) return closed ? aborted(0) : done(op, static_cast<std::size_t>(res));
  if (retry) return stopping ? aborted(0) : again();
  if (closed) return aborted(0);
  return done(op, 0, posix_send_error(-res, s.send_shut.load(std::memory_order_relaxed)));
}

// ---- files ----
//
// A file's records go into the ring at once, any number at a time: the
// kernel runs regular-file reads and writes inline or on its io-wq
// workers, and a file promises no order between concurrent records. A read
// that comes back short (it crossed the end of the file) or a write that
// comes back short goes round again for the rest, at offset + progress,
// until the buffers are done, a read meets the end (0) or an error; so a
// read is short only at the end of the file, and a write only on error,
// as with the thread pool and IOCP.

file_state* uring_files::attach(std::intptr_t h, bool readable, bool writable,
                                std::error_code& ec) noexcept {
  return make_file_state<uring_file>(h, readable, writable, ec);
}

bool uring_files::issue(uring_file& f, operation& op) noexcept {
  auto& p = priv(op);
  const bool write = p.kind == op_kind::write_at;
  std::uint64_t offset = 0;
  const buffer w = file_window(op, offset);
  std::lock_guard lock(port_.sq_mutex_);
  io_uring_sqe* sqe = port_.sqe_locked();
  if (sqe == nullptr) {
    done(op, p.progress, make_ec(errc::no_buffer_space));
    return false;
  }
  const int fd = static_cast<int>(f.handle);
  if (p.progress == 0 && p.nbufs > 1) {
    // A fresh scatter/gather record: the caller's array is the iovec list
    // (same layout, checked above), valid until the callback; the kernel
    // copies it at submission anyway (IORING_FEAT_SUBMIT_STABLE).
    const auto n = static_cast<unsigned>(p.nbufs < uio_maxiov ? p.nbufs : uio_maxiov);
    if (write)
      io_uring_prep_writev(sqe, fd, as_iov(p.bufs), n, offset);
    else
      io_uring_prep_readv(sqe, fd, as_iov(p.bufs), n, offset);
  } else if (write) {
    io_uring_prep_write(sqe, fd, w.data, clamp_len(w.size), offset);
  } else {
    io_uring_prep_read(sqe, fd, w.data, clamp_len(w.size), offset);
  }
  POCORE_URING_HANDOFF(&op);
  io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&op)));
  port_.prepared_locked();
  ++f.inflight;
  f.active.push(op);
  return true;
}

void uring_files::submit(file_state& state, operation& op) noexcept {
  auto& f = static_cast<uring_file&>(state);
  op_queue finished;
  {
    std::lock_guard lock(f.mutex);
    if (f.closed) {
      done(op, 0, make_ec(errc::bad_descriptor));
      finished.push(op);
    } else if (!issue(f, op)) {
      finished.push(op);
    }
    port_.complete(finished);
  }
}

void uring_files::cancel(file_state& state, operation* op) noexcept {
  auto& f = static_cast<uring_file&>(state);
  std::lock_guard lock(f.mutex);
  if (f.closed) return;
  // Only records in the ring are ours to cancel; one that finished is on
  // its way to its callback and completes normally.
  for (operation* o = f.active.front(); o != nullptr; o = priv(*o).next) {
    if (op == nullptr || o == op) port_.request_cancel(*o);
  }
}

void uring_files::close(file_state& state) noexcept {
  auto& f = static_cast<uring_file&>(state);
  bool release;
  {
    std::lock_guard lock(f.mutex);
    f.closed = true;
    for (operation* o = f.active.front(); o != nullptr; o = priv(*o).next) port_.request_cancel(*o);
    // With requests left, the last CQE closes the descriptor: a request
    // still waiting in the SQ names it by number.
    release = f.inflight == 0;
  }
  if (release) {
    fsys::close(f.handle);
    delete &f;
  }
}

void uring_files::on_cqe(operation& op, int res) noexcept {
  auto& p = priv(op);
  auto& f = *static_cast<uring_file*>(p.owner);
  bool release;
  {
    std::lock_guard lock(f.mutex);
    --f.inflight;
    f.active.remove(op);
    const bool stopping = f.closed || (p.flags & uring_flag_cancel) != 0;
    bool finished = true;
    if (res > 0) {
      p.progress += static_cast<std::size_t>(res);
      std::uint64_t offset = 0;
      if (file_window(op, offset).size == 0)
        done(op, p.progress);
      else if (stopping)
        done(op, p.progress, make_ec(errc::operation_aborted));
      else
        finished = !issue(f, op);  // the rest, at offset + progress
    } else if (res == 0) {
      // A read at the end of the file; a write that moved nothing.
      if (p.kind == op_kind::read_at)
        done(op, p.progress);
      else
        done(op, p.progress, make_ec(errc::no_space));
    } else if (res == -ECANCELED || res == -EINTR || res == -EAGAIN) {
      // Ours (cancel, close), or the kernel's when the submitting thread
      // exited (see finish_op): then this live thread submits it again.
      if (stopping)
        done(op, p.progress, make_ec(errc::operation_aborted));
      else
        finished = !issue(f, op);
    } else {
      done(op, p.progress, f.closed ? make_ec(errc::operation_aborted) : posix_error(-res));
    }
    release = f.closed && f.inflight == 0;
    if (release) fsys::close(f.handle);  // before the callback can run
    if (finished) {
      op_queue q;
      q.push(op);
      port_.complete(q);
    }
  }
  if (release) delete &f;
}

}  // namespace pocore::detail
