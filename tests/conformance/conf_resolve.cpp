// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Name resolution through the port: results, error codes, exactly one
// completion per submission (never inline), cancellation in flight, many
// lookups at once, and a port stopped with a lookup pending.
//
// Only names answered on this machine are used, never the network:
// "localhost" (the hosts file; asked for with both families or IPv4 only,
// since a hosts file without "::1 localhost" would send an IPv6-only
// question on to DNS), numeric addresses, and bad names that fail before
// any query: a non-numeric host with `numeric_host` (AI_NUMERICHOST makes
// no lookup by definition) and unknown service names (the services file).
// "nonexistent.invalid" (RFC 6761) is used only with `numeric_host`: a
// plain lookup of it would go to the DNS server in resolv.conf on a host
// whose resolver does not special-case ".invalid" (glibc's does not).

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::errc;

namespace {

using resolve_rec = rec<pocore::resolve_operation>;

bool is_loopback(const pocore::endpoint& ep) {
  auto a = ep.address_bytes();
  if (ep.family() == pocore::address_family::ipv4) return a[0] == 127;
  if (ep.family() == pocore::address_family::ipv6) {
    return std::all_of(a.begin(), a.end() - 1, [](std::uint8_t b) { return b == 0; }) && a[15] == 1;
  }
  return false;
}

void start(pocore::resolver& r, resolve_rec& op, std::string host, std::string service,
           pocore::resolve_hints hints = {}) {
  op.host = std::move(host);
  op.service = std::move(service);
  op.hints = hints;
  submit([&] { r.async_resolve(op); });
}

// "localhost" is answered on this machine only if the hosts file has it: a
// bare debootstrap tree has no /etc/hosts, and glibc then asks the DNS
// server of resolv.conf, off this machine. Under Wine the Linux file is the
// one that counts; Windows itself answers "localhost" without a file.
bool hosts_file_maps_localhost() {
#ifdef _WIN32
  if (!on_wine()) return true;
  std::ifstream hosts("Z:\\etc\\hosts");
#else
  std::ifstream hosts("/etc/hosts");
#endif
  std::string line;
  while (std::getline(hosts, line)) {
    std::istringstream fields(line.substr(0, line.find('#')));
    std::string addr, name;
    if (!(fields >> addr) || addr.rfind("127.", 0) != 0) continue;
    while (fields >> name) {
      if (name == "localhost") return true;
    }
  }
  return false;
}

#define POCORE_REQUIRE_LOCALHOST()                                                     \
  if (!hosts_file_maps_localhost())                                                    \
  GTEST_SKIP() << "the hosts file does not map localhost to 127.x here, so resolving " \
                  "it would query DNS off this machine"

}  // namespace

POCORE_CASE(resolve_localhost) {
  POCORE_REQUIRE_LOCALHOST();
  pocore::resolver r(port());
  resolve_rec op;
  start(r, op, "localhost", "8080");
  EXPECT_EQ(port().outstanding(), 1u) << "a pending lookup is outstanding work";
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(op.calls, 1);
  EXPECT_EQ(op.inline_calls, 0);
  ASSERT_FALSE(op.error) << op.error.message();
  ASSERT_FALSE(op.results.empty());
  EXPECT_EQ(op.bytes, op.results.size());
  for (const auto& ep : op.results) {
    EXPECT_TRUE(is_loopback(ep)) << ep.to_string();
    EXPECT_EQ(ep.port(), 8080);
  }
}

POCORE_CASE(resolve_localhost_v4_only) {
  POCORE_REQUIRE_LOCALHOST();
  pocore::resolver r(port());
  resolve_rec op;
  pocore::resolve_hints h;
  h.family = pocore::address_family::ipv4;
  start(r, op, "localhost", "7", h);
  ASSERT_TRUE(drain(port()));
  ASSERT_FALSE(op.error) << op.error.message();
  ASSERT_FALSE(op.results.empty());
  for (const auto& ep : op.results) {
    EXPECT_EQ(ep.family(), pocore::address_family::ipv4);
    EXPECT_TRUE(is_loopback(ep)) << ep.to_string();
  }
}

POCORE_CASE(resolve_numeric_v4) {
  pocore::resolver r(port());
  resolve_rec op;
  pocore::resolve_hints h;
  h.numeric_host = true;
  h.type = pocore::socket_type::datagram;
  start(r, op, "127.0.0.1", "5353", h);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(op.calls, 1);
  ASSERT_FALSE(op.error) << op.error.message();
  ASSERT_EQ(op.results.size(), 1u);
  EXPECT_EQ(op.results[0], pocore::endpoint::loopback_v4(5353));
  EXPECT_EQ(op.bytes, 1u);
}

POCORE_CASE(resolve_numeric_v6) {
  pocore::resolver r(port());
  resolve_rec op;
  pocore::resolve_hints h;
  h.numeric_host = true;
  start(r, op, "::1", "443", h);
  ASSERT_TRUE(drain(port()));
  ASSERT_FALSE(op.error) << op.error.message();
  ASSERT_EQ(op.results.size(), 1u);
  EXPECT_EQ(op.results[0], pocore::endpoint::loopback_v6(443));
}

