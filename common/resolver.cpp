// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The platform-free part of pocore::resolver: a queue of lookups, a few
// worker threads that run the platform's blocking lookup
// (detail::system_resolve), and the bookkeeping that makes every
// submission complete exactly once through the port.
//
// Why worker threads and not glibc's getaddrinfo_a or Windows'
// GetAddrInfoExW with overlapped completion (both measured, see the report
// in the commit that added this file):
//  - Neither can stop a lookup that has started. gai_cancel() answers
//    EAI_NOTCANCELED once glibc's helper thread has picked the request up
//    (seen for "localhost" right after submission), and a request it did
//    cancel never notifies and keeps reporting EAI_INPROGRESS. Under
//    Wine 8.0, GetAddrInfoExW completes through its routine but returns a
//    null cancel handle and GetAddrInfoExCancel fails with
//    WSA_INVALID_HANDLE. So cancellation has to detach the record from a
//    lookup that keeps running in any case, which is all this file does.
//  - glibc starts its helper and SIGEV_THREAD notification threads itself:
//    they are detached, linger about a second after the last request and
//    are invisible to ThreadSanitizer (created inside libc). A resolver
//    that owns its threads can join them, so none outlives it
//    (guarantee 9) and the suite's thread count check holds.
//
// One mutex guards the queue and the link between a lookup (job) and its
// record. Whoever clears that link under the mutex (the worker that
// finished, or cancel) is the one that completes the record, so it
// completes once.

#include "common/resolver.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <thread>

#include "common/backend.hpp"
#include "common/op_access.hpp"

namespace pocore::detail {

class resolver_service {
 public:
  explicit resolver_service(port_backend& backend) : backend_(backend) {
    workers_.reserve(max_workers);  // so starting a worker never reallocates
    running_.reserve(max_workers);  // nor tracking a running job
  }
  ~resolver_service() {
    cancel_all();
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    // A worker in the middle of a system lookup returns when it does; its
    // job is detached by now, so it only frees the job and exits.
    for (auto& t : workers_) t.join();
  }
  resolver_service(const resolver_service&) = delete;
  resolver_service& operator=(const resolver_service&) = delete;

  void submit(resolve_operation& op) noexcept {
    op.error.clear();
    op.bytes = 0;
    op.results.clear();
    auto& p = priv(op);
    p.kind = op_kind::resolve;  // completes like a posted record
    p.owner = this;
    backend_.work_started();
    if (op.host.empty() && op.service.empty()) {
      finish(op, make_ec(errc::invalid_argument));
      return;
    }
    // Checked here, the same on every platform: glibc reports a name under
    // AI_NUMERICSERV as EAI_NONAME (host not found) and Windows has no
    // such flag.
    if (op.hints.numeric_service && !is_port_number(op.service)) {
      finish(op, make_ec(errc::service_not_found));
      return;
    }
    job* j = nullptr;
    try {
      j = new job{&op, op.host, op.service, op.hints};
    } catch (...) {
      finish(op, make_ec(errc::not_enough_memory));
      return;
    }
    std::unique_lock lock(mutex_);
    try {
      queue_.push_back(j);
    } catch (...) {
      lock.unlock();
      delete j;
      finish(op, make_ec(errc::not_enough_memory));
      return;
    }
    ++pending_;
    // One more thread while the queue outgrows the idle ones, up to the cap.
    if (queue_.size() > idle_ && workers_.size() < max_workers) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (...) {
        // Without any worker nobody would take the job: fail it here.
        // With one, the job just waits its turn.
        if (workers_.empty()) {
          queue_.pop_back();
          --pending_;
          lock.unlock();
          delete j;
          finish(op, make_ec(errc::not_enough_memory));
          return;
        }
      }
    }
    lock.unlock();
    wake_.notify_one();
  }

