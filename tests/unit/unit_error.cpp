// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The error category: its name, a message for every value, and each value
// comparing equal to the matching std::errc condition so user code never
// branches on the platform.

#include <string>
#include <utility>

#include "pocore_test.hpp"

using pocore::errc;

POCORE_UNIT(error_category_name_is_pocore) {
  EXPECT_STREQ(pocore::error_category().name(), "pocore");
  EXPECT_EQ(&pocore::make_error_code(errc::would_block).category(), &pocore::error_category());
  const std::error_code ec = errc::connection_reset;  // implicit, via is_error_code_enum
  EXPECT_EQ(&ec.category(), &pocore::error_category());
}

POCORE_UNIT(error_success_is_falsy) {
  EXPECT_FALSE(pocore::make_error_code(errc::success));
  EXPECT_TRUE(pocore::make_error_code(errc::operation_aborted));
}

namespace {
bool has_own_message(int v) {
  const std::error_code ec = pocore::make_error_code(static_cast<errc>(v));
  return !ec.message().empty() &&
         ec.message().rfind("unknown pocore error", 0) == std::string::npos;
}
// One past the last value with a message of its own; the values are
// contiguous from 1 (checked below), so this is the enum's end.
int errc_end() {
  int v = 1;
  while (v < 1000 && has_own_message(v)) ++v;
  return v;
}
}  // namespace

POCORE_UNIT(error_every_value_has_a_message) {
  const int end = errc_end();
  // The newest codes are covered (a gap or a missing message ends the run
  // early and fails here).
  EXPECT_GT(end, static_cast<int>(errc::service_not_found));
  for (int v = end; v < end + 50; ++v) EXPECT_FALSE(has_own_message(v)) << "value " << v;
  EXPECT_FALSE(has_own_message(-1));
  EXPECT_FALSE(has_own_message(0x7fffffff));
}

POCORE_UNIT(error_compares_equal_to_std_errc) {
  const std::pair<errc, std::errc> table[] = {
      {errc::operation_aborted, std::errc::operation_canceled},
      {errc::would_block, std::errc::operation_would_block},
      {errc::in_progress, std::errc::operation_in_progress},
      {errc::connection_refused, std::errc::connection_refused},
      {errc::connection_reset, std::errc::connection_reset},
      {errc::connection_aborted, std::errc::connection_aborted},
      {errc::not_connected, std::errc::not_connected},
      {errc::already_connected, std::errc::already_connected},
      {errc::timed_out, std::errc::timed_out},
      {errc::address_in_use, std::errc::address_in_use},
      {errc::address_not_available, std::errc::address_not_available},
      {errc::network_unreachable, std::errc::network_unreachable},
      {errc::host_unreachable, std::errc::host_unreachable},
      {errc::message_size, std::errc::message_size},
      {errc::bad_descriptor, std::errc::bad_file_descriptor},
      {errc::invalid_argument, std::errc::invalid_argument},
      {errc::address_family_not_supported, std::errc::address_family_not_supported},
      {errc::operation_not_supported, std::errc::operation_not_supported},
      {errc::too_many_files, std::errc::too_many_files_open},
      {errc::no_buffer_space, std::errc::no_buffer_space},
      {errc::not_enough_memory, std::errc::not_enough_memory},
      {errc::permission_denied, std::errc::permission_denied},
      {errc::name_too_long, std::errc::filename_too_long},
  };
  for (const auto& [mine, standard] : table) {
    const std::error_code ec = pocore::make_error_code(mine);
    EXPECT_EQ(ec, standard) << ec.message();
    EXPECT_EQ(ec, mine);
    EXPECT_EQ(ec, pocore::make_error_condition(mine));
    EXPECT_EQ(ec.default_error_condition(), std::make_error_condition(standard)) << ec.message();
  }
  // Distinct values stay distinct.
  EXPECT_NE(pocore::make_error_code(errc::connection_reset), std::errc::connection_refused);
  EXPECT_NE(pocore::make_error_code(errc::connection_reset), errc::connection_aborted);
}

POCORE_UNIT(error_values_are_distinct_codes) {
  const int end = errc_end();
  for (int a = 1; a < end; ++a) {
    for (int b = a + 1; b < end; ++b) {
      EXPECT_NE(pocore::make_error_code(static_cast<errc>(a)),
                pocore::make_error_code(static_cast<errc>(b)));
    }
  }
}
