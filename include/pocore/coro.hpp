// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// C++20 coroutines over the overlapped operations: awaitables for every
/// socket operation, timer waits and posting to a port; `task<T>`; and
/// `co_spawn` to start a task on a port. Header-only, on the public API.
///
/// \code
///   pocore::task<void> echo(pocore::socket s) {
///     char buf[4096];
///     for (;;) {
///       auto [ec, n] = co_await pocore::co::recv(s, pocore::make_buffer(buf, sizeof buf));
///       if (ec || n == 0) co_return;
///       if (auto [ec2, sent] = co_await pocore::co::send(s, pocore::make_buffer(buf, n)); ec2)
///         co_return;
///     }
///   }
///   pocore::co_spawn(port, echo(std::move(accepted)));
///   port.run();
/// \endcode
///
/// Allocation: each awaitable holds its operation record, so awaiting an
/// operation allocates nothing; the record lives in the coroutine frame.
/// A task allocates its frame; `co_spawn` one more small frame per task.
///
/// Threads: a coroutine resumes on whichever thread runs the completion
/// (any thread in `run()` of the port), exactly as a callback would.
///
/// Cancellation: every awaitable takes an optional `std::stop_token`. When
/// none is given it uses the token of the `task` awaiting it, which a task
/// inherits from the task awaiting it, and the outermost from `co_spawn`.
/// A stop request cancels the pending operation (`socket::cancel(op)`,
/// `timer::cancel(op)`), which then completes with `operation_aborted` and
/// the bytes it had already moved; an operation that had already finished
/// completes normally (guarantee 5). If stop was requested before the
/// operation was submitted, it is not submitted and the `co_await` yields
/// `operation_aborted` with 0 bytes at once.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <stop_token>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include "pocore/buffer.hpp"
#include "pocore/endpoint.hpp"
#include "pocore/error.hpp"
#include "pocore/operation.hpp"
#include "pocore/port.hpp"
#include "pocore/socket.hpp"
#include "pocore/timer.hpp"

namespace pocore {

template <class T = void>
class task;

namespace detail {

/// What every task promise shares: the continuation to resume at the end
/// (symmetric transfer), the exception that escaped, and the stop token.
struct task_promise_base {
  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr exception;
  std::stop_token stop;

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return h.promise().continuation;
    }
    void await_resume() noexcept {}
  };
  std::suspend_always initial_suspend() noexcept { return {}; }
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <class T>
struct task_promise : task_promise_base {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value.emplace(std::forward<U>(v));
  }
  T result() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*value);
  }
};

template <>
struct task_promise<void> : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void result() {
    if (exception) std::rethrow_exception(exception);
  }
};

/// The stop token of the coroutine behind `h` if it is a pocore task,
/// else an empty token (no stop possible).
template <class P>
std::stop_token inherited_stop_token(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<task_promise_base, P>) {
    return h.promise().stop;
  } else {
    (void)h;
    return {};
  }
}

}  // namespace detail

/// A lazily started coroutine producing a `T` (or nothing for `void`).
///
/// A task runs only when awaited (`co_await std::move(t)` or `co_await
/// make_task()`) or started with `co_spawn`; the awaiting coroutine is
/// suspended until it finishes, and control passes both ways by symmetric
/// transfer, so chains of tasks never grow the stack. An exception that
/// escapes the task is rethrown from the `co_await`. Move-only; destroying
/// a task that never ran destroys its frame. `T` must not be a reference.
template <class T>
class [[nodiscard]] task {
  static_assert(!std::is_reference_v<T>, "task<T&> is not supported; return a pointer");

 public:
  /// The coroutine promise (pocore-internal).
  using promise_type = detail::task_promise<T>;

  /// An empty task (not a coroutine); awaiting it is undefined.
  task() noexcept = default;
  /// Takes over `other`'s coroutine.
  task(task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  /// Destroys this task's coroutine, then takes over `other`'s.
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  /// Destroys the coroutine frame (and with it its locals).
  ~task() {
    if (h_) h_.destroy();
  }

  /// True when this task holds a coroutine.
  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  /// Sets the stop token the task (and the operations and tasks it awaits)
  /// will use; by default it inherits the awaiting task's token.
  void set_stop_token(std::stop_token st) noexcept {
    if (h_) h_.promise().stop = std::move(st);
  }

  /// What `co_await` on a task returns (pocore-internal).
  struct awaiter {
    std::coroutine_handle<promise_type> h;  ///< the awaited task
    /// Ready when there is nothing to run.
    bool await_ready() noexcept { return !h || h.done(); }
    /// Runs the task, which resumes `parent` when it ends; passes the
    /// parent's stop token on unless the task has its own.
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
      h.promise().continuation = parent;
      if (!h.promise().stop.stop_possible())
        h.promise().stop = detail::inherited_stop_token(parent);
      return h;
    }
    /// The task's value, or its exception rethrown.
    T await_resume() { return h.promise().result(); }
  };
  /// Awaiting runs the task to its end and yields its value (or rethrows).
  awaiter operator co_await() && noexcept { return awaiter{h_}; }

