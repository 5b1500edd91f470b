// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Endpoint parsing and formatting: good text in every form, and malformed
// text that must fail cleanly with the documented code.

#include <string>

#include "pocore_test.hpp"

using pocore::address_family;
using pocore::endpoint;
using pocore::errc;

namespace {

endpoint parse_ok(std::string_view text) {
  std::error_code ec;
  endpoint ep = endpoint::parse(text, ec);
  EXPECT_FALSE(ec) << "'" << text << "': " << ec.message();
  return ep;
}

void expect_parse_fails(std::string_view text, errc want = errc::invalid_argument) {
  std::error_code ec;
  const endpoint ep = endpoint::parse(text, ec);
  EXPECT_EQ(ec, want) << "'" << text << "' gave '" << ec.message() << "'";
  EXPECT_EQ(ep.family(), address_family::unspecified) << "'" << text << "'";
  EXPECT_EQ(ep, endpoint{}) << "'" << text << "'";
}

}  // namespace

POCORE_UNIT(endpoint_default_is_unspecified) {
  const endpoint ep;
  EXPECT_EQ(ep.family(), address_family::unspecified);
  EXPECT_EQ(ep.port(), 0);
  EXPECT_TRUE(ep.address_bytes().empty());
  EXPECT_TRUE(ep.path().empty());
  EXPECT_FALSE(ep.is_loopback());
}

POCORE_UNIT(endpoint_parse_ipv4) {
  const endpoint ep = parse_ok("127.0.0.1:80");
  EXPECT_EQ(ep.family(), address_family::ipv4);
  EXPECT_EQ(ep.port(), 80);
  ASSERT_EQ(ep.address_bytes().size(), 4u);
  EXPECT_EQ(ep.address_bytes()[0], 127);
  EXPECT_EQ(ep.address_bytes()[3], 1);
  EXPECT_TRUE(ep.is_loopback());
  EXPECT_EQ(ep.to_string(), "127.0.0.1:80");
  EXPECT_EQ(ep, endpoint::loopback_v4(80));
  EXPECT_EQ(ep, endpoint::ipv4({127, 0, 0, 1}, 80));
}

POCORE_UNIT(endpoint_parse_ipv4_extremes) {
  EXPECT_EQ(parse_ok("0.0.0.0:0").to_string(), "0.0.0.0:0");
  EXPECT_EQ(parse_ok("255.255.255.255:65535").to_string(), "255.255.255.255:65535");
  EXPECT_EQ(parse_ok("10.1.2.3:1").port(), 1);
  EXPECT_FALSE(parse_ok("10.1.2.3:1").is_loopback());
  EXPECT_TRUE(parse_ok("127.200.1.9:7").is_loopback());
}

POCORE_UNIT(endpoint_parse_ipv6) {
  const endpoint ep = parse_ok("[::1]:443");
  EXPECT_EQ(ep.family(), address_family::ipv6);
  EXPECT_EQ(ep.port(), 443);
  ASSERT_EQ(ep.address_bytes().size(), 16u);
  EXPECT_EQ(ep.address_bytes()[15], 1);
  EXPECT_TRUE(ep.is_loopback());
  EXPECT_EQ(ep.scope_id(), 0u);
  EXPECT_EQ(ep.to_string(), "[::1]:443");
  EXPECT_EQ(ep, endpoint::loopback_v6(443));

  const endpoint full = parse_ok("[2001:db8:0:0:1:0:0:1]:8080");
  EXPECT_EQ(full.to_string(), "[2001:db8::1:0:0:1]:8080");  // RFC 5952 form
  EXPECT_FALSE(full.is_loopback());
  EXPECT_EQ(parse_ok("[::]:1").to_string(), "[::]:1");
  EXPECT_EQ(parse_ok("[2001:DB8::A]:2").to_string(), "[2001:db8::a]:2");
  EXPECT_FALSE(parse_ok("[::2]:1").is_loopback());
}

