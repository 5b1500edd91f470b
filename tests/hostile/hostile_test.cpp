// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Hostile peers against pocore-echo-server (Linux). Starts the server as a
// separate process, keeps one well-behaved client (the canary) echoing and
// verifying throughout, and runs one hostile case:
//
//   resets      RST (SO_LINGER 0) at every stage: before sending, mid-request,
//               while the server is writing to a peer that does not read
//   half_close  shutdown(SHUT_WR), then read the whole echo and the FIN
//   no_read     clients that send as much as they can and never read; the
//               server's RSS must stay under a bound
//   slowloris   idle and trickling connections are closed after the idle
//               timeout, not before it; an active one survives
//   flood       2000 connects at once (the server listens with the default,
//               the system's largest backlog), each echoed; then storms of
//               connects closed or reset before the server accepts them
//
// Every case then checks that the canary was served throughout, that the
// server's descriptor count returns to its baseline once the clients are
// gone, and that SIGTERM makes it exit 0.
//
//   hostile_test --case NAME --backend NAME [--server EXE]
//
// The peers are raw POSIX sockets (not pocore), so that they can misbehave.
// Every wait is bounded; nothing sleeps to synchronise (sleeps only pace a
// slow peer on purpose).

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

const auto g_start = steady::now();
int g_failures = 0;

double elapsed() { return std::chrono::duration<double>(steady::now() - g_start).count(); }

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "  %s:%d: CHECK(%s) failed at %.2f s (errno %d: %s)\n", __FILE__, \
                   __LINE__, #cond, elapsed(), errno, std::strerror(errno));                 \
      ++g_failures;                                                                          \
      return false;                                                                          \
    }                                                                                        \
  } while (0)

__attribute__((format(printf, 1, 2))) void note(const char* fmt, ...) {
  std::printf("[%6.2f] ", elapsed());
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::printf("\n");
  std::fflush(stdout);
}

int ms_left(steady::time_point until) {
  auto d = std::chrono::duration_cast<ms>(until - steady::now()).count();
  return d < 0 ? 0 : static_cast<int>(std::min<long long>(d, 1000));
}

// ---- the server process ----
struct server_process {
  pid_t pid = -1;
  int out = -1;
  sockaddr_in addr{};

  bool start(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out = fds[0];
    if (rc != 0) return pid = -1, false;
    // One line: "listening on 127.0.0.1:PORT".
    std::string line;
    auto until = steady::now() + 20s;
    for (char ch = 0; ch != '\n';) {
      pollfd p{out, POLLIN, 0};
      if (poll(&p, 1, ms_left(until)) <= 0 && steady::now() >= until) return false;
      if (p.revents == 0) continue;
      if (read(out, &ch, 1) != 1) return false;
      if (ch != '\n') line += ch;
    }
    note("server: %s", line.c_str());
    auto colon = line.rfind(':');
    const std::string prefix = "listening on ";
    if (line.rfind(prefix, 0) != 0 || colon == std::string::npos) return false;
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(line.c_str() + colon + 1)));
    std::string host = line.substr(prefix.size(), colon - prefix.size());
    return inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1 && addr.sin_port != 0;
  }

  bool alive() const { return pid > 0 && ::kill(pid, 0) == 0; }

  int fd_count() const {
    std::string path = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(path.c_str());
    if (!d) return -1;
    int n = 0;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n;
  }
  long rss_kib() const {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    while (f >> key) {
      if (key == "VmRSS:") {
        long v = -1;
        f >> v;
        return v;
      }
      f.ignore(1 << 20, '\n');
    }
    return -1;
  }

  // Exit status, or nullopt if it did not exit in time. 128+N for signal N.
  std::optional<int> wait(ms timeout) {
    auto until = steady::now() + timeout;
    for (;;) {
      int st = 0;
      pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        pid = -1;
        close(out);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (r < 0 || steady::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(5ms);  // polling a child's exit; bounded above
    }
  }
  void kill() {
    if (pid > 0) ::kill(pid, SIGKILL), wait(5000ms);
  }
};