 private:
  friend struct detail::task_promise<T>;
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

/// What `co_await` on a recv, send or send_to yields.
struct io_result {
  std::error_code error;  ///< empty on success
  std::size_t bytes = 0;  ///< bytes transferred (also on error: bytes moved)
};

/// What `co_await` on an accept yields.
struct accept_result {
  std::error_code error;  ///< empty on success
  socket accepted;        ///< the new connection, on the listener's port
  endpoint peer;          ///< its remote endpoint
};

/// What `co_await` on a recv_from yields.
struct datagram_result {
  std::error_code error;  ///< empty on success; `message_size` if truncated
  std::size_t bytes = 0;  ///< bytes received
  endpoint peer;          ///< the sender
};

namespace detail {

/// The machinery shared by every cancellable awaitable. `Derived` provides
/// `start()` (submits `op`), `cancel()` (cancels `op`) and `result()`.
///
/// Two small atomics settle the races without a lock:
/// - `ready_` hands the coroutine over between `await_suspend` (after the
///   submission) and the completion callback: whichever comes second
///   resumes it, so `await_suspend` may still touch the awaiter after
///   submitting, and a completion on another thread never resumes a
///   coroutine that is still inside `await_suspend`.
/// - `state_` makes exactly one of the stop callback and `await_suspend`
///   call cancel, and only once the operation was submitted.
/// The stop callback is destroyed in `await_resume`, only after it has
/// returned if it was called (see `finish`), so the record outlives any
/// cancel call made on it.
template <class Derived, class Op>
class cancellable_awaiter {
 public:
  cancellable_awaiter(const cancellable_awaiter&) = delete;
  cancellable_awaiter& operator=(const cancellable_awaiter&) = delete;

  bool await_ready() const noexcept { return false; }

  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    h_ = h;
    if (!has_token_) token_ = inherited_stop_token(h);
    if (token_.stop_possible()) {
      stopped_ = token_;
      // Runs on_stop() inline if stop was already requested.
      stop_cb_.emplace(std::move(token_), stopper{this});
      if (state_.load(std::memory_order_acquire) & cancel_bit) {
        // Stopped before submission: nothing to cancel, resume now.
        op_.error = make_error_code(errc::operation_aborted);
        op_.bytes = 0;
        stop_cb_.reset();
        return false;
      }
    }
    self().start();
    if (stop_cb_ && (state_.fetch_or(submitted_bit, std::memory_order_acq_rel) & cancel_bit))
      self().cancel();
    // true: the completion came first (on another thread); resume now.
    return !ready_.exchange(true, std::memory_order_acq_rel);
  }

 protected:
  explicit cancellable_awaiter(std::optional<std::stop_token> st) noexcept
      : op_(&cancellable_awaiter::complete, this) {
    if (st) {
      has_token_ = true;
      token_ = std::move(*st);
    }
  }
  ~cancellable_awaiter() = default;

  /// Call first in `await_resume`: ends the stop callback's registration.
  void finish() noexcept {
    if (!stop_cb_) return;
    if (stopped_.stop_requested()) {
      // The callback ran, runs or is about to run (request_stop calls
      // every registered callback). Wait until it has returned before
      // destroying it, so that ~stop_callback never has to block. Where
      // there are no futexes (MinGW's libstdc++ 12) that blocking wait is
      // a semaphore on the condition-variable fallback of std::atomic
      // wait, whose wake-up we saw lost: the cancel-race conformance case
      // hung under Wine with a run() thread asleep in ~stop_callback after
      // the stopping thread had finished. The callback is one cancel call,
      // so this wait is short; the yields let the stopping thread finish
      // signalling the callback's end.
      while (!cb_done_.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int i = 0; i < 4; ++i) std::this_thread::yield();
    }
    stop_cb_.reset();
  }

  Op op_;

 private:
  static constexpr std::uint8_t submitted_bit = 1;
  static constexpr std::uint8_t cancel_bit = 2;

  struct stopper {
    cancellable_awaiter* self;
    void operator()() const noexcept { self->on_stop(); }
  };

  Derived& self() noexcept { return static_cast<Derived&>(*this); }

