// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The io_uring backend's port: ring set-up, the socket list, submission,
// cancel, close and the run loop. What each kind of operation puts into the
// ring and makes of its completion is in uring_ops.cpp.

#include "posix/uring_port.hpp"

#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iterator>
#include <new>
#include <thread>

#include "common/sys.hpp"

namespace pocore::detail {
namespace {

// The run() this thread is inside, in the run context the POSIX backends
// share (common/op_queue.hpp, with run_scope and abort_all), seen under
// the names used below. A thread inside this port's run() batches its
// submissions: it flushes the SQ itself before it waits, so the hot path
// (callback -> submit) costs no system call of its own.
struct running_view {
  bool operator==(const uring_port* p) const noexcept { return tls_run.port == p; }
};
constexpr running_view tls_running{};
// That run()'s private completion list (see uring_port.hpp).
struct private_view {
  op_queue& operator*() const noexcept { return *tls_run.list; }
  op_queue* operator->() const noexcept { return tls_run.list; }
};
constexpr private_view tls_private{};

// The port for which this thread currently holds the reaper role.
thread_local const uring_port* tls_reaper = nullptr;

bool has_opcodes(io_uring& ring) noexcept {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) return false;
  bool ok = true;
  for (int opcode : {IORING_OP_NOP, IORING_OP_ASYNC_CANCEL, IORING_OP_ACCEPT, IORING_OP_CONNECT,
                     IORING_OP_SEND, IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_RECVMSG})
    ok = ok && io_uring_opcode_supported(probe, opcode) != 0;
  io_uring_free_probe(probe);
  return ok;
}

// Callbacks run back to back before the ring and the timers are looked at
// again, so a stream of posts cannot starve socket completions.
constexpr int max_callbacks_between_polls = 64;

// Points every SQE still waiting in the SQ (prepared, its submission failed)
// that names descriptor `fd` at -1. Called by close() before the number is
// closed: the kernel looks the number up only when it takes the SQE, by
// which time it may belong to a new socket whose data the old request
// would take. With -1 the request fails with -EBADF and its record
// completes as aborted, as every request of a closed socket does.
void forget_fd(io_uring& ring, int fd) noexcept {
  io_uring_sq& sq = ring.sq;
  for (unsigned i = io_uring_smp_load_acquire(sq.khead); i != sq.sqe_tail; ++i) {
    io_uring_sqe& sqe = sq.sqes[i & sq.ring_mask];
    if (sqe.fd == fd && sqe.opcode != IORING_OP_NOP && sqe.opcode != IORING_OP_ASYNC_CANCEL)
      sqe.fd = -1;
  }
}

}  // namespace

// ---- set-up ----

std::unique_ptr<port_backend> uring_port::create(std::error_code& ec) noexcept {
  io_uring ring;
  io_uring_params params{};
  // A CQ four times the SQ makes an overflow (which NODROP survives, at a
  // cost) rare even with every socket's requests completing at once.
  // Optional flags, dropped one by one (newest first) where the kernel
  // refuses them with EINVAL:
  // - COOP_TASKRUN + TASKRUN_FLAG (5.19): a request that had to wait (a
  //   recv before its data came) finishes as task work of the thread that
  //   submitted it. By default the kernel interrupts that thread with an
  //   inter-processor interrupt if it is running user code; cooperative
  //   mode only marks it and lets it run the work at its next entry to the
  //   kernel (a system call, an interrupt, the scheduler tick), and still
  //   wakes it at once if it sleeps. A run() thread enters the kernel after
  //   every batch of callbacks, so nothing waits long; the interrupts saved
  //   were half the server's CPU time per message at 64 connections here
  //   (VM exits). TASKRUN_FLAG marks pending task work in the SQ flags, so
  //   a reap that finds the CQ empty enters the kernel to run it (reap()).
  //   The cost: a request submitted by a thread that then computes for
  //   long without any system call completes at that thread's next
  //   scheduler tick rather than at once.
  // - SUBMIT_ALL (5.18): one bad SQE does not hold back the ones behind it.
  constexpr unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  constexpr unsigned optional[] = {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
                                   IORING_SETUP_SUBMIT_ALL};
  unsigned flags = base | optional[0] | optional[1];
  int r = -EINVAL;
  for (std::size_t drop = 0; r == -EINVAL && drop <= std::size(optional); ++drop) {
    if (drop > 0) flags &= ~optional[drop - 1];
    params = {};
    params.flags = flags;
    params.cq_entries = 4096;
    r = io_uring_queue_init_params(1024, &ring, &params);
  }
  // -ENOSYS (old kernel), -EPERM (sysctl io_uring_disabled, seccomp,
  // container policy), -ENOMEM: all mean "not here".
  if (r < 0) {
    ec = make_ec(errc::backend_unavailable);
    return nullptr;
  }
  // EXT_ARG (5.11): a wait with a timeout needs no timeout SQE, so waiting
  // never touches the SQ. NODROP: a full CQ never loses a completion.
  // SUBMIT_STABLE: msghdr/iovec/sockaddr are copied at submission.
  constexpr unsigned needed = IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP | IORING_FEAT_SUBMIT_STABLE;
  if ((params.features & needed) != needed || !has_opcodes(ring)) {
    io_uring_queue_exit(&ring);
    ec = make_ec(errc::backend_unavailable);
    return nullptr;
  }
  auto* port = new (std::nothrow) uring_port(ring);
  if (port == nullptr) {
    io_uring_queue_exit(&ring);
    ec = make_ec(errc::not_enough_memory);
    return nullptr;
  }
  ec.clear();
  return std::unique_ptr<port_backend>(port);
}

