// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0

#include "common/timer_queue.hpp"

#include <algorithm>

namespace pocore::detail {

// Each wait keeps its heap slot in priv.index (for O(log n) removal) and
// its submission number in priv.progress, which orders equal deadlines
// first-come first-served.

bool timer_queue::less(std::size_t a, std::size_t b) const noexcept {
  const op_private& x = op_access::priv(*heap_[a]);
  const op_private& y = op_access::priv(*heap_[b]);
  if (x.deadline != y.deadline) return x.deadline < y.deadline;
  return x.progress < y.progress;
}

void timer_queue::place(std::size_t i, operation* op) noexcept {
  heap_[i] = op;
  op_access::priv(*op).index = static_cast<std::uint32_t>(i);
}

void timer_queue::sift_up(std::size_t i) noexcept {
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!less(i, parent)) break;
    operation* p = heap_[parent];
    place(parent, heap_[i]);
    place(i, p);
    i = parent;
  }
}

void timer_queue::sift_down(std::size_t i) noexcept {
  for (;;) {
    std::size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_.size() && less(l, m)) m = l;
    if (r < heap_.size() && less(r, m)) m = r;
    if (m == i) return;
    operation* t = heap_[m];
    place(m, heap_[i]);
    place(i, t);
    i = m;
  }
}

bool timer_queue::push(operation& op) {
  op_private& p = op_access::priv(op);
  p.progress = next_seq_++;
  heap_.push_back(&op);
  place(heap_.size() - 1, &op);
  sift_up(heap_.size() - 1);
  return heap_[0] == &op;
}

void timer_queue::erase_at(std::size_t i) noexcept {
  std::size_t last = heap_.size() - 1;
  if (i != last) {
    place(i, heap_[last]);
    heap_.pop_back();
    sift_down(i);
    sift_up(i);
  } else {
    heap_.pop_back();
  }
}

bool timer_queue::remove(operation& op) noexcept {
  std::size_t i = op_access::priv(op).index;
  if (i >= heap_.size() || heap_[i] != &op) return false;
  erase_at(i);
  return true;
}

void timer_queue::pop_expired(std::int64_t now, op_queue& out) noexcept {
  while (!heap_.empty() && op_access::priv(*heap_[0]).deadline <= now) {
    operation* op = heap_[0];
    erase_at(0);
    out.push(*op);
  }
}

std::size_t timer_queue::remove_owner(const void* owner, op_queue& out) noexcept {
  // Collect first, then remove earliest-first so callbacks keep deadline
  // order. Cancelling every wait of one timer is rare; O(n log n) is fine.
  std::vector<operation*> mine;
  for (operation* op : heap_)
    if (op_access::priv(*op).owner == owner) mine.push_back(op);
  std::sort(mine.begin(), mine.end(), [](operation* a, operation* b) {
    const op_private& x = op_access::priv(*a);
    const op_private& y = op_access::priv(*b);
    return x.deadline != y.deadline ? x.deadline < y.deadline : x.progress < y.progress;
  });
  for (operation* op : mine) {
    remove(*op);
    out.push(*op);
  }
  return mine.size();
}

std::size_t timer_queue::count_owner(const void* owner) const noexcept {
  std::size_t n = 0;
  for (operation* op : heap_)
    if (op_access::priv(*op).owner == owner) ++n;
  return n;
}

std::optional<std::int64_t> timer_queue::next_deadline() const noexcept {
  if (heap_.empty()) return std::nullopt;
  return op_access::priv(*heap_[0]).deadline;
}

}  // namespace pocore::detail
