// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The internal backend interface. A port owns one port_backend; the public
// classes in include/pocore/ check arguments, fill in the record's private
// part and call into it. win/ and posix/ implement it; the concept
// `backend_impl` is static_assert'ed for each implementation so a backend
// that drifts from the interface fails to build.

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "common/fast_lock.hpp"
#include "common/op_queue.hpp"
#include "common/timer_queue.hpp"
#include "pocore/endpoint.hpp"
#include "pocore/error.hpp"
#include "pocore/native.hpp"
#include "pocore/socket.hpp"

namespace pocore::detail {

/// What a backend keeps per socket. Backends derive from it.
struct socket_state {
  native_handle_type handle = invalid_native_handle;
  address_family family = address_family::unspecified;
  socket_type type = socket_type::stream;
  /// The user's non-blocking mode for synchronous calls.
  std::atomic<bool> non_blocking{false};
  /// This side has shut down sending (used to tell EPIPE apart).
  std::atomic<bool> send_shut{false};

  /// Makes a new or recycled state describe the socket `h` just attached.
  void assign(native_handle_type h, address_family f, socket_type t) noexcept {
    handle = h;
    family = f;
    type = t;
    non_blocking.store(false, std::memory_order_relaxed);
    send_shut.store(false, std::memory_order_relaxed);
  }
};

/// What attach() does when it has no state for `h`: closes it, as attach
/// promises, and reports `e`.
socket_state* refuse_attach(native_handle_type h, errc e, std::error_code& ec) noexcept;

class port_core;

/// What a backend keeps per open file (pocore::file). Backends derive
/// from it. `handle` is the descriptor (POSIX) or the HANDLE (Windows,
/// stored as an integer).
struct file_state {
  std::intptr_t handle = -1;
  bool readable = false;  ///< opened for reading
  bool writable = false;  ///< opened for writing
};

/// The file half of a backend: overlapped reads and writes at an offset.
/// The default (every POSIX backend that has no native file I/O) is a
/// small thread pool, posix/file_pool.cpp.
class file_service {
 public:
  virtual ~file_service() = default;
  /// Takes ownership of an open file; on failure closes it and returns null.
  virtual file_state* attach(std::intptr_t h, bool readable, bool writable,
                             std::error_code& ec) noexcept = 0;
  /// Starts a read_at/write_at. The front end has counted the work, checked
  /// the arguments and set priv.kind/bufs/nbufs/owner/deadline (the offset).
  /// Every outcome completes through the port's enqueue().
  virtual void submit(file_state& f, operation& op) noexcept = 0;
  /// Cancels `op` if still pending on `f`, or all of `f`'s if null.
  virtual void cancel(file_state& f, operation* op) noexcept = 0;
  /// Aborts what is pending, closes the handle (once no thread or request
  /// uses it any more) and releases the state.
  virtual void close(file_state& f) noexcept = 0;
};

/// The part of a file operation's buffers not yet moved (`priv.progress`
/// bytes are done): the rest of the first unfinished buffer, and the file
/// offset where it goes. Empty (size 0) when every buffer is done.
buffer file_window(operation& op, std::uint64_t& offset) noexcept;

/// The blocking file calls, defined once per platform (posix/file_pool.cpp,
/// win/iocp_file.cpp). Portable errors; `h` is a file_state::handle.
namespace fsys {
/// Opens `path` (UTF-8, NUL-terminated) with pocore::file_mode bits `mode`,
/// close-on-exec / not inheritable (overlapped on Windows). -1 on failure.
std::intptr_t open(const char* path, unsigned mode, std::error_code& ec) noexcept;
void close(std::intptr_t h) noexcept;
/// One read at `offset`; 0 at the end of the file.
std::size_t read_at(std::intptr_t h, std::uint64_t offset, void* data, std::size_t n,
                    std::error_code& ec) noexcept;
/// One write at `offset`; may be short.
std::size_t write_at(std::intptr_t h, std::uint64_t offset, const void* data, std::size_t n,
                     std::error_code& ec) noexcept;
std::uint64_t size(std::intptr_t h, std::error_code& ec) noexcept;
std::error_code resize(std::intptr_t h, std::uint64_t n) noexcept;
}  // namespace fsys

/// The start of every file_service::attach: a new T (a backend's
/// file_state) holding `h`, with `ec` cleared. When it cannot be
/// allocated, closes `h` as attach promises, sets `ec` to
/// errc::not_enough_memory and returns null.
template <class T>
T* make_file_state(std::intptr_t h, bool readable, bool writable, std::error_code& ec) noexcept {
  static_assert(std::is_base_of_v<file_state, T>);
  T* f = new (std::nothrow) T;
  if (f == nullptr) {
    fsys::close(h);
    ec = make_error_code(errc::not_enough_memory);
    return nullptr;
  }
  f->handle = h;
  f->readable = readable;
  f->writable = writable;
  ec.clear();
  return f;
}

/// The platform's own I/O-error code (POSIX EIO, Windows ERROR_IO_DEVICE),
/// as the platform's error map reports it (posix_error, win::map_error):
/// what a read that meets a device error completes with. pocore::errc has
/// no value for it today, so it comes back in std::system_category; if the
/// map ever gives it one, this follows. Defined once per platform
/// (posix/posix_errors.cpp, win/win_errors.cpp).
std::error_code native_io_error() noexcept;

/// Makes the platform's default file service for `port` (POSIX: the
/// thread pool; Windows: none, since IOCP provides its own). Defined once
/// per platform.
std::unique_ptr<file_service> make_default_file_service(port_core& port, std::error_code& ec);

/// How a run call behaves.
enum class run_mode : std::uint8_t {
  run,       ///< until stopped or out of work
  run_one,   ///< at most one callback, waiting (up to the timeout)
  poll,      ///< every ready callback, no waiting
  poll_one,  ///< at most one ready callback, no waiting
};

/// Steady-clock nanoseconds, the unit of timer deadlines.
inline std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Sets `ec` to success. Same value as `ec.clear()`, without the
/// out-of-line call to std::system_category() that costs on every
/// completion of the hot path.
inline void clear_error(std::error_code& ec) noexcept {
  static const std::error_category& system = std::system_category();
  ec.assign(0, system);
}

/// Milliseconds from now until `deadline_ns` (steady), rounded up so a wait
/// never ends before the deadline (waking early costs a spin), clamped to
/// int; 0 once the deadline has passed.
inline int ms_until(std::int64_t deadline_ns) noexcept {
  const std::int64_t left = deadline_ns - steady_now_ns();
  if (left <= 0) return 0;
  const std::int64_t ms = (left + 999'999) / 1'000'000;
  return ms > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max()
                                              : static_cast<int>(ms);
}

/// A run call's mode and timeout, decoded once per call.
struct run_limits {
  bool one = false;           ///< return after one callback
  bool polling = false;       ///< never wait
  bool bounded = false;       ///< wait no later than `deadline`
  std::int64_t deadline = 0;  ///< steady ns, when bounded

  static run_limits of(run_mode mode, std::chrono::milliseconds timeout) noexcept {
    run_limits l;
    l.polling = mode == run_mode::poll || mode == run_mode::poll_one;
    l.one = mode == run_mode::run_one || mode == run_mode::poll_one;
    l.bounded = mode == run_mode::run_one && timeout.count() >= 0;
    if (l.bounded)
      l.deadline =
          steady_now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    return l;
  }
  /// The longest wait allowed now, in ms: 0 never wait, -1 no bound.
  int cap() const noexcept { return polling ? 0 : bounded ? ms_until(deadline) : -1; }
};

/// A per-port pool of convenience-handler blocks in power-of-two size
/// classes, so a steady stream of lambda operations stops allocating.
class handler_pool {
 public:
  handler_pool() = default;
  handler_pool(const handler_pool&) = delete;
  handler_pool& operator=(const handler_pool&) = delete;
  ~handler_pool();
  void* allocate(std::size_t size);
  void deallocate(void* p, std::size_t size) noexcept;

 private:
  static constexpr std::size_t classes = 6;  // 64 .. 2048 bytes
  static constexpr std::size_t keep_per_class = 256;
  struct block {
    block* next;
  };
  fast_lock mutex_;
  block* free_[classes] = {};
  std::size_t count_[classes] = {};

  // The owner cache: the first thread that uses the pool owns a second set
  // of free lists that only it touches, so while one thread both submits
  // and runs the callbacks (the common case) a handler costs no lock.
  // Other threads use the locked lists above. `owner_` names the thread by
  // the address of a thread_local; it is set once and never changes, and
  // the owner cache is only ever read by that thread (and the destructor).
  // Bounded like the locked lists: at most keep_per_class per class.
  void* allocate_slow(std::size_t c, std::size_t size);
  void deallocate_slow(block* b, std::size_t c) noexcept;
  std::atomic<const void*> owner_{nullptr};
  block* local_[classes] = {};
  std::uint32_t local_count_[classes] = {};
};

/// The platform-free part of every port: work counting, timers, the
/// handler pool and the call that runs a callback.
class port_core {
 public:
  port_core() = default;
  port_core(const port_core&) = delete;
  port_core& operator=(const port_core&) = delete;

  /// A submission was made: one more callback is owed.
  void work_started() noexcept { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  /// Runs a finished operation's callback, then retires its work count.
  /// When the count reaches zero every run() is woken so it can return.
  void invoke(operation& op) noexcept {
    // The work count drops only after the callback returns, so a callback
    // that submits again keeps run() going without a gap in which another
    // thread could see zero work and leave.
    op.on_complete(op);
    if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) wake();
  }
  std::size_t outstanding() const noexcept { return outstanding_.load(std::memory_order_acquire); }

  std::atomic<std::size_t>& open_sockets() noexcept { return open_sockets_; }

  // Timers. The backend waits no longer than timer_timeout() and calls
  // collect_timers() after each wait; push wakes it when the earliest
  // deadline moved.
  void timer_push(operation& op) noexcept;
  bool timer_cancel(operation& op) noexcept;
  std::size_t timer_cancel_owner(const void* owner) noexcept;
  std::size_t timer_count_owner(const void* owner) const noexcept;
  /// Moves expired waits to `out` (error and bytes set).
  void collect_timers(op_queue& out) noexcept;
  /// Milliseconds until the earliest deadline (rounded up), capped at
  /// `cap`; -1 means no timer and no cap.
  int timer_timeout_ms(int cap) const noexcept {
    return has_timers() ? timer_timeout_locked(cap) : cap;
  }
  /// True if a timer is pending (cheap, lock-free hint).
  bool has_timers() const noexcept { return timer_count_.load(std::memory_order_relaxed) != 0; }

  handler_pool& pool() noexcept { return pool_; }

  /// Wakes threads waiting in the backend so they re-check the stop flag,
  /// the work count and the timers.
  virtual void wake() noexcept = 0;
  /// Queues a finished operation for a run() thread. Never invokes inline.
  virtual void enqueue(operation& op) noexcept = 0;

 protected:
  ~port_core() = default;

 private:
  // timer_timeout_ms() when a timer is pending: reads the heap under its lock.
  int timer_timeout_locked(int cap) const noexcept;

  std::atomic<std::size_t> outstanding_{0};
  std::atomic<std::size_t> open_sockets_{0};
  mutable fast_lock timer_mutex_;
  timer_queue timers_;
  std::atomic<std::size_t> timer_count_{0};
  handler_pool pool_;
};

/// The interface each backend implements.
class port_backend : public port_core {
 public:
  virtual ~port_backend() = default;
  virtual std::string_view name() const noexcept = 0;

  /// Runs callbacks as `mode` says; `timeout` bounds the wait of run_one
  /// (negative: no bound). Returns how many callbacks ran.
  virtual std::size_t run(run_mode mode, std::chrono::milliseconds timeout) = 0;
  virtual void stop() noexcept = 0;
  virtual void restart() noexcept = 0;
  virtual bool stopped() const noexcept = 0;

  /// Takes ownership of an open native socket and associates it with the
  /// port (IOCP association, non-blocking mode, ...). On failure the
  /// handle is closed and null returned.
  virtual socket_state* attach(native_handle_type h, address_family family, socket_type type,
                               std::error_code& ec) noexcept = 0;
  /// Aborts every pending operation (each completes with
  /// operation_aborted), closes the handle and releases the state.
  virtual void close(socket_state& s) noexcept = 0;

  /// Starts an overlapped operation. The front end has counted the work,
  /// set priv.kind/bufs/nbufs/owner and cleared error/bytes. `ep` is the
  /// destination for connect (send_to uses datagram_operation::peer).
  /// Every outcome, even failing at once, completes through enqueue().
  virtual void submit(socket_state& s, operation& op, const endpoint* ep) noexcept = 0;
  /// Cancels `op` if pending on `s`, or all of `s`'s operations if null.
  virtual void cancel(socket_state& s, operation* op) noexcept = 0;

  /// The port's file service, made on first use (a port that never opens
  /// a file starts no thread). Null with `ec` set if it cannot be made.
  /// Backends with native file I/O (io_uring, IOCP) override it.
  virtual file_service* files(std::error_code& ec) noexcept;

 protected:
  /// Destroys the default file service, joining its threads. A backend
  /// whose file service calls enqueue() from its own threads calls this
  /// first thing in its destructor, while enqueue() still works.
  void shutdown_files() noexcept;

 private:
  std::mutex files_mutex_;
  std::unique_ptr<file_service> files_;
};

/// Compile-time check that a backend implements the whole interface.
template <class B>
concept backend_impl = std::derived_from<B, port_backend> && std::is_final_v<B> &&
    requires(B& b, socket_state& s, operation& op, native_handle_type h, std::error_code& ec) {
  { b.name() } -> std::same_as<std::string_view>;
  { b.run(run_mode::run, std::chrono::milliseconds{}) } -> std::same_as<std::size_t>;
  b.stop();
  b.restart();
  { b.stopped() } -> std::same_as<bool>;
  b.wake();
  b.enqueue(op);
  { b.attach(h, address_family::ipv4, socket_type::stream, ec) } -> std::same_as<socket_state*>;
  b.close(s);
  b.submit(s, op, nullptr);
  b.cancel(s, &op);
};

/// Makes the backend named `name` (empty: environment, then default).
/// Defined once per platform, in win/ or posix/.
std::unique_ptr<port_backend> make_backend(std::string_view name, std::error_code& ec);

/// The backends this build contains. Defined once per platform.
std::span<const std::string_view> backend_names() noexcept;

inline std::error_code make_ec(errc e) noexcept { return make_error_code(e); }

}  // namespace pocore::detail
