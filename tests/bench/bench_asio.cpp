// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// bench-asio: the reference echo server, Boost.Asio with callbacks the way
// its users write one: async_read_some into a 16 KiB buffer, then
// async_write of what came, then read again. --threads N runs one
// io_context on N threads (each connection has one operation in flight,
// so its handlers never overlap and need no strand). See bench_args.hpp.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <thread>
#include <vector>

#include "bench_args.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct conn {
  explicit conn(tcp::socket s) : sock(std::move(s)) {}
  tcp::socket sock;
  char buf[bench::buffer_size];

  void read() {
    sock.async_read_some(asio::buffer(buf), [this](boost::system::error_code ec, std::size_t n) {
      if (ec) return finish();
      asio::async_write(sock, asio::buffer(buf, n),
                        [this](boost::system::error_code ec2, std::size_t) {
                          if (ec2) return finish();
                          read();
                        });
    });
  }
  void finish() {
    boost::system::error_code ignored;
    sock.close(ignored);
    delete this;
    bench::connection_ended();
  }
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](boost::system::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      boost::system::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      (new conn(std::move(s)))->read();
    }
    accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  bench::server_args args = bench::parse_server_args(argc, argv, false, false);
  asio::io_context io(static_cast<int>(args.threads));
  tcp::acceptor acceptor(io);
  tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(args.port));
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(128);
  accept(acceptor);
  std::fprintf(stderr, "bench-asio: Boost %d.%d, %u thread(s)\n", BOOST_VERSION / 100000,
               BOOST_VERSION / 100 % 1000, args.threads);
  bench::print_listening(acceptor.local_endpoint().port());

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < args.threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