server_process g_server;

// For a failure report: the TCP states of the server's connections (local
// port = its port) and of their peers, from /proc/net/tcp.
void print_tcp_states(std::uint16_t port) {
  static const char* names[] = {"?",          "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
                                "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSE",
                                "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING"};
  int server_side[12] = {}, client_side[12] = {};
  std::ifstream f("/proc/net/tcp");
  std::string line;
  std::getline(f, line);
  while (std::getline(f, line)) {
    unsigned lport = 0, rport = 0, st = 0;
    if (std::sscanf(line.c_str(), " %*d: %*8x:%x %*8x:%x %x", &lport, &rport, &st) != 3 || st > 11)
      continue;
    if (lport == port) ++server_side[st];
    if (rport == port) ++client_side[st];
  }
  for (int i = 1; i < 12; ++i)
    if (server_side[i] || client_side[i])
      note("  tcp %-11s server side %d, client side %d", names[i], server_side[i], client_side[i]);
}

// Waits until `pred` holds, at most `timeout`; polls every 10 ms.
bool eventually(ms timeout, const std::function<bool()>& pred) {
  for (auto until = steady::now() + timeout;;) {
    if (pred()) return true;
    if (steady::now() >= until) return false;
    std::this_thread::sleep_for(10ms);
  }
}

// ---- raw client sockets ----
int tcp_socket(bool non_blocking) {
  return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (non_blocking ? SOCK_NONBLOCK : 0), 0);
}

int connect_blocking(const sockaddr_in& a) {
  int fd = tcp_socket(false);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closes with RST instead of FIN.
void reset_close(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

unsigned char pattern_byte(std::size_t i, unsigned seed) {
  return static_cast<unsigned char>(i * 31 + seed + i / 251);
}

// Sends `out` and reads the same number of bytes back into `in` on a
// non-blocking socket, both directions at once so that nothing deadlocks.
// Optionally shuts down the write side once everything is sent. False on
// error, EOF or timeout.
bool exchange(int fd, const std::vector<unsigned char>& out, std::vector<unsigned char>& in,
              steady::time_point until, bool shut_after = false) {
  in.assign(out.size(), 0);
  std::size_t sent = 0, got = 0;
  bool shut = false;
  while (got < out.size() || (shut_after && !shut)) {
    if (sent == out.size() && shut_after && !shut) {
      if (shutdown(fd, SHUT_WR) != 0) return false;
      shut = true;
      continue;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, ms_left(until)) < 0 && errno != EINTR) return false;
    if (steady::now() >= until && p.revents == 0) return false;
    if ((p.revents & POLLOUT) && sent < out.size()) {
      ssize_t k = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (k < 0 && errno != EAGAIN) return false;
      if (k > 0) sent += static_cast<std::size_t>(k);
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t k = recv(fd, in.data() + got, in.size() - got, 0);
      if (k == 0) return false;
      if (k < 0 && errno != EAGAIN) return false;
      if (k > 0) got += static_cast<std::size_t>(k);
    }
  }
  return in == out;
}

// Waits for the peer's FIN (or reset): true if it came before `until`.
// `reset` tells which.
bool wait_closed(int fd, steady::time_point until, bool* reset = nullptr) {
  unsigned char b[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, ms_left(until)) < 0 && errno != EINTR) return false;
    if (p.revents) {
      ssize_t k = recv(fd, b, sizeof b, 0);
      if (k == 0 || (k < 0 && errno != EAGAIN)) {
        if (reset) *reset = k < 0;
        return true;
      }
    } else if (steady::now() >= until) {
      return false;
    }
  }
}

std::vector<unsigned char> pattern(std::size_t n, unsigned seed) {
  std::vector<unsigned char> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = pattern_byte(i, seed);
  return v;
}

