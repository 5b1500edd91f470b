// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// pocore-echo-load: drives an echo server with C connections, each sending
// one M-byte message at a time and checking every byte that comes back.
//
//   pocore-echo-load ADDR:PORT [--connections C] [--size M] [--duration SECONDS]
//                    [--messages N] [--threads T] [--backend NAME]
//
// Runs for the duration, or until every connection has done N messages,
// then prints one line:
//   backend=epoll connections=16 size=64 messages=123456 seconds=5.00
//   msgs_per_sec=24691 p50_us=40.1 p99_us=120.3 errors=0
// Exit status: 0 if every byte matched and no connection failed, 1 if not,
// 2 for bad arguments.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <pocore/pocore.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct shared_state {
  std::atomic<bool> time_up{false};
  std::atomic<std::size_t> active{0};
  std::atomic<std::size_t> errors{0};
  pocore::timer* deadline = nullptr;
};

// One connection: connect, then send a message, read it back whole, check
// it, repeat. Its callbacks form one chain, so they never overlap.
struct client {
  client(pocore::io_port& port, shared_state& st, std::size_t index, std::size_t msg_size,
         std::size_t max_messages)
      : shared(st), sock(port), id(index), limit(max_messages), out(msg_size), in(msg_size) {}

  shared_state& shared;
  pocore::socket sock;
  pocore::operation connect_op{&on_connect, this};
  pocore::operation send_op{&on_send, this};
  pocore::operation recv_op{&on_recv, this};
  std::size_t id, limit, done = 0, got = 0;
  std::vector<unsigned char> out, in;
  std::vector<std::uint32_t> latency_ns;
  clock_type::time_point sent_at;

  void start(const pocore::endpoint& ep) {
    if (auto ec = sock.open(ep.family(), pocore::socket_type::stream)) return fail();
    sock.async_connect(connect_op, ep);
  }

  // Each message differs (connection id and sequence number are mixed in),
  // so a byte echoed to the wrong connection or out of order is caught.
  void send_next() {
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = static_cast<unsigned char>(id * 131 + done * 7 + i);
    got = 0;
    sent_at = clock_type::now();
    sock.async_send(send_op, pocore::make_buffer(out.data(), out.size()));
  }
  void recv_more() {
    sock.async_recv(recv_op, pocore::make_buffer(in.data() + got, in.size() - got));
  }

  void fail() {
    shared.errors.fetch_add(1);
    finish();
  }
  void finish() {
    sock.close();
    if (shared.active.fetch_sub(1) == 1) shared.deadline->cancel();  // the last one
  }

  static void on_connect(pocore::operation& op) {
    auto* c = static_cast<client*>(op.context);
    if (op.error) return c->fail();
    c->sock.set_option(pocore::socket_option::no_delay, 1);
    c->send_next();
  }
  static void on_send(pocore::operation& op) {
    auto* c = static_cast<client*>(op.context);
    if (op.error) return c->fail();
    c->recv_more();
  }
  static void on_recv(pocore::operation& op) {
    auto* c = static_cast<client*>(op.context);
    if (op.error || op.bytes == 0) return c->fail();  // the server must not close first
    c->got += op.bytes;
    if (c->got < c->in.size()) return c->recv_more();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - c->sent_at);
    c->latency_ns.push_back(
        static_cast<std::uint32_t>(std::min<std::int64_t>(ns.count(), UINT32_MAX)));
    if (c->in != c->out) {
      std::fprintf(stderr, "connection %zu: message %zu came back corrupted\n", c->id, c->done);
      return c->fail();
    }
    ++c->done;
    if (c->shared.time_up.load() || (c->limit != 0 && c->done >= c->limit)) return c->finish();
    c->send_next();
  }
};

void on_deadline(pocore::operation& op) {
  auto* st = static_cast<shared_state*>(op.context);
  if (!op.error) st->time_up.store(true);
}

