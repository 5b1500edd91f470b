// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Intrusive FIFO of operation records, linked through op_private::next.
// No allocation; not thread-safe (callers hold the owning lock).

#include <cstddef>
#include <type_traits>

#include "common/op_access.hpp"
#include "pocore/error.hpp"

namespace pocore::detail {

// Counted (op_queue) keeps its length for size(); op_list does not, and
// is two pointers: a socket's per-direction queues, where neither the
// count nor the word it takes is wanted on the hot path.
template <bool Counted>
class basic_op_queue {
 public:
  basic_op_queue() noexcept = default;
  basic_op_queue(const basic_op_queue&) = delete;
  basic_op_queue& operator=(const basic_op_queue&) = delete;
  basic_op_queue(basic_op_queue&& o) noexcept : head_(o.head_), tail_(o.tail_), size_(o.size_) {
    o.head_ = o.tail_ = nullptr;
    o.size_ = {};
  }

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept requires Counted { return size_; }
  operation* front() const noexcept { return head_; }

  void push(operation& op) noexcept {
    priv(op).next = nullptr;
    if (tail_ != nullptr)
      priv(*tail_).next = &op;
    else
      head_ = &op;
    tail_ = &op;
    if constexpr (Counted) ++size_;
  }

  // The popped record's link is left as it was: push() sets it again.
  operation* pop() noexcept {
    operation* op = head_;
    if (op == nullptr) return nullptr;
    head_ = priv(*op).next;
    if (head_ == nullptr) tail_ = nullptr;
    if constexpr (Counted) --size_;
    return op;
  }

  /// Moves every element of `other` to the back of this queue.
  void splice(basic_op_queue& other) noexcept {
    if (other.head_ == nullptr) return;
    if (tail_ != nullptr)
      priv(*tail_).next = other.head_;
    else
      head_ = other.head_;
    tail_ = other.tail_;
    if constexpr (Counted) size_ += other.size_;
    other.head_ = other.tail_ = nullptr;
    other.size_ = {};
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
      if constexpr (Counted) --size_;
      return true;
    }
    return false;
  }

 private:
  struct no_count {};
  static op_private& priv(operation& op) noexcept { return op_access::priv(op); }
  operation* head_ = nullptr;
  operation* tail_ = nullptr;
  [[no_unique_address]] std::conditional_t<Counted, std::size_t, no_count> size_{};
};

using op_queue = basic_op_queue<true>;
using op_list = basic_op_queue<false>;

/// Completes `op` as cancelled, with the bytes it had already moved (a
/// send cut short says how much went out).
inline void abort_op(operation& op) noexcept {
  op.error = make_error_code(errc::operation_aborted);
  op.bytes = op_access::priv(op).progress;
}

/// Aborts every operation of `q` into `done`, in order.
template <bool Counted>
void abort_all(basic_op_queue<Counted>& q, op_queue& done) noexcept {
  while (operation* op = q.pop()) {
    abort_op(*op);
    done.push(*op);
  }
}

/// The run() a thread is inside (innermost, if nested), shared by the
/// POSIX backends: the port (compared with `this`, never dereferenced) and
/// that run()'s private completion list. A completion finished on such a
/// thread needs no wake-up, because the thread returns to the queue
/// before it waits again; with one thread running the port it goes to the
/// private list without the queue's lock.
struct run_context {
  const void* port = nullptr;
  op_queue* list = nullptr;
};
inline constinit thread_local run_context tls_run{};

/// Enters a run() of `port` with private list `list` for its lifetime.
class run_scope {
 public:
  run_scope(const void* port, op_queue* list) noexcept : prev_(tls_run) { tls_run = {port, list}; }
  ~run_scope() { tls_run = prev_; }
  run_scope(const run_scope&) = delete;
  run_scope& operator=(const run_scope&) = delete;

 private:
  run_context prev_;
};

}  // namespace pocore::detail
