// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The one errno -> pocore::errc table of the POSIX backends. Every quirk it
// smooths over is commented in posix_errors.cpp, next to the entry.

#include <system_error>

namespace pocore::detail {

/// Maps an errno value to a pocore error code. Values pocore has no name
/// for come back in std::system_category() unchanged.
std::error_code posix_error(int err) noexcept;

/// Maps the errno of a failed send. `send_shut` says whether this side
/// has shut down sending (socket_state::send_shut): Linux reports EPIPE
/// both after our own shutdown(SHUT_WR) and after the peer reset the
/// connection, and pocore tells the two apart.
std::error_code posix_send_error(int err, bool send_shut) noexcept;

/// Maps the errno of a failed connect. `local`: a Unix-domain socket.
std::error_code posix_connect_error(int err, bool local) noexcept;

}  // namespace pocore::detail
