// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The library version. This header is its single source: the build reads
/// the three numbers below into `project(VERSION)`, and from there into
/// pocore-config-version.cmake, pocore.pc and the shared library's
/// SONAME, so a release changes only these lines.

/// Major version: incompatible API changes.
#define POCORE_VERSION_MAJOR 0
/// Minor version: compatible additions (before 1.0 also breaking changes).
#define POCORE_VERSION_MINOR 1
/// Patch version: fixes only.
#define POCORE_VERSION_PATCH 0

/// The version as one comparable number: major * 10000 + minor * 100 + patch.
#define POCORE_VERSION \
  (POCORE_VERSION_MAJOR * 10000 + POCORE_VERSION_MINOR * 100 + POCORE_VERSION_PATCH)

/// \cond POCORE_INTERNAL
#define POCORE_VERSION_STR_(x) #x
#define POCORE_VERSION_STR(x) POCORE_VERSION_STR_(x)
/// \endcond
/// The version as a string literal, "major.minor.patch".
#define POCORE_VERSION_STRING              \
  POCORE_VERSION_STR(POCORE_VERSION_MAJOR) \
  "." POCORE_VERSION_STR(POCORE_VERSION_MINOR) "." POCORE_VERSION_STR(POCORE_VERSION_PATCH)

namespace pocore {
/// The version as text, "major.minor.patch", of the headers compiled in.
inline constexpr const char* version_string = POCORE_VERSION_STRING;
/// The major version, as `POCORE_VERSION_MAJOR`.
inline constexpr int version_major = POCORE_VERSION_MAJOR;
/// The minor version, as `POCORE_VERSION_MINOR`.
inline constexpr int version_minor = POCORE_VERSION_MINOR;
/// The patch version, as `POCORE_VERSION_PATCH`.
inline constexpr int version_patch = POCORE_VERSION_PATCH;
}  // namespace pocore
