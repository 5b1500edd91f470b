// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Buffer descriptors for scatter/gather I/O. Their layout matches
/// `struct iovec` (pointer, then length), so the POSIX backends pass arrays
/// of them to the kernel without copying; the Windows backend converts them
/// to `WSABUF` at submission.

#include <cstddef>
#include <span>
#include <string_view>

namespace pocore {

/// A writable region of memory the caller owns.
struct buffer {
  void* data = nullptr;  ///< start of the region
  std::size_t size = 0;  ///< its length in bytes
};

/// A read-only region of memory the caller owns.
struct const_buffer {
  const void* data = nullptr;  ///< start of the region
  std::size_t size = 0;        ///< its length in bytes
  /// An empty buffer.
  constexpr const_buffer() noexcept = default;
  /// The `n` bytes at `d`.
  constexpr const_buffer(const void* d, std::size_t n) noexcept : data(d), size(n) {}
  /// Any writable buffer may be sent.
  constexpr const_buffer(buffer b) noexcept : data(b.data), size(b.size) {}  // NOLINT
};

/// Sum of the sizes in a buffer sequence.
template <class B>
constexpr std::size_t total_size(std::span<const B> bufs) noexcept {
  std::size_t n = 0;
  for (const auto& b : bufs) n += b.size;
  return n;
}

/// A buffer over raw memory.
inline buffer make_buffer(void* data, std::size_t size) noexcept { return {data, size}; }
/// A read-only buffer over raw memory.
inline const_buffer make_buffer(const void* data, std::size_t size) noexcept {
  return {data, size};
}
/// A read-only buffer over the characters of a string view.
inline const_buffer make_buffer(std::string_view s) noexcept { return {s.data(), s.size()}; }

}  // namespace pocore