uring_port::~uring_port() {
  // Closing the ring cancels whatever is still in it. Sockets still open
  // belong to a user who broke "close sockets before their port"; their
  // descriptors are closed so nothing leaks, their records dropped.
  io_uring_queue_exit(&ring_);
  pool_.for_each([](uring_socket& s) {
    if (!s.closed) sys::close_handle(s.handle);
  });
}

// ---- the SQ ----

io_uring_sqe* uring_port::sqe_locked() noexcept {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    flush_locked();
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void uring_port::prepared_locked() noexcept {
  // seq_cst: pairs with the reaper's in_kernel_ store (see flush_locked).
  sq_dirty_.store(true, std::memory_order_seq_cst);
  // A thread outside run() may not come back to flush: submit now.
  if (tls_running != this) flush_locked();
}

void uring_port::flush_locked() noexcept {
  if (io_uring_sq_ready(&ring_) == 0) {
    sq_dirty_.store(false, std::memory_order_relaxed);
    return;
  }
  // -EBUSY/-EAGAIN (completions backed up, no memory for the request): the
  // SQEs stay in the SQ and the next flush offers them again. But while the
  // reaper sleeps in the kernel nobody flushes until a completion wakes it,
  // which may never come, so then a transient refusal is retried here for a
  // bounded time (the reaper never retries: it flushes on every turn). The
  // seq_cst pair sq_dirty_ (stored before) / in_kernel_ (loaded here)
  // against the reaper's in_kernel_ store / sq_dirty_ load means that
  // either this thread sees the reaper asleep, or the reaper sees these
  // SQEs before it sleeps.
  constexpr int max_retries = 100;  // about 10 ms
  for (int attempt = 0;; ++attempt) {
    int r;
    do {
      r = io_uring_submit(&ring_);
    } while (r == -EINTR);
    if (r >= 0 || (r != -EAGAIN && r != -EBUSY) || attempt == max_retries || tls_reaper == this ||
        !in_kernel_.load(std::memory_order_seq_cst))
      break;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  sq_dirty_.store(io_uring_sq_ready(&ring_) != 0, std::memory_order_seq_cst);
}

void uring_port::flush() noexcept {
  if (!sq_dirty_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(sq_mutex_);
  flush_locked();
}

void uring_port::submit_nop() noexcept {
  // One NOP in flight is enough to end the reaper's wait: wakers that come
  // while one is on its way save the system call. The reaper clears the
  // flag when it consumes the NOP's CQE, before it looks (under mutex_,
  // which every waker took after publishing) at what the wakers published.
  if (kicked_.exchange(true)) return;
  std::lock_guard lock(sq_mutex_);
  io_uring_sqe* sqe = sqe_locked();
  if (sqe == nullptr) {
    kicked_.store(false);
    return;
  }
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, uring_tag_wake);
  flush_locked();
}

// ---- sockets ----

socket_state* uring_port::attach(native_handle_type h, address_family family, socket_type type,
                                 std::error_code& ec) noexcept {
  uring_socket* s = pool_.allocate();
  if (s == nullptr) return refuse_attach(h, errc::not_enough_memory, ec);
  // A recycled state is closed, idle and unlocked: nothing in the ring
  // names its records any more (close() and finish() release it only
  // then), so only what a new socket sets is set here.
  s->assign(h, family, type);
  s->closed = false;
  open_sockets().fetch_add(1, std::memory_order_relaxed);
  ec.clear();
  return s;
}

void uring_port::close(socket_state& state) noexcept {
  auto& s = static_cast<uring_socket&>(state);
  bool release;
  {
    std::lock_guard lock(s.mutex);
    if (s.closed) return;
    s.closed = true;
    op_queue done;
    abort_all(s.read_q, done);
    abort_all(s.write_q, done);
    // Records in the ring complete through their own CQEs, as aborted
    // (finish_op treats every result on a closed socket so).
    if (s.read_active != nullptr) request_cancel(*s.read_active);
    if (s.write_active != nullptr) request_cancel(*s.write_active);
    // A request prepared but not yet submitted names the descriptor by
    // number: submit it before the number can be reused. Once submitted, a
    // request holds the open file itself, so closing the number now is
    // safe and a new socket given the same number never sees its events.
    {
      std::lock_guard sq(sq_mutex_);
      flush_locked();
      if (io_uring_sq_ready(&ring_) != 0) forget_fd(ring_, s.handle);
    }
    sys::close_handle(s.handle);
    s.handle = invalid_native_handle;
    complete(done);
    release = s.inflight == 0;
  }
  open_sockets().fetch_sub(1, std::memory_order_relaxed);
  if (release) pool_.release(s);
}

// ---- submission and cancel ----

void uring_port::submit(socket_state& state, operation& op, const endpoint* ep) noexcept {
  // The fast path: a one-buffer stream recv or send of at least one byte
  // on a direction with nothing in the ring (so nothing waiting either: a
  // queue only fills behind an active record) goes straight into the
  // ring, as start_next() would put it there. Kept free of calls but the
  // one at its end, so it saves few registers; a lock it cannot take at
  // once, a full SQ and everything else go to submit_slow(), which does
  // the same the general way.
  auto& s = static_cast<uring_socket&>(state);
  auto& p = priv(op);
  const op_kind kind = p.kind;
  const bool write = kind == op_kind::send;
  if ((kind == op_kind::recv || write) && p.nbufs == 1 && s.type == socket_type::stream &&
      (write ? static_cast<const const_buffer*>(p.bufs)->size
             : static_cast<const buffer*>(p.bufs)->size) != 0 &&
      s.mutex.try_lock()) {
    operation*& active = write ? s.write_active : s.read_active;
    if (!s.closed && active == nullptr && sq_mutex_.try_lock()) {
      io_uring_sq& sq = ring_.sq;
      const unsigned tail = sq.sqe_tail;
      if (tail - io_uring_smp_load_acquire(sq.khead) < sq.ring_entries) {
        // An SQE's length is 32 bits and the kernel moves at most
        // MAX_RW_COUNT per call anyway; a stream op goes round again.
        constexpr std::size_t max_rw = 0x7ffff000;
        const void* data;
        std::size_t n;
        if (write) {
          const auto& b = *static_cast<const const_buffer*>(p.bufs);
          data = static_cast<const char*>(b.data) + p.progress;
          n = b.size - p.progress;
        } else {
          const auto& b = *static_cast<const buffer*>(p.bufs);
          data = b.data;
          n = b.size;
        }
        io_uring_sqe* sqe = &sq.sqes[tail & sq.ring_mask];
        *sqe = io_uring_sqe{};
        sqe->opcode = write ? IORING_OP_SEND : IORING_OP_RECV;
        sqe->fd = s.handle;
        sqe->addr = reinterpret_cast<std::uintptr_t>(data);
        sqe->len = static_cast<unsigned>(n < max_rw ? n : max_rw);
        sqe->msg_flags = write ? MSG_NOSIGNAL : 0;
        // Everything the CQE's fast path reads before it takes the
        // socket's lock is written before the hand-off (see reap()).
        p.state = uring_state_hot;
        POCORE_URING_HANDOFF(&op);
        sqe->user_data = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&op));
        sq.sqe_tail = tail + 1;
        // seq_cst: pairs with the reaper's in_kernel_ store (flush_locked).
        sq_dirty_.store(true, std::memory_order_seq_cst);
        active = &op;
        ++s.inflight;
        sq_mutex_.unlock();
        s.mutex.unlock();
        // A thread outside run() may not come back to flush: submit now.
        // The socket's lock is not needed for that: close() flushes too.
        if (tls_running != this) flush();
        return;
      }
      sq_mutex_.unlock();
    }
    s.mutex.unlock();
  }
  submit_slow(s, op, ep);
}

