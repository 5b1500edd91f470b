// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Timers are platform-free: every backend shares port_core's timer queue
// and bounds its wait by the earliest deadline.

#include "common/backend.hpp"
#include "pocore/timer.hpp"

namespace pocore {

timer::~timer() { cancel(); }

void timer::async_wait_until(operation& op, clock::time_point deadline) noexcept {
  auto& p = detail::op_access::priv(op);
  p.kind = detail::op_kind::timer;
  p.owner = this;
  p.deadline =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  op.error.clear();
  op.bytes = 0;
  detail::port_backend& b = port_->backend();
  b.work_started();
  b.timer_push(op);
}

std::size_t timer::cancel() noexcept { return port_->backend().timer_cancel_owner(this); }

bool timer::cancel(operation& op) noexcept {
  if (detail::op_access::priv(op).owner != this) return false;
  return port_->backend().timer_cancel(op);
}

std::size_t timer::pending() const noexcept { return port_->backend().timer_count_owner(this); }

}  // namespace pocore
