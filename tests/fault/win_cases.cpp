// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Injected Winsock faults on the IOCP backend (MinGW build, run under
// Wine), through the import-slot seam in win_seam.cpp. A call that fails
// at once queues no completion packet; the backend must deliver the error
// through the operation's callback itself, exactly once.

#include <winsock2.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "fault_fixture.hpp"

namespace {

using namespace pocore_fault_test;

#define POCORE_FAULT_IOCP(name) TEST_F(fault, name)

std::intptr_t id(const pocore::socket& s) { return static_cast<std::intptr_t>(s.native_handle()); }

POCORE_FAULT_IOCP(wsa_recv_fails) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.server.is_open());
  pf::scoped_plan plan;
  ASSERT_TRUE(pf::arm(pf::call::wsa_recv, on_fd(id(p.server), WSAECONNRESET)));
  std::vector<std::uint8_t> buf(100);
  op_rec r1;
  submit([&] { p.server.async_recv(r1, pocore::buffer{buf.data(), buf.size()}); });
  EXPECT_TRUE(run_until(port(), [&] { return r1.calls == 1; }));
  port().poll();
  EXPECT_EQ(r1.calls, 1);
  EXPECT_EQ(r1.error, errc::connection_reset) << r1.error.message();
  EXPECT_EQ(pf::injected(pf::call::wsa_recv), 1u);
  // The next recv works and gets every byte.
  const char msg[] = "after the fault";
  std::error_code ec;
  EXPECT_EQ(send_all(port(), p.client, msg, sizeof(msg), ec), sizeof(msg));
  EXPECT_EQ(recv_exact(port(), p.server, buf.data(), sizeof(msg), ec), sizeof(msg));
  EXPECT_FALSE(ec) << ec.message();
  p.client.close();
  p.server.close();
}

POCORE_FAULT_IOCP(wsa_send_fails) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.client.is_open());
  pf::scoped_plan plan;
  ASSERT_TRUE(pf::arm(pf::call::wsa_send, on_fd(id(p.client), WSAENOBUFS)));
  std::vector<std::uint8_t> data(3000);
  fill_pattern(data, 0, 21);
  op_rec s1;
  submit([&] { p.client.async_send(s1, pocore::const_buffer{data.data(), data.size()}); });
  EXPECT_TRUE(run_until(port(), [&] { return s1.calls == 1; }));
  port().poll();
  EXPECT_EQ(s1.calls, 1);
  EXPECT_EQ(s1.error, errc::no_buffer_space) << s1.error.message();
  EXPECT_EQ(s1.bytes, 0u);
  std::error_code ec;
  EXPECT_EQ(send_all(port(), p.client, data.data(), data.size(), ec), data.size());
  std::vector<std::uint8_t> got(data.size());
  EXPECT_EQ(recv_exact(port(), p.server, got.data(), got.size(), ec), got.size());
  EXPECT_EQ(got, data) << "a failed send must not put bytes on the wire";
  p.client.close();
  p.server.close();
}

POCORE_FAULT_IOCP(wsa_socket_fails) {
  pf::scoped_plan plan;
  const struct {
    int err;
    errc want;
  } cases[] = {{WSAEMFILE, errc::too_many_files}, {WSAENOBUFS, errc::no_buffer_space}};
  for (const auto& c : cases) {
    ASSERT_TRUE(pf::arm(pf::call::wsa_socket, on_fd(-1, c.err)));
    pocore::socket s(port());
    const std::error_code ec = s.open(pocore::address_family::ipv4, pocore::socket_type::stream);
    EXPECT_EQ(ec, c.want) << "error " << c.err << ": " << ec.message();
    EXPECT_FALSE(s.is_open());
    EXPECT_EQ(port().open_sockets(), 0u);
    pf::disarm_all();
  }
  auto p = make_tcp_pair(port());
  EXPECT_TRUE(p.client.is_open());
  p.client.close();
  p.server.close();
}

POCORE_FAULT_IOCP(closesocket_fails) {
  auto p = make_tcp_pair(port());
  ASSERT_TRUE(p.server.is_open());
  const std::intptr_t h = id(p.server);
  pf::scoped_plan plan;
  // The handle is gone whatever closesocket reports; pocore must not try
  // again (the value may already name a new socket).
  pf::rule r = on_fd(h, WSAEINTR);
  r.real_first = true;
  ASSERT_TRUE(pf::arm(pf::call::closesocket, r));
  std::vector<std::uint8_t> buf(100);
  op_rec r1;
  submit([&] { p.server.async_recv(r1, pocore::buffer{buf.data(), buf.size()}); });
  const std::uint64_t before = pf::calls_on(pf::call::closesocket, h);
  p.server.close();
  EXPECT_TRUE(run_until(port(), [&] { return r1.calls == 1; }));
  port().poll();
  EXPECT_EQ(r1.calls, 1);
  EXPECT_EQ(r1.error, errc::operation_aborted) << r1.error.message();
  EXPECT_EQ(pf::injected(pf::call::closesocket), 1u);
  if (h < 8192) {
    EXPECT_EQ(pf::calls_on(pf::call::closesocket, h) - before, 1u) << "closesocket retried";
  }
  p.client.close();
}

}  // namespace
