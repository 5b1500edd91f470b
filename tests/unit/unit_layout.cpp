// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Pins the size of the public records (DESIGN.md: "a test pins sizeof"),
// so a change to the ABI-visible layout is a deliberate, reviewed edit.

#include <type_traits>

#include "pocore_test.hpp"

namespace {

// The record is callback, context, error_code, bytes, then the private
// area (op_private: six pointer-sized fields, a 16-byte-class buffer, the
// deadline and bookkeeping; on Windows also the 48-byte native area that
// holds the OVERLAPPED).
#if defined(_WIN32)
constexpr std::size_t native_size = 48;
static_assert(sizeof(pocore::detail::op_private::native) == native_size);
#else
constexpr std::size_t native_size = 0;
#endif
constexpr std::size_t expected_private_size = (sizeof(void*) == 8 ? 72 : 48) + native_size;
constexpr std::size_t expected_operation_size =
    (sizeof(void*) == 8 ? 40 : 24) + expected_private_size;

static_assert(sizeof(pocore::operation) == expected_operation_size,
              "pocore::operation changed size; update the pin on purpose");
static_assert(sizeof(pocore::detail::op_private) == expected_private_size);
static_assert(alignof(pocore::operation) == 8);
static_assert(sizeof(pocore::endpoint) == 132);
static_assert(sizeof(pocore::buffer) == 2 * sizeof(void*));
static_assert(sizeof(pocore::const_buffer) == 2 * sizeof(void*));
static_assert(!std::is_copy_constructible_v<pocore::operation>);
static_assert(!std::is_copy_constructible_v<pocore::socket>);
static_assert(std::is_nothrow_move_constructible_v<pocore::socket>);
static_assert(std::is_nothrow_move_assignable_v<pocore::socket>);
static_assert(std::is_nothrow_default_constructible_v<pocore::operation>);

}  // namespace

POCORE_UNIT(operation_size_is_pinned) {
  EXPECT_EQ(sizeof(pocore::operation), expected_operation_size);
  EXPECT_EQ(sizeof(pocore::detail::op_private), expected_private_size);
  EXPECT_EQ(sizeof(pocore::endpoint), 132u);
}

POCORE_UNIT(fresh_operation_is_zeroed) {
  const pocore::operation op;
  EXPECT_EQ(op.on_complete, nullptr);
  EXPECT_EQ(op.context, nullptr);
  EXPECT_FALSE(op.error);
  EXPECT_EQ(op.bytes, 0u);
}

POCORE_UNIT(buffer_total_size) {
  char a[3];
  char b[5];
  const pocore::buffer bufs[] = {{a, 3}, {b, 5}, {nullptr, 0}};
  EXPECT_EQ(pocore::total_size(std::span<const pocore::buffer>(bufs)), 8u);
  const pocore::const_buffer cb = pocore::make_buffer(std::string_view("four"));
  EXPECT_EQ(cb.size, 4u);
}

POCORE_UNIT(compiled_backends_listed) {
  const auto names = pocore::compiled_backends();
  ASSERT_FALSE(names.empty());
  pocore::io_port port;
  bool found = false;
  for (auto n : names) found = found || n == port.name();
  EXPECT_TRUE(found) << "the default backend '" << port.name() << "' is not listed";
}
