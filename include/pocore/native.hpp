// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The one public header that names the platform's native socket type.
/// It includes no platform header.

#include <cstdint>

namespace pocore {

#if defined(_WIN32)
/// The native socket: a Winsock `SOCKET` (an unsigned pointer-sized value).
using native_handle_type = std::uintptr_t;
/// The value of a native handle that names no socket (`INVALID_SOCKET`).
inline constexpr native_handle_type invalid_native_handle = ~std::uintptr_t{0};
#else
/// The native socket: a POSIX file descriptor.
using native_handle_type = int;
/// The value of a native handle that names no socket.
inline constexpr native_handle_type invalid_native_handle = -1;
#endif

}  // namespace pocore
