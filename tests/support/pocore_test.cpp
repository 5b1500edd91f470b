// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0

#include "pocore_test.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#if defined(_WIN32)
#include <windows.h>
#else
#include <fcntl.h>
#if defined(__linux__)
#include <dirent.h>
#endif
#endif

namespace pocore_test {

namespace {
thread_local bool t_submitting = false;
}  // namespace

void set_submitting(bool on) noexcept { t_submitting = on; }
bool submitting() noexcept { return t_submitting; }

std::atomic<int> g_inline_calls{0};

bool on_wine() noexcept {
#if defined(_WIN32)
  // Wine's ntdll exports wine_get_version; Windows' does not.
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
#else
  return false;
#endif
}

// ThreadSanitizer slows every memory access several times over: a 64 MiB
// echo (interop) took more than 15 s under it on a loaded 2-core machine
// while still moving data.
#if defined(__SANITIZE_THREAD__)
#define POCORE_TEST_SLOW_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POCORE_TEST_SLOW_RUNTIME 1
#endif
#endif

std::chrono::milliseconds wait_budget() noexcept {
#if defined(POCORE_TEST_SLOW_RUNTIME)
  return 45s;
#else
  return on_wine() ? 30s : 15s;
#endif
}

namespace {

int count_dir_entries(const char* path) noexcept {
#if defined(__linux__)
  DIR* d = opendir(path);
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
#else
  (void)path;
  return -1;
#endif
}

}  // namespace

int open_fd_count() noexcept {
  const int n = count_dir_entries("/proc/self/fd");
  return n < 0 ? n : n - 1;  // minus the directory stream's own descriptor
}

int thread_count() noexcept { return count_dir_entries("/proc/self/task"); }

bool handle_not_inherited(pocore::native_handle_type h) noexcept {
#if defined(_WIN32)
  DWORD flags = 0;
  if (!GetHandleInformation(reinterpret_cast<HANDLE>(h), &flags)) return false;
  return (flags & HANDLE_FLAG_INHERIT) == 0;
#else
  const int flags = fcntl(h, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
#endif
}

bool drain(pocore::io_port& port, std::chrono::milliseconds budget) {
  return run_until(
      port, [&] { return port.outstanding() == 0; }, budget);
}

void fill_pattern(std::span<std::uint8_t> out, std::uint64_t offset, std::uint32_t seed) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = pattern_byte(offset + i, seed);
}

std::size_t check_pattern(std::span<const std::uint8_t> in, std::uint64_t offset,
                          std::uint32_t seed) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != pattern_byte(offset + i, seed)) return i;
  }
  return in.size();
}

pocore::socket make_listener(pocore::io_port& port, const pocore::endpoint& bind_ep,
                             pocore::endpoint& bound) {
  pocore::socket l(port);
  std::error_code ec = l.open(bind_ep.family(), pocore::socket_type::stream);
  EXPECT_FALSE(ec) << "open listener: " << ec.message();
  if (ec) return l;
  ec = l.bind(bind_ep);
  EXPECT_FALSE(ec) << "bind " << bind_ep.to_string() << ": " << ec.message();
  ec = l.listen();
  EXPECT_FALSE(ec) << "listen: " << ec.message();
  bound = l.local_endpoint(ec);
  EXPECT_FALSE(ec) << "local_endpoint: " << ec.message();
  EXPECT_NE(bound.port(), 0);
  return l;
}