// ---- the canary: one well-behaved client echoing all the time ----
struct canary {
  std::atomic<bool> stop{false};
  std::atomic<long> rounds{0};
  std::atomic<long> failures{0};
  std::atomic<long> worst_ms{0};
  std::thread thread;

  void start(const sockaddr_in& a) {
    thread = std::thread([this, a] {
      int fd = connect_blocking(a);
      if (fd < 0) {
        ++failures;
        note("canary: cannot connect (errno %d)", errno);
        return;
      }
      set_nonblocking(fd);
      static const std::size_t sizes[] = {1, 100, 1500, 16384, 70000};
      std::vector<unsigned char> in;
      for (unsigned i = 0; !stop.load(); ++i) {
        auto out = pattern(sizes[i % 5], i);
        auto t0 = steady::now();
        if (!exchange(fd, out, in, t0 + 10s)) {
          ++failures;
          note("canary: round %u (%zu bytes) failed", i, out.size());
          break;
        }
        long took = std::chrono::duration_cast<ms>(steady::now() - t0).count();
        if (took > worst_ms.load()) worst_ms.store(took);
        ++rounds;
      }
      close(fd);
    });
  }
  // True once the canary has done `n` more rounds (within `timeout`).
  bool progresses(long n, ms timeout) {
    long base = rounds.load();
    return eventually(timeout, [&] { return rounds.load() >= base + n || failures.load() > 0; }) &&
           failures.load() == 0;
  }
  void finish() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

canary g_canary;

// ---- the cases ----

// RST at every stage of a transfer, several connections per stage, in
// rounds; the canary must make progress between rounds.
bool case_resets(const sockaddr_in& a) {
  long stages = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<int> fds;
    // 1. Reset right after connecting (often before the server accepted).
    for (int i = 0; i < 20; ++i) {
      int fd = connect_blocking(a);
      CHECK(fd >= 0);
      reset_close(fd);
      ++stages;
    }
    // 2. Mid-request: part of a message, then reset while the server reads
    //    or echoes it. Sizes around the server's 16 KiB buffer.
    for (std::size_t size : {1u, 16383u, 16385u, 200000u}) {
      int fd = connect_blocking(a);
      CHECK(fd >= 0);
      set_nonblocking(fd);
      auto out = pattern(size, static_cast<unsigned>(size));
      std::size_t sent = 0;
      for (auto until = steady::now() + 2s; sent < size && steady::now() < until;) {
        ssize_t k = send(fd, out.data() + sent, size - sent, MSG_NOSIGNAL);
        if (k > 0) sent += static_cast<std::size_t>(k);
        if (k < 0) {
          pollfd p{fd, POLLOUT, 0};
          poll(&p, 1, 50);
          unsigned char sink[65536];  // read some echo so the send moves on
          (void)!recv(fd, sink, sizeof sink, 0);
        }
      }
      reset_close(fd);
      ++stages;
    }
    // 3. While the server writes: the peer sends a lot and never reads, so
    //    the server's echo is stuck in a pending send; then reset.
    for (int i = 0; i < 4; ++i) {
      int fd = tcp_socket(false);
      CHECK(fd >= 0);
      int small = 4096;  // small receive window: the server's send blocks sooner
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      CHECK(connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
      set_nonblocking(fd);
      auto out = pattern(1 << 20, 7);
      std::size_t sent = 0;
      for (auto until = steady::now() + 1s; sent < out.size() && steady::now() < until;) {
        ssize_t k = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (k > 0) {
          sent += static_cast<std::size_t>(k);
          continue;
        }
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, 100) == 0) break;  // both directions are full: the server is stuck writing
      }
      CHECK(sent > 16384);
      fds.push_back(fd);
    }
    for (int fd : fds) reset_close(fd), ++stages;
    // 4. Reset from a peer that half-closed and is being echoed to.
    for (int i = 0; i < 4; ++i) {
      int fd = connect_blocking(a);
      CHECK(fd >= 0);
      auto out = pattern(100000, 9);
      CHECK(send(fd, out.data(), out.size(), MSG_NOSIGNAL) > 0);
      shutdown(fd, SHUT_WR);
      reset_close(fd);
      ++stages;
    }
    CHECK(g_canary.progresses(3, 10s));
  }
  note("resets: %ld connections reset at 4 stages", stages);
  return true;
}

