// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// pocore::file, the platform-free part: argument checks, the record's
// private part, and the synchronous calls' loops. The blocking system
// calls are detail::fsys (posix/file_pool.cpp, win/iocp_file.cpp); the
// overlapped ones go to the port's file service (detail::file_service):
// native on IOCP and io_uring, a thread pool on epoll and kqueue.
//
// A file operation keeps its offset in priv.deadline (timers' field; a
// file record is never a timer at the same time) and the bytes already
// moved in priv.progress, so a backend that must go round again (a short
// write, the next buffer of a scatter read) resumes at
// deadline + progress.

#include "pocore/file.hpp"

#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <string>

#include "common/backend.hpp"
#include "common/op_access.hpp"

namespace pocore::detail {

buffer file_window(operation& op, std::uint64_t& offset) noexcept {
  auto& p = priv(op);
  const auto* bufs = static_cast<const buffer*>(p.bufs);
  std::size_t skip = p.progress;
  offset = static_cast<std::uint64_t>(p.deadline) + p.progress;
  for (std::size_t i = 0; i < p.nbufs; ++i) {
    if (skip >= bufs[i].size) {
      skip -= bufs[i].size;
      continue;
    }
    return buffer{static_cast<char*>(bufs[i].data) + skip, bufs[i].size - skip};
  }
  return buffer{};
}

file_service* port_backend::files(std::error_code& ec) noexcept {
  std::lock_guard lock(files_mutex_);
  if (!files_) {
    try {
      files_ = make_default_file_service(*this, ec);
    } catch (const std::bad_alloc&) {
      ec = make_ec(errc::not_enough_memory);
    }
    if (!files_) {
      if (!ec) ec = make_ec(errc::operation_not_supported);
      return nullptr;
    }
  }
  ec.clear();
  return files_.get();
}

void port_backend::shutdown_files() noexcept {
  std::unique_ptr<file_service> gone;
  {
    std::lock_guard lock(files_mutex_);
    gone = std::move(files_);
  }
}

namespace {

constexpr std::uint64_t max_offset = static_cast<std::uint64_t>(INT64_MAX);

// The mode bits that make sense together.
std::error_code check_mode(file_mode mode) noexcept {
  const unsigned m = static_cast<unsigned>(mode);
  if ((m & 3u) == 0 || (m & ~31u) != 0) return make_ec(errc::invalid_argument);
  if (has(mode, file_mode::truncate) && (m & 2u) == 0) return make_ec(errc::invalid_argument);
  if (has(mode, file_mode::exclusive) && !has(mode, file_mode::create))
    return make_ec(errc::invalid_argument);
  return {};
}

// What the synchronous read_at and write_at check first: the file is open
// for that direction, and [offset, offset + n) stays within 2^63-1.
std::error_code check_sync_io(const file_state* f, bool write, std::uint64_t offset,
                              std::size_t n) noexcept {
  if (f == nullptr || !(write ? f->writable : f->readable)) return make_ec(errc::bad_descriptor);
  if (offset > max_offset || n > max_offset - offset) return make_ec(errc::invalid_argument);
  return {};
}

}  // namespace
}  // namespace pocore::detail