stream_pair make_tcp_pair(pocore::io_port& port, pocore::address_family family) {
  const pocore::endpoint any = family == pocore::address_family::ipv6
                                   ? pocore::endpoint::loopback_v6()
                                   : pocore::endpoint::loopback_v4();
  stream_pair p{pocore::socket(port), pocore::socket(port)};
  pocore::endpoint at;
  pocore::socket l = make_listener(port, any, at);
  if (!l.is_open()) return p;
  std::error_code ec = p.client.open(family, pocore::socket_type::stream);
  EXPECT_FALSE(ec) << ec.message();
  accept_rec a;
  op_rec c;
  l.async_accept(a);
  p.client.async_connect(c, at);
  const bool done = run_until(port, [&] { return a.calls == 1 && c.calls == 1; });
  EXPECT_TRUE(done) << "accept/connect did not complete";
  EXPECT_FALSE(a.error) << "accept: " << a.error.message();
  EXPECT_FALSE(c.error) << "connect: " << c.error.message();
  if (!done) {
    l.close();
    p.client.close();
    drain(port);
    return p;
  }
  p.server = std::move(a.accepted);
  l.close();
  return p;
}

pocore::socket make_udp(pocore::io_port& port, pocore::address_family family,
                        pocore::endpoint& bound) {
  pocore::socket s(port);
  std::error_code ec = s.open(family, pocore::socket_type::datagram);
  EXPECT_FALSE(ec) << "open udp: " << ec.message();
  if (ec) return s;
  ec = s.bind(family == pocore::address_family::ipv6 ? pocore::endpoint::loopback_v6()
                                                     : pocore::endpoint::loopback_v4());
  EXPECT_FALSE(ec) << "bind udp: " << ec.message();
  bound = s.local_endpoint(ec);
  EXPECT_FALSE(ec) << ec.message();
  return s;
}

refused_target refused_endpoint(pocore::io_port& port, pocore::address_family family) {
  refused_target t{pocore::socket(port), {}};
  const pocore::endpoint loopback = family == pocore::address_family::ipv6
                                        ? pocore::endpoint::loopback_v6()
                                        : pocore::endpoint::loopback_v4();
  std::error_code ec = t.holder.open(family, pocore::socket_type::stream);
  EXPECT_FALSE(ec) << "open: " << ec.message();
  if (!ec) ec = t.holder.bind(loopback);
  EXPECT_FALSE(ec) << "bind " << loopback.to_string() << ": " << ec.message();
  if (!ec) t.at = t.holder.local_endpoint(ec);
  EXPECT_FALSE(ec) << "local_endpoint: " << ec.message();
  EXPECT_NE(t.at.port(), 0);
  return t;
}

std::size_t recv_exact(pocore::io_port& port, pocore::socket& s, void* data, std::size_t n,
                       std::error_code& ec) {
  ec.clear();
  auto* p = static_cast<std::uint8_t*>(data);
  std::size_t got = 0;
  while (got < n) {
    op_rec r;
    s.async_recv(r, pocore::buffer{p + got, n - got});
    if (!run_until(port, [&] { return r.calls == 1; })) {
      ADD_FAILURE() << "recv_exact: recv did not complete after " << got << " of " << n;
      s.cancel(r);
      drain(port);
      ec = pocore::errc::timed_out;
      return got;
    }
    if (r.error) {
      ec = r.error;
      return got + r.bytes;
    }
    if (r.bytes == 0) return got;  // end of stream
    got += r.bytes;
  }
  return got;
}

std::size_t send_all(pocore::io_port& port, pocore::socket& s, const void* data, std::size_t n,
                     std::error_code& ec) {
  op_rec r;
  s.async_send(r, pocore::const_buffer{data, n});
  if (!run_until(port, [&] { return r.calls == 1; })) {
    ADD_FAILURE() << "send_all: send did not complete";
    s.cancel(r);
    drain(port);
  }
  ec = r.error;
  return r.bytes;
}

