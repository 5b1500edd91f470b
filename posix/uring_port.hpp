// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The io_uring backend: native submissions and completions, like IOCP.
//
// Each socket keeps one queue of waiting operations per direction and at
// most ONE operation of each direction in the ring. io_uring does not order
// two requests on one socket (a short send followed by the next send would
// interleave bytes, two recvs may complete out of order), so the backend
// orders them itself: the next operation of a direction enters the ring only
// after the previous one has completed for good, and a short stream send
// re-enters the ring with its remainder before anything behind it starts
// (guarantees 3 and 4). With one op per direction, the msghdr and iovec
// window a request needs can live in the socket state instead of the record.
//
// user_data of a request is the operation record's address; a few small
// values tag the requests that carry no operation (wake-ups, cancels).
// Cancel goes through the ring (IORING_OP_ASYNC_CANCEL by user_data), and
// the aborted request's own completion is what completes the record, so a
// record completes exactly once whichever of the two wins.
//
// Threads: submissions from any thread go through the SQ under sq_mutex_.
// A run() thread batches its submissions and flushes them once before it
// waits (one io_uring_enter per loop iteration, not per operation); any
// other thread submits at once. Of the threads in run(), one at a time
// holds the "reaper" role: it flushes the SQ, waits in the kernel for
// completions (bounded by the timer queue), turns CQEs into finished records
// on the port's completion queue and gives the role up before running
// callbacks; the others sleep, each on its own condition variable, so a
// notifier knows how many it woke. This leader/follower scheme keeps the CQ
// single-consumer (liburing's CQ calls are not thread-safe, and several
// threads in io_uring_enter would all wake for one CQE) while callbacks
// still spread over every thread. wake() wakes the sleepers and, if the
// reaper is in the kernel, submits a NOP whose CQE ends its wait: no
// eventfd to keep armed in the ring, and a wake-up costs one system call,
// as an eventfd write would.
//
// Close cancels what the socket has in the ring, submits whatever is still
// batched for it (a prepared SQE names the descriptor by number), then
// closes the descriptor at once: a submitted request holds the open file
// itself, so the number can be reused safely. The state is freed when the
// last of its requests has completed.

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>
#include <system_error>

#include "common/backend.hpp"
#include "common/fast_lock.hpp"
#include "common/state_pool.hpp"
#include "posix/posix_addr.hpp"

// The kernel orders a request's submission before its completion, but
// ThreadSanitizer cannot see through the ring: the record a thread filled
// in before submitting looks unsynchronised to the thread that reaps its
// completion. These annotations state that ordering (no code otherwise).
#if defined(__SANITIZE_THREAD__)
#define POCORE_URING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POCORE_URING_TSAN 1
#endif
#endif
#if defined(POCORE_URING_TSAN)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#define POCORE_URING_HANDOFF(p) __tsan_release(p)
#define POCORE_URING_RECEIVE(p) __tsan_acquire(p)
#else
#define POCORE_URING_HANDOFF(p) ((void)(p))
#define POCORE_URING_RECEIVE(p) ((void)(p))
#endif

