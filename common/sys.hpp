// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The synchronous socket calls, declared once here and defined once per
// platform (posix/posix_socket.cpp, win/win_socket.cpp). They work on the
// native handle in a socket_state and report portable error codes. A
// blocking call honours socket_state::non_blocking: when it is set, the
// call fails with errc::would_block instead of waiting.

#include <cstddef>
#include <system_error>

#include "common/backend.hpp"

namespace pocore::detail::sys {

/// Makes a new socket: close-on-exec / non-inheritable, SIGPIPE-free.
native_handle_type open_socket(address_family family, socket_type type,
                               std::error_code& ec) noexcept;
/// Closes a native handle that no socket_state owns yet.
void close_handle(native_handle_type h) noexcept;

std::error_code bind(socket_state& s, const endpoint& ep) noexcept;
std::error_code listen(socket_state& s, int backlog) noexcept;
/// Accepts one connection; returns its handle (close-on-exec).
native_handle_type accept(socket_state& s, endpoint* peer, std::error_code& ec) noexcept;
std::error_code connect(socket_state& s, const endpoint& ep) noexcept;
std::size_t send(socket_state& s, const_buffer b, std::error_code& ec) noexcept;
std::size_t recv(socket_state& s, buffer b, std::error_code& ec) noexcept;
std::size_t send_to(socket_state& s, const_buffer b, const endpoint& to,
                    std::error_code& ec) noexcept;
std::size_t recv_from(socket_state& s, buffer b, endpoint& from, std::error_code& ec) noexcept;
std::error_code shutdown(socket_state& s, shutdown_how how) noexcept;
std::error_code set_option(socket_state& s, socket_option opt, int value) noexcept;
int get_option(socket_state& s, socket_option opt, std::error_code& ec) noexcept;
std::error_code set_non_blocking(socket_state& s, bool on) noexcept;
endpoint local_endpoint(socket_state& s, std::error_code& ec) noexcept;
endpoint remote_endpoint(socket_state& s, std::error_code& ec) noexcept;

}  // namespace pocore::detail::sys
