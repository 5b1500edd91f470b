// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The one door into an operation record's private part.

#include "pocore/operation.hpp"

namespace pocore::detail {

struct op_access {
  static op_private& priv(operation& op) noexcept { return op.priv_; }
  static const op_private& priv(const operation& op) noexcept { return op.priv_; }

#if defined(_WIN32)
  /// The backend's native area reinterpreted as T (OVERLAPPED, ...).
  template <class T>
  static T* native(operation& op) noexcept {
    static_assert(sizeof(T) <= sizeof(op_private::native), "backend state must fit the record");
    static_assert(alignof(T) <= 8, "backend state must fit the record's alignment");
    return reinterpret_cast<T*>(op.priv_.native);
  }
#endif
};

/// Shorthand used across the backends.
inline op_private& priv(operation& op) noexcept { return op_access::priv(op); }

}  // namespace pocore::detail