namespace pocore::detail {

/// The backend's locks: see common/fast_lock.hpp.
using uring_lock = fast_lock;

/// The parts of a socket's state that only the less common requests use:
/// the msghdr of a recvmsg/sendmsg request (scatter/gather, datagrams),
/// a gather send's iovec window and a connect's destination. Made on first
/// use, so an idle stream socket carries one pointer instead of these.
struct uring_socket_cold {
  /// Per-direction request scratch. The kernel copies msghdr and iovecs
  /// when the request is submitted (IORING_FEAT_SUBMIT_STABLE), but writes
  /// recvmsg's msg_namelen/msg_flags back at completion, so they stay here
  /// until then; one request per direction keeps them private to it.
  msghdr read_msg{};
  msghdr write_msg{};
  /// A gather send with more buffers goes round the ring again for the
  /// rest; small, because a socket that sends so carries it.
  static constexpr std::size_t iov_window = 8;
  iovec write_iov[iov_window];
  /// A connect's destination, read by the kernel at submission.
  posix_sockaddr connect_addr{};
};

/// A socket as the io_uring backend sees it. From the port's pool (no
/// allocation per connection); recycled once it is closed and no request
/// in the ring names one of its records. Kept small (80 bytes): what only
/// rarer requests need lives in `cold`.
struct uring_socket final : socket_state {
  uring_lock mutex;
  std::uint16_t inflight = 0;  ///< requests in the ring naming our records (at most 2)
  bool closed = false;
  operation* read_active = nullptr;         ///< the read-side record in the ring
  operation* write_active = nullptr;        ///< the write-side record in the ring
  op_list read_q;                           ///< recv, recv_from, accept waiting for their turn
  op_list write_q;                          ///< send, send_to, connect, disconnect waiting
  std::unique_ptr<uring_socket_cold> cold;  ///< see cold_part(); kept when recycled
  std::uint32_t index = 0;                  ///< place in the port's pool
  std::uint32_t next_free = 0;              ///< the pool's free list
  /// The cold part, made on first use (s.mutex held); null if out of memory.
  uring_socket_cold* cold_part() noexcept {
    if (!cold) cold.reset(new (std::nothrow) uring_socket_cold);
    return cold.get();
  }
};
static_assert(sizeof(uring_socket) <= 80, "an idle connection's state grew");

/// user_data values below this name no record: wake-up NOPs and the
/// results of cancel requests. Records are at least 8-aligned addresses.
inline constexpr std::uint64_t uring_tag_wake = 1;
inline constexpr std::uint64_t uring_tag_cancel = 2;
inline constexpr std::uint64_t uring_tag_limit = 4096;

/// priv(op).flags: a cancel was asked for this record while in the ring.
inline constexpr std::uint16_t uring_flag_cancel = 1;

/// priv(op).state of a one-buffer stream recv or send in the ring (put
/// there by submit()'s fast path or by issue()): its CQE may take the fast
/// path of reap(), finish_hot(). The front end zeroes `state` on every
/// submission, so a reused record never carries the mark over.
inline constexpr std::uint8_t uring_state_hot = 2;

inline bool uring_is_read(op_kind k) noexcept {
  return k == op_kind::recv || k == op_kind::recv_from || k == op_kind::accept;
}
inline bool uring_is_write(op_kind k) noexcept {
  return k == op_kind::send || k == op_kind::send_to || k == op_kind::connect ||
         k == op_kind::disconnect;
}

/// A regular file as the io_uring backend sees it. Its records go into the
/// ring at once, any number at a time (a file has no order to keep); the
/// ones in the ring are listed in `active` so cancel and close can name
/// them. Freed once closed and no request of it is left in the ring; the
/// descriptor is closed then too, so no request still queued in the SQ can
/// meet a reused number.
struct uring_file final : file_state {
  uring_lock mutex;
  op_queue active;   ///< records in the ring
  int inflight = 0;  ///< requests in the ring naming our records
  bool closed = false;
};

inline bool uring_is_file(op_kind k) noexcept {
  return k == op_kind::read_at || k == op_kind::write_at;
}

class uring_port;

/// Native file I/O on the ring: IORING_OP_READ/WRITE (READV/WRITEV for a
/// fresh scatter/gather record) at the record's offset. uring_ops.cpp.
class uring_files final : public file_service {
 public:
  explicit uring_files(uring_port& port) noexcept : port_(port) {}
  file_state* attach(std::intptr_t h, bool readable, bool writable,
                     std::error_code& ec) noexcept override;
  void submit(file_state& f, operation& op) noexcept override;
  void cancel(file_state& f, operation* op) noexcept override;
  void close(file_state& f) noexcept override;
  /// The CQE of a file record.
  void on_cqe(operation& op, int res) noexcept;

 private:
  // Puts `op` into the ring (f.mutex held); false (op finished) if not.
  bool issue(uring_file& f, operation& op) noexcept;
  uring_port& port_;
};

class uring_port final : public port_backend {
 public:
  /// Sets up a ring (the trial: fails where the kernel, a container or a
  /// seccomp profile refuses io_uring, or lacks an opcode pocore needs).
  static std::unique_ptr<port_backend> create(std::error_code& ec) noexcept;
  ~uring_port() override;
  uring_port(const uring_port&) = delete;
  uring_port& operator=(const uring_port&) = delete;

  std::string_view name() const noexcept override { return "io_uring"; }
  std::size_t run(run_mode mode, std::chrono::milliseconds timeout) override;
  void stop() noexcept override;
  void restart() noexcept override;
  bool stopped() const noexcept override { return stopped_.load(std::memory_order_acquire); }
  void wake() noexcept override;
  void enqueue(operation& op) noexcept override;
  socket_state* attach(native_handle_type h, address_family family, socket_type type,
                       std::error_code& ec) noexcept override;
  void close(socket_state& s) noexcept override;
  void submit(socket_state& s, operation& op, const endpoint* ep) noexcept override;
  void cancel(socket_state& s, operation* op) noexcept override;
  file_service* files(std::error_code& ec) noexcept override {
    ec.clear();
    return &file_ops_;
  }

