// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// pocore-echo-server: a TCP (and optionally UDP) echo server written the
// way pocore is meant to be used: every connection owns its two operation
// records, so steady-state echoing allocates nothing, and any number of
// threads may run the port.
//
//   pocore-echo-server [--host ADDR] [--port N] [--threads N] [--backend NAME] [--udp]
//                      [--idle-timeout-ms N]
//
// What one peer can make it hold is bounded: each connection has one 16 KiB
// buffer and at most one operation in flight, so a client that sends but
// never reads stalls its own echo (the server stops reading it while the
// write is pending) and costs no more memory. A connection that makes no
// progress for the idle timeout (default 60 s; 0 turns it off) is closed,
// so idle and slowloris peers cannot hold descriptors forever.
//
// When ready it prints one line, `listening on ADDR:PORT`, and flushes it.
// SIGINT/SIGTERM (Ctrl-C/Ctrl-Break on Windows) close everything; exit 0.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <pocore/pocore.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(_WIN32)
#include <windows.h>
#else
#include <csignal>
#endif

namespace {

// Set by the signal (or console control) handler, read by a timer. A
// handler may do nothing else safely, so the real work happens on the port.
std::atomic<bool> g_quit{false};

#if defined(_WIN32)
BOOL WINAPI on_console_event(DWORD) {
  g_quit.store(true);
  return TRUE;  // handled: do not terminate the process, we exit cleanly
}
void install_quit_handler() { SetConsoleCtrlHandler(on_console_event, TRUE); }
#else
extern "C" void on_signal(int) { g_quit.store(true); }
void install_quit_handler() {
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
#endif

class server;

using steady = std::chrono::steady_clock;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch())
      .count();
}

// One TCP connection. At most one operation is in flight at a time (read,
// then write it all back, then read again), so the buffer is the only
// memory a peer can make us hold, and the callbacks of one connection never
// run concurrently even with many threads in run().
struct connection {
  connection(server& owner, pocore::socket accepted) : srv(owner), sock(std::move(accepted)) {}
  server& srv;
  pocore::socket sock;
  pocore::operation recv_op{&on_recv, this};
  pocore::operation send_op{&on_send, this};
  // When the connection last made progress (a read or a whole write done),
  // for the idle timeout. Written by its callbacks, read by the sweep.
  std::atomic<std::int64_t> last_active{now_ms()};
  char buf[16 * 1024];

  void start_recv() { sock.async_recv(recv_op, pocore::make_buffer(buf, sizeof buf)); }
  static void on_recv(pocore::operation& op);
  static void on_send(pocore::operation& op);
};

class server {
 public:
  server(pocore::io_port& port, std::chrono::milliseconds idle_timeout)
      : port_(port), acceptor_(port), udp_(port), tick_(port), idle_timeout_(idle_timeout) {}

  std::error_code listen(const pocore::endpoint& ep, bool udp) {
    if (auto ec = acceptor_.open(ep.family(), pocore::socket_type::stream)) return ec;
#if !defined(_WIN32)
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    // (Windows listeners get SO_EXCLUSIVEADDRUSE from pocore instead.)
    acceptor_.set_option(pocore::socket_option::reuse_address, 1);
#endif
    if (auto ec = acceptor_.bind(ep)) return ec;
    if (auto ec = acceptor_.listen()) return ec;
    std::error_code ec;
    local_ = acceptor_.local_endpoint(ec);
    if (ec) return ec;
    if (udp) {
      // The datagram socket takes the same port number as the listener.
      if ((ec = udp_.open(ep.family(), pocore::socket_type::datagram))) return ec;
      if ((ec = udp_.bind(local_))) return ec;
      start_udp_recv();
    }
    acceptor_.async_accept(accept_op_);
    tick_.async_wait_for(tick_op_, std::chrono::milliseconds(50));
    return {};
  }
  const pocore::endpoint& local() const { return local_; }