int usage(const char* msg) {
  std::fprintf(stderr,
               "%s\nusage: pocore-echo-load ADDR:PORT [--connections C] [--size M] "
               "[--duration SECONDS] [--messages N] [--threads T] [--backend NAME]\n",
               msg);
  return 2;
}

bool parse_num(const char* s, double max, double& out) {
  char* end = nullptr;
  out = std::strtod(s, &end);
  return end != s && *end == '\0' && out >= 0 && out <= max;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, backend;
  double connections = 16, size = 64, duration = 5, messages = 0, threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool has_value = i + 1 < argc;
    bool ok = true;
    if (a == "--connections" && has_value) {
      ok = parse_num(argv[++i], 10000, connections) && connections >= 1;
    } else if (a == "--size" && has_value) {
      ok = parse_num(argv[++i], 16 << 20, size) && size >= 1;
    } else if (a == "--duration" && has_value) {
      ok = parse_num(argv[++i], 3600, duration);
    } else if (a == "--messages" && has_value) {
      ok = parse_num(argv[++i], 1e9, messages);
    } else if (a == "--threads" && has_value) {
      ok = parse_num(argv[++i], 256, threads) && threads >= 1;
    } else if (a == "--backend" && has_value) {
      backend = argv[++i];
    } else if (!a.starts_with("--") && target.empty()) {
      target = a;
    } else {
      ok = false;
    }
    if (!ok) return usage(("bad or incomplete argument: " + std::string(a)).c_str());
  }
  std::error_code ec;
  pocore::endpoint ep = pocore::endpoint::parse(target, ec);
  if (target.empty() || ec) return usage("expected the server's ADDR:PORT");

  pocore::io_port port(pocore::port_options{backend}, ec);
  if (ec) {
    std::fprintf(stderr, "cannot make the port: %s\n", ec.message().c_str());
    return ec == pocore::errc::unknown_backend ? 2 : 1;
  }

  shared_state st;
  pocore::timer deadline(port);
  st.deadline = &deadline;
  std::vector<std::unique_ptr<client>> clients;
  const auto n = static_cast<std::size_t>(connections);
  st.active = n;
  for (std::size_t i = 0; i < n; ++i)
    clients.push_back(std::make_unique<client>(port, st, i, static_cast<std::size_t>(size),
                                               static_cast<std::size_t>(messages)));
  pocore::operation deadline_op{&on_deadline, &st};
  // Without a message limit the duration ends the run; with one, the
  // duration (if given) is an upper bound.
  auto run_for = std::chrono::duration<double>(duration > 0 ? duration : 3600);
  deadline.async_wait_for(deadline_op,
                          std::chrono::duration_cast<pocore::timer::clock::duration>(run_for));

  const auto start = clock_type::now();
  for (auto& c : clients) c->start(ep);
  std::vector<std::thread> pool;
  for (int i = 1; i < static_cast<int>(threads); ++i) pool.emplace_back([&port] { port.run(); });
  port.run();
  for (auto& t : pool) t.join();
  const double secs = std::chrono::duration<double>(clock_type::now() - start).count();

  std::vector<std::uint32_t> all;
  std::size_t total = 0;
  for (auto& c : clients) {
    total += c->done;
    all.insert(all.end(), c->latency_ns.begin(), c->latency_ns.end());
  }
  auto pct = [&all](double p) -> double {
    if (all.empty()) return 0;
    auto k = static_cast<std::size_t>(p * static_cast<double>(all.size() - 1));
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
    return all[k] / 1000.0;
  };
  const double p50 = pct(0.50), p99 = pct(0.99);
  std::printf(
      "backend=%s connections=%zu size=%zu messages=%zu seconds=%.2f msgs_per_sec=%.0f "
      "p50_us=%.1f p99_us=%.1f errors=%zu\n",
      std::string(port.name()).c_str(), n, static_cast<std::size_t>(size), total, secs,
      secs > 0 ? static_cast<double>(total) / secs : 0.0, p50, p99, st.errors.load());
  std::fflush(stdout);
  return st.errors.load() == 0 && total > 0 ? 0 : 1;
}
