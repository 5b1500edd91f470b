// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// pocore-udp-ping: measures round trips over UDP, like ping(8).
//
//   pocore-udp-ping --serve [--host ADDR] [--port N]        answer every ping
//   pocore-udp-ping HOST PORT [--count N] [--interval-ms N] [--timeout-ms N] [--family 4|6]
//
// The client resolves HOST (a name or a numeric address) without blocking
// the port, sends N numbered pings at the interval, matches each reply to
// its ping, and after the last one waits up to the timeout for stragglers.
// It then prints
//
//   20 sent, 20 received, 0% loss
//   rtt min/avg/max = 0.041/0.058/0.112 ms
//
// and exits 0 if every ping came back, 1 otherwise. The server prints
// `listening on ADDR:PORT` when ready and runs until stopped.
//
// What it shows: the resolver, datagram records reused for every packet,
// a timer paced send loop, and a program that ends by itself when the port
// runs out of work.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pocore/pocore.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;
constexpr char magic[8] = {'p', 'o', 'c', 'o', 'p', 'i', 'n', 'g'};

// ---- the server: every datagram goes straight back to its sender ----
struct pong_server {
  explicit pong_server(pocore::io_port& port) : sock(port) {}
  pocore::socket sock;
  pocore::datagram_operation op{&on_recv, this};
  char buf[2048];

  void receive() {
    op.on_complete = &on_recv;
    sock.async_recv_from(op, pocore::make_buffer(buf, sizeof buf));
  }
  static void on_recv(pocore::operation& base) {
    auto& op = static_cast<pocore::datagram_operation&>(base);
    auto* self = static_cast<pong_server*>(op.context);
    if (op.error == pocore::errc::operation_aborted) return;
    if (op.error) return self->receive();  // e.g. an oversized datagram: drop it
    op.on_complete = &on_sent;             // op.peer, the sender, is the destination
    self->sock.async_send_to(op, pocore::make_buffer(self->buf, op.bytes));
  }
  static void on_sent(pocore::operation& op) {
    if (op.error != pocore::errc::operation_aborted)
      static_cast<pong_server*>(op.context)->receive();
  }
};

// ---- the client ----
struct pinger {
  explicit pinger(pocore::io_port& port) : sock(port), clock(port) {}
  pocore::socket sock;
  pocore::timer clock;
  pocore::endpoint target;
  int count = 10;
  std::chrono::milliseconds interval{200}, timeout{1000};

  pocore::datagram_operation send_op{&on_sent, this};
  pocore::datagram_operation recv_op{&on_reply, this};
  pocore::operation tick_op{&on_tick, this};
  int next_seq = 0;
  std::vector<steady::time_point> sent_at;
  std::vector<double> rtt_ms;  // by sequence number; < 0 until answered
  int received = 0;
  unsigned char out[16], in[64];

  std::error_code start(const pocore::endpoint& to) {
    target = to;
    sent_at.resize(static_cast<std::size_t>(count));
    rtt_ms.assign(static_cast<std::size_t>(count), -1.0);
    std::error_code ec;
    const bool v6 = to.family() == pocore::address_family::ipv6;
    if ((ec = sock.open(to.family(), pocore::socket_type::datagram))) return ec;
    // Bound first, so a receive may be pending before the first send.
    if ((ec = sock.bind(pocore::endpoint::parse(v6 ? "[::]:0" : "0.0.0.0:0", ec)))) return ec;
    sock.async_recv_from(recv_op, pocore::make_buffer(in, sizeof in));
    send_next();
    return {};
  }

  void send_next() {
    const auto seq = static_cast<std::uint32_t>(next_seq++);
    std::memcpy(out, magic, sizeof magic);
    std::memcpy(out + 8, &seq, sizeof seq);
    std::memset(out + 12, 0, 4);
    sent_at[seq] = steady::now();
    send_op.peer = target;
    sock.async_send_to(send_op, pocore::make_buffer(out, sizeof out));
  }
  static void on_sent(pocore::operation& op) {
    auto* self = static_cast<pinger*>(op.context);
    if (op.error == pocore::errc::operation_aborted) return;
    if (op.error) std::fprintf(stderr, "send: %s\n", op.error.message().c_str());
    if (self->received == self->count) return;  // the replies overtook this completion
    // The next ping after the interval; after the last, the final wait.
    const bool last = self->next_seq == self->count;
    self->clock.async_wait_for(self->tick_op, last ? self->timeout : self->interval);
  }
  static void on_tick(pocore::operation& op) {
    auto* self = static_cast<pinger*>(op.context);
    if (op.error) return;  // cancelled: every reply is in
    if (self->next_seq < self->count) return self->send_next();
    self->sock.close();  // the timeout passed: the pending receive is aborted
  }
  static void on_reply(pocore::operation& base) {
    auto& op = static_cast<pocore::datagram_operation&>(base);
    auto* self = static_cast<pinger*>(op.context);
    if (op.error == pocore::errc::operation_aborted) return;  // closed: done
    std::uint32_t seq = 0;
    if (!op.error && op.bytes >= 12 && std::memcmp(self->in, magic, sizeof magic) == 0) {
      std::memcpy(&seq, self->in + 8, sizeof seq);
      if (seq < static_cast<std::uint32_t>(self->next_seq) && self->rtt_ms[seq] < 0) {
        self->rtt_ms[seq] =
            std::chrono::duration<double, std::milli>(steady::now() - self->sent_at[seq]).count();
        ++self->received;
      }
    }
    if (self->received == self->count) {  // all back: stop waiting
      self->clock.cancel();
      self->sock.close();
      return;
    }
    self->sock.async_recv_from(op, pocore::make_buffer(self->in, sizeof self->in));
  }

