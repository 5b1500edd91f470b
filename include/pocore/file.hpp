// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Regular files with overlapped reads and writes at an offset, completing
/// through the port like socket operations.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "pocore/buffer.hpp"
#include "pocore/detail/handler.hpp"
#include "pocore/operation.hpp"
#include "pocore/port.hpp"

namespace pocore {

namespace detail {
struct file_state;
}

/// How `file::open` opens a file: one access mode, plus any of the flags,
/// combined with `|` (e.g. `file_mode::write_only | file_mode::create`).
enum class file_mode : unsigned {
  read_only = 1,   ///< reads only; writes fail with `bad_descriptor`
  write_only = 2,  ///< writes only; reads fail with `bad_descriptor`
  read_write = 3,  ///< both
  create = 4,      ///< make the file if it does not exist
  truncate = 8,    ///< cut an existing file to length 0 (needs write access)
  exclusive = 16,  ///< with `create`: fail with `file_exists` if it exists
};

/// Combines file_mode flags.
constexpr file_mode operator|(file_mode a, file_mode b) noexcept {
  return static_cast<file_mode>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
/// The flags `a` and `b` have in common.
constexpr file_mode operator&(file_mode a, file_mode b) noexcept {
  return static_cast<file_mode>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
/// True if `mode` contains every bit of `flag`.
constexpr bool has(file_mode mode, file_mode flag) noexcept { return (mode & flag) == flag; }

/// A regular file opened on a port, with synchronous and overlapped reads
/// and writes at an explicit offset (there is no file position), the
/// counterpart of Boost.Asio's `random_access_file` and libuv's
/// `uv_fs_read`/`uv_fs_write` with an offset.
///
/// How the overlapped calls run: natively on IOCP (the handle is opened
/// with FILE_FLAG_OVERLAPPED and associated with the port) and io_uring
/// (READV/WRITEV with the offset); on epoll and kqueue, whose readiness
/// model cannot wait for regular files, on a small pool of at most four
/// threads per port, started on the first overlapped call and joined when
/// the port is destroyed. Its queue is unbounded: a submission never
/// fails for lack of a thread, it waits its turn.
///
/// The completion contract is the sockets' (DESIGN.md):
/// - exactly one callback per submission, never inline, always from a
///   thread running the port; errors found at submission (closed file,
///   offset out of range, a read on a write-only file) come through the
///   callback too;
/// - a read completes when its buffers are full, or with fewer bytes only
///   when it reached the end of the file: at or past the end it completes
///   with 0 bytes and no error, like a stream's end;
/// - a write completes when every byte is written, or with an error and
///   the number of bytes written before it; writing past the end extends
///   the file (the gap reads as zeros);
/// - concurrent operations on one file run in no particular order and
///   complete in no particular order (as on Windows): overlapping writes
///   in flight at once leave an unspecified mix;
/// - `cancel` and `close` make every operation that has not started
///   complete once with `operation_aborted` (with `bytes` saying what it
///   had moved, if it was cut between two parts). One already running (on the
///   pool: inside pread/pwrite; natively: taken by the kernel) may instead
///   finish with its result; never both, never neither. `close` never
///   closes the handle while a pool thread or a kernel request still uses
///   it; it is closed, at the latest, before the last of those callbacks
///   runs.
///
/// Errors: `no_such_file`, `file_exists`, `is_a_directory`,
/// `permission_denied`, `name_too_long`, `too_many_files` (open);
/// `bad_descriptor` (the file is not open, or not open for that
/// direction); `invalid_argument` (a bad mode, or an offset plus length
/// beyond 2^63-1); `no_space`; `operation_aborted` (cancel, close); any
/// other system error as a `std::system_category` code.
///
/// Every member is thread-safe except against moving, closing or
/// destroying the object itself. Close or destroy files before their port.
class file {
 public:
  /// The native file: a POSIX descriptor, or a Windows `HANDLE` as an integer.
  using native_handle_type = std::intptr_t;

  /// A closed file with no port. Give it one with `file(port)` first.
  file() noexcept = default;
  /// A closed file on `port`.
  explicit file(io_port& port) noexcept : port_(&port) {}
  /// Opens `path` on `port`. Throws `std::system_error` on failure.
  file(io_port& port, std::string_view path, file_mode mode);
  /// Closes the file (see `close`).
  ~file();
  /// Moves the open file; `other` is left closed, on the same port.
  file(file&& other) noexcept : port_(other.port_), state_(std::exchange(other.state_, nullptr)) {}
  /// Closes this file, then takes `other`'s.
  file& operator=(file&& other) noexcept;
  file(const file&) = delete;
  file& operator=(const file&) = delete;

  /// Opens `path` (UTF-8) as `mode` says, closing what this object held.
  /// The file is opened close-on-exec (POSIX) / not inheritable (Windows)
  /// and, on Windows, shared for reading, writing and deletion like a
  /// POSIX file. Errors: see the class; `invalid_argument` for a mode with
  /// no access bits, `truncate` without write access, `exclusive` without
  /// `create`, an empty path or one containing a NUL; `bad_descriptor` if
  /// the object has no port.
  std::error_code open(std::string_view path, file_mode mode) noexcept;
  /// Closes the file: every pending operation completes once (see the
  /// class for one already running), then the handle is closed. Does
  /// nothing on a closed file.
  void close() noexcept;
  /// True between a successful `open` and `close`.
  bool is_open() const noexcept { return state_ != nullptr; }

  /// The file's size in bytes; 0 with `ec` set on failure.
  std::uint64_t size(std::error_code& ec) const noexcept;
  /// Sets the file's size: cuts it, or extends it with zeros. Needs write
  /// access (`bad_descriptor` otherwise).
  std::error_code resize(std::uint64_t n) noexcept;
  /// The native handle, or -1 when closed. pocore still owns it.
  native_handle_type native_handle() const noexcept;

  /// Reads at `offset`, blocking, into `b`. Returns the bytes read: fewer
  /// than asked only at the end of the file, 0 at or past it (no error).
  std::size_t read_at(std::uint64_t offset, buffer b, std::error_code& ec) noexcept;
  /// Writes all of `b` at `offset`, blocking. Returns the bytes written
  /// (all, or those before an error).
  std::size_t write_at(std::uint64_t offset, const_buffer b, std::error_code& ec) noexcept;

  /// Overlapped read at `offset` into `b`: `op.bytes` is the count read
  /// (see the class for short reads and the end of the file).
  void async_read_at(operation& op, std::uint64_t offset, buffer b) noexcept;
  /// Scatter form: fills the buffers in order. The array must stay valid
  /// until the callback starts.
  void async_read_at(operation& op, std::uint64_t offset, std::span<const buffer> bufs) noexcept;
  /// Overlapped write of all of `b` at `offset`.
  void async_write_at(operation& op, std::uint64_t offset, const_buffer b) noexcept;
  /// Gather form: writes the buffers in order, contiguously from `offset`.
  /// The array must stay valid until the callback starts.
  void async_write_at(operation& op, std::uint64_t offset,
                      std::span<const const_buffer> bufs) noexcept;

  /// Overlapped read with any callable `f(std::error_code, std::size_t)`.
  template <class F>
  void async_read_at(std::uint64_t offset, buffer b, F&& f);
  /// Overlapped write with any callable `f(std::error_code, std::size_t)`.
  template <class F>
  void async_write_at(std::uint64_t offset, const_buffer b, F&& f);

  /// Cancels `op` if it is pending on this file and has not started: it
  /// then completes with `operation_aborted`. One already running or
  /// finished completes normally.
  void cancel(operation& op) noexcept;
  /// Cancels every operation of this file that has not started.
  void cancel() noexcept;

  /// The port this file's operations complete on (null for `file()`).
  io_port* port() const noexcept { return port_; }

 private:
  void start(operation& op, detail::op_kind kind, std::uint64_t offset, const void* bufs,
             std::size_t nbufs) noexcept;

  io_port* port_ = nullptr;
  detail::file_state* state_ = nullptr;
};

template <class F>
void file::async_read_at(std::uint64_t offset, buffer b, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t>,
                "handler must be callable as f(std::error_code, std::size_t)");
  if (port_ == nullptr) detail::no_port_for_handler();
  async_read_at(*detail::make_handler<operation>(*port_, std::forward<F>(f)), offset, b);
}

template <class F>
void file::async_write_at(std::uint64_t offset, const_buffer b, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t>,
                "handler must be callable as f(std::error_code, std::size_t)");
  if (port_ == nullptr) detail::no_port_for_handler();
  async_write_at(*detail::make_handler<operation>(*port_, std::forward<F>(f)), offset, b);
}

}  // namespace pocore