POCORE_UNIT(endpoint_parse_ipv6_scope_id) {
  const endpoint ep = parse_ok("[fe80::1%2]:80");
  EXPECT_EQ(ep.family(), address_family::ipv6);
  EXPECT_EQ(ep.scope_id(), 2u);
  EXPECT_EQ(ep.port(), 80);
  EXPECT_EQ(ep.to_string(), "[fe80::1%2]:80");
  EXPECT_NE(ep, parse_ok("[fe80::1%3]:80"));
  EXPECT_NE(ep, parse_ok("[fe80::1]:80"));
  EXPECT_EQ(ep, endpoint::ipv6({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 80, 2));
}

POCORE_UNIT(endpoint_parse_v4_mapped) {
  const endpoint ep = parse_ok("[::ffff:127.0.0.1]:5");
  EXPECT_EQ(ep.family(), address_family::ipv6);
  EXPECT_TRUE(ep.is_loopback());
  EXPECT_EQ(ep, endpoint::loopback_v4_mapped(5));
  // Round trip through text, whatever form the formatter picks.
  std::error_code ec;
  EXPECT_EQ(endpoint::parse(ep.to_string(), ec), ep);
  EXPECT_FALSE(ec);
  EXPECT_EQ(ep.to_string(), "[::ffff:127.0.0.1]:5");
  EXPECT_NE(ep, endpoint::loopback_v4(5)) << "a mapped address is a distinct IPv6 endpoint";
}

POCORE_UNIT(endpoint_parse_unix_paths) {
  const endpoint a = parse_ok("unix:/tmp/pocore.sock");
  EXPECT_EQ(a.family(), address_family::local);
  EXPECT_EQ(a.path(), "/tmp/pocore.sock");
  EXPECT_EQ(a.port(), 0);
  const endpoint b = parse_ok("/tmp/pocore.sock");
  EXPECT_EQ(b, a);
  EXPECT_EQ(parse_ok("unix:relative/path").path(), "relative/path");
  std::error_code ec;
  EXPECT_EQ(endpoint::parse(a.to_string(), ec), a);
  EXPECT_FALSE(ec);
  endpoint c = a;
  c.port(99);
  EXPECT_EQ(c.port(), 0) << "a Unix-domain endpoint has no port";
}

POCORE_UNIT(endpoint_unix_path_length_limit) {
  const std::string longest(endpoint::max_path_length, 'p');
  std::error_code ec;
  const endpoint ok = endpoint::local(longest, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(ok.path(), longest);
  const std::string too_long(endpoint::max_path_length + 1, 'p');
  const endpoint bad = endpoint::local(too_long, ec);
  EXPECT_EQ(ec, errc::name_too_long);
  EXPECT_EQ(bad.family(), address_family::unspecified);
  expect_parse_fails("unix:" + too_long, errc::name_too_long);
  expect_parse_fails("/" + too_long, errc::name_too_long);
  EXPECT_EQ(parse_ok("unix:" + longest).path(), longest);
}

POCORE_UNIT(endpoint_unix_bad_paths) {
  std::error_code ec;
  endpoint::local("", ec);
  EXPECT_EQ(ec, errc::invalid_argument);
  endpoint::local(std::string_view("a\0b", 3), ec);
  EXPECT_EQ(ec, errc::invalid_argument);
  expect_parse_fails("unix:");
  expect_parse_fails(std::string_view("unix:/a\0b", 9));
}

POCORE_UNIT(endpoint_malformed_text) {
  for (std::string_view text : {
           "",
           " ",
           "garbage",
           "localhost:80",  // no name resolution in pocore
           "127.0.0.1",     // no port
           "127.0.0.1:",
           ":80",
           "127.0.0.1:80 ",
           " 127.0.0.1:80",
           "127.0.0.1:8a0",
           "127.0.0.1:+80",
           "127.0.0.1:-1",
           "127.0.0.1:65536",
           "127.0.0.1:99999999999999999999",
           "256.0.0.1:80",
           "1.2.3:80",
           "1.2.3.4.5:80",
           "1..3.4:80",
           "01.2.3.4:80",  // leading zero in an octet (octal ambiguity)
           "1.2.3.04:80",
           "::1:80",  // IPv6 needs brackets
           "[::1]",
           "[::1]:",
           "[::1]80",
           "[::1:80",
           "::1]:80",
           "[]:80",
           "[:::1]:80",
           "[1:2:3:4:5:6:7:8:9]:80",
           "[1::2::3]:80",
           "[12345::1]:80",
           "[::g]:80",
           "[::1%]:80",
           "[::1%x]:80",
           "[::1]:65536",
           "[127.0.0.1]:80",
           "unix",
       }) {
    SCOPED_TRACE(std::string(text));
    expect_parse_fails(text);
  }
}

POCORE_UNIT(endpoint_port_boundaries) {
  EXPECT_EQ(parse_ok("1.2.3.4:65535").port(), 65535);
  EXPECT_EQ(parse_ok("[::1]:0").port(), 0);
  endpoint ep = parse_ok("1.2.3.4:1");
  ep.port(4242);
  EXPECT_EQ(ep.port(), 4242);
  EXPECT_EQ(ep.to_string(), "1.2.3.4:4242");
}

POCORE_UNIT(endpoint_equality) {
  EXPECT_EQ(endpoint::loopback_v4(1), endpoint::loopback_v4(1));
  EXPECT_NE(endpoint::loopback_v4(1), endpoint::loopback_v4(2));
  EXPECT_NE(endpoint::loopback_v4(1), endpoint::loopback_v6(1));
  EXPECT_NE(endpoint{}, endpoint::loopback_v4(0));
  EXPECT_EQ(endpoint{}, endpoint{});
}

POCORE_UNIT(endpoint_round_trips) {
  for (std::string_view text :
       {"1.2.3.4:5", "[::1]:6", "[fe80::abcd%7]:8", "[2001:db8::]:9", "unix:/x/y"}) {
    SCOPED_TRACE(std::string(text));
    const endpoint ep = parse_ok(text);
    std::error_code ec;
    EXPECT_EQ(endpoint::parse(ep.to_string(), ec), ep);
    EXPECT_FALSE(ec);
  }
}