std::size_t recv_to_eof(pocore::io_port& port, pocore::socket& s, std::vector<std::uint8_t>* out,
                        std::error_code& ec) {
  ec.clear();
  std::vector<std::uint8_t> chunk(64 * 1024);
  std::size_t total = 0;
  for (;;) {
    op_rec r;
    s.async_recv(r, pocore::buffer{chunk.data(), chunk.size()});
    if (!run_until(port, [&] { return r.calls == 1; })) {
      ADD_FAILURE() << "recv_to_eof: recv did not complete after " << total << " bytes";
      s.cancel(r);
      drain(port);
      ec = pocore::errc::timed_out;
      return total;
    }
    if (r.error) {
      ec = r.error;
      return total;
    }
    if (r.bytes == 0) return total;
    if (out != nullptr) out->insert(out->end(), chunk.begin(), chunk.begin() + r.bytes);
    total += r.bytes;
  }
}

run_threads::run_threads(pocore::io_port& port, int n) : port_(port) {
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { ran_ += port_.run(); });
}

run_threads::~run_threads() {
  bool any = false;
  for (auto& t : threads_) any = any || t.joinable();
  if (any) port_.stop();
  join();
}

std::size_t run_threads::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  return ran_.load();
}

}  // namespace pocore_test

void conformance::SetUp() {
  pocore_test::g_inline_calls = 0;
  fds_at_start_ = pocore_test::open_fd_count();
  threads_at_start_ = pocore_test::thread_count();
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer starts a background thread of its own when the process
  // makes its first thread, and keeps it; that is not a thread pocore left.
  threads_at_start_ = -1;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  threads_at_start_ = -1;  // as above, for clang
#endif
#endif
  std::error_code ec;
  port_ = std::make_unique<pocore::io_port>(pocore::port_options{}, ec);
  if (ec == pocore::errc::backend_unavailable) {
    // Compiled in but refused by this machine: io_uring's trial ring fails
    // where the kernel, a container or a seccomp profile forbids
    // io_uring_setup. That is a fact about the machine, not the backend.
    GTEST_SKIP() << "backend '"
                 << (std::getenv("POCORE_BACKEND") ? std::getenv("POCORE_BACKEND") : "")
                 << "' cannot run on this machine: " << ec.message();
  }
  ASSERT_FALSE(ec) << "cannot make the port: " << ec.message();
  ASSERT_TRUE(port_->valid());
  // The suite must test the backend CTest asked for, never a fallback.
  if (const char* want = std::getenv("POCORE_BACKEND"); want != nullptr && *want != '\0') {
    ASSERT_EQ(port_->name(), std::string_view(want));
  }
  // The deterministic backend's order is a function of its seed: say which.
  if (pocore::deterministic_stats st; pocore::get_deterministic_stats(*port_, st)) {
    std::printf("[ pocore   ] deterministic seed %llu (replay: POCORE_SEED=%llu)\n",
                static_cast<unsigned long long>(st.seed), static_cast<unsigned long long>(st.seed));
  }
}

void conformance::TearDown() {
  if (!port_ || !port_->valid()) return;
  EXPECT_EQ(pocore_test::g_inline_calls.load(), 0) << "a callback ran inside its submit call";
  const std::size_t owed = port_->outstanding();
  EXPECT_EQ(owed, 0u) << "callbacks still owed at the end of the case";
  EXPECT_EQ(port_->open_sockets(), 0u) << "sockets still open at the end of the case";
  if (owed != 0) {
    // Records the case owned are gone; running or destroying the port could
    // touch them. Leak it: the process ends with this case.
    (void)port_.release();
    return;
  }
  port_.reset();
  if (fds_at_start_ >= 0) {
    EXPECT_EQ(pocore_test::open_fd_count(), fds_at_start_) << "descriptors leaked by the case";
  }
  if (threads_at_start_ >= 0) {
    // A joined thread can linger in /proc/self/task for a moment while the
    // kernel finishes its exit, so allow it a bounded time to go.
    const auto give_up = pocore_test::clock::now() + std::chrono::seconds(2);
    while (pocore_test::thread_count() > threads_at_start_ && pocore_test::clock::now() < give_up) {
      std::this_thread::yield();
    }
    EXPECT_EQ(pocore_test::thread_count(), threads_at_start_) << "threads left behind by the case";
  }
}