namespace pocore {

using detail::priv;

file::file(io_port& port, std::string_view path, file_mode mode) : port_(&port) {
  if (std::error_code ec = open(path, mode))
    throw std::system_error(ec, "pocore: cannot open file");
}

file::~file() { close(); }

file& file::operator=(file&& other) noexcept {
  if (this != &other) {
    close();
    port_ = other.port_;
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

std::error_code file::open(std::string_view path, file_mode mode) noexcept {
  close();
  if (port_ == nullptr) return detail::make_ec(errc::bad_descriptor);
  if (std::error_code ec = detail::check_mode(mode)) return ec;
  if (path.empty() || path.find('\0') != std::string_view::npos)
    return detail::make_ec(errc::invalid_argument);
  std::string z;
  try {
    z.assign(path);
  } catch (const std::bad_alloc&) {
    return detail::make_ec(errc::not_enough_memory);
  }
  std::error_code ec;
  detail::file_service* files = port_->backend().files(ec);
  if (files == nullptr) return ec;
  const std::intptr_t h = detail::fsys::open(z.c_str(), static_cast<unsigned>(mode), ec);
  if (h == -1) return ec ? ec : detail::make_ec(errc::invalid_argument);
  const unsigned access = static_cast<unsigned>(mode) & 3u;
  state_ = files->attach(h, (access & 1u) != 0, (access & 2u) != 0, ec);
  return state_ != nullptr ? std::error_code{} : ec;
}

void file::close() noexcept {
  if (state_ == nullptr) return;
  std::error_code ec;
  // The service exists: the state came from it.
  port_->backend().files(ec)->close(*std::exchange(state_, nullptr));
}

std::uint64_t file::size(std::error_code& ec) const noexcept {
  if (state_ == nullptr) {
    ec = detail::make_ec(errc::bad_descriptor);
    return 0;
  }
  return detail::fsys::size(state_->handle, ec);
}

std::error_code file::resize(std::uint64_t n) noexcept {
  if (state_ == nullptr || !state_->writable) return detail::make_ec(errc::bad_descriptor);
  if (n > detail::max_offset) return detail::make_ec(errc::invalid_argument);
  return detail::fsys::resize(state_->handle, n);
}

file::native_handle_type file::native_handle() const noexcept {
  return state_ != nullptr ? state_->handle : -1;
}

std::size_t file::read_at(std::uint64_t offset, buffer b, std::error_code& ec) noexcept {
  ec = detail::check_sync_io(state_, false, offset, b.size);
  if (ec) return 0;
  std::size_t done = 0;
  // Bounded: each round either moves at least one byte or ends the loop.
  while (done < b.size) {
    std::size_t n = detail::fsys::read_at(state_->handle, offset + done,
                                          static_cast<char*>(b.data) + done, b.size - done, ec);
    if (ec || n == 0) break;
    done += n;
  }
  return done;
}

std::size_t file::write_at(std::uint64_t offset, const_buffer b, std::error_code& ec) noexcept {
  ec = detail::check_sync_io(state_, true, offset, b.size);
  if (ec) return 0;
  std::size_t done = 0;
  while (done < b.size) {
    std::size_t n = detail::fsys::write_at(
        state_->handle, offset + done, static_cast<const char*>(b.data) + done, b.size - done, ec);
    if (ec) break;
    if (n == 0) {  // a write that moves nothing and reports nothing: the disk is full
      ec = detail::make_ec(errc::no_space);
      break;
    }
    done += n;
  }
  return done;
}

void file::start(operation& op, detail::op_kind kind, std::uint64_t offset, const void* bufs,
                 std::size_t nbufs) noexcept {
  auto& p = priv(op);
  op.error.clear();
  op.bytes = 0;
  p.kind = kind;
  p.bufs = bufs;
  p.nbufs = nbufs;
  p.progress = 0;
  p.state = 0;
  p.flags = 0;
  p.owner = state_;
  p.deadline = 0;
  if (port_ == nullptr) detail::no_port_for_handler();  // no port to complete on
  detail::port_backend& b = port_->backend();
  b.work_started();
  std::error_code ec;
  const bool write = kind == detail::op_kind::write_at;
  if (state_ == nullptr || !(write ? state_->writable : state_->readable)) {
    ec = detail::make_ec(errc::bad_descriptor);
  } else if (offset > detail::max_offset) {
    ec = detail::make_ec(errc::invalid_argument);
  } else {
    std::size_t total = 0;
    const auto* list = static_cast<const buffer*>(bufs);
    for (std::size_t i = 0; i < nbufs && !ec; ++i) {
      if (list[i].size > detail::max_offset - offset - total)
        ec = detail::make_ec(errc::invalid_argument);
      else
        total += list[i].size;
    }
    if (!ec && total == 0) {
      b.enqueue(op);  // nothing asked, nothing to wait for
      return;
    }
  }
  if (ec) {
    op.error = ec;
    b.enqueue(op);
    return;
  }
  p.deadline = static_cast<std::int64_t>(offset);
  port_->backend().files(ec)->submit(*state_, op);
}

void file::async_read_at(operation& op, std::uint64_t offset, buffer b) noexcept {
  priv(op).single = b;
  start(op, detail::op_kind::read_at, offset, &priv(op).single, 1);
}

void file::async_read_at(operation& op, std::uint64_t offset,
                         std::span<const buffer> bufs) noexcept {
  start(op, detail::op_kind::read_at, offset, bufs.data(), bufs.size());
}

void file::async_write_at(operation& op, std::uint64_t offset, const_buffer b) noexcept {
  // const_buffer and buffer share one layout; the single slot holds either.
  priv(op).single = buffer{const_cast<void*>(b.data), b.size};
  start(op, detail::op_kind::write_at, offset, &priv(op).single, 1);
}

void file::async_write_at(operation& op, std::uint64_t offset,
                          std::span<const const_buffer> bufs) noexcept {
  start(op, detail::op_kind::write_at, offset, bufs.data(), bufs.size());
}

void file::cancel(operation& op) noexcept {
  if (state_ == nullptr) return;
  std::error_code ec;
  port_->backend().files(ec)->cancel(*state_, &op);
}

void file::cancel() noexcept {
  if (state_ == nullptr) return;
  std::error_code ec;
  port_->backend().files(ec)->cancel(*state_, nullptr);
}

}  // namespace pocore
