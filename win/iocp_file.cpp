// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Files on Windows: the blocking calls (detail::fsys) and native overlapped
// read_at/write_at on the port.
//
// A file is opened with FILE_FLAG_OVERLAPPED and associated with the port
// under the key iocp_port::key_file; each record's OVERLAPPED carries its
// offset (Offset/OffsetHigh). Like sockets, the handle gets
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: Windows often finishes cached file
// I/O at once, and then no packet comes, so the result is taken from the
// call itself (Wine 8.0 returns ERROR_IO_PENDING for every file op, see
// WINE.md, so there the packet path is the one used). A call that fails at
// once queues no packet either. Every outcome reaches the callback through
// the port, never inline: a record finished at submission is posted.
//
// ReadFile/WriteFile take one buffer, so a scatter/gather record moves one
// buffer per call; a short read (it crossed the end of the file) or a
// short write goes round again for the rest, so a read is short only at
// the end of the file, as on the other backends. The end itself is
// ERROR_HANDLE_EOF (STATUS_END_OF_FILE), which becomes 0 bytes and no
// error.
//
// The synchronous calls use an OVERLAPPED whose event has its low bit set:
// Windows then queues no packet for them to the port (documented under
// GetQueuedCompletionStatus), so they cannot be mistaken for a record.

#include "win/iocp_port.hpp"

// clang-format off
#include <winsock2.h>
#include <windows.h>
// clang-format on

#include <climits>
#include <cstdint>
#include <string>

#include "common/op_access.hpp"
#include "pocore/file.hpp"
#include "win/win_errors.hpp"

namespace pocore::detail {
namespace {

// priv.state: cancel(op) asked for this record (under its file's mutex).
constexpr std::uint8_t state_cancelled = 1;

HANDLE as_handle(std::intptr_t h) noexcept { return reinterpret_cast<HANDLE>(h); }

// UTF-8 to UTF-16; false if the text is not valid UTF-8 or memory ran out.
bool widen(const char* s, std::wstring& out) noexcept {
  try {
    const int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, nullptr, 0);
    if (n <= 0) return false;
    out.resize(static_cast<std::size_t>(n));
    return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out.data(), n) == n;
  } catch (...) {
    return false;
  }
}

// The most one ReadFile/WriteFile moves; a larger buffer goes round again.
constexpr DWORD max_io = 1u << 30;

DWORD clamp_io(std::size_t n) noexcept { return n < max_io ? static_cast<DWORD>(n) : max_io; }

void set_offset(OVERLAPPED& ov, std::uint64_t offset) noexcept {
  ov.Offset = static_cast<DWORD>(offset & 0xffffffffu);
  ov.OffsetHigh = static_cast<DWORD>(offset >> 32);
}

// One synchronous transfer on an overlapped handle: an event whose low bit
// is set keeps the port out of it.
std::size_t sync_io(std::intptr_t h, std::uint64_t offset, void* data, std::size_t n, bool write,
                    std::error_code& ec) noexcept {
  HANDLE event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (event == nullptr) {
    ec = win::last_error();
    return 0;
  }
  OVERLAPPED ov{};
  set_offset(ov, offset);
  ov.hEvent = reinterpret_cast<HANDLE>(reinterpret_cast<std::uintptr_t>(event) | 1u);
  DWORD moved = 0;
  BOOL ok = write ? WriteFile(as_handle(h), data, clamp_io(n), nullptr, &ov)
                  : ReadFile(as_handle(h), data, clamp_io(n), nullptr, &ov);
  DWORD err = ok ? 0 : GetLastError();
  if (ok || err == ERROR_IO_PENDING) {
    ok = GetOverlappedResult(as_handle(h), &ov, &moved, TRUE);
    err = ok ? 0 : GetLastError();
  }
  CloseHandle(event);
  if (err == ERROR_HANDLE_EOF) err = 0;  // the end of the file: 0 bytes
  ec = win::map_error(err);
  return err == 0 ? moved : 0;
}

}  // namespace

// ---- the blocking calls ----

