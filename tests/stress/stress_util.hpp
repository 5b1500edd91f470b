// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// Small helpers shared by the stress and scale programs: command-line
// parsing, the process's descriptor/handle count and resident memory, and
// raising the descriptor limit. Platform code stays here so the programs
// themselves use the public API only.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#if defined(_WIN32)
#include <windows.h>
// psapi.h needs windows.h first.
#include <psapi.h>
#else
#include <sys/resource.h>
#include <unistd.h>
#endif

#include "pocore_test.hpp"

namespace pocore_stress {

/// True when this build has a sanitizer compiled in (counts are scaled
/// down under them, and RSS means nothing under ASan's quarantine).
constexpr bool sanitized() noexcept {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

/// Open descriptors (Linux), handles (Windows) or host descriptors (Wine)
/// of this process; -1 where none can be counted. Windows counts every
/// kernel handle, not only sockets, so callers compare against a baseline
/// taken after a warm-up.
inline long handle_count() noexcept {
#if defined(_WIN32)
  if (pocore_test::on_wine()) {
    // Wine 8's GetProcessHandleCount answers 0. Wine keeps a host
    // descriptor for every socket handle, so host descriptors are the
    // count to watch; but Wine opens files in the wineserver, so
    // Z:\proc\self is the wineserver's and this counts the descriptors
    // of every Wine process of the prefix (tests/stress/CMakeLists.txt:
    // such tests run alone).
    WIN32_FIND_DATAA fd;
    HANDLE h = FindFirstFileA("Z:\\proc\\self\\fd\\*", &fd);
    if (h == INVALID_HANDLE_VALUE) return -1;
    long n = 0;
    do {
      if (fd.cFileName[0] != '.') ++n;
    } while (FindNextFileA(h, &fd));
    FindClose(h);
    return n;
  }
  DWORD n = 0;
  if (!GetProcessHandleCount(GetCurrentProcess(), &n) || n == 0) return -1;
  return static_cast<long>(n);
#else
  return pocore_test::open_fd_count();
#endif
}

/// What handle_count() counts, for messages.
inline const char* handle_kind() noexcept {
#if defined(_WIN32)
  return pocore_test::on_wine() ? "Wine host descriptors" : "handles";
#else
  return "descriptors";
#endif
}

/// How far handle_count() may rise between two quiet moments without a
/// leak: 0 where it counts exactly (Linux, Windows); under Wine 32, since
/// Wine's own fd cache opens and closes host descriptors for its internal
/// objects (runs of the stress end anywhere from 12 below to a few above
/// their start). A leak of one descriptor per socket would show as
/// hundreds or thousands in these programs.
inline long handle_slack() noexcept {
#if defined(_WIN32)
  return pocore_test::on_wine() ? 32 : 0;
#else
  return 0;
#endif
}

/// True when `after` is an acceptable handle_count() for a process that
/// had `before`: equal where the count is exact (a drop would mean a
/// descriptor closed twice), within the slack under Wine, and always true
/// when nothing could be counted.
inline bool handles_ok(long before, long after) noexcept {
  if (before < 0 || after < 0) return true;
  return handle_slack() == 0 ? after == before : after <= before + handle_slack();
}

/// Resident set size in bytes; -1 if unknown.
inline long long rss_bytes() noexcept {
#if defined(_WIN32)
  PROCESS_MEMORY_COUNTERS pmc{};
  pmc.cb = sizeof pmc;
  if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc)) return -1;
  return static_cast<long long>(pmc.WorkingSetSize);
#else
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long long size = 0, resident = -1;
  const int got = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  if (got != 2) return -1;
  return resident * sysconf(_SC_PAGESIZE);
#endif
}

/// Raises the soft descriptor limit towards `want` (at most the hard
/// limit). Returns the soft limit now in force, or -1 where there is none
/// (Windows: Wine maps each handle to a host descriptor, whose limit the
/// caller's shell sets).
inline long long raise_nofile(long long want, long long* hard_out = nullptr) noexcept {
#if defined(_WIN32)
  (void)want;
  if (hard_out != nullptr) *hard_out = -1;
  return -1;
#else
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  if (hard_out != nullptr) {
    *hard_out = rl.rlim_max == RLIM_INFINITY ? (1ll << 40) : static_cast<long long>(rl.rlim_max);
  }
  rlim_t target = static_cast<rlim_t>(want);
  if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) target = rl.rlim_max;
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= target) {
    return rl.rlim_cur == RLIM_INFINITY ? (1ll << 40) : static_cast<long long>(rl.rlim_cur);
  }
  rl.rlim_cur = target;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  return static_cast<long long>(target);
#endif
}

/// `--name value` / `--name=value` parsing over argv; returns the value or
/// `def`. Exits with a message on a malformed number.
inline std::string arg_string(int argc, char** argv, std::string_view name, std::string def) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == name && i + 1 < argc) return argv[i + 1];
    if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=') {
      return std::string(a.substr(name.size() + 1));
    }
  }
  return def;
}

inline long long arg_number(int argc, char** argv, std::string_view name, long long def) {
  const std::string s = arg_string(argc, argv, name, "");
  if (s.empty()) return def;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 0);
  if (end == s.c_str() || *end != '\0' || v < 0) {
    std::fprintf(stderr, "bad value for %.*s: '%s' (want a non-negative integer)\n",
                 static_cast<int>(name.size()), name.data(), s.c_str());
    std::exit(2);
  }
  return v;
}

}  // namespace pocore_stress
