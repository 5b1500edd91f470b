// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The one command line every benchmark echo server takes, so ci/bench.sh
// starts them all the same way:
//
//   SERVER [--port N] [--threads N] [--exit-after N] [--backend NAME]
//          [--api records|lambda]
//
// --port 0 (the default) binds an ephemeral port. When ready a server
// prints one line, `listening on 127.0.0.1:PORT`, and flushes it. Servers
// run until killed (SIGTERM/SIGINT, default action: they keep no state
// worth saving), or with --exit-after N until N connections have ended,
// when they exit(0) from inside the event loop. That is how ci/bench.sh
// ends a server under valgrind: valgrind 3.19 does not deliver a signal to
// a thread waiting in io_uring_enter, so a killed io_uring server would
// never write its counts. Every server listens on 127.0.0.1 only.

#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace bench {

// Every server reads into a buffer of this size per connection, so memory
// per idle connection compares like with like.
inline constexpr std::size_t buffer_size = 16 * 1024;

struct server_args {
  unsigned port = 0;
  unsigned threads = 1;
  unsigned long exit_after = 0;  // 0: run until killed
  std::string backend;           // pocore only: "" (POCORE_BACKEND/default), epoll, io_uring
  std::string api = "records";   // pocore only: records or lambda
};

// Connections still to end before the server exits (--exit-after); 0: never.
inline std::atomic<unsigned long> connections_to_exit{0};

// Every server calls this when a connection ends (end of stream or error).
inline void connection_ended() {
  unsigned long left = connections_to_exit.load(std::memory_order_relaxed);
  while (left != 0) {
    if (connections_to_exit.compare_exchange_weak(left, left - 1)) {
      if (left == 1) {
        std::fflush(nullptr);
        std::_Exit(0);
      }
      return;
    }
  }
}

inline bool parse_unsigned(std::string_view s, unsigned long max, unsigned long& out) {
  if (s.empty() || s.size() > 9) return false;
  out = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    out = out * 10 + static_cast<unsigned long>(ch - '0');
  }
  return out <= max;
}

// Parses argv; on a bad argument prints usage and exits 2. `takes` lists
// the options this server knows beyond --port and --threads.
inline server_args parse_server_args(int argc, char** argv, bool takes_backend, bool takes_api) {
  server_args a;
  auto usage = [&](const std::string& msg) {
    std::fprintf(stderr, "%s\nusage: %s [--port N] [--threads N] [--exit-after N]%s%s\n",
                 msg.c_str(), argv[0], takes_backend ? " [--backend NAME]" : "",
                 takes_api ? " [--api records|lambda]" : "");
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view opt = argv[i];
    if (i + 1 >= argc) usage("missing value for " + std::string(opt));
    std::string_view val = argv[++i];
    unsigned long n = 0;
    if (opt == "--port") {
      if (!parse_unsigned(val, 65535, n)) usage("bad --port");
      a.port = static_cast<unsigned>(n);
    } else if (opt == "--threads") {
      if (!parse_unsigned(val, 64, n) || n == 0) usage("bad --threads");
      a.threads = static_cast<unsigned>(n);
    } else if (opt == "--exit-after") {
      if (!parse_unsigned(val, 999999999, n) || n == 0) usage("bad --exit-after");
      a.exit_after = n;
    } else if (opt == "--backend" && takes_backend) {
      a.backend = val;
    } else if (opt == "--api" && takes_api) {
      if (val != "records" && val != "lambda") usage("bad --api");
      a.api = val;
    } else {
      usage("unknown argument " + std::string(opt));
    }
  }
  connections_to_exit.store(a.exit_after);
  return a;
}

inline void print_listening(unsigned port) {
  std::printf("listening on 127.0.0.1:%u\n", port);
  std::fflush(stdout);
}

}  // namespace bench
