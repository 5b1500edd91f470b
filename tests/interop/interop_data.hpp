// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Test data shared by both sides of the interop tests (pocore and Asio, in
// one process or, for the Wine leg, in two): a deterministic byte stream
// and a running checksum. Depends on neither pocore nor Boost so the
// stand-alone Asio peer and the Windows build can both use it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace iop {

/// "No pattern to check" for a stream of unknown content.
inline constexpr std::uint32_t no_seed = 0xFFFFFFFFu;
/// "No mismatch seen" for a stream offset.
inline constexpr std::uint64_t no_mismatch = UINT64_MAX;

/// Word `w` of stream `seed`: a SplitMix64 step, so the stream is not
/// periodic in any small power of two and reordering or duplication shows.
inline std::uint64_t pattern_word(std::uint64_t w, std::uint32_t seed) noexcept {
  std::uint64_t x = w * 0x9E3779B97F4A7C15ull + seed;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return x;
}

/// Byte `i` of stream `seed` (little-endian bytes of the words).
inline std::uint8_t pattern_at(std::uint64_t i, std::uint32_t seed) noexcept {
  return static_cast<std::uint8_t>(pattern_word(i / 8, seed) >> ((i % 8) * 8));
}

/// Fills `out` with the stream bytes starting at `offset`.
inline void fill_pattern_bytes(std::span<std::uint8_t> out, std::uint64_t offset,
                               std::uint32_t seed) noexcept {
  // Word at a time: the 64 MiB case fills and checks 256 MiB in all.
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t pos = offset + i;
    const std::uint64_t word = pattern_word(pos / 8, seed);
    for (std::uint64_t b = pos % 8; b < 8 && i < out.size(); ++b, ++i) {
      out[i] = static_cast<std::uint8_t>(word >> (b * 8));
    }
  }
}

/// Records in `first_bad` the stream offset of the first byte of `in`
/// (which starts at stream offset `offset`) that differs from the pattern,
/// unless an earlier mismatch is already recorded.
inline void note_pattern(std::uint64_t& first_bad, std::span<const std::uint8_t> in,
                         std::uint64_t offset, std::uint32_t seed) noexcept {
  if (first_bad != no_mismatch) return;
  std::size_t i = 0;
  while (i < in.size()) {
    const std::uint64_t pos = offset + i;
    const std::uint64_t word = pattern_word(pos / 8, seed);
    for (std::uint64_t b = pos % 8; b < 8 && i < in.size(); ++b, ++i) {
      if (in[i] != static_cast<std::uint8_t>(word >> (b * 8))) {
        first_bad = offset + i;
        return;
      }
    }
  }
}

/// FNV-1a over a byte stream, fed in pieces of any size; equal sums of
/// equal-length streams mean the bytes arrived intact and in order.
struct checksum {
  std::uint64_t value = 0xCBF29CE484222325ull;
  void add(std::span<const std::uint8_t> in) noexcept {
    std::uint64_t h = value;
    for (const std::uint8_t c : in) {
      h ^= c;
      h *= 0x100000001B3ull;
    }
    value = h;
  }
  friend bool operator==(const checksum&, const checksum&) = default;
};

/// The checksum of `n` bytes of stream `seed`.
inline checksum pattern_checksum(std::uint64_t n, std::uint32_t seed) noexcept {
  checksum c;
  std::uint8_t buf[4096];
  for (std::uint64_t off = 0; off < n;) {
    const std::size_t k = static_cast<std::size_t>(n - off < sizeof buf ? n - off : sizeof buf);
    fill_pattern_bytes({buf, k}, off, seed);
    c.add({buf, k});
    off += k;
  }
  return c;
}

/// Datagram sizes for the UDP cases, 1 byte to near the 64 KiB limit,
/// `reps` times over.
inline std::vector<std::size_t> udp_sizes(int reps) {
  std::vector<std::size_t> v;
  for (int rep = 0; rep < reps; ++rep) {
    for (const std::size_t n : {1, 512, 1472, 9000, 65000}) v.push_back(n);
  }
  return v;
}

/// The sizes for the many-connections cases: 64 connections, spread so
/// they finish at different times.
inline std::vector<std::uint64_t> many_payloads() {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < 64; ++i) v.push_back(1 + i * 4099);
  return v;
}

}  // namespace iop
