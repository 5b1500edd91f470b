// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The IOCP port: the run loop over GetQueuedCompletionStatusEx, wake-ups,
// socket association, close and cancel. Starting operations and turning
// their packets into results is in iocp_ops.cpp.

#include "win/iocp_port.hpp"

// Winsock first, in the order the Windows SDK requires.
// clang-format off
#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>
// clang-format on

#include "common/op_access.hpp"
#include "common/sys.hpp"
#include "win/win_errors.hpp"
#include "win/win_socket.hpp"

namespace pocore::detail {
namespace {

constexpr ULONG batch_size = 64;

SOCKET sock(const socket_state& s) noexcept { return static_cast<SOCKET>(s.handle); }

}  // namespace

iocp_port::iocp_port(std::error_code& ec) noexcept {
  ec = win::wsa_acquire();
  if (ec) return;
  wsa_ = true;
  wine_ = win::running_on_wine();
  // No concurrency limit (~0): pocore promises that every thread in run()
  // takes callbacks, and with a limit Windows holds back threads while as
  // many others are "active", even if those merely left run(). Wine
  // ignores the value anyway (WINE.md).
  port_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, ~DWORD{0});
  if (port_ == nullptr) ec = win::last_error();
}

iocp_port::~iocp_port() {
  if (port_ != nullptr) {
    drain_on_destroy();
    // Closing the port does not wake threads blocked on it under Wine 8.0
    // (WINE.md); none may be left by now: a port outlives its run() calls.
    CloseHandle(port_);
  }
  if (wsa_) win::wsa_release();
}

// Sockets must be closed before their port, but the packets of their
// aborted operations may still be on their way (CancelIoEx completes
// asynchronously). Take them, without running callbacks, until every
// socket state is freed, giving up after a few seconds rather than hang.
void iocp_port::drain_on_destroy() noexcept {
  OVERLAPPED_ENTRY entries[batch_size];
  const ULONGLONG give_up = GetTickCount64() + 5000;
  for (;;) {
    {
      std::lock_guard lock(local_mutex_);
      while (operation* op = local_.pop()) {
        auto& p = priv(*op);
        if ((p.flags & flag_raw) != 0 && p.kind == op_kind::accept)
          closesocket(native(*op).accept_socket);
        if ((p.flags & flag_ref) != 0)
          release(*static_cast<iocp_socket_state*>(static_cast<socket_state*>(p.owner)));
      }
    }
    const bool done = states_.load(std::memory_order_acquire) == 0;
    ULONG count = 0;
    if (!GetQueuedCompletionStatusEx(port_, entries, batch_size, &count, done ? 0 : 50, FALSE)) {
      if (done) return;
      if (GetTickCount64() > give_up) {
        // Leak the states rather than hang, but not the handles.
        std::lock_guard lock(linger_mutex_);
        for (iocp_socket_state* s = lingering_; s != nullptr; s = s->linger_next) {
          closesocket(s->linger);
          s->linger = INVALID_SOCKET;
        }
        lingering_ = nullptr;
        has_lingering_.store(false, std::memory_order_relaxed);
        return;
      }
      sweep_lingering(true);
      continue;
    }
    for (ULONG i = 0; i < count; ++i) discard(entries[i]);
  }
}

void iocp_port::discard(const OVERLAPPED_ENTRY& e) noexcept {
  if (e.lpOverlapped == nullptr) return;
  operation& op = *reinterpret_cast<iocp_op_native*>(e.lpOverlapped)->self;
  auto& p = priv(op);
  if (e.lpCompletionKey == key_file) {
    file_ops_.discard(op);
  } else if (e.lpCompletionKey != key_ready) {
    // A raw I/O packet: an accept's pre-made socket is still ours.
    if (p.kind == op_kind::accept) closesocket(native(op).accept_socket);
    release(*reinterpret_cast<iocp_socket_state*>(e.lpCompletionKey));
  } else if ((p.flags & flag_ref) != 0) {
    release(*static_cast<iocp_socket_state*>(static_cast<socket_state*>(p.owner)));
  }
}

// ---- wake-ups and the stop flag ----

void iocp_port::wake() noexcept { wake_up_to(~std::size_t{0}); }