void uring_port::submit_slow(uring_socket& s, operation& op, const endpoint* ep) noexcept {
  auto& p = priv(op);
  if (p.kind == op_kind::send_to) {
    auto& d = static_cast<datagram_operation&>(op);
    if (auto ec =
            to_sockaddr(d.peer, s.family, *reinterpret_cast<posix_sockaddr*>(d.native_addr))) {
      op.error = ec;
      enqueue(op);
      return;
    }
  }
  op_queue done;
  {
    std::lock_guard lock(s.mutex);
    const bool write = uring_is_write(p.kind);
    if (s.closed) {
      op.error = make_ec(errc::bad_descriptor);
      done.push(op);
    } else if (p.kind == op_kind::connect) {
      // A second connect while one is pending is what the kernel calls
      // EALREADY (in_progress); refusing it here also keeps the one
      // destination slot per socket free of races.
      bool pending = s.write_active != nullptr && priv(*s.write_active).kind == op_kind::connect;
      for (operation* o = s.write_q.front(); o != nullptr && !pending; o = priv(*o).next)
        pending = priv(*o).kind == op_kind::connect;
      uring_socket_cold* c = ep == nullptr || pending ? nullptr : s.cold_part();
      std::error_code ec = ep == nullptr  ? make_ec(errc::invalid_argument)
                           : pending      ? make_ec(errc::in_progress)
                           : c == nullptr ? make_ec(errc::not_enough_memory)
                           : s.type == socket_type::stream && posix_has_peer(s.handle)
                               ? make_ec(errc::already_connected)
                               : to_sockaddr(*ep, s.family, c->connect_addr);
      if (ec) {
        op.error = ec;
        done.push(op);
      } else {
        s.write_q.push(op);
        start_next(s, true, done);
      }
    } else if (uring_is_read(p.kind) || write) {
      (write ? s.write_q : s.read_q).push(op);
      start_next(s, write, done);
    } else {
      op.error = make_ec(errc::invalid_argument);
      done.push(op);
    }
    complete(done);
  }
}