  int report() const {
    const int sent = next_seq;
    const int loss = sent == 0 ? 100 : (sent - received) * 100 / sent;
    std::printf("%d sent, %d received, %d%% loss\n", sent, received, loss);
    std::vector<double> got;
    for (double r : rtt_ms)
      if (r >= 0) got.push_back(r);
    if (!got.empty()) {
      double sum = 0;
      for (double r : got) sum += r;
      std::printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n",
                  *std::min_element(got.begin(), got.end()), sum / static_cast<double>(got.size()),
                  *std::max_element(got.begin(), got.end()));
    }
    return sent > 0 && received == sent ? 0 : 1;
  }
};

int usage() {
  std::fprintf(stderr,
               "usage: pocore-udp-ping --serve [--host ADDR] [--port N]\n"
               "       pocore-udp-ping HOST PORT [--count N] [--interval-ms N] [--timeout-ms N]"
               " [--family 4|6]\n");
  return 2;
}

int serve(pocore::io_port& port, std::string host, const std::string& port_text) {
  std::error_code ec;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  const pocore::endpoint ep = pocore::endpoint::parse(host + ":" + port_text, ec);
  if (ec) return usage();
  pong_server srv(port);
  if ((ec = srv.sock.open(ep.family(), pocore::socket_type::datagram)) ||
      (ec = srv.sock.bind(ep))) {
    std::fprintf(stderr, "cannot bind %s: %s\n", ep.to_string().c_str(), ec.message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", srv.sock.local_endpoint(ec).to_string().c_str());
  std::fflush(stdout);
  srv.receive();
  port.run();  // until the process is stopped
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::error_code ec;
  pocore::io_port port(pocore::port_options{}, ec);  // POCORE_BACKEND picks the backend
  if (ec) return std::fprintf(stderr, "cannot make the port: %s\n", ec.message().c_str()), 1;

  if (!args.empty() && args[0] == "--serve") {
    std::string host = "127.0.0.1", port_text = "0";
    for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
      if (args[i] == "--host")
        host = args[i + 1];
      else if (args[i] == "--port")
        port_text = args[i + 1];
      else
        return usage();
    }
    return args.size() % 2 == 0 ? usage() : serve(port, host, port_text);
  }

  if (args.size() < 2 || args.size() % 2 != 0) return usage();
  pinger p(port);
  pocore::resolve_hints hints;
  hints.type = pocore::socket_type::datagram;
  for (std::size_t i = 2; i + 1 < args.size(); i += 2) {
    const int v = std::atoi(std::string(args[i + 1]).c_str());
    if (v <= 0) return usage();
    if (args[i] == "--family" && (v == 4 || v == 6))  // like ping -4 / -6
      hints.family = v == 4 ? pocore::address_family::ipv4 : pocore::address_family::ipv6;
    else if (args[i] == "--count")
      p.count = v;
    else if (args[i] == "--interval-ms")
      p.interval = std::chrono::milliseconds(v);
    else if (args[i] == "--timeout-ms")
      p.timeout = std::chrono::milliseconds(v);
    else
      return usage();
  }

  // Resolve on the port, then start pinging the first address found.
  pocore::resolver names(port);
  names.async_resolve(
      args[0], args[1], hints, [&](std::error_code rc, std::vector<pocore::endpoint> eps) {
        if (rc)
          return std::fprintf(stderr, "cannot resolve %s: %s\n", argv[1], rc.message().c_str()),
                 void();
        std::printf("pinging %s\n", eps.front().to_string().c_str());
        if (auto sc = p.start(eps.front()))
          std::fprintf(stderr, "cannot start: %s\n", sc.message().c_str());
      });
  port.run();  // returns when nothing is left to do
  if (p.next_seq == 0) return 1;
  return p.report();
}
