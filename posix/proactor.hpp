// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The reactor-driven proactor shared by the epoll and kqueue backends.
//
// Each socket keeps one queue of pending operations per direction. A new
// operation whose queue is empty is tried at once (non-blocking); what
// would block waits in its queue, and the socket is registered with the
// readiness source once, edge-triggered for both directions. When the
// source reports the socket ready, its queues run until the front
// operation would block again. Finished operations, whether they finished
// at submission or later, go to the port's completion queue; only run()
// invokes them, so a callback never runs inside the call that submitted it.
//
// One completion queue per port, shared by every run() thread: finished
// operations are moved into it while the socket's lock is still held, so
// one socket's completions enter it in the order they finished even when
// several threads finish them, and with one thread running the port they
// run in submission order (guarantee 4). An operation finished on a thread
// inside this port's run() signals nobody, because that thread returns to
// the queue before it waits again.
//
// The one exception, the hot path of a port run by ONE thread: what that
// thread finishes itself (at submission inside a callback, or in on_ready)
// goes to a private list on its stack, without the queue's lock. It takes
// from that list only while the shared queue is empty (`queued_`, read
// after the socket's lock, which orders it after any completion of that
// socket published before), and otherwise appends the list to the shared
// queue before taking the front; so one socket's completions still run in
// the order they finished. Once a second thread is in run() (`runners_`),
// the list goes to the shared queue at the next take, and it is emptied
// there whenever the thread leaves run() or enters a nested run().
//
// Wake-ups: a run() thread about to block announces itself in `waiting_`
// and then re-checks the stop flag, the work count, the queue and the
// timers; whoever changes one of those and then sees a waiter signals the
// source. A thread that consumed a signal passes it on when it leaves
// run(), so a stop or "no more work" reaches every waiting thread.
//
// The hot path (proactor_ops.cpp): a stream recv or send of one buffer
// skips the general machinery. Under the socket's lock, into an empty
// queue on a socket whose readiness hint says an attempt may succeed, it
// makes the system call at once and, when that finishes the operation,
// hands it to complete_one() (the private list on the sole run() thread);
// on_ready() runs the front of a queue the same way, finishing into the
// private list directly. run() takes from that list inline. The order and
// the never-inline rule are those of the general path.
//
// Other decisions:
// - Disconnect waits in the write queue behind every pending send, then
//   calls shutdown(SHUT_RDWR): the peer sees end of stream after the last
//   byte, pending and later recvs here complete with 0 bytes, later sends
//   fail with shut_down. The descriptor stays open until close().
// - A readiness hint per direction lets a submission skip the attempt that
//   would only meet EAGAIN (see proactor_socket::read_ready), which brings
//   an echo server to three system calls per message: the wait, the recv,
//   the send.
//
// The core knows nothing about epoll: a readiness source derives from
// `proactor` and implements the four source_* hooks (register, deregister,
// wait, signal). The backend class (epoll_port) is that derived class.

#include <atomic>
#include <cstdint>
#include <mutex>

#include "common/backend.hpp"
#include "common/fast_lock.hpp"
#include "common/state_pool.hpp"

namespace pocore::detail {

/// A socket as the proactor sees it.
///
/// States live in per-port chunks and are recycled, never freed, until the
/// port dies: a readiness event that another thread has already dequeued
/// may still name a state after close(), and touching recycled memory is
/// safe where touching freed memory is not. Events carry a token of
/// (index, generation); close() bumps the generation under the socket's
/// lock, so an event for a closed or recycled state is recognised and
/// dropped, and a reused descriptor number never runs an old socket's
/// operations.
struct proactor_socket final : socket_state {
  // 64 bytes: a state is found by shifting its index, and an idle
  // connection costs no more than it must.
  fast_lock mutex;
  std::uint32_t index = 0;
  op_list read_q;   ///< recv, recv_from, accept
  op_list write_q;  ///< send, send_to, connect, disconnect
  std::uint32_t generation = 0;
  /// The next free state's index + 1 while on the pool's free list, else 0.
  std::uint32_t next_free = 0;
  bool closed = true;
  bool registered = false;  ///< known to the readiness source
  /// The source reported a state that stays readable without a further
  /// edge: the peer's FIN, hang-up, an error, or TCP urgent data (a recv
  /// stops short at the urgent mark with data still queued). From then on
  /// a short read no longer proves the socket drained.
  bool sticky_read = false;
  // Readiness hints. True means "an attempt may succeed"; an attempt that
  // meets EAGAIN (or a short read/write, which proves the buffer ran dry)
  // clears it, and the next edge from the source sets it. While it is
  // clear a submission queues at once without a wasted system call: the
  // edge-triggered source reports every later change of state.
  bool read_ready = true;
  bool write_ready = true;