void iocp_port::wake_up_to(std::size_t max) noexcept {
  // Pairs with the fence in run(): either the waiter sees the change that
  // called wake() (stop flag, work count, timer, local queue), or we see
  // the waiter.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::size_t n = waiters_.load(std::memory_order_relaxed);
  if (n > max) n = max;
  // One packet releases one blocked thread, so a broadcast is one packet
  // per waiter. A thread may take several of them in one batch; a thread
  // that leaves run() passes the wake on (see run()), so nobody sleeps
  // through a stop.
  for (std::size_t i = 0; i < n; ++i) PostQueuedCompletionStatus(port_, 0, key_wake, nullptr);
}

void iocp_port::stop() noexcept {
  stopped_.store(true, std::memory_order_seq_cst);
  wake();
}

void iocp_port::restart() noexcept { stopped_.store(false, std::memory_order_seq_cst); }

bool iocp_port::stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }

// ---- finished records ----

void iocp_port::enqueue(operation& op) noexcept {
  // From the front end, the timers and post(): no socket reference held.
  priv(op).flags = 0;
  post_ready(op);
}

void iocp_port::post_ready(operation& op) noexcept {
  iocp_op_native& n = native(op);
  n.self = &op;
  if (PostQueuedCompletionStatus(port_, 0, key_ready, &n.ov)) return;
  park(op);
}

// Keeps a finished record (or a raw packet, flag_raw) in the local queue,
// where every thread in run() looks before it blocks; wakes one waiter.
void iocp_port::park(operation& op) noexcept {
  {
    std::lock_guard lock(local_mutex_);
    local_.push(op);
    has_local_.store(true, std::memory_order_release);
  }
  wake_up_to(1);
}

operation* iocp_port::pop_local() noexcept {
  if (!has_local_.load(std::memory_order_acquire)) return nullptr;
  operation* op;
  bool more;
  {
    std::lock_guard lock(local_mutex_);
    op = local_.pop();
    more = !local_.empty();
    if (!more) has_local_.store(false, std::memory_order_relaxed);
  }
  // Records are left and this thread is about to run a callback: wake one
  // more thread to take the next. Each taker wakes the next in turn, so a
  // wake-up swallowed by a busy thread's batch cannot strand a record
  // while every other thread sleeps (guarantee 8).
  if (op != nullptr && more) wake_up_to(1);
  return op;
}

void iocp_port::finish(operation& op) noexcept {
  auto& p = priv(op);
  iocp_socket_state* s = nullptr;
  if ((p.flags & flag_ref) != 0)
    s = static_cast<iocp_socket_state*>(static_cast<socket_state*>(p.owner));
  invoke(op);
  // After the callback: the record may be gone, the state is still ours.
  if (s != nullptr) release(*s);
}