POCORE_CASE(resolve_service_name_and_number) {
  pocore::resolver r(port());
  resolve_rec by_name, by_number, passive;
  start(r, by_name, "127.0.0.1", "http");
  start(r, by_number, "127.0.0.1", "65535");
  pocore::resolve_hints h;
  h.passive = true;
  h.family = pocore::address_family::ipv4;
  start(r, passive, "", "80", h);  // a listener's any-address
  ASSERT_TRUE(drain(port()));
  ASSERT_FALSE(by_name.error) << by_name.error.message();
  ASSERT_EQ(by_name.results.size(), 1u);
  EXPECT_EQ(by_name.results[0], pocore::endpoint::loopback_v4(80));
  ASSERT_FALSE(by_number.error) << by_number.error.message();
  ASSERT_EQ(by_number.results.size(), 1u);
  EXPECT_EQ(by_number.results[0].port(), 65535);
  ASSERT_FALSE(passive.error) << passive.error.message();
  ASSERT_EQ(passive.results.size(), 1u);
  EXPECT_EQ(passive.results[0], pocore::endpoint::ipv4({0, 0, 0, 0}, 80));
}

POCORE_CASE(resolve_bad_names_give_clear_errors) {
  pocore::resolver r(port());
  resolve_rec bad_host, bad_v4, bad_service, not_numeric_service, empty;
  pocore::resolve_hints numeric;
  numeric.numeric_host = true;
  start(r, bad_host, "nonexistent.invalid", "80", numeric);
  start(r, bad_v4, "256.1.1.1", "80", numeric);
  start(r, bad_service, "127.0.0.1", "no-such-service-pocore", numeric);
  pocore::resolve_hints numeric_service = numeric;
  numeric_service.numeric_service = true;
  start(r, not_numeric_service, "127.0.0.1", "http", numeric_service);
  start(r, empty, "", "");
  ASSERT_TRUE(drain(port()));
  for (auto* op : {&bad_host, &bad_v4, &bad_service, &not_numeric_service, &empty}) {
    EXPECT_EQ(op->calls, 1);
    EXPECT_EQ(op->inline_calls, 0);
    EXPECT_TRUE(op->results.empty());
    EXPECT_EQ(op->bytes, 0u);
  }
  EXPECT_EQ(bad_host.error, errc::host_not_found) << bad_host.error.message();
  EXPECT_EQ(bad_v4.error, errc::host_not_found) << bad_v4.error.message();
  EXPECT_EQ(bad_service.error, errc::service_not_found) << bad_service.error.message();
  EXPECT_EQ(not_numeric_service.error, errc::service_not_found);
  EXPECT_EQ(empty.error, errc::invalid_argument);
  EXPECT_EQ(empty.error, std::errc::invalid_argument);
  EXPECT_EQ(pocore::make_error_code(errc::host_not_found).message(), "host not found");
}

POCORE_CASE(resolve_lambda_overload) {
  pocore::resolver r(port());
  int calls = 0;
  std::vector<pocore::endpoint> got;
  pocore::resolve_hints h;
  h.numeric_host = true;
  submit([&] {
    r.async_resolve("127.0.0.1", "9", h,
                    [&](std::error_code ec, std::vector<pocore::endpoint> eps) {
                      ++calls;
                      EXPECT_FALSE(submitting()) << "ran inline";
                      EXPECT_FALSE(ec) << ec.message();
                      got = std::move(eps);
                    });
  });
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], pocore::endpoint::loopback_v4(9));
}

POCORE_CASE(resolve_cancel_in_flight) {
  POCORE_REQUIRE_LOCALHOST();
  // Each lookup is cancelled right after it is submitted, before the port
  // runs, so its callback cannot have run: it is in flight from the
  // caller's view. cancel() says whether it caught the lookup (queued, or
  // inside the system call) and the record then completes with
  // operation_aborted, or the lookup had already finished and it completes
  // normally; never both, never neither.
  pocore::resolver r(port());
  constexpr int n = 64;
  std::array<resolve_rec, n> ops;
  std::array<bool, n> caught{};
  int aborted = 0;
  for (int i = 0; i < n; ++i) {
    start(r, ops[i], "localhost", "80");
    caught[i] = r.cancel(ops[i]);
    aborted += caught[i] ? 1 : 0;
  }
  EXPECT_FALSE(r.cancel(ops[0])) << "a second cancel finds nothing";
  // A worker has to wake up and finish a lookup between two adjacent calls
  // to lose the race; it cannot do so 64 times in a row.
  EXPECT_GE(aborted, 1);
  EXPECT_EQ(r.pending(), 0u);
  ASSERT_TRUE(drain(port()));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(ops[i].calls, 1) << i;
    EXPECT_EQ(ops[i].inline_calls, 0) << i;
    if (caught[i]) {
      EXPECT_EQ(ops[i].error, errc::operation_aborted) << i;
      EXPECT_TRUE(ops[i].results.empty()) << i;
    } else {
      EXPECT_FALSE(ops[i].error) << i << ": " << ops[i].error.message();
      EXPECT_FALSE(ops[i].results.empty()) << i;
    }
  }
}

