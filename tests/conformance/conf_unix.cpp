// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Unix-domain stream sockets. Wine 8.0 has no AF_UNIX (WINE.md), so these
// skip there and run on Linux and real Windows.

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>

#include "pocore_test.hpp"

#if defined(_WIN32)
#include <process.h>
#define POCORE_TEST_GETPID _getpid
#else
#include <unistd.h>
#define POCORE_TEST_GETPID getpid
#endif

using namespace pocore_test;
using pocore::address_family;
using pocore::buffer;
using pocore::endpoint;
using pocore::errc;

namespace {

constexpr const char* no_af_unix_on_wine =
    "Wine 8.0 lacks AF_UNIX (WSAEAFNOSUPPORT); runs on real Windows";

/// A socket path unique to this process and call, removed on destruction.
struct temp_path {
  temp_path() {
    static std::atomic<int> counter{0};
    path = (std::filesystem::temp_directory_path() /
            ("pocore-" + std::to_string(POCORE_TEST_GETPID()) + "-" +
             std::to_string(counter.fetch_add(1)) + ".sock"))
               .string();
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  ~temp_path() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  std::string path;
};

}  // namespace

POCORE_CASE(unix_stream_async_roundtrip) {
  POCORE_SKIP_ON_WINE(no_af_unix_on_wine);
  temp_path tp;
  std::error_code ec;
  const endpoint ep = endpoint::local(tp.path, ec);
  ASSERT_FALSE(ec) << ec.message() << " for " << tp.path;
  pocore::socket l(port());
  ASSERT_FALSE(l.open(address_family::local, pocore::socket_type::stream));
  ASSERT_FALSE(l.bind(ep));
  ASSERT_FALSE(l.listen());
  EXPECT_EQ(l.local_endpoint(ec), ep);
  accept_rec a;
  l.async_accept(a);
  pocore::socket c(port());
  ASSERT_FALSE(c.open(address_family::local, pocore::socket_type::stream));
  op_rec cr;
  c.async_connect(cr, ep);
  ASSERT_TRUE(run_until(port(), [&] { return a.calls == 1 && cr.calls == 1; }));
  ASSERT_FALSE(a.error) << a.error.message();
  ASSERT_FALSE(cr.error) << cr.error.message();
  // The client never bound a path, so the kernel reports an unnamed peer;
  // pocore has no text for that and may give an unspecified endpoint.
  EXPECT_TRUE(a.peer.family() == address_family::local ||
              a.peer.family() == address_family::unspecified);
  EXPECT_EQ(a.accepted.family(), address_family::local);
  EXPECT_EQ(send_all(port(), c, "unix", 4, ec), 4u);
  std::array<char, 4> got{};
  EXPECT_EQ(recv_exact(port(), a.accepted, got.data(), 4, ec), 4u);
  EXPECT_EQ(std::string(got.data(), 4), "unix");
  // End of stream and close work as for TCP.
  char x = 0;
  op_rec eof;
  a.accepted.async_recv(eof, buffer{&x, 1});
  c.close();
  ASSERT_TRUE(run_until(port(), [&] { return eof.calls == 1; }));
  EXPECT_FALSE(eof.error);
  EXPECT_EQ(eof.bytes, 0u);
  a.accepted.close();
  l.close();
}

POCORE_CASE(unix_stream_sync_and_close_pending) {
  POCORE_SKIP_ON_WINE(no_af_unix_on_wine);
  temp_path tp;
  std::error_code ec;
  const endpoint ep = endpoint::local(tp.path, ec);
  ASSERT_FALSE(ec);
  pocore::socket l(port());
  ASSERT_FALSE(l.open(address_family::local, pocore::socket_type::stream));
  ASSERT_FALSE(l.bind(ep));
  ASSERT_FALSE(l.listen());
  pocore::socket c(port());
  ASSERT_FALSE(c.open(address_family::local, pocore::socket_type::stream));
  ASSERT_FALSE(c.connect(ep));
  pocore::socket s = l.accept(ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(c.send(pocore::make_buffer(std::string_view("u")), ec), 1u);
  char x = 0;
  EXPECT_EQ(s.recv(buffer{&x, 1}, ec), 1u);
  EXPECT_EQ(x, 'u');
  op_rec r;
  s.async_recv(r, buffer{&x, 1});
  s.close();
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(r.error, errc::operation_aborted);
  c.close();
  l.close();
}

POCORE_CASE(unix_bind_address_in_use) {
  POCORE_SKIP_ON_WINE(no_af_unix_on_wine);
  temp_path tp;
  std::error_code ec;
  const endpoint ep = endpoint::local(tp.path, ec);
  ASSERT_FALSE(ec);
  pocore::socket a(port());
  ASSERT_FALSE(a.open(address_family::local, pocore::socket_type::stream));
  ASSERT_FALSE(a.bind(ep));
  pocore::socket b(port());
  ASSERT_FALSE(b.open(address_family::local, pocore::socket_type::stream));
  EXPECT_EQ(b.bind(ep), errc::address_in_use);
  b.close();
  a.close();
}