namespace fsys {

std::intptr_t open(const char* path, unsigned mode, std::error_code& ec) noexcept {
  const auto m = static_cast<file_mode>(mode);
  std::wstring wide;
  if (!widen(path, wide)) {
    ec = make_error_code(errc::invalid_argument);
    return -1;
  }
  DWORD access = 0;
  if ((mode & 1u) != 0) access |= GENERIC_READ;
  if ((mode & 2u) != 0) access |= GENERIC_WRITE;
  DWORD disposition = OPEN_EXISTING;
  if (has(m, file_mode::create)) {
    disposition = has(m, file_mode::exclusive)  ? CREATE_NEW
                  : has(m, file_mode::truncate) ? CREATE_ALWAYS
                                                : OPEN_ALWAYS;
  } else if (has(m, file_mode::truncate)) {
    disposition = TRUNCATE_EXISTING;
  }
  // Shared like a POSIX file (others may read, write, rename or delete it);
  // a null SECURITY_ATTRIBUTES makes the handle non-inheritable.
  HANDLE h =
      CreateFileW(wide.c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                  nullptr, disposition, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD err = GetLastError();
    // A directory opens only with FILE_FLAG_BACKUP_SEMANTICS; without it
    // Windows says ERROR_ACCESS_DENIED (or, with a trailing separator,
    // ERROR_PATH_NOT_FOUND / ERROR_INVALID_NAME). POSIX says EISDIR.
    const DWORD attrs = GetFileAttributesW(wide.c_str());
    if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0)
      ec = make_error_code(errc::is_a_directory);
    else
      ec = win::map_error(err);
    return -1;
  }
  // Regular files only (no pipes, consoles or devices: no offsets there).
  if (GetFileType(h) != FILE_TYPE_DISK) {
    CloseHandle(h);
    ec = make_error_code(errc::invalid_argument);
    return -1;
  }
  ec.clear();
  return reinterpret_cast<std::intptr_t>(h);
}

void close(std::intptr_t h) noexcept { CloseHandle(as_handle(h)); }

std::size_t read_at(std::intptr_t h, std::uint64_t offset, void* data, std::size_t n,
                    std::error_code& ec) noexcept {
  return sync_io(h, offset, data, n, false, ec);
}

std::size_t write_at(std::intptr_t h, std::uint64_t offset, const void* data, std::size_t n,
                     std::error_code& ec) noexcept {
  return sync_io(h, offset, const_cast<void*>(data), n, true, ec);
}

std::uint64_t size(std::intptr_t h, std::error_code& ec) noexcept {
  LARGE_INTEGER n{};
  if (!GetFileSizeEx(as_handle(h), &n)) {
    ec = win::last_error();
    return 0;
  }
  ec.clear();
  return static_cast<std::uint64_t>(n.QuadPart);
}

std::error_code resize(std::intptr_t h, std::uint64_t n) noexcept {
  FILE_END_OF_FILE_INFO info{};
  info.EndOfFile.QuadPart = static_cast<LONGLONG>(n);
  if (!SetFileInformationByHandle(as_handle(h), FileEndOfFileInfo, &info, sizeof(info)))
    return win::last_error();
  return {};
}

}  // namespace fsys

std::unique_ptr<file_service> make_default_file_service(port_core&, std::error_code& ec) {
  // IOCP brings its own (iocp_port::files); nothing else runs on Windows.
  ec = make_error_code(errc::operation_not_supported);
  return nullptr;
}

// ---- overlapped I/O on the port ----

file_state* iocp_files::attach(std::intptr_t h, bool readable, bool writable,
                               std::error_code& ec) noexcept {
  auto* f = make_file_state<iocp_file_state>(h, readable, writable, ec);
  if (f == nullptr) return nullptr;
  if (CreateIoCompletionPort(as_handle(h), port_.port_, iocp_port::key_file, 0) == nullptr) {
    ec = win::last_error();
    fsys::close(h);
    delete f;
    return nullptr;
  }
  // No LSP can sit on a file, so the skip mode is always safe here.
  f->skip_on_success =
      SetFileCompletionNotificationModes(as_handle(h), FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                                           FILE_SKIP_SET_EVENT_ON_HANDLE) != FALSE;
  port_.states_.fetch_add(1, std::memory_order_relaxed);
  ec.clear();
  return f;
}