 private:
  friend class uring_files;
  explicit uring_port(const io_uring& ring) noexcept : ring_(ring) {}

  // The SQ, all with sq_mutex_ held. A free SQE (flushing the SQ if it is
  // full), null only if the kernel refuses to take what is queued.
  io_uring_sqe* sqe_locked() noexcept;
  void flush_locked() noexcept;
  // One more prepared SQE; a thread outside run() submits at once.
  void prepared_locked() noexcept;

  // submit() for everything its fast path does not take: the queues,
  // connect, datagrams, scatter/gather, a busy direction, a closed socket.
  void submit_slow(uring_socket& s, operation& op, const endpoint* ep) noexcept;
  // The fast path of a CQE: a record marked uring_state_hot that finished
  // for good, on an open socket with nothing waiting behind it and nobody
  // cancelling it. False (nothing done) for anything else, which then
  // takes on_cqe(). `solo`: the private list of the sole run() thread (the
  // caller), else null.
  bool finish_hot(operation& op, int res, op_queue* solo) noexcept;
  // complete() for a single record.
  void complete_one(operation& op) noexcept;
  // Starts the next waiting record of one direction (s.mutex held).
  void start_next(uring_socket& s, bool write, op_queue& done) noexcept;
  // Puts `op` (active on `s`) into the ring; false (op.error set) if not.
  bool issue(uring_socket& s, operation& op) noexcept;
  // Asks the ring to cancel an active record (s.mutex held), submitting at
  // once so the record cannot finish and be resubmitted under the same
  // user_data before the cancel reaches the kernel.
  void request_cancel(operation& op) noexcept;
  // Turns one CQE into a finished record or a re-issue.
  void on_cqe(std::uint64_t user_data, int res) noexcept;
  // Interprets a CQE for an active record: true when the record is done
  // (error/bytes set), false when it went back into the ring.
  bool finish_op(uring_socket& s, operation& op, int res) noexcept;

  void flush() noexcept;
  void submit_nop() noexcept;
  // Moves finished records to the completion queue, waking a thread when
  // the caller is not itself a run() thread of this port. The sole run()
  // thread keeps what it finishes in a private list instead, without the
  // lock: see proactor.hpp, whose scheme this is.
  void complete(op_queue& done) noexcept;
  // Appends `done` to the shared queue; `wake`: wake a thread for each.
  void publish(op_queue& done, bool wake) noexcept;
  operation* pop_completion() noexcept;
  // One turn at the ring (as reaper) or asleep (as follower), bounded by
  // `cap` ms (-1 none, 0 poll).
  // `force`: look at the ring even with callbacks queued (see run()).
  void reap_or_wait(int cap, bool force) noexcept;
  // Processes every CQE there is, without waiting; true if there was one.
  bool reap() noexcept;

  io_uring ring_;
  uring_lock sq_mutex_;
  // The SQ may hold SQEs not yet submitted: set under sq_mutex_ with every
  // prepared SQE, cleared under it once the kernel has taken them all.
  std::atomic<bool> sq_dirty_{false};
  std::atomic<bool> in_kernel_{false};  // the reaper is blocked in io_uring_enter
  std::atomic<bool> kicked_{false};     // a wake-up NOP is on its way

  // A run() thread asleep while another holds the reaper role. Each has
  // its own flag, so a notifier knows exactly how many sleepers it has
  // woken and kicks the reaper when there are more completions than that.
  // It sleeps on its own futex word, which needs no allocation (libstdc++'s
  // condition_variable_any makes a shared mutex for every instance, one
  // heap allocation per sleep).
  struct sleeper {
    std::atomic<std::uint32_t> woken{0};  // set under mutex_
    sleeper* next = nullptr;
  };
  // Sleeps until `me.woken` or `cap` ms (negative: no bound); `lock` is
  // released meanwhile and held again on return.
  static void sleep_on(sleeper& me, std::unique_lock<uring_lock>& lock, int cap) noexcept;
  // Wakes the most recent sleeper (its cache is warmest); false if none.
  bool wake_one_locked() noexcept;

  uring_lock mutex_;  // completion queue, reaper role, sleepers
  op_queue completed_;
  // completed_.size(), written under mutex_, read without it.
  std::atomic<std::size_t> queued_{0};
  // Threads inside run() (a nested run() counts again).
  std::atomic<int> runners_{0};
  bool reaping_ = false;
  sleeper* sleepers_ = nullptr;
  std::atomic<bool> stopped_{false};

  state_pool<uring_socket> pool_;

  uring_files file_ops_{*this};
};

static_assert(backend_impl<uring_port>);

}  // namespace pocore::detail