// Half-closes: the whole echo and then the server's FIN must arrive.
bool case_half_close(const sockaddr_in& a) {
  int done = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t size : {0u, 1u, 16384u, 100000u, 3000000u}) {
      int fd = connect_blocking(a);
      CHECK(fd >= 0);
      set_nonblocking(fd);
      auto out = pattern(size, static_cast<unsigned>(size + round));
      std::vector<unsigned char> in;
      CHECK(exchange(fd, out, in, steady::now() + 15s, /*shut_after=*/true));
      bool reset = true;
      CHECK(wait_closed(fd, steady::now() + 5s, &reset));
      CHECK(!reset);  // a clean FIN, not a reset
      close(fd);
      ++done;
    }
    // Several at once: shut down first, read afterwards.
    std::vector<int> fds;
    for (int i = 0; i < 10; ++i) {
      int fd = connect_blocking(a);
      CHECK(fd >= 0);
      auto out = pattern(1000, static_cast<unsigned>(i));
      CHECK(send(fd, out.data(), out.size(), MSG_NOSIGNAL) == 1000);
      CHECK(shutdown(fd, SHUT_WR) == 0);
      fds.push_back(fd);
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      set_nonblocking(fds[i]);
      auto want = pattern(1000, static_cast<unsigned>(i));
      std::vector<unsigned char> in(1000);
      std::size_t got = 0;
      for (auto until = steady::now() + 5s; got < in.size();) {
        pollfd p{fds[i], POLLIN, 0};
        poll(&p, 1, ms_left(until));
        ssize_t k = recv(fds[i], in.data() + got, in.size() - got, 0);
        CHECK(k != 0);
        if (k > 0) got += static_cast<std::size_t>(k);
        CHECK(steady::now() < until || got == in.size());
      }
      CHECK(in == want);
      CHECK(wait_closed(fds[i], steady::now() + 5s));
      close(fds[i]);
      ++done;
    }
    CHECK(g_canary.progresses(3, 10s));
  }
  note("half_close: %d connections echoed after shutdown(SHUT_WR)", done);
  return true;
}

// Clients that never read. The server stops reading each one after its
// first echo stalls, so its memory must not grow with what they send.
bool case_no_read(const sockaddr_in& a) {
  const long rss0 = g_server.rss_kib();
  CHECK(rss0 > 0);
  const int n = 16;
  const std::size_t cap = 64u << 20;
  std::vector<int> fds;
  std::size_t total = 0;
  auto chunk = pattern(1 << 16, 5);
  for (int i = 0; i < n; ++i) {
    // Small buffers on our side, so the kernel holds less on our behalf and
    // the server's stall shows sooner.
    int fd = tcp_socket(false);
    CHECK(fd >= 0);
    int small = 32 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    CHECK(connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    set_nonblocking(fd);
    fds.push_back(fd);
  }
  // Push until each connection is stuck for 200 ms. What goes in beyond the
  // server's one 16 KiB buffer sits in kernel socket buffers (not in the
  // server's RSS); the cap only bounds the test if the server kept reading.
  // All at once, until none of them has moved for 300 ms.
  std::vector<std::size_t> sent(fds.size(), 0);
  bool stalled = false;
  for (auto until = steady::now() + 10s; !stalled && steady::now() < until;) {
    std::vector<pollfd> ps;
    for (int fd : fds) ps.push_back({fd, POLLOUT, 0});
    int r = poll(ps.data(), ps.size(), 300);
    CHECK(r >= 0);
    stalled = r == 0;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      if (!(ps[i].revents & POLLOUT) || sent[i] >= cap) continue;
      ssize_t k = send(fds[i], chunk.data(), chunk.size(), MSG_NOSIGNAL);
      CHECK(k > 0 || errno == EAGAIN);
      if (k > 0) sent[i] += static_cast<std::size_t>(k), total += static_cast<std::size_t>(k);
    }
  }
  CHECK(stalled);  // the server stopped reading every one of them
  CHECK(g_canary.progresses(5, 10s));
  const long rss1 = g_server.rss_kib();
  // 16 connections x 16 KiB of buffer is 256 KiB; allow 8 MiB for the rest.
  const long bound_kib = 8 * 1024;
  note(
      "no_read: %d clients pushed %zu KiB in total and never read; server RSS %ld -> %ld KiB "
      "(bound +%ld KiB)",
      n, total / 1024, rss0, rss1, bound_kib);
  CHECK(rss1 - rss0 < bound_kib);
  // Their unread echo makes close() send RST; the server must cope.
  for (int fd : fds) close(fd);
  CHECK(g_canary.progresses(3, 10s));
  return true;
}

