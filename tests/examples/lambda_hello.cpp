// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The convenience layer: lambdas instead of records. A listener and a
// client on one port exchange one message; a timer bounds the wait. The
// program ends when run() runs out of work. README.md shows this file.

#include <chrono>
#include <cstdio>
#include <pocore/pocore.hpp>
#include <string>

int main() {
  pocore::io_port port;
  pocore::socket listener(port), client(port), served(port);
  std::error_code ec;
  if ((ec = listener.open(pocore::address_family::ipv4, pocore::socket_type::stream)) ||
      (ec = listener.bind(pocore::endpoint::loopback_v4(0))) || (ec = listener.listen()))
    return std::fprintf(stderr, "listen: %s\n", ec.message().c_str()), 1;
  const pocore::endpoint where = listener.local_endpoint(ec);

  char in[64], echoed[64];
  std::string reply;
  pocore::timer guard(port);
  guard.async_wait_for(std::chrono::seconds(10), [&](std::error_code e) {
    if (!e) std::fprintf(stderr, "timed out\n"), listener.close(), client.close(), served.close();
  });

  // Server side: accept one connection, echo one message, close.
  listener.async_accept([&](std::error_code accept_ec, pocore::socket s) {
    if (accept_ec) return;
    served = std::move(s);
    served.async_recv(pocore::make_buffer(in, sizeof in), [&](std::error_code e, std::size_t n) {
      if (e || n == 0) return;
      served.async_send(pocore::make_buffer(in, n), [](std::error_code, std::size_t) {});
    });
  });

  // Client side: connect, send, read the echo, stop the guard timer.
  if ((ec = client.open(pocore::address_family::ipv4, pocore::socket_type::stream))) return 1;
  client.async_connect(where, [&](std::error_code connect_ec) {
    if (connect_ec)
      return (void)std::fprintf(stderr, "connect: %s\n", connect_ec.message().c_str());
    client.async_send(pocore::make_buffer("hello, port"),
                      [&](std::error_code send_ec, std::size_t) {
                        if (send_ec) return;
                        client.async_recv(pocore::make_buffer(echoed, sizeof echoed),
                                          [&](std::error_code e, std::size_t n) {
                                            if (!e) reply.assign(echoed, n);
                                            guard.cancel();
                                          });
                      });
  });

  port.run();  // returns when every operation above has completed
  std::printf("%s: got \"%s\" back\n", std::string(port.name()).c_str(), reply.c_str());
  return reply == "hello, port" ? 0 : 1;
}
