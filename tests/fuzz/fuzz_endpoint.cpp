// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: endpoint parsing and formatting (common/endpoint.cpp).
//
// The first byte picks a mode; the rest is the input:
//   even  text for endpoint::parse. On success: to_string() parses back to
//         the same endpoint and formats to the same text; on failure: the
//         error is invalid_argument or name_too_long and the endpoint is
//         unspecified. Never a crash or an exception.
//   odd   raw fields (4 or 16 address bytes, port, scope id, or a path) for
//         the ipv4/ipv6/local factories: for every endpoint that can be
//         made, parse(e.to_string()) == e.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <pocore/endpoint.hpp>
#include <pocore/error.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

namespace {

void check_round_trip(const pocore::endpoint& e) {
  const std::string text = e.to_string();
  std::error_code ec;
  pocore::endpoint back = pocore::endpoint::parse(text, ec);
  if (ec) std::fprintf(stderr, "cannot parse back '%s': %s\n", text.c_str(), ec.message().c_str());
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(back == e);
  FUZZ_CHECK(back.to_string() == text);
  FUZZ_CHECK(back.family() == e.family() && back.port() == e.port());
}

std::uint32_t read_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  ++data, --size;
  if (mode % 2 == 0) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::error_code ec;
    pocore::endpoint e = pocore::endpoint::parse(text, ec);
    if (ec) {
      FUZZ_CHECK(ec == pocore::errc::invalid_argument || ec == pocore::errc::name_too_long);
      FUZZ_CHECK(e.family() == pocore::address_family::unspecified);
      return 0;
    }
    FUZZ_CHECK(e.family() != pocore::address_family::unspecified);
    check_round_trip(e);
    return 0;
  }
  switch ((mode >> 1) % 3) {
    case 0: {  // IPv4: 4 address bytes, 2 port bytes
      if (size < 6) return 0;
      std::array<std::uint8_t, 4> a;
      std::memcpy(a.data(), data, 4);
      auto e = pocore::endpoint::ipv4(a, static_cast<std::uint16_t>(data[4] | data[5] << 8));
      FUZZ_CHECK(e.address_bytes().size() == 4);
      check_round_trip(e);
      break;
    }
    case 1: {  // IPv6: 16 address bytes, 2 port bytes, 4 scope bytes
      if (size < 22) return 0;
      std::array<std::uint8_t, 16> a;
      std::memcpy(a.data(), data, 16);
      auto e = pocore::endpoint::ipv6(a, static_cast<std::uint16_t>(data[16] | data[17] << 8),
                                      read_u32(data + 18));
      FUZZ_CHECK(e.address_bytes().size() == 16);
      check_round_trip(e);
      break;
    }
    default: {  // Unix-domain path
      std::error_code ec;
      auto e =
          pocore::endpoint::local(std::string_view(reinterpret_cast<const char*>(data), size), ec);
      if (ec) {
        FUZZ_CHECK(ec == pocore::errc::invalid_argument || ec == pocore::errc::name_too_long);
        FUZZ_CHECK(e.family() == pocore::address_family::unspecified);
        FUZZ_CHECK(size == 0 || size > pocore::endpoint::max_path_length ||
                   std::memchr(data, 0, size) != nullptr);
        return 0;
      }
      FUZZ_CHECK(e.path().size() == size);
      check_round_trip(e);
      break;
    }
  }
  return 0;
}
