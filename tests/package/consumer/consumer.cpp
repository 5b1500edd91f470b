// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// A program built against pocore the way a user would (installed package,
// pkg-config, add_subdirectory, FetchContent). It checks that the headers
// and the library agree on the version the package files announce, then
// makes a port and sends one UDP datagram to itself with coroutines.
// Prints one line and exits 0 on success.

#include <cstdio>
#include <cstring>
#include <pocore/pocore.hpp>
#include <string>
#include <string_view>

#ifndef POCORE_EXPECTED_VERSION
#error "the consumer project passes the version the package announced"
#endif

namespace {

pocore::task<std::string> roundtrip(pocore::socket& a, pocore::socket& b, pocore::endpoint to) {
  char buf[16] = {};
  auto recv = [&]() -> pocore::task<pocore::datagram_result> {
    co_return co_await pocore::co::recv_from(b, pocore::buffer{buf, sizeof buf});
  };
  auto r = co_await pocore::co::send_to(a, pocore::make_buffer(std::string_view("ping")), to);
  if (r.error) co_return "send_to: " + r.error.message();
  auto d = co_await recv();
  if (d.error) co_return "recv_from: " + d.error.message();
  co_return std::string(buf, d.bytes);
}

}  // namespace

int main() {
  if (std::strcmp(pocore::version_string, POCORE_EXPECTED_VERSION) != 0) {
    std::fprintf(stderr, "version mismatch: header %s, package %s\n", pocore::version_string,
                 POCORE_EXPECTED_VERSION);
    return 1;
  }
  pocore::io_port port;
  pocore::socket a(port), b(port);
  std::error_code ec = a.open(pocore::address_family::ipv4, pocore::socket_type::datagram);
  if (!ec) ec = b.open(pocore::address_family::ipv4, pocore::socket_type::datagram);
  if (!ec) ec = a.bind(pocore::endpoint::loopback_v4());
  if (!ec) ec = b.bind(pocore::endpoint::loopback_v4());
  pocore::endpoint to;
  if (!ec) to = b.local_endpoint(ec);
  if (ec) {
    std::fprintf(stderr, "setup: %s\n", ec.message().c_str());
    return 1;
  }
  std::string got;
  pocore::co_spawn(port, roundtrip(a, b, to),
                   [&](std::exception_ptr ep, std::string s) { got = ep ? "exception" : s; });
  port.run();
  a.close();
  b.close();
  if (got != "ping") {
    std::fprintf(stderr, "roundtrip: %s\n", got.c_str());
    return 1;
  }
  std::printf("pocore %s consumer ok on %.*s\n", pocore::version_string,
              static_cast<int>(port.name().size()), port.name().data());
  return 0;
}