// Idle and slow connections are closed after the idle timeout and not
// before it; an active one survives. The server runs with
// --idle-timeout-ms kIdleMs.
constexpr int kIdleMs = 1000;
bool case_slowloris(const sockaddr_in& a) {
  struct peer {
    int fd;
    steady::time_point last;  // our last byte (or connect)
    bool closed = false;
  };
  std::vector<peer> idle, trickle;
  for (int i = 0; i < 40; ++i) {
    int fd = connect_blocking(a);
    CHECK(fd >= 0);
    set_nonblocking(fd);
    idle.push_back({fd, steady::now()});
  }
  // Trickle: one byte, echoed (progress), then silence past the timeout.
  for (int i = 0; i < 10; ++i) {
    int fd = connect_blocking(a);
    CHECK(fd >= 0);
    set_nonblocking(fd);
    unsigned char b = 'x';
    CHECK(send(fd, &b, 1, MSG_NOSIGNAL) == 1);
    trickle.push_back({fd, steady::now()});
  }
  // An active slow peer: a byte every quarter of the timeout, for 3 x it.
  int active = connect_blocking(a);
  CHECK(active >= 0);
  set_nonblocking(active);

  const auto t0 = steady::now();
  double earliest = 1e9, latest = 0;
  auto check_closed = [&](std::vector<peer>& v) {
    for (auto& p : v) {
      if (p.closed) continue;
      unsigned char b[64];
      ssize_t k = recv(p.fd, b, sizeof b, 0);
      if (k == 0 || (k < 0 && errno != EAGAIN)) {
        p.closed = true;
        double after = std::chrono::duration<double>(steady::now() - p.last).count() * 1000;
        earliest = std::min(earliest, after);
        latest = std::max(latest, after);
      }
    }
  };
  int active_rounds = 0;
  while (steady::now() < t0 + 3 * ms(kIdleMs)) {
    std::vector<unsigned char> in;
    CHECK(exchange(active, {static_cast<unsigned char>(active_rounds)}, in, steady::now() + 2s));
    ++active_rounds;
    check_closed(idle);
    check_closed(trickle);
    // Pace the slow peer (a quarter of the timeout) while watching the others.
    for (auto next = steady::now() + ms(kIdleMs / 4); steady::now() < next;) {
      std::vector<pollfd> ps;
      for (auto* v : {&idle, &trickle})
        for (auto& p : *v)
          if (!p.closed) ps.push_back({p.fd, POLLIN, 0});
      if (ps.empty()) {
        std::this_thread::sleep_for(next - steady::now());  // pacing only
        break;
      }
      poll(ps.data(), ps.size(), ms_left(next));
      check_closed(idle);
      check_closed(trickle);
    }
  }
  // The active one is still served.
  std::vector<unsigned char> in;
  CHECK(exchange(active, pattern(1000, 3), in, steady::now() + 2s));
  close(active);
  // Everything else is closed by now or very soon (tick 50 ms + slack).
  CHECK(eventually(5s, [&] {
    check_closed(idle);
    check_closed(trickle);
    return std::all_of(idle.begin(), idle.end(), [](const peer& p) { return p.closed; }) &&
           std::all_of(trickle.begin(), trickle.end(), [](const peer& p) { return p.closed; });
  }));
  for (auto& p : idle) close(p.fd);
  for (auto& p : trickle) close(p.fd);
  note(
      "slowloris: 50 idle/trickling connections closed %.0f..%.0f ms after their last byte "
      "(timeout %d ms); the active one did %d rounds over %d ms",
      earliest, latest, kIdleMs, active_rounds, 3 * kIdleMs);
  CHECK(earliest >= kIdleMs * 0.95);  // not before the timeout
  CHECK(latest <= kIdleMs + 2000);    // and not much after it
  CHECK(g_canary.progresses(3, 10s));
  return true;
}