  void on_stop() noexcept {
    if (state_.fetch_or(cancel_bit, std::memory_order_acq_rel) & submitted_bit) self().cancel();
    cb_done_.store(true, std::memory_order_release);
  }

  static void complete(operation& o) {
    auto* self = static_cast<cancellable_awaiter*>(o.context);
    if (self->ready_.exchange(true, std::memory_order_acq_rel)) self->h_.resume();
  }

  std::coroutine_handle<> h_;
  std::stop_token token_;
  bool has_token_ = false;
  std::atomic<std::uint8_t> state_{0};
  std::atomic<bool> ready_{false};
  std::atomic<bool> cb_done_{false};
  std::stop_token stopped_;  // a copy of the token the callback is on
  std::optional<std::stop_callback<stopper>> stop_cb_;
};

/// recv / send (one buffer or a sequence) and disconnect on a socket.
template <class Buf>
class stream_awaiter : public cancellable_awaiter<stream_awaiter<Buf>, operation> {
  using base = cancellable_awaiter<stream_awaiter<Buf>, operation>;
  friend base;

 public:
  enum class kind : std::uint8_t { recv, send, disconnect };
  stream_awaiter(socket& s, kind k, Buf b, std::optional<std::stop_token> st) noexcept
      : base(std::move(st)), s_(&s), buf_(b), kind_(k) {}
  io_result await_resume() noexcept {
    this->finish();
    return {this->op_.error, this->op_.bytes};
  }

 private:
  static constexpr bool readable =
      std::is_same_v<Buf, buffer> || std::is_same_v<Buf, std::span<const buffer>>;
  void start() noexcept {
    if constexpr (readable) {
      s_->async_recv(this->op_, buf_);
    } else {
      if (kind_ == kind::send)
        s_->async_send(this->op_, buf_);
      else
        s_->async_disconnect(this->op_);
    }
  }
  void cancel() noexcept { s_->cancel(this->op_); }

  socket* s_;
  Buf buf_;
  kind kind_;
};

/// async_connect.
class connect_awaiter : public cancellable_awaiter<connect_awaiter, operation> {
  using base = cancellable_awaiter<connect_awaiter, operation>;
  friend base;

 public:
  connect_awaiter(socket& s, const endpoint& ep, std::optional<std::stop_token> st) noexcept
      : base(std::move(st)), s_(&s), ep_(ep) {}
  std::error_code await_resume() noexcept {
    this->finish();
    return op_.error;
  }

 private:
  void start() noexcept { s_->async_connect(op_, ep_); }
  void cancel() noexcept { s_->cancel(op_); }
  socket* s_;
  endpoint ep_;
};

/// async_accept.
class accept_awaiter : public cancellable_awaiter<accept_awaiter, accept_operation> {
  using base = cancellable_awaiter<accept_awaiter, accept_operation>;
  friend base;

 public:
  accept_awaiter(socket& listener, std::optional<std::stop_token> st) noexcept
      : base(std::move(st)), s_(&listener) {}
  accept_result await_resume() noexcept {
    this->finish();
    return {op_.error, std::move(op_.accepted), op_.peer};
  }

 private:
  void start() noexcept { s_->async_accept(op_); }
  void cancel() noexcept { s_->cancel(op_); }
  socket* s_;
};

/// async_recv_from / async_send_to.
template <class Buf, bool Recv>
class datagram_awaiter
    : public cancellable_awaiter<datagram_awaiter<Buf, Recv>, datagram_operation> {
  using base = cancellable_awaiter<datagram_awaiter<Buf, Recv>, datagram_operation>;
  friend base;

 public:
  datagram_awaiter(socket& s, Buf b, const endpoint* to, std::optional<std::stop_token> st) noexcept
      : base(std::move(st)), s_(&s), buf_(b) {
    if (to != nullptr) this->op_.peer = *to;
  }
  auto await_resume() noexcept {
    this->finish();
    if constexpr (Recv)
      return datagram_result{this->op_.error, this->op_.bytes, this->op_.peer};
    else
      return io_result{this->op_.error, this->op_.bytes};
  }

 private:
  void start() noexcept {
    if constexpr (Recv)
      s_->async_recv_from(this->op_, buf_);
    else
      s_->async_send_to(this->op_, buf_);
  }
  void cancel() noexcept { s_->cancel(this->op_); }
  socket* s_;
  Buf buf_;
};

/// A timer wait.
class timer_awaiter : public cancellable_awaiter<timer_awaiter, operation> {
  using base = cancellable_awaiter<timer_awaiter, operation>;
  friend base;