  std::uint64_t token() const noexcept {
    return (static_cast<std::uint64_t>(generation) << 32) | index;
  }
};
static_assert(sizeof(proactor_socket) == 64);

/// What a non-blocking attempt came to.
enum class perform_result : std::uint8_t { done, would_block };

class proactor;

// The non-blocking attempts (proactor_ops.cpp). Called with the socket's
// lock held; on `done` they have set op.error and op.bytes.
perform_result perform_op(proactor& port, proactor_socket& s, operation& op) noexcept;
/// True if `op` can only progress after a readiness edge (false for, e.g.,
/// a zero-length stream recv or a disconnect, which finish on the spot).
bool needs_readiness(const proactor_socket& s, operation& op) noexcept;
/// Starts a connect: the kernel call at submission. `done` when it
/// finished at once (either way); otherwise it waits in the write queue.
perform_result start_connect(proactor_socket& s, operation& op, const endpoint& ep) noexcept;
/// Converts the destination of a send_to into the record's native area.
std::error_code prepare_send_to(proactor_socket& s, operation& op) noexcept;

class proactor : public port_backend {
 public:
  proactor(const proactor&) = delete;
  proactor& operator=(const proactor&) = delete;

  std::size_t run(run_mode mode, std::chrono::milliseconds timeout) final;
  void stop() noexcept final;
  void restart() noexcept final;
  bool stopped() const noexcept final { return stopped_.load(std::memory_order_acquire); }
  void wake() noexcept final;
  void enqueue(operation& op) noexcept final;
  socket_state* attach(native_handle_type h, address_family family, socket_type type,
                       std::error_code& ec) noexcept final;
  void close(socket_state& s) noexcept final;
  void submit(socket_state& s, operation& op, const endpoint* ep) noexcept final;
  void cancel(socket_state& s, operation* op) noexcept final;

 protected:
  proactor() = default;
  /// Closes every socket still open, without running callbacks: the port
  /// is going away and no thread can run them. Derived classes have
  /// closed their source by then, so no hook is called.
  ~proactor() override;

  // ---- the readiness source ----
  /// Registers `s.handle` for edge-triggered read and write readiness,
  /// reporting `s.token()`. Called once per socket, under its lock.
  virtual std::error_code source_add(proactor_socket& s) noexcept = 0;
  /// Forgets `s.handle`; called under its lock, before the close.
  virtual void source_remove(proactor_socket& s) noexcept = 0;
  /// Waits up to `timeout_ms` (-1: no bound, 0: poll) and calls
  /// on_ready() for every socket event. Returns true if it consumed a
  /// signal() (so the wake-up it carried must not be lost).
  virtual bool source_wait(int timeout_ms) noexcept = 0;
  /// Makes a thread blocked in source_wait() return (level-triggered:
  /// every waiter sees it until one consumes it).
  virtual void source_signal() noexcept = 0;

  /// Called by source_wait() for a socket event. `sticky`: see
  /// proactor_socket::sticky_read.
  void on_ready(std::uint64_t token, bool readable, bool writable, bool sticky) noexcept;

 private:
  // Runs `q` until its front would block; finished ops move to `done`.
  void run_queue(proactor_socket& s, op_list& q, bool& ready, op_queue& done) noexcept;
  // run_queue()'s body, inlined into the hot paths (proactor_ops.cpp).
  void run_queue_inline(proactor_socket& s, op_list& q, bool& ready, op_queue& done) noexcept;
  // Queues `op` behind its direction's queue; registers the socket if it
  // is not yet. Returns false (op untouched) if registration failed.
  bool park(proactor_socket& s, op_list& q, operation& op, op_queue& done) noexcept;
  // Moves finished ops to the completion queue. Called with the socket's
  // lock still held, so one socket's completions keep their order even
  // when several threads produce them. The sole run() thread keeps what
  // it finished (see the file comment).
  void complete(op_queue& done) noexcept {
    if (done.empty()) return;
    if (solo()) {
      tls_run.list->splice(done);
      return;
    }
    complete_shared(done);
  }
  // complete() of one operation.
  void complete_one(operation& op) noexcept {
    if (solo()) {
      tls_run.list->push(op);
      return;
    }
    complete_shared_one(op);
  }
  // True on the one thread running this port, while it is the only one.
  bool solo() const noexcept {
    return tls_run.port == this && runners_.load(std::memory_order_relaxed) == 1;
  }
  // The hot path of submit(): a stream recv (Send false) or send.
  template <bool Send>
  void submit_stream(proactor_socket& s, operation& op) noexcept;
  // submit() of every other kind.
  void submit_other(proactor_socket& s, operation& op, const endpoint* ep) noexcept;
  operation* pop_completion() noexcept;
  bool completions_empty() noexcept;
  void gather_timers() noexcept;
  // Wakes a run() thread asleep in the source, if there is one.
  void signal_waiters() noexcept;

  proactor_socket* lookup(std::uint32_t index) const noexcept { return pool_.lookup(index); }

  // complete()'s path through the shared queue.
  void complete_shared(op_queue& done) noexcept;
  // complete_one()'s, out of line so the hot path stays lean.
  void complete_shared_one(operation& op) noexcept;
  // Appends `q` to the shared completion queue.
  void publish(op_queue& q) noexcept;

  // The completion queue.
  fast_lock mutex_;
  op_queue completed_;
  // completed_.size(), written under mutex_, read without it.
  std::atomic<std::size_t> queued_{0};
  // Threads inside run() (a nested run() counts again).
  std::atomic<int> runners_{0};
  std::atomic<bool> stopped_{false};
  // run() threads that announced they are about to block in the source.
  std::atomic<int> waiting_{0};

  state_pool<proactor_socket> pool_;
};

}  // namespace pocore::detail