void iocp_files::release(iocp_file_state& f) noexcept {
  if (f.refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  delete &f;
  port_.states_.fetch_sub(1, std::memory_order_release);
}

// With f.mutex held: applies one call's outcome. True when the record is
// finished (error and bytes set), false when the rest is due.
bool iocp_files::apply(iocp_file_state& f, operation& op, unsigned long err,
                       std::size_t bytes) noexcept {
  auto& p = priv(op);
  const bool write = p.kind == op_kind::write_at;
  op.bytes = p.progress;
  if (err == ERROR_HANDLE_EOF && !write) {  // a read at the end of the file
    op.error.clear();
    return true;
  }
  if (err != 0) {
    op.error = f.closed || err == ERROR_OPERATION_ABORTED ? make_error_code(errc::operation_aborted)
                                                          : win::map_error(err);
    return true;
  }
  if (bytes == 0) {  // the end of the file; a write that moved nothing
    if (write)
      op.error = make_error_code(errc::no_space);
    else
      op.error.clear();
    return true;
  }
  p.progress += bytes;
  op.bytes = p.progress;
  std::uint64_t offset = 0;
  if (file_window(op, offset).size == 0) {
    op.error.clear();
    return true;
  }
  // Closed or cancelled between two calls: it stops with what it moved.
  if (f.closed || (p.state & state_cancelled) != 0 || p.index != f.cancel_gen) {
    op.error = make_error_code(errc::operation_aborted);
    return true;
  }
  return false;
}

// With f.mutex held: makes calls until one is pending (null) or the record
// is finished (returned). Bounded: each round moves at least one byte or
// finishes the record.
operation* iocp_files::issue(iocp_file_state& f, operation& op) noexcept {
  auto& p = priv(op);
  const bool write = p.kind == op_kind::write_at;
  for (;;) {
    std::uint64_t offset = 0;
    const buffer w = file_window(op, offset);
    iocp_op_native& n = native(op);
    n.ov = OVERLAPPED{};
    set_offset(n.ov, offset);
    n.self = &op;
    DWORD moved = 0;
    const BOOL ok = write ? WriteFile(as_handle(f.handle), w.data, clamp_io(w.size), &moved, &n.ov)
                          : ReadFile(as_handle(f.handle), w.data, clamp_io(w.size), &moved, &n.ov);
    unsigned long err = 0;
    if (ok) {
      if (!f.skip_on_success) return nullptr;  // its packet comes anyway
    } else {
      err = GetLastError();
      if (err == ERROR_IO_PENDING) return nullptr;
      moved = 0;  // failed at once: no packet comes
    }
    if (apply(f, op, err, moved)) return &op;
  }
}

void iocp_files::submit(file_state& state, operation& op) noexcept {
  auto& f = static_cast<iocp_file_state&>(state);
  auto& p = priv(op);
  operation* done = nullptr;
  {
    std::lock_guard lock(f.mutex);
    if (f.closed) {
      op.error = make_error_code(errc::bad_descriptor);
      done = &op;
    } else {
      f.refs.fetch_add(1, std::memory_order_relaxed);  // held until it finishes
      p.index = f.cancel_gen;
      done = issue(f, op);
      if (done != nullptr) release(f);
    }
  }
  // Finished at once: it still completes through the port, later.
  if (done != nullptr) port_.enqueue(*done);
}

operation* iocp_files::on_packet(operation& op, unsigned long err, std::size_t bytes) noexcept {
  auto& f = *static_cast<iocp_file_state*>(priv(op).owner);
  operation* done;
  {
    std::lock_guard lock(f.mutex);
    done = apply(f, op, err, bytes) ? &op : issue(f, op);
  }
  if (done != nullptr) release(f);
  return done;
}

void iocp_files::discard(operation& op) noexcept {
  release(*static_cast<iocp_file_state*>(priv(op).owner));
}

void iocp_files::cancel(file_state& state, operation* op) noexcept {
  auto& f = static_cast<iocp_file_state&>(state);
  std::lock_guard lock(f.mutex);
  if (f.closed) return;
  if (op == nullptr) {
    ++f.cancel_gen;  // records between two calls see it
    CancelIoEx(as_handle(f.handle), nullptr);
    return;
  }
  if (priv(*op).owner != static_cast<file_state*>(&f)) return;
  priv(*op).state |= state_cancelled;
  // ERROR_NOT_FOUND: it already finished and completes normally.
  CancelIoEx(as_handle(f.handle), &native(*op).ov);
}

void iocp_files::close(file_state& state) noexcept {
  auto& f = static_cast<iocp_file_state&>(state);
  {
    std::lock_guard lock(f.mutex);
    f.closed = true;
    // Cancel, then close: the pending records' packets still name this
    // state, which lives until the last of them has been taken.
    CancelIoEx(as_handle(f.handle), nullptr);
    CloseHandle(as_handle(f.handle));
    f.handle = -1;
  }
  release(f);
}

}  // namespace pocore::detail