 public:
  timer_awaiter(timer& t, timer::clock::time_point deadline,
                std::optional<std::stop_token> st) noexcept
      : base(std::move(st)), t_(&t), deadline_(deadline) {}
  std::error_code await_resume() noexcept {
    this->finish();
    return op_.error;
  }

 private:
  void start() noexcept { t_->async_wait_until(op_, deadline_); }
  void cancel() noexcept { t_->cancel(op_); }
  timer* t_;
  timer::clock::time_point deadline_;
};

/// Resumes the coroutine from the port (io_port::post). Not cancellable:
/// a post completes as soon as a thread runs the port.
class post_awaiter {
 public:
  explicit post_awaiter(io_port& port) noexcept : port_(&port), op_(&post_awaiter::complete) {}
  post_awaiter(const post_awaiter&) = delete;
  post_awaiter& operator=(const post_awaiter&) = delete;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    op_.context = h.address();
    // The coroutine may resume on another thread before post() returns;
    // nothing here touches the awaiter after it.
    port_->post(op_);
  }
  void await_resume() const noexcept {}

 private:
  static void complete(operation& o) { std::coroutine_handle<>::from_address(o.context).resume(); }
  io_port* port_;
  operation op_;
};

/// Yields the awaiting task's stop token without suspending.
struct stop_token_awaiter {
  std::stop_token token;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    token = inherited_stop_token(h);
    return false;
  }
  std::stop_token await_resume() noexcept { return std::move(token); }
};

}  // namespace detail

/// The awaitables, one per overlapped operation. Each returns an object to
/// `co_await` at once (it holds the operation record, so it must not
/// outlive the full expression it is awaited in). `st`, if given,
/// replaces the awaiting task's stop token for this operation.
namespace co {

/// `socket::async_recv`: yields `io_result` (at least one byte, or 0 and no
/// error at the end of the stream).
inline detail::stream_awaiter<buffer> recv(socket& s, buffer b,
                                           std::optional<std::stop_token> st = {}) noexcept {
  return {s, detail::stream_awaiter<buffer>::kind::recv, b, std::move(st)};
}
/// Scatter `socket::async_recv`; `bufs` must stay valid until it yields.
inline detail::stream_awaiter<std::span<const buffer>> recv(
    socket& s, std::span<const buffer> bufs, std::optional<std::stop_token> st = {}) noexcept {
  return {s, detail::stream_awaiter<std::span<const buffer>>::kind::recv, bufs, std::move(st)};
}
/// `socket::async_send`: yields `io_result` (every byte, or an error and
/// how many went out).
inline detail::stream_awaiter<const_buffer> send(socket& s, const_buffer b,
                                                 std::optional<std::stop_token> st = {}) noexcept {
  return {s, detail::stream_awaiter<const_buffer>::kind::send, b, std::move(st)};
}
/// Gather `socket::async_send`; `bufs` must stay valid until it yields.
inline detail::stream_awaiter<std::span<const const_buffer>> send(
    socket& s, std::span<const const_buffer> bufs,
    std::optional<std::stop_token> st = {}) noexcept {
  return {s, detail::stream_awaiter<std::span<const const_buffer>>::kind::send, bufs,
          std::move(st)};
}
/// `socket::async_disconnect`: yields `io_result` (bytes is 0).
inline detail::stream_awaiter<const_buffer> disconnect(
    socket& s, std::optional<std::stop_token> st = {}) noexcept {
  return {s, detail::stream_awaiter<const_buffer>::kind::disconnect, const_buffer{}, std::move(st)};
}
/// `socket::async_connect`: yields the `std::error_code`.
inline detail::connect_awaiter connect(socket& s, const endpoint& ep,
                                       std::optional<std::stop_token> st = {}) noexcept {
  return {s, ep, std::move(st)};
}
/// `socket::async_accept`: yields `accept_result` (the socket and peer).
inline detail::accept_awaiter accept(socket& listener,
                                     std::optional<std::stop_token> st = {}) noexcept {
  return {listener, std::move(st)};
}
/// `socket::async_recv_from`: yields `datagram_result` (bytes and sender).
inline detail::datagram_awaiter<buffer, true> recv_from(
    socket& s, buffer b, std::optional<std::stop_token> st = {}) noexcept {
  return {s, b, nullptr, std::move(st)};
}
/// Scatter `socket::async_recv_from`.
inline detail::datagram_awaiter<std::span<const buffer>, true> recv_from(
    socket& s, std::span<const buffer> bufs, std::optional<std::stop_token> st = {}) noexcept {
  return {s, bufs, nullptr, std::move(st)};
}
/// `socket::async_send_to`: yields `io_result`.
inline detail::datagram_awaiter<const_buffer, false> send_to(
    socket& s, const_buffer b, const endpoint& to,
    std::optional<std::stop_token> st = {}) noexcept {
  return {s, b, &to, std::move(st)};
}
/// Gather `socket::async_send_to`.
inline detail::datagram_awaiter<std::span<const const_buffer>, false> send_to(
    socket& s, std::span<const const_buffer> bufs, const endpoint& to,
    std::optional<std::stop_token> st = {}) noexcept {
  return {s, bufs, &to, std::move(st)};
}
/// `timer::async_wait_until`: yields the `std::error_code` (empty at the
/// deadline, `operation_aborted` when cancelled or stopped).
inline detail::timer_awaiter wait_until(timer& t, timer::clock::time_point deadline,
                                        std::optional<std::stop_token> st = {}) noexcept {
  return {t, deadline, std::move(st)};
}
/// `timer::async_wait_for`.
inline detail::timer_awaiter wait_for(timer& t, timer::clock::duration d,
                                      std::optional<std::stop_token> st = {}) noexcept {
  return {t, timer::clock::now() + d, std::move(st)};
}
/// `io_port::post`: suspends and resumes from a thread running `port`
/// (to move onto the port, or to let other completions run).
inline detail::post_awaiter post(io_port& port) noexcept { return detail::post_awaiter(port); }
/// Yields the stop token of the awaiting task (empty outside a task).
inline detail::stop_token_awaiter stop_token() noexcept { return {}; }

}  // namespace co

