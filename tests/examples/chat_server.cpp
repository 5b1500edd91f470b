// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// pocore-chat-server: a line-based chat room. Every line a client sends
// (up to '\n') goes to every other connected client, exactly once and in
// the order that client sent it.
//
//   pocore-chat-server [--host ADDR] [--port N] [--max-backlog BYTES] [--backend NAME]
//
// What it shows: one receive and one gather send per client, each with its
// own caller-owned record; a shared, reference-counted line handed to many
// sends without copying; and a bounded per-client backlog. A client that
// does not read keeps at most its socket's send buffer (64 KiB) plus
// --max-backlog bytes (default 1 MiB) of lines queued; past that it is
// disconnected, and the others never wait for it.
//
// One thread runs the port, so callbacks never overlap and the room needs
// no lock (see echo_server.cpp for a server run by many threads).
//
// When ready it prints one line, `listening on ADDR:PORT`, and flushes it.

#include <array>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <pocore/pocore.hpp>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t max_line = 4096;  // a longer line disconnects its sender
constexpr std::size_t max_gather = 64;  // lines handed to one send

using line_ptr = std::shared_ptr<const std::string>;
struct client;

struct room {
  std::set<client*> clients;
  std::size_t max_backlog = 1 << 20;
  void broadcast(client* from, const line_ptr& line);
};

struct client {
  client(room& r, pocore::socket s) : home(r), sock(std::move(s)) {}

  room& home;
  pocore::socket sock;
  pocore::operation recv_op{&on_recv, this};
  pocore::operation send_op{&on_send, this};
  int in_flight = 0;  // records submitted whose callbacks have not run
  bool gone = false;  // left the room; freed once in_flight is 0
  char buf[4096];
  std::string partial;  // received bytes after the last '\n'
  std::deque<line_ptr> outbox;
  std::size_t backlog = 0;                                 // bytes in outbox
  std::array<pocore::const_buffer, max_gather> sending{};  // the send in flight
  std::size_t sending_count = 0;

  void start() {
    home.clients.insert(this);
    receive();
  }
  void receive() {
    ++in_flight;
    sock.async_recv(recv_op, pocore::make_buffer(buf, sizeof buf));
  }

  // Queues a line; false if that would pass the backlog limit.
  bool deliver(const line_ptr& line) {
    if (backlog + line->size() > home.max_backlog) return false;
    outbox.push_back(line);
    backlog += line->size();
    if (sending_count == 0) flush();
    return true;
  }

  // One gather send for the first lines of the outbox. The lines stay in
  // the outbox (which owns them) until the send completes.
  void flush() {
    sending_count = 0;
    for (const line_ptr& l : outbox) {
      if (sending_count == sending.size()) break;
      sending[sending_count++] = pocore::make_buffer(l->data(), l->size());
    }
    if (sending_count == 0) return;
    ++in_flight;
    sock.async_send(send_op, std::span<const pocore::const_buffer>(sending.data(), sending_count));
  }

  // Leaves the room and closes the socket: a pending receive or send then
  // completes with operation_aborted, and the last callback frees us.
  void leave() {
    if (gone) return;
    gone = true;
    home.clients.erase(this);
    sock.close();
  }
  // Every callback ends here: frees the client after its last one.
  void done() {
    if (--in_flight == 0 && gone) delete this;
  }

  static void on_recv(pocore::operation& op) {
    auto* c = static_cast<client*>(op.context);
    if (!c->gone) {
      if (op.error || op.bytes == 0) {
        c->leave();  // reset, or the client said goodbye
      } else {
        c->partial.append(c->buf, op.bytes);
        c->split_lines();
        if (!c->gone) c->receive();
      }
    }
    c->done();
  }

  void split_lines() {
    std::size_t start = 0;
    for (std::size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1)
      home.broadcast(this, std::make_shared<const std::string>(partial, start, nl + 1 - start));
    partial.erase(0, start);
    if (partial.size() > max_line) leave();
  }

  static void on_send(pocore::operation& op) {
    auto* c = static_cast<client*>(op.context);
    if (!c->gone) {
      if (op.error) {
        c->leave();
      } else {  // every byte of the gathered lines went out
        for (std::size_t i = 0; i < c->sending_count; ++i) {
          c->backlog -= c->outbox.front()->size();
          c->outbox.pop_front();
        }
        c->flush();
      }
    }
    c->done();
  }
};

void room::broadcast(client* from, const line_ptr& line) {
  for (auto it = clients.begin(); it != clients.end();) {
    client* to = *it++;  // step first: leave() erases `to`
    if (to != from && !to->deliver(line)) {
      std::fprintf(stderr, "backlog full, disconnecting a client\n");
      to->leave();
    }
  }
}

// The listener and its one accept record, resubmitted for each client.
struct acceptor {
  room& home;
  pocore::socket listener;
  pocore::accept_operation op{&on_accept, this};

  static void on_accept(pocore::operation& base) {
    auto& op = static_cast<pocore::accept_operation&>(base);
    auto* self = static_cast<acceptor*>(op.context);
    if (op.error == pocore::errc::operation_aborted) return;  // the listener closed
    if (!op.error) {
      // A small kernel send buffer keeps a stalled client's backlog mostly
      // in the outbox, where the limit applies.
      op.accepted.set_option(pocore::socket_option::send_buffer_size, 64 * 1024);
      op.accepted.set_option(pocore::socket_option::no_delay, 1);
      (new client(self->home, std::move(op.accepted)))->start();
    }
    self->listener.async_accept(op);  // a failed accept concerns only that client
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", port_text = "0", backend;
  room home;
  for (int i = 1; i < argc; i += 2) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) a = "";
    if (a == "--host") {
      host = argv[i + 1];
    } else if (a == "--port") {
      port_text = argv[i + 1];
    } else if (a == "--backend") {
      backend = argv[i + 1];
    } else if (a == "--max-backlog") {
      home.max_backlog = std::strtoul(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: pocore-chat-server [--host ADDR] [--port N] [--max-backlog BYTES] "
                   "[--backend NAME]\n");
      return 2;
    }
  }

  std::error_code ec;
  pocore::io_port port(pocore::port_options{backend}, ec);
  if (ec) return std::fprintf(stderr, "cannot make the port: %s\n", ec.message().c_str()), 1;
  const bool v6 = host.find(':') != std::string::npos;
  pocore::endpoint ep =
      pocore::endpoint::parse((v6 ? "[" + host + "]" : host) + ":" + port_text, ec);
  if (ec) return std::fprintf(stderr, "bad --host or --port\n"), 2;

  acceptor acc{home, pocore::socket(port)};
  if ((ec = acc.listener.open(ep.family(), pocore::socket_type::stream)) ||
      (ec = acc.listener.bind(ep)) || (ec = acc.listener.listen())) {
    std::fprintf(stderr, "cannot listen on %s: %s\n", ep.to_string().c_str(), ec.message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", acc.listener.local_endpoint(ec).to_string().c_str());
  std::fflush(stdout);
  acc.listener.async_accept(acc.op);
  port.run();  // until the process is stopped
  return 0;
}