  // Called once every run() thread has returned: nothing runs concurrently
  // any more. Closing aborts every pending operation; the final run()
  // delivers those callbacks, which free the connections.
  void shut_down() {
    closing_ = true;
    tick_.cancel();
    acceptor_.close();
    udp_.close();
    {
      std::lock_guard lock(mutex_);
      for (connection* c : conns_) c->sock.close();
    }
    port_.restart();
    port_.run();
  }

  void finish(connection* c) {
    {
      std::lock_guard lock(mutex_);
      conns_.erase(c);
    }
    c->sock.close();
    delete c;
  }

 private:
  static void on_accept(pocore::operation& base) {
    auto& op = static_cast<pocore::accept_operation&>(base);
    auto* self = static_cast<server*>(op.context);
    if (op.error == pocore::errc::operation_aborted || op.error == pocore::errc::bad_descriptor)
      return;                                        // the listener was closed: stop accepting
    if (self->closing_) return op.accepted.close();  // accepted just before the stop
    if (!op.error) {
      auto* c = new connection(*self, std::move(op.accepted));
      {
        std::lock_guard lock(self->mutex_);
        self->conns_.insert(c);
      }
      c->sock.set_option(pocore::socket_option::no_delay, 1);
      c->start_recv();
    }
    // A failed accept (the peer gave up, out of descriptors) affects only
    // that one connection; keep accepting.
    self->acceptor_.async_accept(op);
  }

  void start_udp_recv() {
    udp_.async_recv_from(udp_op_, pocore::make_buffer(dgram_, sizeof dgram_));
  }
  static void on_datagram(pocore::operation& base) {
    auto& op = static_cast<pocore::datagram_operation&>(base);
    auto* self = static_cast<server*>(op.context);
    if (op.error == pocore::errc::operation_aborted || op.error == pocore::errc::bad_descriptor)
      return;
    if (op.error) {  // e.g. message_size: a datagram larger than 64 KiB is dropped
      self->start_udp_recv();
      return;
    }
    // Reuse the record: op.peer already names the sender, the destination.
    op.on_complete = &on_datagram_sent;
    self->udp_.async_send_to(op, pocore::make_buffer(self->dgram_, op.bytes));
  }
  static void on_datagram_sent(pocore::operation& base) {
    auto* self = static_cast<server*>(base.context);
    if (base.error == pocore::errc::operation_aborted || base.error == pocore::errc::bad_descriptor)
      return;
    base.on_complete = &on_datagram;
    self->start_udp_recv();
  }

  static void on_tick(pocore::operation& op) {
    auto* self = static_cast<server*>(op.context);
    if (op.error) return;  // cancelled by shut_down()
    if (g_quit.load()) {
      self->port_.stop();  // every run() returns; main() then shuts down
      return;
    }
    self->sweep_idle();
    self->tick_.async_wait_for(op, std::chrono::milliseconds(50));
  }

  // Cancels the pending operation of each connection idle for longer than
  // the timeout; its callback then sees operation_aborted and frees it.
  // cancel() (unlike close()) may race with the connection's own callbacks
  // on other threads, and a connection still in conns_ is not yet freed:
  // finish() erases it under the same lock before deleting it. One that is
  // inside a callback right now is caught by the next sweep.
  void sweep_idle() {
    if (idle_timeout_.count() <= 0) return;
    const std::int64_t cutoff = now_ms() - idle_timeout_.count();
    std::lock_guard lock(mutex_);
    for (connection* c : conns_)
      if (c->last_active.load(std::memory_order_relaxed) < cutoff) c->sock.cancel();
  }

  pocore::io_port& port_;
  pocore::socket acceptor_;
  pocore::socket udp_;
  pocore::timer tick_;
  pocore::endpoint local_;
  pocore::accept_operation accept_op_{&on_accept, this};
  pocore::datagram_operation udp_op_{&on_datagram, this};
  pocore::operation tick_op_{&on_tick, this};
  std::chrono::milliseconds idle_timeout_;
  char dgram_[64 * 1024];
  std::mutex mutex_;
  std::set<connection*> conns_;
  bool closing_ = false;  // written and read only once run() threads are gone
};