POCORE_CASE(resolve_destroy_aborts_pending) {
  POCORE_REQUIRE_LOCALHOST();
  // A resolver destroyed right after its submissions: it runs at most four
  // worker threads, so of 32 lookups made at once most are still queued
  // and are aborted; the rest finish. Each completes exactly once either
  // way. (With one lookup per resolver a fast worker could finish it
  // before the destructor ran, in every round of a run.)
  constexpr int rounds = 8;
  constexpr int per_round = 32;
  int aborted = 0;
  for (int round = 0; round < rounds; ++round) {
    std::array<resolve_rec, per_round> ops;
    {
      pocore::resolver r(port());
      for (auto& op : ops) start(r, op, "localhost", "80");
    }  // destroyed with the lookups pending
    ASSERT_TRUE(drain(port()));
    for (auto& op : ops) {
      EXPECT_EQ(op.calls, 1);
      if (op.error == errc::operation_aborted) {
        ++aborted;
      } else {
        EXPECT_FALSE(op.error) << op.error.message();
      }
    }
  }
  EXPECT_GE(aborted, 1);
}

POCORE_CASE(resolve_many_concurrent_on_two_threads) {
  POCORE_REQUIRE_LOCALHOST();
  pocore::resolver r(port());
  constexpr int n = 200;
  std::atomic<int> calls{0}, ok{0}, wrong{0};
  pocore::resolve_hints numeric;
  numeric.numeric_host = true;
  for (int i = 0; i < n; ++i) {
    const auto want_port = static_cast<std::uint16_t>(1000 + i);
    const std::string service = std::to_string(want_port);
    auto check = [&, i, want_port](std::error_code ec, std::vector<pocore::endpoint> eps) {
      calls.fetch_add(1);
      bool good;
      switch (i % 4) {
        case 0:
          good = !ec && !eps.empty() &&
                 std::all_of(eps.begin(), eps.end(), [&](const pocore::endpoint& e) {
                   return is_loopback(e) && e.port() == want_port;
                 });
          break;
        case 1:
          good = !ec && eps.size() == 1 && eps[0] == pocore::endpoint::loopback_v4(want_port);
          break;
        case 2:
          good = !ec && eps.size() == 1 && eps[0] == pocore::endpoint::loopback_v6(want_port);
          break;
        default:
          good = ec == errc::host_not_found && eps.empty();
          break;
      }
      (good ? ok : wrong).fetch_add(1);
    };
    switch (i % 4) {
      case 0:
        r.async_resolve("localhost", service, check);
        break;
      case 1:
        r.async_resolve("127.0.0.1", service, numeric, check);
        break;
      case 2:
        r.async_resolve("::1", service, numeric, check);
        break;
      default:
        r.async_resolve("nonexistent.invalid", service, numeric, check);
        break;
    }
  }
  run_threads threads(port(), 2);
  threads.join();
  EXPECT_EQ(calls.load(), n);
  EXPECT_EQ(ok.load(), n);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(r.pending(), 0u);
}

POCORE_CASE(resolve_pending_survives_port_stop) {
  POCORE_REQUIRE_LOCALHOST();
  pocore::resolver r(port());
  resolve_rec op;
  port().stop();
  start(r, op, "localhost", "80");
  EXPECT_EQ(port().run(), 0u) << "a stopped port runs nothing";
  EXPECT_EQ(op.calls, 0);
  EXPECT_EQ(port().outstanding(), 1u);
  port().restart();
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(op.calls, 1);
  EXPECT_FALSE(op.error) << op.error.message();
}

POCORE_CASE(resolve_port_stopped_then_resolver_destroyed) {
  POCORE_REQUIRE_LOCALHOST();
  // The port is shut down (stopped) with a lookup in flight and the
  // resolver goes first, as the rule "destroy it before its port" asks:
  // the record still completes exactly once when the port runs again.
  resolve_rec op;
  {
    pocore::resolver r(port());
    start(r, op, "localhost", "80");
    port().stop();
  }
  EXPECT_EQ(op.calls, 0);
  EXPECT_EQ(port().outstanding(), 1u);
  port().restart();
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(op.calls, 1);
  EXPECT_TRUE(op.error == errc::operation_aborted || !op.error) << op.error.message();
}

POCORE_CASE(resolve_record_resubmitted_from_callback) {
  pocore::resolver r(port());
  resolve_rec op;
  int rounds = 0;
  op.then = [&](resolve_rec& self) {
    EXPECT_FALSE(self.error) << self.error.message();
    if (++rounds < 3) r.async_resolve(self);
  };
  pocore::resolve_hints h;
  h.numeric_host = true;
  start(r, op, "127.0.0.1", "80", h);
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(rounds, 3);
  EXPECT_EQ(op.calls, 3);
}
