// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Intrusive FIFO of operation records, linked through op_private::next.
// No allocation; not thread-safe (callers hold the owning lock).

#include <cstddef>

#include "common/op_access.hpp"

namespace pocore::detail {

class op_queue {
 public:
  op_queue() noexcept = default;
  op_queue(const op_queue&) = delete;
  op_queue& operator=(const op_queue&) = delete;
  op_queue(op_queue&& o) noexcept : head_(o.head_), tail_(o.tail_), size_(o.size_) {
    o.head_ = o.tail_ = nullptr;
    o.size_ = 0;
  }

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  operation* front() const noexcept { return head_; }

  void push(operation& op) noexcept {
    priv(op).next = nullptr;
    if (tail_ != nullptr)
      priv(*tail_).next = &op;
    else
      head_ = &op;
    tail_ = &op;
    ++size_;
  }

  operation* pop() noexcept {
    operation* op = head_;
    if (op == nullptr) return nullptr;
    head_ = priv(*op).next;
    if (head_ == nullptr) tail_ = nullptr;
    priv(*op).next = nullptr;
    --size_;
    return op;
  }

  /// Moves every element of `other` to the back of this queue.
  void splice(op_queue& other) noexcept {
    if (other.head_ == nullptr) return;
    if (tail_ != nullptr)
      priv(*tail_).next = other.head_;
    else
      head_ = other.head_;
    tail_ = other.tail_;
    size_ += other.size_;
    other.head_ = other.tail_ = nullptr;
    other.size_ = 0;
  }

  /// Unlinks `op` if it is queued here; true if it was.
  bool remove(operation& op) noexcept {
    operation* prev = nullptr;
    for (operation* cur = head_; cur != nullptr; prev = cur, cur = priv(*cur).next) {
      if (cur != &op) continue;
      operation* next = priv(*cur).next;
      if (prev != nullptr)
        priv(*prev).next = next;
      else
        head_ = next;
      if (tail_ == cur) tail_ = prev;
      priv(*cur).next = nullptr;
      --size_;
      return true;
    }
    return false;
  }

 private:
  static op_private& priv(operation& op) noexcept { return op_access::priv(op); }
  operation* head_ = nullptr;
  operation* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace pocore::detail
