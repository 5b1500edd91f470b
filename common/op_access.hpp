// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The one door into an operation record's private part.

#include "pocore/operation.hpp"

namespace pocore::detail {

struct op_access {
  static op_private& priv(operation& op) noexcept { return op.priv_; }
  static const op_private& priv(const operation& op) noexcept { return op.priv_; }
};

/// Shorthand used across the backends.
inline op_private& priv(operation& op) noexcept { return op_access::priv(op); }

}  // namespace pocore::detail
