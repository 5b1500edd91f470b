// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0

#include "common/backend.hpp"
#include "common/sys.hpp"

namespace pocore::detail {

socket_state* refuse_attach(native_handle_type h, errc e, std::error_code& ec) noexcept {
  sys::close_handle(h);
  ec = make_error_code(e);
  return nullptr;
}

void port_core::timer_push(operation& op) noexcept {
  bool earliest;
  {
    std::lock_guard lock(timer_mutex_);
    earliest = timers_.push(op);
    timer_count_.store(timers_.size(), std::memory_order_relaxed);
  }
  // A thread may be asleep with a timeout computed for a later deadline.
  if (earliest) wake();
}

bool port_core::timer_cancel(operation& op) noexcept {
  {
    std::lock_guard lock(timer_mutex_);
    if (!timers_.remove(op)) return false;
    timer_count_.store(timers_.size(), std::memory_order_relaxed);
  }
  op.error = make_error_code(errc::operation_aborted);
  op.bytes = 0;
  enqueue(op);
  return true;
}

std::size_t port_core::timer_cancel_owner(const void* owner) noexcept {
  op_queue aborted;
  std::size_t n;
  {
    std::lock_guard lock(timer_mutex_);
    n = timers_.remove_owner(owner, aborted);
    timer_count_.store(timers_.size(), std::memory_order_relaxed);
  }
  while (operation* op = aborted.pop()) {
    op->error = make_error_code(errc::operation_aborted);
    op->bytes = 0;
    enqueue(*op);
  }
  return n;
}

std::size_t port_core::timer_count_owner(const void* owner) const noexcept {
  std::lock_guard lock(timer_mutex_);
  return timers_.count_owner(owner);
}

void port_core::collect_timers(op_queue& out) noexcept {
  if (!has_timers()) return;
  std::int64_t now = steady_now_ns();
  op_queue expired;
  {
    std::lock_guard lock(timer_mutex_);
    timers_.pop_expired(now, expired);
    timer_count_.store(timers_.size(), std::memory_order_relaxed);
  }
  for (operation* op = expired.front(); op != nullptr; op = op_access::priv(*op).next) {
    clear_error(op->error);
    op->bytes = 0;
  }
  out.splice(expired);
}

int port_core::timer_timeout_locked(int cap) const noexcept {
  std::optional<std::int64_t> next;
  {
    std::lock_guard lock(timer_mutex_);
    next = timers_.next_deadline();
  }
  if (!next) return cap;
  const int ms = ms_until(*next);
  return (cap >= 0 && ms > cap) ? cap : ms;
}

}  // namespace pocore::detail
