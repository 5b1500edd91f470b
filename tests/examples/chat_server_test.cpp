// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Drives a running pocore-chat-server (started by example_test.sh with
// --max-backlog 524288) from outside, as its users would:
//  - four clients each send 600 lines; each of the others receives every
//    one of them exactly once and in the order it was sent, and never its
//    own;
//  - a fifth client leaves abruptly (reset) in the middle of the traffic
//    and the others do not notice;
//  - a sixth client never reads: the server disconnects it once its
//    backlog passes the limit, and the others still get everything.
//
//   chat_server_test ADDR:PORT

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <pocore/pocore.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr int talkers = 4;
constexpr int lines_each = 600;
const std::string padding(900, 'x');  // ~1 KB lines: ~2.2 MB to the silent client

int g_failures = 0;
void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", what);
  std::fflush(stdout);
  if (!ok) ++g_failures;
}

// A blocking line reader over a pocore socket (synchronous calls).
struct line_client {
  explicit line_client(pocore::io_port& port) : sock(port) {}
  pocore::socket sock;
  std::string pending;

  bool connect(const pocore::endpoint& ep, int rcvbuf = 0) {
    if (sock.open(ep.family(), pocore::socket_type::stream)) return false;
    if (rcvbuf > 0) sock.set_option(pocore::socket_option::receive_buffer_size, rcvbuf);
    return !sock.connect(ep);
  }
  bool send_line(const std::string& line) {
    std::string s = line + "\n";
    std::error_code ec;
    for (std::size_t off = 0; off < s.size();) {
      off += sock.send(pocore::make_buffer(s.data() + off, s.size() - off), ec);
      if (ec) return false;
    }
    return true;
  }
  // One line without its '\n'; false at end of stream or on error.
  bool read_line(std::string& line) {
    for (;;) {
      auto nl = pending.find('\n');
      if (nl != std::string::npos) {
        line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        return true;
      }
      char buf[8192];
      std::error_code ec;
      std::size_t n = sock.recv(pocore::make_buffer(buf, sizeof buf), ec);
      if (ec || n == 0) return false;
      pending.append(buf, n);
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: chat_server_test ADDR:PORT\n"), 2;
  std::error_code ec;
  const pocore::endpoint ep = pocore::endpoint::parse(argv[1], ec);
  if (ec) return std::fprintf(stderr, "bad endpoint %s\n", argv[1]), 2;
  // Every wait below is a blocking read; a hang fails here, not at ctest's timeout.
  std::thread([] {
    std::this_thread::sleep_for(150s);
    std::fprintf(stderr, "watchdog: giving up\n");
    std::_Exit(3);
  }).detach();

  pocore::io_port port;  // only for the sockets' synchronous calls
  std::vector<line_client> c;
  c.reserve(talkers + 2);
  for (int i = 0; i < talkers + 2; ++i) c.emplace_back(port);
  const int leaver = talkers, silent = talkers + 1;
  bool connected = true;
  for (int i = 0; i < talkers + 2; ++i) connected &= c[i].connect(ep, i == silent ? 4096 : 0);
  check(connected, "six clients connect");
  if (!connected) return 1;

  // Join barrier: a client is in the room once the server accepted it,
  // which its connect() does not wait for. Client 0 says "sync N" until
  // each reader has seen one, then "go"; readers skip up to "go".
  std::atomic<int> synced{0};
  std::vector<std::thread> readers;
  for (int i = 1; i <= leaver; ++i)
    readers.emplace_back([&, i] {
      std::string l;
      bool seen = false;
      while (c[i].read_line(l) && l != "go")
        if (!seen && l.rfind("sync", 0) == 0) seen = true, ++synced;
    });
  bool all_synced = false;
  for (int n = 0; n < 600 && !all_synced; ++n) {  // bounded: 600 x 50 ms
    c[0].send_line("sync " + std::to_string(n));
    std::this_thread::sleep_for(50ms);  // pacing of the retries only
    all_synced = synced.load() == leaver;
  }
  c[0].send_line("go");
  for (auto& t : readers) t.join();
  readers.clear();
  check(all_synced, "every client joined the room");
  // The silent client gets the sync lines too; they count as backlog only.

  // Traffic: each talker sends its lines while reading everyone else's,
  // in rounds of `round` lines: a talker starts the next round once every
  // talker has received the last one. That keeps what the server holds for
  // a reading client far below the backlog limit however slowly this
  // (loaded) host schedules the readers, while the silent client's backlog
  // grows round after round until it passes the limit.
  constexpr int round = 50;
  std::vector<std::map<int, int>> next_seq(talkers);  // [reader][sender] -> next expected
  std::vector<int> errors(talkers, 0), own(talkers, 0), got_by(talkers, 0);
  std::mutex m;
  std::condition_variable progress;
  std::vector<std::thread> ts;
  for (int i = 0; i < talkers; ++i) {
    ts.emplace_back([&, i] {
      for (int s = 0; s < lines_each; ++s) {
        if (s > 0 && s % round == 0) {
          std::unique_lock lock(m);
          const int want = s * (talkers - 1);  // every earlier round, from each other talker
          if (!progress.wait_for(lock, 60s, [&] {
                return std::all_of(got_by.begin(), got_by.end(), [&](int g) { return g >= want; });
              }))
            return;
        }
        if (!c[i].send_line(std::to_string(i) + " " + std::to_string(s) + " " + padding)) return;
      }
    });
    ts.emplace_back([&, i] {
      std::string l;
      int got = 0;
      while (got < (talkers - 1) * lines_each && c[i].read_line(l)) {
        int from = -1, seq = -1;
        if (std::sscanf(l.c_str(), "%d %d", &from, &seq) != 2 || from < 0 || from >= talkers) {
          ++errors[i];
          continue;
        }
        if (from == i) {
          ++own[i];
          continue;
        }
        int& want = next_seq[i][from];
        if (seq != want) ++errors[i];  // lost, duplicated or out of order
        want = seq + 1;
        ++got;
        {
          std::lock_guard lock(m);
          got_by[i] = got;
        }
        progress.notify_all();
      }
    });
  }
  // The leaver reads a little, then resets its connection mid-broadcast.
  std::string l;
  int leaver_got = 0;
  while (leaver_got < 100 && c[leaver].read_line(l)) ++leaver_got;
  c[leaver].sock.set_option(pocore::socket_option::linger, 0);
  c[leaver].sock.close();
  for (auto& t : ts) t.join();

  bool exact = true;
  for (int i = 0; i < talkers; ++i) {
    for (int from = 0; from < talkers; ++from)
      if (from != i && next_seq[i][from] != lines_each) exact = false;
    if (errors[i] != 0) exact = false;
  }
  check(leaver_got == 100, "the leaving client got lines before it left");
  check(exact, "every line reached every other client exactly once, in order");
  check(std::all_of(own.begin(), own.end(), [](int n) { return n == 0; }),
        "no client got its own lines back");

  // The silent client was cut off: it reads what was queued, then the end
  // of the stream (or a reset), well before all 2400 lines.
  int silent_got = 0;
  while (c[silent].read_line(l)) {
    if (l.rfind("sync", 0) != 0 && l != "go") ++silent_got;
  }
  std::printf("silent client received %d of %d lines before being disconnected\n", silent_got,
              talkers * lines_each);
  check(silent_got < talkers * lines_each, "a client that never reads is disconnected");

  // And the room still works for those who stayed.
  c[0].send_line("0 after");
  bool after = c[1].read_line(l) && l == "0 after";
  check(after, "the room still relays lines afterwards");
  std::printf("%d checks failed\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
