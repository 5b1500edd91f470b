// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// bench-load: the benchmark's load client. Plain epoll (not pocore), one
// thread, so it measures every server with the same yardstick.
//
//   bench-load --port P [--connections C] [--size M] [--window W]
//              [--messages N] [--duration S] [--hold S] [--server-pid PID]
//              [--alloc-counter FILE] [--perf-ctl FIFO --perf-ack FIFO]
//
// Each of the C connections carries its own byte stream, cut into M-byte
// messages; the stream's bytes are a pseudo-random function of the
// connection and the offset, and every echoed byte is compared with what
// was sent, so a byte lost, duplicated, reordered or crossed between
// connections is an error. A connection may have up to W bytes of messages
// in flight: W = M (the default) is ping-pong (send one message, wait for
// all of its echo, send the next); W > M is streaming.
//
// Connections are opened one at a time, each exchanging one message before
// the next opens (so a server's accept backlog never overflows), then the
// measured phase runs until N messages have been echoed in all or S seconds
// have passed, whichever is first; after S seconds no new message starts and
// those in flight are waited for (at most 10 s more), so every message
// counted was echoed whole and the server's figures taken around the phase
// cover exactly those messages. It prints one line:
//   connections=64 size=64 window=64 messages=N seconds=T msgs_per_sec=..
//   mb_per_sec=.. p50_us=.. p99_us=.. errors=0
// (round-trip time: from a message being let into the window to the last
// byte of its echo arriving). Around the measured phase only, so that
// connecting is left out, it can also take the server's figures:
//   --server-pid PID     CPU time of PID (/proc/PID/stat utime+stime):
//                        server_cpu_us=..
//   --alloc-counter FILE the count libbench-count-alloc.so keeps: allocs=..
//   --perf-ctl/--perf-ack the control and ack FIFOs of a `perf stat -D -1
//                        --control fifo:CTL,ACK`: enabled for the phase
// With --hold S it does no measured phase:
// it prints `ready connections=C` once all are open and keeps them open,
// idle, for S seconds (or until killed).
// Exit status: 0 when every byte matched and no connection failed, 1 if
// not, 2 for bad arguments.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bench_args.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

// The stream of connection `id` at offset `o` is pattern[(o + id * 7919) % period];
// the array repeats its first `tail` bytes after `period` so any chunk up to
// `tail` bytes is contiguous.
constexpr std::size_t period = 1000003;
std::vector<unsigned char> pattern;
std::size_t tail = 0;

void make_pattern(std::size_t max_chunk) {
  tail = max_chunk;
  pattern.resize(period + tail);
  for (std::size_t i = 0; i < period; ++i)
    pattern[i] = static_cast<unsigned char>((i * 2654435761u) >> 13);
  for (std::size_t i = 0; i < tail; ++i) pattern[period + i] = pattern[i];
}
const unsigned char* stream_at(std::size_t id, std::uint64_t offset) {
  return pattern.data() + (offset + id * 7919) % period;
}

struct conn {
  int fd = -1;
  std::size_t id = 0;
  std::uint64_t issued = 0, sent = 0, received = 0;  // stream offsets
  bool want_out = false;
  std::vector<clock_type::time_point> issue_times;  // ring, one per message in flight
  std::size_t ring_head = 0;                        // message index of the oldest
};

struct options {
  unsigned port = 0;
  std::size_t connections = 1, size = 64, window = 0;
  std::uint64_t messages = UINT64_MAX;
  double duration = 5, hold = -1;
  std::string server_pid, alloc_counter, perf_ctl, perf_ack;
};