  bool cancel(resolve_operation& op) noexcept {
    std::lock_guard lock(mutex_);
    if (!detach(&op)) return false;
    finish(op, make_ec(errc::operation_aborted));
    return true;
  }

  std::size_t cancel_all() noexcept {
    // Completing under the mutex (as the workers do) needs no allocation.
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    while (resolve_operation* op = first_attached()) {
      detach(op);
      finish(*op, make_ec(errc::operation_aborted));
      ++n;
    }
    return n;
  }

  std::size_t pending() const noexcept {
    std::lock_guard lock(mutex_);
    return pending_;
  }

 private:
  static constexpr std::size_t max_workers = 4;

  static bool is_port_number(const std::string& s) noexcept {
    if (s.empty() || s.size() > 5) return false;
    unsigned long v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    return v <= 65535;
  }

  struct job {
    resolve_operation* op;  // null once detached (cancelled)
    std::string host;
    std::string service;
    resolve_hints hints;
  };

  // Queues the record's completion: the work counted at submission is
  // retired when its callback has run.
  void finish(resolve_operation& op, std::error_code ec) noexcept {
    op.error = ec;
    if (ec) op.results.clear();
    op.bytes = op.results.size();
    backend_.enqueue(op);
  }

  // Under mutex_: the first record still waiting for its result.
  resolve_operation* first_attached() noexcept {
    for (job* j : queue_) {
      if (j->op != nullptr) return j->op;
    }
    for (job* j : running_) {
      if (j->op != nullptr) return j->op;
    }
    return nullptr;
  }

  // Under mutex_: unlinks `op` from its job. A queued job is freed; a
  // running one is left to its worker, which frees it when the system
  // lookup returns. False if `op` is not pending here.
  bool detach(resolve_operation* op) noexcept {
    auto queued =
        std::find_if(queue_.begin(), queue_.end(), [&](const job* j) { return j->op == op; });
    if (queued != queue_.end()) {
      delete *queued;
      queue_.erase(queued);
      --pending_;
      return true;
    }
    for (job* j : running_) {
      if (j->op == op) {
        j->op = nullptr;
        --pending_;
        return true;
      }
    }
    return false;
  }

  void work() noexcept {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      wake_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // closing and nothing left
      job* j = queue_.front();
      queue_.pop_front();
      bool tracked = true;
      try {
        running_.push_back(j);
      } catch (...) {
        tracked = false;  // cannot be cancelled while it runs; still completes
      }
      lock.unlock();
      std::vector<endpoint> results;
      std::error_code ec;
      try {
        ec = system_resolve(j->host, j->service, j->hints, results);
      } catch (const std::bad_alloc&) {
        ec = make_ec(errc::not_enough_memory);
      }
      lock.lock();
      if (tracked) running_.erase(std::find(running_.begin(), running_.end(), j));
      resolve_operation* op = j->op;
      delete j;
      if (op != nullptr) {
        --pending_;
        op->results = std::move(results);
        // Completed under the mutex so a concurrent cancel either found the
        // job (and we saw op == null) or finds nothing.
        finish(*op, ec);
      }
    }
  }

  port_backend& backend_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job*> queue_;     // waiting for a worker
  std::vector<job*> running_;  // in a system lookup
  std::vector<std::thread> workers_;
  std::size_t idle_ = 0;     // workers waiting for a job
  std::size_t pending_ = 0;  // records not yet completed
  bool closing_ = false;
};

}  // namespace pocore::detail

namespace pocore {

resolver::resolver(io_port& port)
    : port_(&port), service_(std::make_unique<detail::resolver_service>(port.backend())) {}

resolver::~resolver() = default;

void resolver::async_resolve(resolve_operation& op) noexcept { service_->submit(op); }

bool resolver::cancel(resolve_operation& op) noexcept { return service_->cancel(op); }

std::size_t resolver::cancel() noexcept { return service_->cancel_all(); }

std::size_t resolver::pending() const noexcept { return service_->pending(); }

}  // namespace pocore
