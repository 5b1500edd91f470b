// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The one blocking call behind pocore::resolver, defined once per platform
// (posix/resolver_system.cpp, win/resolver_system.cpp). The platform-free
// part (common/resolver.cpp) runs it on the resolver's worker threads.

#include <string>
#include <system_error>
#include <vector>

#include "pocore/resolver.hpp"

namespace pocore::detail {

/// Resolves `host` / `service` (either may be empty, not both) with the
/// system's resolver, blocking. Appends the endpoints, without duplicates,
/// to `out`. Returns a portable error (host_not_found, service_not_found,
/// try_again, ...).
std::error_code system_resolve(const std::string& host, const std::string& service,
                               const resolve_hints& hints, std::vector<endpoint>& out);

}  // namespace pocore::detail