namespace detail {

/// The frame `co_spawn` runs a task in: started at once, it first moves
/// onto the port with a post, awaits the task, hands the outcome to the
/// completion handler, and at the end destroys itself and releases the
/// work it held on the port (in that order, so `run()` cannot return while
/// the frame still exists).
struct spawned {
  struct promise_type {
    io_port* port;
    template <class... A>
    explicit promise_type(io_port& p, A&&...) noexcept : port(&p) {
      port->add_work();
    }
    spawned get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        io_port* p = h.promise().port;
        h.destroy();
        p->remove_work();
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    // An exception escaping a task spawned without a completion handler,
    // or escaping the handler, has nowhere to go.
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <class T, class F>
spawned spawn_with_handler(io_port& port, task<T> t, F f) {
  co_await co::post(port);
  std::exception_ptr ep;
  if constexpr (std::is_void_v<T>) {
    try {
      co_await std::move(t);
    } catch (...) {
      ep = std::current_exception();
    }
    f(ep);
  } else {
    std::optional<T> v;
    try {
      v.emplace(co_await std::move(t));
    } catch (...) {
      ep = std::current_exception();
    }
    if (ep)
      f(ep, T{});
    else
      f(ep, std::move(*v));
  }
}

template <class T>
spawned spawn_detached(io_port& port, task<T> t) {
  co_await co::post(port);
  co_await std::move(t);  // an exception ends in std::terminate
}

}  // namespace detail

/// Starts `t` on `port`: it begins from a thread running the port (never
/// inside this call) and holds work on the port until it ends, so `run()`
/// does not return while the task is alive. `st` becomes the task's stop
/// token. An exception escaping `t` calls `std::terminate`; use the
/// overload with a handler to receive it.
template <class T>
void co_spawn(io_port& port, task<T> t, std::stop_token st = {}) {
  t.set_stop_token(std::move(st));
  detail::spawn_detached(port, std::move(t));
}

/// As above, then calls `on_done(std::exception_ptr)` for `task<void>` or
/// `on_done(std::exception_ptr, T)` (a value-initialised `T`, so `T` must
/// be default-constructible, when an exception escaped) on the thread that
/// finished the task. An exception escaping `on_done` calls std::terminate.
template <class T, class F>
requires(!std::is_convertible_v<F, std::stop_token>) void co_spawn(io_port& port, task<T> t,
                                                                   std::stop_token st,
                                                                   F&& on_done) {
  if constexpr (std::is_void_v<T>)
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::exception_ptr>,
                  "on_done must be callable as f(std::exception_ptr)");
  else
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::exception_ptr, T>,
                  "on_done must be callable as f(std::exception_ptr, T)");
  t.set_stop_token(std::move(st));
  detail::spawn_with_handler(port, std::move(t), std::decay_t<F>(std::forward<F>(on_done)));
}

/// `co_spawn(port, t, {}, on_done)`: no stop token.
template <class T, class F>
requires(!std::is_convertible_v<F, std::stop_token>) void co_spawn(io_port& port, task<T> t,
                                                                   F&& on_done) {
  co_spawn(port, std::move(t), std::stop_token{}, std::forward<F>(on_done));
}

}  // namespace pocore
