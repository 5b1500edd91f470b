// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The public port: a thin front over the backend chosen at construction.

#include <system_error>

#include "common/backend.hpp"
#include "pocore/port.hpp"

namespace pocore {

io_port::io_port() : io_port(port_options{}) {}

io_port::io_port(const port_options& options) {
  std::error_code ec;
  backend_ = detail::make_backend(options.backend, ec);
  if (!backend_) throw std::system_error(ec, "pocore: cannot make a port");
}

io_port::io_port(const port_options& options, std::error_code& ec) noexcept {
  try {
    backend_ = detail::make_backend(options.backend, ec);
  } catch (const std::bad_alloc&) {
    ec = make_error_code(errc::not_enough_memory);
  }
  if (!backend_ && !ec) ec = make_error_code(errc::backend_unavailable);
}

io_port::~io_port() = default;

std::string_view io_port::name() const noexcept {
  return backend_ ? backend_->name() : std::string_view{};
}

std::size_t io_port::run() {
  return backend_->run(detail::run_mode::run, std::chrono::milliseconds{-1});
}

std::size_t io_port::run_one() {
  return backend_->run(detail::run_mode::run_one, std::chrono::milliseconds{-1});
}

std::size_t io_port::run_one_for(std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) timeout = std::chrono::milliseconds{0};
  return backend_->run(detail::run_mode::run_one, timeout);
}

std::size_t io_port::poll() {
  return backend_->run(detail::run_mode::poll, std::chrono::milliseconds{0});
}

std::size_t io_port::poll_one() {
  return backend_->run(detail::run_mode::poll_one, std::chrono::milliseconds{0});
}

void io_port::stop() noexcept { backend_->stop(); }
bool io_port::stopped() const noexcept { return backend_->stopped(); }
void io_port::restart() noexcept { backend_->restart(); }

void io_port::post(operation& op) noexcept {
  auto& p = detail::op_access::priv(op);
  p.kind = detail::op_kind::post;
  p.owner = nullptr;
  op.error.clear();
  backend_->work_started();
  backend_->enqueue(op);
}

std::size_t io_port::outstanding() const noexcept { return backend_->outstanding(); }

std::size_t io_port::open_sockets() const noexcept {
  return backend_->open_sockets().load(std::memory_order_acquire);
}

void io_port::add_work() noexcept { backend_->work_started(); }

void io_port::remove_work() noexcept {
  // Retire the work without a callback: the same accounting as invoke().
  static constexpr auto nothing = [](operation&) {};
  operation none{+nothing};
  backend_->invoke(none);
}

std::span<const std::string_view> compiled_backends() noexcept { return detail::backend_names(); }

}  // namespace pocore
