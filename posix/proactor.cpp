// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The proactor core: socket pool, submission, cancel, close, readiness
// dispatch and the run loop. The non-blocking attempts themselves are in
// proactor_ops.cpp; the readiness source (epoll) in epoll_reactor.cpp.

#include "posix/proactor.hpp"

#include "common/sys.hpp"

namespace pocore::detail {
namespace {

// Callbacks run back to back before the run loop looks at the readiness
// source and the timers again, so a stream of posts cannot starve them.
constexpr int max_callbacks_between_polls = 64;

}  // namespace

proactor::~proactor() {
  // Sockets still open belong to a user who broke the rule "close sockets
  // before their port". Their descriptors are closed so nothing leaks;
  // their pending operations are dropped without callbacks, since no
  // thread can run this port any more.
  pool_.for_each([](proactor_socket& s) {
    if (!s.closed) sys::close_handle(s.handle);
  });
}

socket_state* proactor::attach(native_handle_type h, address_family family, socket_type type,
                               std::error_code& ec) noexcept {
  proactor_socket* s = pool_.allocate();
  if (s == nullptr) return refuse_attach(h, errc::too_many_files, ec);
  // No lock: attach runs under a listener's lock (async accept), and a
  // recycled state's own lock would nest inside it. A stale event that
  // locks this state meanwhile reads only `generation`, which close()
  // already moved on and attach leaves alone; events of the new socket
  // exist only after its registration, made under its lock later.
  s->assign(h, family, type);
  s->closed = false;
  s->registered = false;
  s->sticky_read = false;
  s->read_ready = true;
  s->write_ready = true;
  // Registration with the source is lazy (first operation that would
  // block): sockets used only synchronously, or whose operations always
  // finish at once, never cost an epoll_ctl.
  open_sockets().fetch_add(1, std::memory_order_relaxed);
  ec.clear();
  return s;
}

void proactor::close(socket_state& state) noexcept {
  auto& s = static_cast<proactor_socket&>(state);
  {
    std::lock_guard lock(s.mutex);
    if (s.closed) return;
    s.closed = true;
    // Events already taken from the source by another thread still carry
    // the old generation; on_ready() drops them.
    ++s.generation;
    op_queue done;
    abort_all(s.read_q, done);
    abort_all(s.write_q, done);
    // Deregister before closing: the kernel would forget the descriptor by
    // itself only if no dup() or fork() shares the open file.
    if (s.registered) source_remove(s);
    s.registered = false;
    sys::close_handle(s.handle);
    s.handle = invalid_native_handle;
    complete(done);
  }
  open_sockets().fetch_sub(1, std::memory_order_relaxed);
  pool_.release(s);
}

// ---- submission ----

bool proactor::park(proactor_socket& s, op_list& q, operation& op, op_queue& done) noexcept {
  if (s.registered) return true;
  if (auto ec = source_add(s)) {
    q.remove(op);
    op.error = ec;
    done.push(op);
    return false;
  }
  s.registered = true;
  return true;
}

void proactor::cancel(socket_state& state, operation* op) noexcept {
  auto& s = static_cast<proactor_socket&>(state);
  std::lock_guard lock(s.mutex);
  if (s.closed) return;
  op_queue done;
  if (op == nullptr) {
    abort_all(s.read_q, done);
    abort_all(s.write_q, done);
  } else if (s.read_q.remove(*op)) {
    abort_op(*op);
    done.push(*op);
    // The next one may finish without readiness (e.g. a zero-length recv).
    run_queue(s, s.read_q, s.read_ready, done);
  } else if (s.write_q.remove(*op)) {
    abort_op(*op);
    done.push(*op);
    // A disconnect waiting behind a cancelled send goes now.
    run_queue(s, s.write_q, s.write_ready, done);
  }
  // Not queued: it has finished already and its callback is on its way.
  complete(done);
}

// ---- the completion queue ----

void proactor::signal_waiters() noexcept {
  // Pairs with the fetch_add in run(). Both are read-modify-writes of
  // waiting_, so one is ordered after the other: either the sleeper's
  // comes second and it sees what was published before this call (queue,
  // stop flag, work count, timer), or ours comes second and sees the
  // sleeper. (A fence would do the same, but ThreadSanitizer cannot model
  // fences.)
  if (waiting_.fetch_add(0, std::memory_order_acq_rel) > 0) source_signal();
}

void proactor::publish(op_queue& q) noexcept {
  std::lock_guard lock(mutex_);
  completed_.splice(q);
  queued_.store(completed_.size(), std::memory_order_relaxed);
}

void proactor::complete_shared(op_queue& done) noexcept {
  publish(done);
  if (tls_run.port != this) signal_waiters();
}

void proactor::complete_shared_one(operation& op) noexcept {
  op_queue one;
  one.push(op);
  complete_shared(one);
}

void proactor::enqueue(operation& op) noexcept {
  op_queue one;
  one.push(op);
  complete(one);
}

operation* proactor::pop_completion() noexcept {
  op_queue& mine = *tls_run.list;
  // Nothing published by others: the private list first, lock-free. The
  // acquire pairs with publish() of a completion whose socket lock this
  // thread has not taken since (order within a socket needs none).
  if (queued_.load(std::memory_order_acquire) == 0) {
    if (mine.empty()) return nullptr;  // run() looks again before it sleeps
    if (runners_.load(std::memory_order_relaxed) == 1) return mine.pop();
  }
  operation* op;
  bool more;
  {
    std::lock_guard lock(mutex_);
    completed_.splice(mine);
    op = completed_.pop();
    more = !completed_.empty();
    queued_.store(completed_.size(), std::memory_order_relaxed);
  }
  // Spread the rest over the other threads (guarantee 8).
  if (op != nullptr && more) signal_waiters();
  return op;
}

bool proactor::completions_empty() noexcept {
  std::lock_guard lock(mutex_);
  return completed_.empty();
}

void proactor::gather_timers() noexcept {
  if (!has_timers()) return;
  op_queue expired;
  collect_timers(expired);
  if (expired.empty()) return;
  publish(expired);
}

void proactor::wake() noexcept { signal_waiters(); }

void proactor::stop() noexcept {
  stopped_.store(true, std::memory_order_seq_cst);
  wake();
}

void proactor::restart() noexcept { stopped_.store(false, std::memory_order_seq_cst); }

// ---- run ----

std::size_t proactor::run(run_mode mode, std::chrono::milliseconds timeout) {
  if (stopped() || outstanding() == 0) return 0;
  const run_limits limits = run_limits::of(mode, timeout);
  const bool one = limits.one;
  // A nested run() on this port: what the outer one kept goes first.
  if (tls_run.port == this && !tls_run.list->empty()) publish(*tls_run.list);
  op_queue mine;
  run_scope scope(this, &mine);
  runners_.fetch_add(1, std::memory_order_relaxed);
  std::size_t n = 0;
  bool drained = false;  // this thread consumed a signal that may have been for all
  bool polled = false;   // a non-blocking look found nothing since the last callback
  int streak = 0;        // callbacks since the source was last asked
  for (;;) {
    if (stopped()) break;
    if (streak >= max_callbacks_between_polls) {
      drained |= source_wait(0);
      gather_timers();
      streak = 0;
    }
    // The sole run() thread's own list first, as pop_completion() would
    // take it, without the call.
    // Nothing anywhere (the common case before a wait): no call at all.
    operation* op = nullptr;
    if (queued_.load(std::memory_order_acquire) != 0)
      op = pop_completion();
    else if (!mine.empty())
      op = runners_.load(std::memory_order_relaxed) == 1 ? mine.pop() : pop_completion();
    if (op != nullptr) {
      invoke(*op);
      ++n;
      ++streak;
      polled = false;
      if (one) break;
      continue;
    }
    if (outstanding() == 0) break;
    const int cap = limits.cap();
    if (cap == 0) {
      if (polled) break;  // one last non-blocking look found nothing
      polled = true;
      drained |= source_wait(0);
    } else {
      // Announce the sleep, then look once more at everything a waker
      // publishes before it signals (see signal_waiters()).
      // The queue is read through queued_, without its lock: a publisher
      // stores it before its own read-modify-write of waiting_, so either
      // that comes first and this load sees the store, or ours does and
      // the publisher sees a waiter. `mine` is empty here.
      waiting_.fetch_add(1, std::memory_order_acq_rel);
      if (stopped() || outstanding() == 0 || queued_.load(std::memory_order_acquire) != 0) {
        waiting_.fetch_sub(1, std::memory_order_relaxed);
        continue;
      }
      drained |= source_wait(timer_timeout_ms(cap));
      waiting_.fetch_sub(1, std::memory_order_relaxed);
    }
    streak = 0;
    gather_timers();
  }
  // What this thread kept and did not run (run_one, stop) is for the
  // next run() on any thread.
  if (!mine.empty()) publish(mine);
  runners_.fetch_sub(1, std::memory_order_relaxed);
  // A signal this thread consumed may have been meant for every waiter
  // (stop, no more work, a moved timer), and work may be left that this
  // thread will not run: pass the wake-up on to the threads still asleep.
  if (drained || stopped() || outstanding() == 0 || !completions_empty()) signal_waiters();
  return n;
}

}  // namespace pocore::detail