// Many connects at once, each then echoed. The server listens with pocore's
// default backlog, the system maximum (net.core.somaxconn), as a real server
// does; the flood stays within it. (Beyond it Linux drops the handshake's
// last ACK and the client's data retransmits back off exponentially: under
// ThreadSanitizer 84 of 2000 connections were still waiting after 40 s, so
// an overflow says nothing about the server and is not asserted on.)
bool case_flood(const sockaddr_in& a) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  long somaxconn = 4096;
  if (FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "r")) {
    if (std::fscanf(f, "%ld", &somaxconn) != 1) somaxconn = 128;
    std::fclose(f);
  }
  const int n = static_cast<int>(
      std::min<long>({2000, somaxconn, static_cast<long>((rl.rlim_cur - 200) / 2)}));
  CHECK(n >= 128);
  std::vector<int> fds;
  auto t0 = steady::now();
  for (int i = 0; i < n; ++i) {
    int fd = tcp_socket(true);
    CHECK(fd >= 0);
    int r = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    CHECK(r == 0 || errno == EINPROGRESS);
    fds.push_back(fd);
  }
  // Every connection is in the accept queue at once; each is echoed.
  std::vector<int> state(fds.size(), 0);  // 0 connecting, 1 sent, 2 done
  int done = 0;
  auto until = steady::now() + 40s;
  while (done < n && steady::now() < until) {
    std::vector<pollfd> ps;
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (state[i] < 2) {
        ps.push_back({fds[i], static_cast<short>(state[i] == 0 ? POLLOUT : POLLIN), 0});
        idx.push_back(i);
      }
    CHECK(poll(ps.data(), ps.size(), ms_left(until)) >= 0);
    for (std::size_t j = 0; j < ps.size(); ++j) {
      if (!ps[j].revents) continue;
      std::size_t i = idx[j];
      if (state[i] == 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
        CHECK(err == 0);
        unsigned v = static_cast<unsigned>(i);
        CHECK(send(fds[i], &v, sizeof v, MSG_NOSIGNAL) == sizeof v);
        state[i] = 1;
      } else {
        unsigned v = 0;
        CHECK(recv(fds[i], &v, sizeof v, MSG_WAITALL) == sizeof v);
        CHECK(v == i);
        state[i] = 2;
        ++done;
      }
    }
  }
  double secs = std::chrono::duration<double>(steady::now() - t0).count();
  note("flood: %d/%d simultaneous connections echoed in %.2f s; server fds %d", done, n, secs,
       g_server.fd_count());
  CHECK(done == n);
  CHECK(g_canary.progresses(3, 10s));
  for (int fd : fds) close(fd);
  // Connect-and-close storms: gone (FIN or RST) before the server accepts.
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 500; ++i) {
      int fd = tcp_socket(true);
      CHECK(fd >= 0);
      connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
      if (i % 2)
        reset_close(fd);
      else
        close(fd);
    }
    CHECK(g_canary.progresses(2, 10s));
  }
  note("flood: 2000 connect-and-close attempts");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string which, backend, server = "pocore-echo-server";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--case" && i + 1 < argc)
      which = argv[++i];
    else if (a == "--backend" && i + 1 < argc)
      backend = argv[++i];
    else if (a == "--server" && i + 1 < argc)
      server = argv[++i];
    else
      return std::fprintf(stderr,
                          "usage: hostile_test --case NAME --backend NAME [--server EXE]\n"),
             2;
  }
  if (server.find('/') == std::string::npos) {
    std::string self = argv[0];
    auto k = self.rfind('/');
    server = (k == std::string::npos ? std::string("./") : self.substr(0, k + 1)) + server;
  }
  bool (*run)(const sockaddr_in&) = nullptr;
  if (which == "resets") run = case_resets;
  if (which == "half_close") run = case_half_close;
  if (which == "no_read") run = case_no_read;
  if (which == "slowloris") run = case_slowloris;
  if (which == "flood") run = case_flood;
  if (!run) return std::fprintf(stderr, "unknown --case '%s'\n", which.c_str()), 2;

  // The flood needs descriptors on both sides; children inherit the limit.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 20000);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  // A hung case must not outlive the test (ctest would wait for it).
  std::thread([] {
    std::this_thread::sleep_for(100s);
    std::fprintf(stderr, "watchdog: giving up\n");
    ::kill(g_server.pid, SIGKILL);
    std::_Exit(3);
  }).detach();

  std::vector<std::string> args = {server, "--threads", "2", "--backend", backend};
  if (which == "slowloris") args.insert(args.end(), {"--idle-timeout-ms", std::to_string(kIdleMs)});
  // Closing while the accept queue is full leaves half-open connections:
  // the client's FIN or RST is dropped while the server's side waits in
  // SYN_RECV, which then completes, and the server holds an ESTABLISHED
  // socket whose peer is gone (seen: 9 of 2000). Only the idle timeout can
  // reclaim those, so the flood runs with a short one.
  if (which == "flood") args.insert(args.end(), {"--idle-timeout-ms", "2000"});
  if (!g_server.start(args)) {
    std::fprintf(stderr, "FAIL: the server did not start\n");
    g_server.kill();
    return 1;
  }
  const int fds0 = g_server.fd_count();
  const sockaddr_in a = g_server.addr;
  g_canary.start(a);
  bool ok = g_canary.progresses(3, 10s);
  if (!ok) std::fprintf(stderr, "FAIL: the canary is not served at the start\n");
  ok = ok && run(a);
  ok = ok && g_canary.progresses(3, 10s);
  g_canary.finish();
  bool alive = g_server.alive();
  int fds1 = -1;
  // Back to the baseline or below it: a leak shows as more descriptors than
  // at the start. (Fewer is no leak: once under ASan the server held 11 when
  // the baseline was read right after it printed its address, and 9, its
  // usual count, at the end, every connection closed.)
  bool fds_back = alive && eventually(10s, [&] { return (fds1 = g_server.fd_count()) <= fds0; });
  note("canary: %ld rounds, %ld failures, slowest %ld ms; server fds %d at start, %d at end",
       g_canary.rounds.load(), g_canary.failures.load(), g_canary.worst_ms.load(), fds0, fds1);
  if (!alive) std::fprintf(stderr, "FAIL: the server died\n");
  if (alive && !fds_back) {
    std::fprintf(stderr, "FAIL: server descriptors did not return to the baseline\n");
    print_tcp_states(ntohs(a.sin_port));
  }
  ok = ok && alive && fds_back && g_canary.failures.load() == 0;
  std::optional<int> code;
  if (alive) {
    ::kill(g_server.pid, SIGTERM);
    code = g_server.wait(15s);
  }
  note("server exit: %d", code ? *code : -1);
  if (!code || *code != 0) {
    std::fprintf(stderr, "FAIL: the server did not exit 0 on SIGTERM\n");
    ok = false;
    g_server.kill();
  }
  std::printf("%s hostile.%s.%s\n", ok ? "PASS" : "FAIL", which.c_str(), backend.c_str());
  return ok ? 0 : 1;
}
