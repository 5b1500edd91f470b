// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// A binary min-heap of timer waits keyed by (deadline, submission order),
// shared by every backend. Not thread-safe: port_core guards it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/op_queue.hpp"

namespace pocore::detail {

class timer_queue {
 public:
  /// Adds a wait (deadline already in priv.deadline). Returns true when it
  /// became the earliest, so a waiting thread must recompute its timeout.
  bool push(operation& op);
  /// Removes a wait if still queued.
  bool remove(operation& op) noexcept;
  /// Moves every wait whose deadline is <= now to `out`, earliest first.
  void pop_expired(std::int64_t now, op_queue& out) noexcept;
  /// Moves every wait owned by `owner` to `out`, in deadline order.
  std::size_t remove_owner(const void* owner, op_queue& out) noexcept;
  /// Waits owned by `owner`.
  std::size_t count_owner(const void* owner) const noexcept;
  /// The earliest deadline, if any.
  std::optional<std::int64_t> next_deadline() const noexcept;
  std::size_t size() const noexcept { return heap_.size(); }

 private:
  bool less(std::size_t a, std::size_t b) const noexcept;
  void place(std::size_t i, operation* op) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void erase_at(std::size_t i) noexcept;

  std::vector<operation*> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace pocore::detail
