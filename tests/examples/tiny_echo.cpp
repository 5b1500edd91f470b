// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The smallest complete echo server, with caller-owned operation records.
// README.md shows this file; it is built with the tests so it stays true.

#include <cstdio>
#include <pocore/pocore.hpp>

// A connection owns its socket, its buffer and one record per direction.
struct connection {
  explicit connection(pocore::socket s) : sock(std::move(s)) { read(); }

  pocore::socket sock;
  pocore::operation recv_op{&on_recv, this};
  pocore::operation send_op{&on_send, this};
  char buf[4096];

  void read() { sock.async_recv(recv_op, pocore::make_buffer(buf, sizeof buf)); }

  static void on_recv(pocore::operation& op) {
    auto* c = static_cast<connection*>(op.context);
    if (op.error || op.bytes == 0) {  // reset, or the peer is done
      delete c;
      return;
    }
    c->sock.async_send(c->send_op, pocore::make_buffer(c->buf, op.bytes));
  }
  static void on_send(pocore::operation& op) {  // runs once every byte is sent
    auto* c = static_cast<connection*>(op.context);
    if (op.error) {
      delete c;
      return;
    }
    c->read();
  }
};

void on_accept(pocore::operation& op) {
  auto& a = static_cast<pocore::accept_operation&>(op);
  auto* listener = static_cast<pocore::socket*>(a.context);
  if (a.error == pocore::errc::operation_aborted) return;  // listener closed
  if (!a.error) new connection(std::move(a.accepted));
  listener->async_accept(a);  // the same record, again
}

int main() {
  pocore::io_port port;  // IOCP on Windows, io_uring or epoll on Linux, kqueue on macOS
  pocore::socket listener(port);
  std::error_code ec;
  if ((ec = listener.open(pocore::address_family::ipv4, pocore::socket_type::stream)) ||
      (ec = listener.bind(pocore::endpoint::loopback_v4(0))) || (ec = listener.listen())) {
    std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
    return 1;
  }
  std::printf("echo server on %s (%s)\n", listener.local_endpoint(ec).to_string().c_str(),
              std::string(port.name()).c_str());

  pocore::accept_operation accept_op{&on_accept, &listener};
  listener.async_accept(accept_op);
  port.run();  // runs callbacks until no work is left: here, forever
}