void uring_port::cancel(socket_state& state, operation* op) noexcept {
  auto& s = static_cast<uring_socket&>(state);
  std::lock_guard lock(s.mutex);
  if (s.closed) return;
  op_queue done;
  if (op == nullptr) {
    abort_all(s.read_q, done);
    abort_all(s.write_q, done);
    if (s.read_active != nullptr) request_cancel(*s.read_active);
    if (s.write_active != nullptr) request_cancel(*s.write_active);
  } else if (op == s.read_active || op == s.write_active) {
    request_cancel(*op);
  } else if (s.read_q.remove(*op) || s.write_q.remove(*op)) {
    op->error = make_error_code(errc::operation_aborted);
    op->bytes = priv(*op).progress;
    done.push(*op);
  }
  // Otherwise it finished already and its callback is on its way.
  complete(done);
}

// ---- completions ----

[[gnu::always_inline]] inline bool uring_port::finish_hot(operation& op, int res,
                                                          op_queue* solo) noexcept {
  auto& p = priv(op);
  if (p.state != uring_state_hot || res <= 0) return false;
  auto& s = *static_cast<uring_socket*>(p.owner);
  if (!s.mutex.try_lock()) return false;
  const bool write = p.kind == op_kind::send;
  // A recv that got data is done; a send only once it went out whole.
  const std::size_t n = static_cast<std::size_t>(res) + p.progress;
  if (p.flags != 0 || s.closed || (write && n < static_cast<const const_buffer*>(p.bufs)->size) ||
      !(write ? s.write_q : s.read_q).empty()) {
    s.mutex.unlock();
    return false;
  }
  --s.inflight;
  (write ? s.write_active : s.read_active) = nullptr;
  p.progress = n;
  // op.error is still the success the front end set: nothing on the way
  // into the ring and back sets it unless the record finishes so.
  op.bytes = n;
  // Still under the socket's lock, so one socket's completions reach the
  // queue in order even when another thread cancels meanwhile.
  if (solo != nullptr)
    solo->push(op);
  else
    complete_one(op);
  s.mutex.unlock();
  return true;
}