void connection::on_recv(pocore::operation& op) {
  auto* c = static_cast<connection*>(op.context);
  if (op.error) return c->srv.finish(c);  // reset, aborted or idle: only this one
  if (op.bytes == 0) {
    // The peer half-closed and everything it sent has been echoed (we read
    // only after the previous write finished): close our side too.
    c->sock.shutdown(pocore::shutdown_how::send);
    return c->srv.finish(c);
  }
  c->last_active.store(now_ms(), std::memory_order_relaxed);
  // No read is pending while the echo is written: a peer that does not
  // read holds at most this one buffer of ours.
  c->sock.async_send(c->send_op, pocore::make_buffer(c->buf, op.bytes));
}

void connection::on_send(pocore::operation& op) {
  auto* c = static_cast<connection*>(op.context);
  if (op.error) return c->srv.finish(c);
  c->last_active.store(now_ms(), std::memory_order_relaxed);
  c->start_recv();  // the whole chunk went out: now read more
}

int usage(const char* msg) {
  std::fprintf(stderr,
               "%s\nusage: pocore-echo-server [--host ADDR] [--port N] [--threads N] "
               "[--backend NAME] [--udp] [--idle-timeout-ms N]\n",
               msg);
  return 2;
}

bool parse_uint(std::string_view s, unsigned long max, unsigned long& out) {
  if (s.empty() || s.size() > 9) return false;
  out = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    out = out * 10 + static_cast<unsigned long>(ch - '0');
  }
  return out <= max;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", backend;
  unsigned long port_number = 0, threads = 1, idle_ms = 60000;
  bool udp = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--udp") {
      udp = true;
    } else if (a == "--host" && has_value) {
      host = argv[++i];
    } else if (a == "--port" && has_value) {
      if (!parse_uint(argv[++i], 65535, port_number)) return usage("bad --port");
    } else if (a == "--threads" && has_value) {
      if (!parse_uint(argv[++i], 256, threads) || threads == 0) return usage("bad --threads");
    } else if (a == "--idle-timeout-ms" && has_value) {
      if (!parse_uint(argv[++i], 86400000, idle_ms)) return usage("bad --idle-timeout-ms");
    } else if (a == "--backend" && has_value) {
      backend = argv[++i];
    } else {
      return usage(("unknown or incomplete argument: " + std::string(a)).c_str());
    }
  }

  // "::1" and "[::1]" both mean IPv6; endpoint::parse wants the port too.
  std::string text = host.find(':') != std::string::npos && host.front() != '['
                         ? "[" + host + "]:" + std::to_string(port_number)
                         : host + ":" + std::to_string(port_number);
  std::error_code ec;
  pocore::endpoint ep = pocore::endpoint::parse(text, ec);
  if (ec || ep.family() == pocore::address_family::local) return usage("bad --host");

  pocore::io_port port(pocore::port_options{backend}, ec);
  if (ec == pocore::errc::unknown_backend) return usage("unknown --backend");
  if (ec) {
    std::fprintf(stderr, "cannot make the port: %s\n", ec.message().c_str());
    return 1;
  }
  install_quit_handler();

  server srv(port, std::chrono::milliseconds(idle_ms));
  if ((ec = srv.listen(ep, udp))) {
    std::fprintf(stderr, "cannot listen on %s: %s\n", text.c_str(), ec.message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", srv.local().to_string().c_str());
  std::fflush(stdout);

  std::vector<std::thread> pool;
  for (unsigned long i = 1; i < threads; ++i) pool.emplace_back([&port] { port.run(); });
  port.run();
  for (auto& t : pool) t.join();
  srv.shut_down();
  return 0;
}
