// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Files on POSIX: the blocking calls (detail::fsys) and the thread pool
// that gives the epoll and kqueue backends overlapped read_at/write_at.
//
// Why threads: a regular file is always "ready" to epoll and kqueue (epoll
// refuses it with EPERM), and a read that misses the page cache blocks in
// the kernel whatever O_NONBLOCK says. libuv and Boost.Asio's POSIX file
// support do the same: a small pool runs pread/pwrite and hands the result
// back to the loop. Here the finished record goes to the port's completion
// queue (port_core::enqueue), exactly as a socket's does, so only run()
// invokes it.
//
// The pool: at most four threads, started one at a time when the queue
// outgrows the idle ones (a port that never does file I/O has none), joined
// when the port's backend is destroyed (shutdown_files(), first thing in
// the epoll and kqueue destructors). The queue is unbounded and FIFO.
//
// One mutex guards the queue and every file's reference count. A file
// holds one reference while open and one per record a thread is running,
// so close() never closes the descriptor under a running pread: the last
// reference closes it, and a worker drops its reference (closing the
// descriptor if it was the last) before it queues the record's completion,
// so by the time the last callback of a closed file runs, its descriptor
// is gone. Cancel and close take records from the queue only; a record a
// thread is running finishes with its result.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/backend.hpp"
#include "common/op_access.hpp"
#include "common/op_queue.hpp"
#include "pocore/file.hpp"
#include "posix/posix_errors.hpp"

namespace pocore::detail {

// ---- the blocking calls ----

namespace {

// One pread or pwrite (`call`), retried while a signal interrupts it.
template <class Call>
std::size_t io_retrying(Call call, std::error_code& ec) noexcept {
  ssize_t r;
  do {
    r = call();
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    ec = posix_error(errno);
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(r);
}

}  // namespace

namespace fsys {

std::intptr_t open(const char* path, unsigned mode, std::error_code& ec) noexcept {
  const auto m = static_cast<file_mode>(mode);
  int flags = O_CLOEXEC;
  switch (mode & 3u) {
    case 1:
      flags |= O_RDONLY;
      break;
    case 2:
      flags |= O_WRONLY;
      break;
    default:
      flags |= O_RDWR;
      break;
  }
  if (has(m, file_mode::create)) flags |= O_CREAT;
  if (has(m, file_mode::truncate)) flags |= O_TRUNC;
  if (has(m, file_mode::exclusive)) flags |= O_EXCL;
  int fd;
  do {
    fd = ::open(path, flags, 0666);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    ec = posix_error(errno);
    return -1;
  }
  // Regular files only: a FIFO or a device would block the pool's threads
  // (or the caller) for an unbounded time, and has no offsets.
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    ec = dir ? make_error_code(errc::is_a_directory)
             : (err != 0 ? posix_error(err) : make_error_code(errc::invalid_argument));
    return -1;
  }
  ec.clear();
  return fd;
}

void close(std::intptr_t h) noexcept {
  // Linux closes the descriptor even when close() reports EINTR; retrying
  // could close a number another thread was just given.
  ::close(static_cast<int>(h));
}

std::size_t read_at(std::intptr_t h, std::uint64_t offset, void* data, std::size_t n,
                    std::error_code& ec) noexcept {
  return io_retrying(
      [&] { return ::pread(static_cast<int>(h), data, n, static_cast<off_t>(offset)); }, ec);
}

std::size_t write_at(std::intptr_t h, std::uint64_t offset, const void* data, std::size_t n,
                     std::error_code& ec) noexcept {
  return io_retrying(
      [&] { return ::pwrite(static_cast<int>(h), data, n, static_cast<off_t>(offset)); }, ec);
}

std::uint64_t size(std::intptr_t h, std::error_code& ec) noexcept {
  struct stat st {};
  if (::fstat(static_cast<int>(h), &st) != 0) {
    ec = posix_error(errno);
    return 0;
  }
  ec.clear();
  return static_cast<std::uint64_t>(st.st_size);
}

std::error_code resize(std::intptr_t h, std::uint64_t n) noexcept {
  int r;
  do {
    r = ::ftruncate(static_cast<int>(h), static_cast<off_t>(n));
  } while (r != 0 && errno == EINTR);
  return r == 0 ? std::error_code{} : posix_error(errno);
}

}  // namespace fsys

namespace {

// Runs one record to its end: reads until the buffers are full or the end
// of the file, writes until every byte is out; error/bytes set. Every
// round moves at least one byte or ends the loop.
void file_run_blocking(operation& op, std::intptr_t h) noexcept {
  auto& p = priv(op);
  const bool write = p.kind == op_kind::write_at;
  std::error_code ec;
  for (;;) {
    std::uint64_t offset = 0;
    const buffer w = file_window(op, offset);
    if (w.size == 0) break;
    const std::size_t n = write ? fsys::write_at(h, offset, w.data, w.size, ec)
                                : fsys::read_at(h, offset, w.data, w.size, ec);
    if (ec) break;
    if (n == 0) {
      if (write) ec = make_error_code(errc::no_space);
      break;  // a read at the end of the file
    }
    p.progress += n;
  }
  op.error = ec;
  op.bytes = p.progress;
}

struct pool_file final : file_state {
  int refs = 1;  // the open file, plus one per record a thread runs
  bool closed = false;
};

class file_pool final : public file_service {
 public:
  explicit file_pool(port_core& port) : port_(port) { workers_.reserve(max_workers); }
  ~file_pool() override {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
      // Records still queued belong to files never closed (the caller broke
      // "close files before their port"); nobody can run their callbacks.
      while (queue_.pop() != nullptr) {
      }
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  file_pool(const file_pool&) = delete;
  file_pool& operator=(const file_pool&) = delete;

  file_state* attach(std::intptr_t h, bool readable, bool writable,
                     std::error_code& ec) noexcept override {
    return make_file_state<pool_file>(h, readable, writable, ec);
  }

  void submit(file_state& state, operation& op) noexcept override {
    auto& f = static_cast<pool_file&>(state);
    std::unique_lock lock(mutex_);
    if (f.closed) {  // the front end checked; a close on another thread won
      lock.unlock();
      op.error = make_error_code(errc::bad_descriptor);
      port_.enqueue(op);
      return;
    }
    queue_.push(op);
    // One more thread while the queue outgrows the idle ones, up to the cap.
    if (queue_.size() > idle_ && workers_.size() < max_workers) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (...) {
        // Without any thread nobody would run it: fail it here. With one,
        // it just waits its turn.
        if (workers_.empty()) {
          queue_.remove(op);
          lock.unlock();
          op.error = make_error_code(errc::not_enough_memory);
          port_.enqueue(op);
          return;
        }
      }
    }
    lock.unlock();
    wake_.notify_one();
  }