void uring_port::on_cqe(std::uint64_t user_data, int res) noexcept {
  if (user_data < uring_tag_limit) {  // a wake-up NOP or a cancel's own result
    if (user_data == uring_tag_wake) kicked_.store(false);
    return;
  }
  auto& op = *reinterpret_cast<operation*>(static_cast<std::uintptr_t>(user_data));
  POCORE_URING_RECEIVE(&op);
  if (uring_is_file(priv(op).kind)) {  // a file's record: uring_ops.cpp
    file_ops_.on_cqe(op, res);
    return;
  }
  auto& s = *static_cast<uring_socket*>(priv(op).owner);
  auto& p = priv(op);
  bool release;
  {
    std::lock_guard lock(s.mutex);
    --s.inflight;
    const op_kind kind = p.kind;
    if (finish_op(s, op, res)) {
      const bool write = uring_is_write(kind);
      (write ? s.write_active : s.read_active) = nullptr;
      // Still under the socket's lock, so one socket's completions reach
      // the queue in order even when another thread cancels meanwhile.
      if (s.closed || (write ? s.write_q : s.read_q).empty()) {
        complete_one(op);
      } else {
        op_queue done;
        done.push(op);
        start_next(s, write, done);
        complete(done);
      }
    }
    release = s.closed && s.inflight == 0;
  }
  if (release) pool_.release(s);
}

void uring_port::complete(op_queue& done) noexcept {
  if (done.empty()) return;
  // The sole run() thread keeps what it finished (see uring_port.hpp).
  if (tls_running == this && runners_.load(std::memory_order_relaxed) == 1) {
    tls_private->splice(done);
    return;
  }
  // A run() thread of this port comes back to the queue by itself.
  publish(done, tls_running != this);
}

[[gnu::always_inline]] inline void uring_port::complete_one(operation& op) noexcept {
  if (tls_running == this && runners_.load(std::memory_order_relaxed) == 1) {
    tls_private->push(op);
    return;
  }
  op_queue one;
  one.push(op);
  publish(one, tls_running != this);
}

void uring_port::publish(op_queue& done, bool wake) noexcept {
  bool kick = false;
  std::size_t n = done.size();
  {
    std::lock_guard lock(mutex_);
    completed_.splice(done);
    queued_.store(completed_.size(), std::memory_order_relaxed);
    // One sleeper per record, and the reaper if they run out.
    if (wake) {
      while (n > 0 && wake_one_locked()) --n;
      kick = n > 0 && reaping_;
    }
  }
  if (kick) submit_nop();
}

void uring_port::enqueue(operation& op) noexcept { complete_one(op); }

operation* uring_port::pop_completion() noexcept {
  op_queue& mine = *tls_private;
  // Nothing published by others: the private list first, lock-free. The
  // acquire pairs with publish() of a completion whose socket lock this
  // thread has not taken since (order within a socket needs none).
  if (queued_.load(std::memory_order_acquire) == 0) {
    if (mine.empty()) return nullptr;  // reap_or_wait() re-checks under the lock
    if (runners_.load(std::memory_order_relaxed) == 1) return mine.pop();
  }
  std::lock_guard lock(mutex_);
  completed_.splice(mine);
  operation* op = completed_.pop();
  queued_.store(completed_.size(), std::memory_order_relaxed);
  // Spread the rest over the sleeping threads (guarantee 8).
  if (op != nullptr && !completed_.empty()) wake_one_locked();
  return op;
}