// utime + stime of a process in microseconds; -1 if unreadable.
double cpu_us(const std::string& pid) {
  if (pid.empty()) return -1;
  std::FILE* f = std::fopen(("/proc/" + pid + "/stat").c_str(), "r");
  if (f == nullptr) return -1;
  char line[1024];
  std::size_t n = std::fread(line, 1, sizeof line - 1, f);
  std::fclose(f);
  line[n] = '\0';
  // Fields after the command name, which ends at the last ')': state is
  // field 3, utime and stime are 14 and 15.
  const char* p = std::strrchr(line, ')');
  if (p == nullptr) return -1;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
      2)
    return -1;
  return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The allocation count libbench-count-alloc.so keeps at offset 0 of `path`.
long long alloc_count(const std::string& path) {
  if (path.empty()) return -1;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::uint64_t v = 0;
  ssize_t n = pread(fd, &v, sizeof v, 0);
  close(fd);
  return n == sizeof v ? static_cast<long long>(v) : -1;
}

// Sends `cmd` to perf's control FIFO and waits (at most 10 s) for its ack.
bool perf_command(const options& o, const char* cmd) {
  if (o.perf_ctl.empty()) return true;
  int ctl = open(o.perf_ctl.c_str(), O_WRONLY | O_CLOEXEC);
  int ack = open(o.perf_ack.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  bool ok = ctl >= 0 && ack >= 0 && write(ctl, cmd, std::strlen(cmd)) > 0;
  char buf[16];
  pollfd p{ack, POLLIN, 0};
  ok = ok && poll(&p, 1, 10000) == 1 && read(ack, buf, sizeof buf) > 0;
  if (ctl >= 0) close(ctl);
  if (ack >= 0) close(ack);
  if (!ok) std::fprintf(stderr, "bench-load: perf did not acknowledge '%s'\n", cmd);
  return ok;
}

[[noreturn]] void usage(const std::string& msg) {
  std::fprintf(stderr,
               "%s\nusage: bench-load --port P [--connections C] [--size M] [--window W] "
               "[--messages N] [--duration S] [--hold S] [--server-pid PID] "
               "[--alloc-counter FILE] [--perf-ctl FIFO --perf-ack FIFO]\n",
               msg.c_str());
  std::exit(2);
}

double parse_seconds(std::string_view s) {
  char* end = nullptr;
  std::string str(s);
  double v = std::strtod(str.c_str(), &end);
  if (end == str.c_str() || *end != '\0' || !(v >= 0) || v > 3600) usage("bad seconds: " + str);
  return v;
}

int fail(const char* what) {
  std::fprintf(stderr, "bench-load: %s: %s\n", what, std::strerror(errno));
  return -1;
}

// Blocking I/O of exactly n bytes (the warm-up message while connecting).
bool send_all(int fd, const unsigned char* p, std::size_t n) {
  while (n > 0) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}
bool recv_check(int fd, std::size_t id, std::uint64_t offset, std::size_t n) {
  unsigned char buf[4096];
  while (n > 0) {
    ssize_t k = recv(fd, buf, std::min(n, sizeof buf), 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    if (std::memcmp(buf, stream_at(id, offset), static_cast<std::size_t>(k)) != 0) return false;
    offset += static_cast<std::uint64_t>(k);
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// Opens connection `id` and exchanges its first message; -1 on failure.
int open_conn(const options& o, std::size_t id) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(o.port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{10, 0};  // bounds the blocking warm-up exchange
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return fail("connect");
  }
  if (!send_all(fd, stream_at(id, 0), o.size) || !recv_check(fd, id, 0, o.size)) {
    std::fprintf(stderr, "bench-load: connection %zu: warm-up message not echoed intact\n", id);
    close(fd);
    return -1;
  }
  return fd;
}

double percentile_us(std::vector<std::uint32_t>& v, double q) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view opt = argv[i];
    if (i + 1 >= argc) usage("missing value for " + std::string(opt));
    std::string_view val = argv[++i];
    unsigned long n = 0;
    if (opt == "--port") {
      if (!bench::parse_unsigned(val, 65535, n) || n == 0) usage("bad --port");
      o.port = static_cast<unsigned>(n);
    } else if (opt == "--connections") {
      if (!bench::parse_unsigned(val, 100000, n) || n == 0) usage("bad --connections");
      o.connections = n;
    } else if (opt == "--size") {
      if (!bench::parse_unsigned(val, 1 << 20, n) || n == 0) usage("bad --size");
      o.size = n;
    } else if (opt == "--window") {
      if (!bench::parse_unsigned(val, 16 << 20, n) || n == 0) usage("bad --window");
      o.window = n;
    } else if (opt == "--messages") {
      if (!bench::parse_unsigned(val, 999999999, n) || n == 0) usage("bad --messages");
      o.messages = n;
    } else if (opt == "--duration") {
      o.duration = parse_seconds(val);
    } else if (opt == "--hold") {
      o.hold = parse_seconds(val);
    } else if (opt == "--server-pid") {
      if (!bench::parse_unsigned(val, 999999999, n) || n == 0) usage("bad --server-pid");
      o.server_pid = val;
    } else if (opt == "--alloc-counter") {
      o.alloc_counter = val;
    } else if (opt == "--perf-ctl") {
      o.perf_ctl = val;
    } else if (opt == "--perf-ack") {
      o.perf_ack = val;
    } else {
      usage("unknown argument " + std::string(opt));
    }
  }
  if (o.port == 0) usage("--port is required");
  if (o.window == 0) o.window = o.size;
  if (o.window < o.size) usage("--window must be at least --size");
  if (o.perf_ctl.empty() != o.perf_ack.empty()) usage("--perf-ctl and --perf-ack go together");
  make_pattern(std::max<std::size_t>(o.window, 4096));

  // Room for the descriptors of the idle-connection case.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o.connections + 64) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, o.connections + 64);
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  std::vector<conn> conns(o.connections);
  const std::size_t ring = o.window / o.size + 1;
  for (std::size_t i = 0; i < conns.size(); ++i) {
    conn& c = conns[i];
    c.id = i;
    c.fd = open_conn(o, i);
    if (c.fd < 0) return 1;
    c.issued = c.sent = c.received = o.size;  // message 0 was the warm-up
    c.ring_head = 1;
    c.issue_times.resize(ring);
  }

  if (o.hold >= 0) {
    std::printf("ready connections=%zu\n", conns.size());
    std::fflush(stdout);
    auto until = clock_type::now() + std::chrono::duration<double>(o.hold);
    while (clock_type::now() < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now());
      poll(nullptr, 0, static_cast<int>(std::max<long long>(1, left.count())));
    }
    for (conn& c : conns) close(c.fd);
    return 0;
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (conn& c : conns) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) return fail("epoll_ctl"), 1;
    timeval none{0, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
  }

  std::vector<std::uint32_t> rtt_ns;
  rtt_ns.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(o.messages, 1 << 22)));
  std::uint64_t issued_total = 0, completed = 0;
  std::size_t errors = 0;
  std::vector<unsigned char> rbuf(std::max<std::size_t>(o.window, 4096));

  clock_type::time_point start, deadline, hard_deadline;  // set when the phase starts
  // Lets messages into the window (until the deadline) and writes what the
  // socket takes.
  auto pump = [&](conn& c, clock_type::time_point now) -> bool {
    while (now < deadline && issued_total < o.messages &&
           c.issued + o.size - c.received <= o.window) {
      std::size_t idx = static_cast<std::size_t>(c.issued / o.size);
      c.issue_times[idx % ring] = now;
      c.issued += o.size;
      ++issued_total;
    }
    while (c.sent < c.issued) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(c.issued - c.sent, tail));
      ssize_t k = send(c.fd, stream_at(c.id, c.sent), n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0 && errno == EAGAIN) break;
      if (k <= 0) return false;
      c.sent += static_cast<std::uint64_t>(k);
    }
    bool want = c.sent < c.issued;
    if (want != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.ptr = &c;
      epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_out = want;
    }
    return true;
  };
  auto drop = [&](conn& c, const char* why) {
    std::fprintf(stderr, "bench-load: connection %zu: %s\n", c.id, why);
    ++errors;
    issued_total -= (c.issued - c.received / o.size * o.size) / o.size;  // never to complete
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
  };

  if (!perf_command(o, "enable")) return 1;
  const double cpu_before = cpu_us(o.server_pid);
  const long long allocs_before = alloc_count(o.alloc_counter);
  start = clock_type::now();
  deadline = start + std::chrono::duration_cast<clock_type::duration>(
                         std::chrono::duration<double>(o.duration));
  hard_deadline = deadline + std::chrono::seconds(10);
  for (conn& c : conns)
    if (!pump(c, start)) drop(c, "send failed");

  epoll_event events[256];
  std::size_t open_conns = conns.size() - errors;
  auto now = start;
  while (open_conns > 0 && now < hard_deadline &&
         (completed < issued_total || (now < deadline && issued_total < o.messages))) {
    int left_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       (now < deadline ? deadline : hard_deadline) - now)
                                       .count() +
                                   1);
    int n = epoll_wait(ep, events, 256, left_ms);
    now = clock_type::now();
    if (n < 0 && errno != EINTR) return fail("epoll_wait"), 1;
    for (int i = 0; i < n; ++i) {
      conn& c = *static_cast<conn*>(events[i].data.ptr);
      if (c.fd < 0) continue;
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t k = recv(c.fd, rbuf.data(), rbuf.size(), MSG_DONTWAIT);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (k <= 0) {
          drop(c, k == 0 ? "server closed the connection" : std::strerror(errno));
          --open_conns;
          continue;
        }
        auto got = static_cast<std::uint64_t>(k);
        if (c.received + got > c.sent || std::memcmp(rbuf.data(), stream_at(c.id, c.received),
                                                     static_cast<std::size_t>(k)) != 0) {
          drop(c, "echoed bytes differ from those sent");
          --open_conns;
          continue;
        }
        std::uint64_t before = c.received / o.size;
        c.received += got;
        for (std::uint64_t m = before; m < c.received / o.size; ++m) {
          auto rtt = std::chrono::duration_cast<std::chrono::nanoseconds>(
              now - c.issue_times[static_cast<std::size_t>(m % ring)]);
          if (rtt_ns.size() < (1u << 24))
            rtt_ns.push_back(
                static_cast<std::uint32_t>(std::min<long long>(rtt.count(), UINT32_MAX)));
          ++completed;
        }
      }
      if (c.fd >= 0 && !pump(c, now)) {
        drop(c, "send failed");
        --open_conns;
      }
    }
  }
  const double cpu_after = cpu_us(o.server_pid);
  const long long allocs_after = alloc_count(o.alloc_counter);
  if (!perf_command(o, "disable")) return 1;
  double secs = std::chrono::duration<double>(now - start).count();
  if (secs <= 0) secs = 1e-9;
  double p50 = percentile_us(rtt_ns, 0.50), p99 = percentile_us(rtt_ns, 0.99);
  std::printf(
      "connections=%zu size=%zu window=%zu messages=%llu seconds=%.3f msgs_per_sec=%.0f "
      "mb_per_sec=%.2f p50_us=%.1f p99_us=%.1f errors=%zu",
      o.connections, o.size, o.window, static_cast<unsigned long long>(completed), secs,
      static_cast<double>(completed) / secs,
      static_cast<double>(completed) * static_cast<double>(o.size) / secs / 1e6, p50, p99, errors);
  if (cpu_before >= 0 && cpu_after >= 0) std::printf(" server_cpu_us=%.0f", cpu_after - cpu_before);
  if (allocs_before >= 0 && allocs_after >= 0)
    std::printf(" allocs=%lld", allocs_after - allocs_before);
  std::printf("\n");
  std::fflush(stdout);
  for (conn& c : conns)
    if (c.fd >= 0) close(c.fd);
  return errors == 0 && completed > 0 ? 0 : 1;
}
