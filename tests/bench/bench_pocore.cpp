// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// bench-pocore: the pocore echo server of the benchmark, in two styles.
//   --api records  each connection owns its two operation records (the
//                  library's native model; nothing is allocated per message)
//   --api lambda   the convenience layer: a lambda per operation, its record
//                  from the port's recycling pool
// --backend picks epoll or io_uring (empty: POCORE_BACKEND, else the
// default); --threads N runs the port on N threads. See bench_args.hpp.
// A connection reads up to 16 KiB, writes it all back, and reads again, so
// at most one operation per connection is in flight and its callbacks never
// overlap even with several threads.

#include <pocore/pocore.hpp>
#include <thread>
#include <vector>

#include "bench_args.hpp"

namespace {

// ---- caller-owned records ----

struct record_conn {
  explicit record_conn(pocore::socket s) : sock(std::move(s)) {}
  pocore::socket sock;
  pocore::operation recv_op{&on_recv, this};
  pocore::operation send_op{&on_send, this};
  char buf[bench::buffer_size];

  void read() { sock.async_recv(recv_op, pocore::make_buffer(buf, sizeof buf)); }
  static void on_recv(pocore::operation& op) {
    auto* c = static_cast<record_conn*>(op.context);
    if (op.error || op.bytes == 0) return c->finish();
    c->sock.async_send(c->send_op, pocore::make_buffer(c->buf, op.bytes));
  }
  static void on_send(pocore::operation& op) {
    auto* c = static_cast<record_conn*>(op.context);
    if (op.error) return c->finish();
    c->read();
  }
  void finish() {
    sock.close();
    delete this;
    bench::connection_ended();
  }
};

struct record_acceptor {
  pocore::socket& listener;
  pocore::accept_operation op{&on_accept, this};

  static void on_accept(pocore::operation& base) {
    auto& op = static_cast<pocore::accept_operation&>(base);
    auto* self = static_cast<record_acceptor*>(op.context);
    if (op.error == pocore::errc::operation_aborted) return;
    if (!op.error) {
      auto* c = new record_conn(std::move(op.accepted));
      c->sock.set_option(pocore::socket_option::no_delay, 1);
      c->read();
    }
    self->listener.async_accept(op);
  }
};

// ---- the convenience layer ----

struct lambda_conn {
  explicit lambda_conn(pocore::socket s) : sock(std::move(s)) {}
  pocore::socket sock;
  char buf[bench::buffer_size];

  void read() {
    sock.async_recv(
        pocore::make_buffer(buf, sizeof buf), [this](std::error_code ec, std::size_t n) {
          if (ec || n == 0) return finish();
          sock.async_send(pocore::make_buffer(buf, n), [this](std::error_code ec2, std::size_t) {
            if (ec2) return finish();
            read();
          });
        });
  }
  void finish() {
    sock.close();
    delete this;
    bench::connection_ended();
  }
};

void lambda_accept(pocore::socket& listener) {
  listener.async_accept([&listener](std::error_code ec, pocore::socket s) {
    if (ec == pocore::errc::operation_aborted) return;
    if (!ec) {
      auto* c = new lambda_conn(std::move(s));
      c->sock.set_option(pocore::socket_option::no_delay, 1);
      c->read();
    }
    lambda_accept(listener);
  });
}

}  // namespace

int main(int argc, char** argv) {
  bench::server_args args = bench::parse_server_args(argc, argv, true, true);
  std::error_code ec;
  pocore::io_port port(pocore::port_options{args.backend}, ec);
  if (ec) {
    std::fprintf(stderr, "cannot make the port (%s): %s\n", args.backend.c_str(),
                 ec.message().c_str());
    return 1;
  }
  pocore::socket listener(port);
  if ((ec = listener.open(pocore::address_family::ipv4, pocore::socket_type::stream)) ||
      (ec = listener.set_option(pocore::socket_option::reuse_address, 1)) ||
      (ec = listener.bind(pocore::endpoint::loopback_v4(static_cast<std::uint16_t>(args.port)))) ||
      (ec = listener.listen())) {
    std::fprintf(stderr, "cannot listen: %s\n", ec.message().c_str());
    return 1;
  }
  pocore::endpoint where = listener.local_endpoint(ec);
  if (ec) return 1;

  record_acceptor acceptor{listener};
  if (args.api == "records")
    listener.async_accept(acceptor.op);
  else
    lambda_accept(listener);
  std::fprintf(stderr, "bench-pocore: backend %s, api %s, %u thread(s)\n",
               std::string(port.name()).c_str(), args.api.c_str(), args.threads);
  bench::print_listening(where.port());

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < args.threads; ++i) pool.emplace_back([&port] { port.run(); });
  port.run();
  for (auto& t : pool) t.join();
  return 0;
}
