// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The operation record, pocore's counterpart of `OVERLAPPED`.

#include <cstddef>
#include <cstdint>
#include <system_error>

#include "pocore/buffer.hpp"

namespace pocore {

struct operation;

namespace detail {
struct op_access;
struct socket_state;

/// What an operation record is doing; set at submission.
enum class op_kind : std::uint8_t {
  none,
  post,
  timer,
  accept,
  connect,
  recv,
  send,
  recv_from,
  send_to,
  disconnect,
  resolve,   ///< name resolution (completes like a posted record)
  read_at,   ///< file read at an offset
  write_at,  ///< file write at an offset
};

/// The part of a record that belongs to pocore while the operation is in
/// flight. Same fields and alignment on every platform, plus, on Windows
/// only, a native area for the IOCP backend's OVERLAPPED (the POSIX
/// backends keep what they need in the fields here, so their records are
/// 48 bytes smaller).
struct alignas(8) op_private {
  operation* next = nullptr;     ///< intrusive queue link
  void* owner = nullptr;         ///< socket_state or timer it runs on
  const void* bufs = nullptr;    ///< buffer/const_buffer array
  std::size_t nbufs = 0;         ///< entries in `bufs`
  buffer single{};               ///< storage for a one-buffer submit
  std::size_t progress = 0;      ///< bytes moved so far
  std::int64_t deadline = 0;     ///< timer deadline (steady ns)
  std::uint32_t index = 0;       ///< timer heap slot
  op_kind kind = op_kind::none;  ///< what was submitted
  std::uint8_t state = 0;        ///< backend bookkeeping
  std::uint16_t flags = 0;       ///< backend bookkeeping
#if defined(_WIN32)
  alignas(8) unsigned char native[48] = {};  ///< OVERLAPPED and two words
#endif
};
}  // namespace detail

/// A caller-owned record of one overlapped operation.
///
/// Fill in `on_complete` (and `context` if you like), submit it with one of
/// the `async_*` calls, and keep it alive and in place until its callback
/// has started. Exactly one callback follows every submission, always from
/// a thread running the port (`run`, `run_one`, `poll`), never inside the
/// submitting call. When it runs, `error` and `bytes` hold the result. A
/// record may be resubmitted from inside its own callback. Submitting
/// allocates nothing.
struct operation {
  /// The completion function. It receives the record itself.
  using callback = void (*)(operation&);

  operation() noexcept = default;
  /// A record that calls `cb` on completion, with `ctx` for the caller.
  explicit operation(callback cb, void* ctx = nullptr) noexcept : on_complete(cb), context(ctx) {}
  operation(const operation&) = delete;
  operation& operator=(const operation&) = delete;

  callback on_complete = nullptr;  ///< called once per submission
  void* context = nullptr;         ///< free for the caller's use
  std::error_code error;           ///< result: empty on success
  std::size_t bytes = 0;           ///< result: bytes transferred

 private:
  friend struct detail::op_access;
  detail::op_private priv_;
};

}  // namespace pocore
