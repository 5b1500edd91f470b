// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include "common/backend.hpp"
#include "pocore/detail/handler.hpp"

namespace pocore::detail {
namespace {

// Size class for a block: 0 → 64 bytes, 1 → 128, ... classes-1 → 2048.
// Larger blocks bypass the pool.
constexpr std::size_t min_block = 64;

std::size_t class_of(std::size_t size) noexcept {
  std::size_t c = 0, cap = min_block;
  while (cap < size) {
    cap <<= 1;
    ++c;
  }
  return c;
}

std::size_t class_size(std::size_t c) noexcept { return min_block << c; }

}  // namespace

handler_pool::~handler_pool() {
  for (std::size_t c = 0; c < classes; ++c) {
    while (block* b = free_[c]) {
      free_[c] = b->next;
      ::operator delete(b);
    }
  }
}

void* handler_pool::allocate(std::size_t size) {
  std::size_t c = class_of(size);
  if (c >= classes) return ::operator new(size);
  {
    std::lock_guard lock(mutex_);
    if (block* b = free_[c]) {
      free_[c] = b->next;
      --count_[c];
      return b;
    }
  }
  return ::operator new(class_size(c));
}

void handler_pool::deallocate(void* p, std::size_t size) noexcept {
  std::size_t c = class_of(size);
  if (c >= classes) {
    ::operator delete(p);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (count_[c] < keep_per_class) {
      auto* b = static_cast<block*>(p);
      b->next = free_[c];
      free_[c] = b;
      ++count_[c];
      return;
    }
  }
  ::operator delete(p);
}

void* handler_allocate(io_port& port, std::size_t size) {
  return port.backend().pool().allocate(size);
}

void handler_deallocate(io_port& port, void* p, std::size_t size) noexcept {
  port.backend().pool().deallocate(p, size);
}

void no_port_for_handler() {
  // A default-constructed socket has no port, so there is neither a pool
  // to take the handler from nor a thread that could ever run it.
  std::fputs("pocore: asynchronous call on a socket that belongs to no port\n", stderr);
  std::abort();
}

}  // namespace pocore::detail