bool uring_port::wake_one_locked() noexcept {
  sleeper* w = sleepers_;
  if (w == nullptr) return false;
  sleepers_ = w->next;
  // Under mutex_: the sleeper takes it again before it returns, so its
  // word is still there when the wake-up reaches it.
  w->woken.store(1, std::memory_order_release);
  ::syscall(SYS_futex, &w->woken, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  return true;
}

void uring_port::sleep_on(sleeper& me, std::unique_lock<uring_lock>& lock, int cap) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cap);
  lock.unlock();
  while (me.woken.load(std::memory_order_acquire) == 0) {
    timespec ts{};
    timespec* bound = nullptr;
    if (cap >= 0) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds::zero()) break;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      bound = &ts;
    }
    // Returns at once if the word is no longer 0; EINTR and spurious
    // wake-ups go round the loop.
    ::syscall(SYS_futex, &me.woken, FUTEX_WAIT_PRIVATE, 0, bound, nullptr, 0);
  }
  lock.lock();
}

void uring_port::wake() noexcept {
  bool kick;
  {
    std::lock_guard lock(mutex_);
    kick = reaping_ && tls_reaper != this;
    while (wake_one_locked()) {
    }
  }
  if (kick) submit_nop();
}

void uring_port::stop() noexcept {
  stopped_.store(true, std::memory_order_seq_cst);
  wake();
}

void uring_port::restart() noexcept { stopped_.store(false, std::memory_order_seq_cst); }

bool uring_port::reap() noexcept {
  // The CQ is walked by hand (this thread is its only consumer, as
  // reaper): one acquire load of the tail and one release store of the
  // head per batch, the CQEs read in place. Finishing a record never
  // waits for the kernel to post more (a full CQ meanwhile is what NODROP
  // survives), and no callback runs in here.
  io_uring_cq& cq = ring_.cq;
  bool any = false;
  for (;;) {
    const unsigned head = *cq.khead;
    const unsigned tail = io_uring_smp_load_acquire(cq.ktail);
    if (head == tail) {
      // Completions the kernel kept back (a full CQ, which NODROP
      // survives) or still has to run as task work: liburing's peek
      // enters the kernel to fetch them.
      if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) == 0)
        return any;
      io_uring_cqe* cqe = nullptr;
      if (io_uring_peek_batch_cqe(&ring_, &cqe, 1) == 0) return any;
      continue;
    }
    any = true;
    // The kernel orders a request's submission before its CQE, but race
    // checkers cannot see through it. on_cqe() reads a record's owner
    // before it holds any lock the submitter held; this acquire pairs with
    // the release in prepared_locked(), made after the record was filled
    // and before its SQE could reach the kernel, and makes that order
    // visible to ThreadSanitizer. On x86 it is a plain load.
    (void)sq_dirty_.load(std::memory_order_acquire);
    // The sole run() thread keeps what it finishes (complete()), decided
    // once per batch: should a second thread enter run() meanwhile, what
    // this one kept is still run or handed on by it (pop_completion()).
    op_queue* solo = tls_running == this && runners_.load(std::memory_order_relaxed) == 1
                         ? &*tls_private
                         : nullptr;
    for (unsigned i = head; i != tail; ++i) {
      const io_uring_cqe& cqe = cq.cqes[i & cq.ring_mask];
      const std::uint64_t data = cqe.user_data;
      const int res = cqe.res;
      if (data >= uring_tag_limit) {
        auto& op = *reinterpret_cast<operation*>(static_cast<std::uintptr_t>(data));
        POCORE_URING_RECEIVE(&op);
        if (finish_hot(op, res, solo)) continue;
      }
      on_cqe(data, res);
    }
    io_uring_smp_store_release(cq.khead, tail);
  }
}