  void cancel(file_state& state, operation* op) noexcept override {
    op_queue aborted;
    {
      std::lock_guard lock(mutex_);
      take_queued(state, op, aborted);
    }
    finish_aborted(aborted);
  }

  void close(file_state& state) noexcept override {
    auto& f = static_cast<pool_file&>(state);
    op_queue aborted;
    bool last;
    {
      std::lock_guard lock(mutex_);
      f.closed = true;
      take_queued(state, nullptr, aborted);
      last = --f.refs == 0;
    }
    // The descriptor goes before the aborted callbacks can run.
    if (last) release(f);
    finish_aborted(aborted);
  }

 private:
  static constexpr std::size_t max_workers = 4;

  static void release(pool_file& f) noexcept {
    fsys::close(f.handle);
    delete &f;
  }

  // Under mutex_: moves `op` (or, if null, every record of `state`) from
  // the queue to `out`.
  void take_queued(file_state& state, operation* op, op_queue& out) noexcept {
    if (op != nullptr) {
      if (priv(*op).owner == &state && queue_.remove(*op)) out.push(*op);
      return;
    }
    op_queue keep;
    while (operation* o = queue_.pop()) (priv(*o).owner == &state ? out : keep).push(*o);
    queue_.splice(keep);
  }

  void finish_aborted(op_queue& q) noexcept {
    while (operation* op = q.pop()) {
      op->error = make_error_code(errc::operation_aborted);
      op->bytes = 0;
      port_.enqueue(*op);
    }
  }

  void work() noexcept {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      wake_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      --idle_;
      if (closing_) return;
      operation* op = queue_.pop();
      auto& f = *static_cast<pool_file*>(priv(*op).owner);
      ++f.refs;
      lock.unlock();
      file_run_blocking(*op, f.handle);
      lock.lock();
      const bool last = --f.refs == 0;
      lock.unlock();
      if (last) release(f);  // closed meanwhile: the descriptor goes first
      port_.enqueue(*op);
      lock.lock();
    }
  }

  port_core& port_;
  std::mutex mutex_;
  std::condition_variable wake_;
  op_queue queue_;  // records waiting for a thread
  std::vector<std::thread> workers_;
  std::size_t idle_ = 0;  // threads waiting for a record
  bool closing_ = false;
};

}  // namespace

std::unique_ptr<file_service> make_default_file_service(port_core& port, std::error_code& ec) {
  ec.clear();
  return std::make_unique<file_pool>(port);
}

}  // namespace pocore::detail
