// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The library version.

#define POCORE_VERSION_MAJOR 0
#define POCORE_VERSION_MINOR 1
#define POCORE_VERSION_PATCH 0

namespace pocore {
/// The version as text, "major.minor.patch".
inline constexpr const char* version_string = "0.1.0";
}  // namespace pocore