void uring_port::reap_or_wait(int cap, bool force) noexcept {
  // What this thread's callbacks submitted goes to the kernel before it
  // sleeps, whichever way it sleeps. Every submitting io_uring_enter runs
  // under sq_mutex_ (flush_locked), so close() can still find and retarget
  // an SQE the kernel has not taken (forget_fd): the wait below submits
  // nothing.
  flush();
  std::unique_lock lock(mutex_);
  if (!force && (!completed_.empty() || stopped() || outstanding() == 0)) return;
  if (reaping_) {
    // Another thread is at the ring: it will queue what completes.
    if (cap == 0) return;
    sleeper me;
    me.next = sleepers_;
    sleepers_ = &me;
    sleep_on(me, lock, cap);
    if (me.woken.load(std::memory_order_relaxed) == 0) {  // timed out: still on the list
      sleeper** link = &sleepers_;
      while (*link != &me) link = &(*link)->next;
      *link = me.next;
    }
    return;
  }
  reaping_ = true;
  tls_reaper = this;
  lock.unlock();
  // The role is announced before the timeout is computed and the wait
  // begins: a waker that publishes (stop, a new earliest timer, no more
  // work) and then finds reaping_ set submits a NOP that ends the wait;
  // one that ran before saw the flag clear and this thread sees its state.
  bool got = reap();
  if (!got && cap != 0) {
    int t = timer_timeout_ms(cap);
    if (t != 0) {
      flush();
      in_kernel_.store(true, std::memory_order_seq_cst);
      // SQEs a submitter failed to submit before it could see this thread
      // asleep (flush_locked): offer them again, and while the kernel
      // refuses them sleep only briefly, not until a completion that may
      // never come.
      if (sq_dirty_.load(std::memory_order_seq_cst)) {
        flush();
        if (sq_dirty_.load(std::memory_order_seq_cst) && (t < 0 || t > 1)) t = 1;
      }
      io_uring_cqe* cqe = nullptr;
      if (t < 0) {
        io_uring_wait_cqe(&ring_, &cqe);
      } else {
        __kernel_timespec ts{};
        ts.tv_sec = t / 1000;
        ts.tv_nsec = static_cast<long long>(t % 1000) * 1'000'000;
        io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
      }
      in_kernel_.store(false, std::memory_order_relaxed);
      reap();
    }
  }
  if (has_timers()) {
    op_queue expired;
    collect_timers(expired);
    complete(expired);
  }
  lock.lock();
  reaping_ = false;
  tls_reaper = nullptr;
  // Hand the role on: a sleeper takes it, and one more sleeper per queued
  // record beyond the one this thread runs next.
  std::size_t wanted = completed_.size() > 1 ? completed_.size() : 1;
  while (wanted > 0 && wake_one_locked()) --wanted;
}

std::size_t uring_port::run(run_mode mode, std::chrono::milliseconds timeout) {
  if (stopped() || outstanding() == 0) return 0;
  const run_limits limits = run_limits::of(mode, timeout);
  const bool one = limits.one;
  // A nested run() on this port: what the outer one kept goes first.
  if (tls_running == this && !tls_private->empty()) publish(*tls_private, false);
  op_queue mine;
  run_scope scope(this, &mine);
  runners_.fetch_add(1, std::memory_order_relaxed);
  std::size_t n = 0;
  bool polled = false;  // a non-blocking look found nothing since the last callback
  int streak = 0;       // callbacks since the ring was last looked at
  for (;;) {
    if (stopped()) break;
    if (streak >= max_callbacks_between_polls) {
      reap_or_wait(0, true);
      streak = 0;
    }
    // The sole run() thread takes from its private list without a call
    // while nobody has published (the first test of pop_completion()).
    operation* op = queued_.load(std::memory_order_acquire) == 0 && !mine.empty() &&
                            runners_.load(std::memory_order_relaxed) == 1
                        ? mine.pop()
                        : pop_completion();
    if (op != nullptr) {
      invoke(*op);
      ++n;
      ++streak;
      polled = false;
      // Batching waits for this thread's next turn at the ring. While
      // another thread sleeps in the kernel for completions, what this
      // callback submitted goes now, or it would wait behind the callbacks
      // still queued here (or for ever, behind one that blocks).
      if (in_kernel_.load(std::memory_order_relaxed)) flush();
      if (one) break;
      continue;
    }
    if (outstanding() == 0) break;
    const int cap = limits.cap();
    if (cap == 0) {
      if (polled) break;  // one last non-blocking look found nothing
      polled = true;
    }
    reap_or_wait(cap, false);
    streak = 0;
  }
  // What this thread kept and did not run (run_one, stop) is for the
  // next run() on any thread.
  if (!mine.empty()) publish(mine, true);
  runners_.fetch_sub(1, std::memory_order_relaxed);
  // Submissions this thread batched must not wait for its next run().
  flush();
  return n;
}

}  // namespace pocore::detail