void iocp_port::release(iocp_socket_state& s) noexcept {
  if (s.refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Set by close() before it dropped the socket's own reference.
  if (s.linger != INVALID_SOCKET) unlinger(s);
  delete &s;
  states_.fetch_sub(1, std::memory_order_release);
}

// Windows writes an I/O's final status into its OVERLAPPED before it queues
// the packet. Wine 8.0 does too, except when its server drops the APC that
// would finish the I/O in the thread that issued it: when that thread exits
// just as the I/O becomes ready, the server cannot signal it, destroys the
// APC, and that completes the operation with the APC's own status and 0
// bytes; nobody writes the OVERLAPPED, which keeps STATUS_PENDING. The
// status is STATUS_ALERTED for a receive ("data ready: read it") and for an
// AcceptEx ("accepted: copy the addresses out"). Seen in stress.iocp (whose
// workers exit before its final drain) and reproduced with a receive issued
// by a thread that exits at once while its data arrives: 81 of 1,000 under
// Wine 8.0. So when Internal still reads STATUS_PENDING, the status the
// packet carries is the outcome (the low 32 bits of the entry's Internal;
// Wine leaves garbage in the upper half); complete() deals with
// STATUS_ALERTED. The OVERLAPPED is ours once its packet is dequeued. Never
// the case on Windows.
void iocp_port::adopt_packet_status(const OVERLAPPED_ENTRY& e) noexcept {
  if (static_cast<std::uint32_t>(e.lpOverlapped->Internal) == status_pending)
    e.lpOverlapped->Internal = static_cast<std::uint32_t>(e.Internal);
}

// Turns one dequeued packet into a finished record, or null.
operation* iocp_port::take(const OVERLAPPED_ENTRY& e) noexcept {
  // No OVERLAPPED: a wake-up (or a stray packet from a synchronous call on
  // an associated socket, which carries none either). Nothing to run.
  if (e.lpOverlapped == nullptr) return nullptr;
  operation& op = *reinterpret_cast<iocp_op_native*>(e.lpOverlapped)->self;
  if (e.lpCompletionKey == key_ready) return &op;
  if (e.lpCompletionKey == key_file)
    return file_ops_.on_packet(
        op, win::ntstatus_to_win32(static_cast<std::int32_t>(e.lpOverlapped->Internal)),
        e.dwNumberOfBytesTransferred);
  auto& s = *reinterpret_cast<iocp_socket_state*>(e.lpCompletionKey);
  // The status is the NTSTATUS the I/O manager left in Internal (pocore
  // sets 0 there when it posts an immediate success itself).
  adopt_packet_status(e);
  auto status = static_cast<std::int32_t>(e.lpOverlapped->Internal);
  return complete(s, op, win::ntstatus_to_win32(status), e.dwNumberOfBytesTransferred);
}

// Moves expired timers to the local queue, then runs records from it one
// at a time (so that threads arriving meanwhile share them). Returns how
// many callbacks ran; with `one`, at most one in total (`done` so far).
std::size_t iocp_port::run_local(bool one, std::size_t done) noexcept {
  op_queue timers;
  collect_timers(timers);
  if (!timers.empty()) {
    // Timer records hold no socket reference, whatever a record's
    // previous use left in its flags.
    for (operation* op = timers.front(); op != nullptr; op = priv(*op).next) priv(*op).flags = 0;
    std::lock_guard lock(local_mutex_);
    local_.splice(timers);
    has_local_.store(true, std::memory_order_release);
  }
  std::size_t n = 0;
  while (!stopped() && !(one && done + n > 0)) {
    operation* op = pop_local();
    if (op == nullptr) break;
    auto& p = priv(*op);
    if ((p.flags & flag_raw) != 0) {
      // A packet parked before take(): finish it here, as take() would.
      p.flags &= static_cast<std::uint16_t>(~flag_raw);
      auto& s = *static_cast<iocp_socket_state*>(static_cast<socket_state*>(p.owner));
      const OVERLAPPED& ov = native(*op).ov;
      op = complete(s, *op, win::ntstatus_to_win32(static_cast<std::int32_t>(ov.Internal)),
                    ov.InternalHigh);
      if (op == nullptr) continue;
    }
    finish(*op);
    ++n;
  }
  return n;
}

// Moves a dequeued batch to the local queue, in order. Its records are
// then run one at a time by whichever threads are in run(): a thread that
// kept the batch to itself would make the others idle while it runs
// callbacks (guarantee 8), however late they arrive.
void iocp_port::park_batch(const OVERLAPPED_ENTRY* e, ULONG count) noexcept {
  op_queue batch;
  for (ULONG i = 0; i < count; ++i) {
    // A wake-up has done its job by waking this thread; a thread leaving
    // run() passes stops on (see run()).
    if (e[i].lpOverlapped == nullptr) continue;
    operation& op = *reinterpret_cast<iocp_op_native*>(e[i].lpOverlapped)->self;
    if (e[i].lpCompletionKey == key_file) {
      // A file record's packet is settled here (it may go back to the
      // kernel for the rest of its buffers); once finished it holds no
      // reference and runs like a posted record.
      if (operation* done = take(e[i])) batch.push(*done);
      continue;
    }
    if (e[i].lpCompletionKey != key_ready) {
      // A raw I/O packet: its status stays in Internal, the byte count
      // goes to InternalHigh (both are ours once the I/O is done).
      adopt_packet_status(e[i]);
      e[i].lpOverlapped->InternalHigh = e[i].dwNumberOfBytesTransferred;
      priv(op).flags |= flag_raw;
    }
    batch.push(op);
  }
  if (batch.empty()) return;
  std::lock_guard lock(local_mutex_);
  local_.splice(batch);
  has_local_.store(true, std::memory_order_release);
  // No wake-up here: this thread takes the first record next, and
  // pop_local() wakes a helper for the rest.
}

std::size_t iocp_port::run(run_mode mode, std::chrono::milliseconds timeout) {
  const bool one = mode == run_mode::run_one || mode == run_mode::poll_one;
  const bool block = mode == run_mode::run || mode == run_mode::run_one;
  if (stopped() || outstanding() == 0) return 0;
  const ULONGLONG start = GetTickCount64();
  const bool bounded = mode == run_mode::run_one && timeout.count() >= 0;
  const auto limit = static_cast<ULONGLONG>(bounded ? timeout.count() : 0);

  OVERLAPPED_ENTRY entries[batch_size];
  std::size_t n = 0;
  bool pass_wake = false;  // left for stop / no work: other waiters must see it too
  for (;;) {
    if (stopped() || outstanding() == 0) {
      pass_wake = true;
      break;
    }
    sweep_lingering(false);
    n += run_local(one, n);
    if (one && n > 0) break;

    DWORD wait_ms = 0;
    if (block) {
      int cap = -1;
      if (bounded) {
        ULONGLONG elapsed = GetTickCount64() - start;
        cap = elapsed >= limit ? 0 : static_cast<int>(limit - elapsed);
      }
      waiters_.fetch_add(1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wake()
      if (stopped() || outstanding() == 0 || has_local_.load(std::memory_order_relaxed)) {
        waiters_.fetch_sub(1, std::memory_order_relaxed);
        continue;
      }
      int ms = timer_timeout_ms(cap);
      // Lingering handles are cancelled again every few milliseconds.
      if (has_lingering_.load(std::memory_order_relaxed) && (ms < 0 || ms > linger_period_ms))
        ms = linger_period_ms;
      wait_ms = ms < 0 ? INFINITE : static_cast<DWORD>(ms);
    }
    ULONG count = 0;
    // run_one/poll_one want one callback: one packet is enough, and the
    // local queue stays empty for the next caller.
    BOOL ok =
        GetQueuedCompletionStatusEx(port_, entries, one ? 1 : batch_size, &count, wait_ms, FALSE);
    if (block) waiters_.fetch_sub(1, std::memory_order_relaxed);
    if (!ok) {
      // Wine 8.0 sets the count to 1 on failure; nothing was dequeued.
      if (GetLastError() != WAIT_TIMEOUT) break;  // the port is unusable
      if (!block) {
        n += run_local(one, n);  // a timer may have expired meanwhile
        break;
      }
      if (bounded && GetTickCount64() - start >= limit) {
        n += run_local(one, n);
        break;
      }
      continue;  // a timer's deadline: the next round collects it
    }
    if (count > 1) {
      park_batch(entries, count);  // run one by one from the local queue
      continue;
    }
    operation* op = take(entries[0]);
    if (op == nullptr) continue;
    if (stopped()) {
      // Dequeued but not to be run now: keep it (it is finished, so it
      // completes exactly once, on a later run(), ahead of newer packets).
      park(*op);
      continue;
    }
    finish(*op);
    ++n;
    if (one && n > 0) break;
  }
  // This thread may have taken (and dropped) wake packets meant for others
  // in its batch; a stop or the end of work must reach every waiter.
  if (pass_wake && waiters_.load(std::memory_order_relaxed) != 0) wake();
  return n;
}

// ---- sockets ----

socket_state* iocp_port::attach(native_handle_type h, address_family family, socket_type type,
                                std::error_code& ec) noexcept {
  auto* s = new (std::nothrow) iocp_socket_state;
  if (s == nullptr) return refuse_attach(h, errc::not_enough_memory, ec);
  s->assign(h, family, type);
  auto handle = reinterpret_cast<HANDLE>(static_cast<SOCKET>(h));
  if (CreateIoCompletionPort(handle, port_, reinterpret_cast<ULONG_PTR>(s), 0) == nullptr) {
    ec = win::last_error();
    sys::close_handle(h);
    delete s;
    return nullptr;
  }
  // Skip the port packet when a call succeeds at once (we post it
  // ourselves, later) and the event signalling nobody waits for. Only
  // safe when no layered service provider sits on the socket: a non-IFS
  // LSP may complete without the port. SIO_BASE_HANDLE returning the
  // handle itself shows there is none (libuv checks XP1_IFS_HANDLES for
  // the same reason).
  SOCKET base = INVALID_SOCKET;
  DWORD bytes = 0;
  bool plain = WSAIoctl(static_cast<SOCKET>(h), SIO_BASE_HANDLE, nullptr, 0, &base, sizeof(base),
                        &bytes, nullptr, nullptr) == 0 &&
               base == static_cast<SOCKET>(h);
  s->skip_on_success =
      plain && SetFileCompletionNotificationModes(
                   handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE);
  states_.fetch_add(1, std::memory_order_relaxed);
  open_sockets().fetch_add(1, std::memory_order_relaxed);
  ec.clear();
  return s;
}

void iocp_port::close(socket_state& base) noexcept {
  auto& s = static_cast<iocp_socket_state&>(base);
  {
    std::lock_guard lock(s.mutex);
    s.closed = true;
    SOCKET h = sock(s);
    s.handle = invalid_native_handle;
    // Cancel first, then close. closesocket alone leaves a send blocked by
    // flow control holding the socket open under Wine 8.0, and the other
    // pending operations then complete late with 6/64/676; after
    // CancelIoEx(s, NULL) every one completes with 995 at once, on Windows
    // too (WINE.md). Their packets still name `s`, which lives on until the
    // last of them has been run (release()).
    CancelIoEx(reinterpret_cast<HANDLE>(h), nullptr);
    // Under Wine 8.0 a receive pending at this point can miss the cancel
    // (CancelIoEx(h, &ov) answers ERROR_NOT_FOUND while data for it is
    // being delivered) and, once the handle is closed, never completes at
    // all. Keep the handle until the last operation is done; run()
    // cancels again meanwhile. Operations hold references, so more than
    // ours means some may be pending.
    if (wine_ && s.refs.load(std::memory_order_acquire) > 1) {
      linger(s, h);
    } else {
      closesocket(h);
    }
  }
  open_sockets().fetch_sub(1, std::memory_order_relaxed);
  release(s);
}

// ---- Wine: closed sockets whose operations are still pending ----

void iocp_port::linger(iocp_socket_state& s, SOCKET h) noexcept {
  std::lock_guard lock(linger_mutex_);
  s.linger = h;
  s.linger_next = lingering_;
  lingering_ = &s;
  has_lingering_.store(true, std::memory_order_relaxed);
}

// The last reference went: nothing can be pending on the handle now.
void iocp_port::unlinger(iocp_socket_state& s) noexcept {
  std::lock_guard lock(linger_mutex_);
  for (iocp_socket_state** p = &lingering_; *p != nullptr; p = &(*p)->linger_next) {
    if (*p == &s) {
      *p = s.linger_next;
      break;
    }
  }
  closesocket(s.linger);
  s.linger = INVALID_SOCKET;
  has_lingering_.store(lingering_ != nullptr, std::memory_order_relaxed);
}

// Cancels, again, every operation on the lingering handles; at most once
// per period (any run() thread may do it) unless `now`.
void iocp_port::sweep_lingering(bool now) noexcept {
  if (!has_lingering_.load(std::memory_order_relaxed)) return;
  const ULONGLONG t = GetTickCount64();
  ULONGLONG last = last_sweep_.load(std::memory_order_relaxed);
  if (!now && (t - last < linger_period_ms ||
               !last_sweep_.compare_exchange_strong(last, t, std::memory_order_relaxed)))
    return;
  std::lock_guard lock(linger_mutex_);
  for (iocp_socket_state* s = lingering_; s != nullptr; s = s->linger_next)
    CancelIoEx(reinterpret_cast<HANDLE>(s->linger), nullptr);
}

void iocp_port::cancel(socket_state& base, operation* op) noexcept {
  auto& s = static_cast<iocp_socket_state&>(base);
  std::lock_guard lock(s.mutex);
  if (s.closed) return;
  auto h = reinterpret_cast<HANDLE>(sock(s));
  if (op == nullptr) {
    // Records between two halves of a send see the new generation.
    s.cancel_gen.fetch_add(1, std::memory_order_relaxed);
    CancelIoEx(h, nullptr);
    return;
  }
  if (priv(*op).owner != static_cast<socket_state*>(&s)) return;
  priv(*op).state |= state_cancelled;
  // ERROR_NOT_FOUND: it already finished (its packet is queued or was
  // posted by us); it then completes normally, which is the contract.
  CancelIoEx(h, &native(*op).ov);
}

}  // namespace pocore::detail
