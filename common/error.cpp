// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The pocore error category. One X-macro table gives each portable value
// its message and the std::errc condition it compares equal to.

#include "pocore/error.hpp"

#include <string>
#include <system_error>

namespace pocore {
namespace {

// value, message, matching std::errc (or "none" when there is none).
#define POCORE_ERRC_TABLE(X)                                                                    \
  X(operation_aborted, "operation aborted", operation_canceled)                                 \
  X(would_block, "operation would block", operation_would_block)                                \
  X(in_progress, "operation in progress", operation_in_progress)                                \
  X(connection_refused, "connection refused", connection_refused)                               \
  X(connection_reset, "connection reset by peer", connection_reset)                             \
  X(connection_aborted, "connection aborted", connection_aborted)                               \
  X(not_connected, "socket is not connected", not_connected)                                    \
  X(already_connected, "socket is already connected", already_connected)                        \
  X(shut_down, "cannot send after socket shutdown", broken_pipe)                                \
  X(timed_out, "connection timed out", timed_out)                                               \
  X(address_in_use, "address in use", address_in_use)                                           \
  X(address_not_available, "address not available", address_not_available)                      \
  X(network_unreachable, "network unreachable", network_unreachable)                            \
  X(host_unreachable, "host unreachable", host_unreachable)                                     \
  X(message_size, "message too long for the buffer", message_size)                              \
  X(bad_descriptor, "socket is not open", bad_file_descriptor)                                  \
  X(invalid_argument, "invalid argument", invalid_argument)                                     \
  X(address_family_not_supported, "address family not supported", address_family_not_supported) \
  X(operation_not_supported, "operation not supported", operation_not_supported)                \
  X(too_many_files, "too many open sockets or files", too_many_files_open)                      \
  X(no_buffer_space, "no buffer space available", no_buffer_space)                              \
  X(not_enough_memory, "not enough memory", not_enough_memory)                                  \
  X(permission_denied, "permission denied", permission_denied)                                  \
  X(name_too_long, "name too long", filename_too_long)                                          \
  X(backend_unavailable, "backend not available on this machine", function_not_supported)       \
  X(unknown_backend, "unknown backend name", invalid_argument)                                  \
  X(no_such_file, "no such file or directory", no_such_file_or_directory)                       \
  X(file_exists, "file exists", file_exists)                                                    \
  X(is_a_directory, "is a directory", is_a_directory)                                           \
  X(no_space, "no space left on device", no_space_on_device)

// Values with no std::errc counterpart (name resolution); their condition
// is their own value in pocore's category.
#define POCORE_ERRC_OWN_TABLE(X)                               \
  X(host_not_found, "host not found")                          \
  X(try_again, "temporary failure in name resolution")         \
  X(no_recovery, "non-recoverable failure in name resolution") \
  X(service_not_found, "service not found")

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "pocore"; }

  std::string message(int v) const override {
    switch (static_cast<errc>(v)) {
      case errc::success:
        return "success";
#define POCORE_MESSAGE(value, text, std_value) \
  case errc::value:                            \
    return text;
        POCORE_ERRC_TABLE(POCORE_MESSAGE)
#undef POCORE_MESSAGE
#define POCORE_OWN_MESSAGE(value, text) \
  case errc::value:                     \
    return text;
        POCORE_ERRC_OWN_TABLE(POCORE_OWN_MESSAGE)
#undef POCORE_OWN_MESSAGE
    }
    return "unknown pocore error " + std::to_string(v);
  }

  std::error_condition default_error_condition(int v) const noexcept override {
    switch (static_cast<errc>(v)) {
      case errc::success:
        return {};
#define POCORE_CONDITION(value, text, std_value) \
  case errc::value:                              \
    return std::make_error_condition(std::errc::std_value);
        POCORE_ERRC_TABLE(POCORE_CONDITION)
#undef POCORE_CONDITION
#define POCORE_OWN_CONDITION(value, text) case errc::value:
        POCORE_ERRC_OWN_TABLE(POCORE_OWN_CONDITION)
#undef POCORE_OWN_CONDITION
        break;
    }
    return {v, *this};
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

std::error_condition make_error_condition(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace pocore
