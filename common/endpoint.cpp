// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Endpoint parsing and formatting, with no help from the platform: the
// parsers are strict (malformed text is an error, never a guess) and the
// IPv6 text form follows RFC 5952, so to_string() output parses back to
// the same endpoint.

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "pocore/endpoint.hpp"
#include "pocore/error.hpp"

namespace pocore {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decimal with no sign, no leading zero (except "0" itself) and a bound.
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::uint32_t max) noexcept {
  if (s.empty() || s.size() > 10) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > max) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

// Dotted quad, exactly four decimal parts 0..255.
std::optional<std::array<std::uint8_t, 4>> parse_v4(std::string_view s) noexcept {
  std::array<std::uint8_t, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    std::size_t dot = (i < 3) ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto part = parse_decimal(s.substr(0, dot), 255);
    if (!part) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(*part);
    s = (i < 3) ? s.substr(dot + 1) : std::string_view{};
  }
  return out;
}

// RFC 4291 section 2.2 text forms, including "::" and a trailing dotted quad.
std::optional<std::array<std::uint8_t, 16>> parse_v6(std::string_view s) noexcept {
  std::array<std::uint16_t, 8> words{};
  std::size_t count = 0;
  std::optional<std::size_t> gap;  // word index where "::" stands
  if (s.size() < 2) return std::nullopt;
  if (s.substr(0, 2) == "::") {
    gap = 0;
    s.remove_prefix(2);
  } else if (s[0] == ':') {
    return std::nullopt;
  }
  while (!s.empty()) {
    if (count == 8) return std::nullopt;
    std::size_t colon = s.find(':');
    std::string_view group = s.substr(0, colon);
    if (group.find('.') != std::string_view::npos) {
      // An embedded IPv4 address ends the text and fills two words.
      if (colon != std::string_view::npos || count > 6) return std::nullopt;
      auto v4 = parse_v4(group);
      if (!v4) return std::nullopt;
      words[count++] = static_cast<std::uint16_t>(((*v4)[0] << 8) | (*v4)[1]);
      words[count++] = static_cast<std::uint16_t>(((*v4)[2] << 8) | (*v4)[3]);
      s = {};
      break;
    }
    if (group.empty() || group.size() > 4) return std::nullopt;
    std::uint32_t w = 0;
    for (char c : group) {
      int h = hex_value(c);
      if (h < 0) return std::nullopt;
      w = (w << 4) | static_cast<std::uint32_t>(h);
    }
    words[count++] = static_cast<std::uint16_t>(w);
    if (colon == std::string_view::npos) {
      s = {};
      break;
    }
    s.remove_prefix(colon + 1);
    if (!s.empty() && s[0] == ':') {
      if (gap) return std::nullopt;  // a second "::"
      gap = count;
      s.remove_prefix(1);
    } else if (s.empty()) {
      return std::nullopt;  // trailing single ':'
    }
  }
  if (gap) {
    if (count == 8) return std::nullopt;  // "::" must stand for at least one word
    std::size_t tail = count - *gap;
    std::array<std::uint16_t, 8> full{};
    for (std::size_t i = 0; i < *gap; ++i) full[i] = words[i];
    for (std::size_t i = 0; i < tail; ++i) full[8 - tail + i] = words[*gap + i];
    words = full;
  } else if (count != 8) {
    return std::nullopt;
  }
  std::array<std::uint8_t, 16> out{};
  for (std::size_t i = 0; i < 8; ++i) {
    out[2 * i] = static_cast<std::uint8_t>(words[i] >> 8);
    out[2 * i + 1] = static_cast<std::uint8_t>(words[i] & 0xff);
  }
  return out;
}

void append_decimal(std::string& out, std::uint32_t v) { out += std::to_string(v); }

void append_v4(std::string& out, const std::uint8_t* a) {
  for (int i = 0; i < 4; ++i) {
    if (i != 0) out += '.';
    append_decimal(out, a[i]);
  }
}

// RFC 5952: lower case, no leading zeros, the longest run (two words or
// more; the first on a tie) of zero words as "::", and IPv4-mapped
// addresses with a dotted quad.
void append_v6(std::string& out, const std::uint8_t* a) {
  static constexpr std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a, mapped_prefix, 12) == 0) {
    out += "::ffff:";
    append_v4(out, a + 12);
    return;
  }
  std::uint16_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<std::uint16_t>((a[2 * i] << 8) | a[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (i != 0 && i != best + best_len) out += ':';
    char buf[4];
    int n = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
      int d = (w[i] >> shift) & 0xf;
      if (n == 0 && d == 0 && shift != 0) continue;
      buf[n++] = digits[d];
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

endpoint endpoint::ipv4(std::array<std::uint8_t, 4> addr, std::uint16_t port) noexcept {
  endpoint e;
  e.family_ = address_family::ipv4;
  e.port_ = port;
  std::copy(addr.begin(), addr.end(), e.addr_);
  return e;
}

endpoint endpoint::ipv6(std::array<std::uint8_t, 16> addr, std::uint16_t port,
                        std::uint32_t scope_id) noexcept {
  endpoint e;
  e.family_ = address_family::ipv6;
  e.port_ = port;
  e.scope_id_ = scope_id;
  std::copy(addr.begin(), addr.end(), e.addr_);
  return e;
}

endpoint endpoint::loopback_v4(std::uint16_t port) noexcept { return ipv4({127, 0, 0, 1}, port); }

endpoint endpoint::loopback_v6(std::uint16_t port) noexcept {
  return ipv6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, port);
}

endpoint endpoint::loopback_v4_mapped(std::uint16_t port) noexcept {
  return ipv6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}, port);
}

endpoint endpoint::local(std::string_view path, std::error_code& ec) noexcept {
  if (path.empty() || path.find('\0') != std::string_view::npos) {
    ec = make_error_code(errc::invalid_argument);
    return {};
  }
  if (path.size() > max_path_length) {
    ec = make_error_code(errc::name_too_long);
    return {};
  }
  endpoint e;
  e.family_ = address_family::local;
  e.path_length_ = static_cast<std::uint8_t>(path.size());
  std::memcpy(e.path_, path.data(), path.size());
  ec.clear();
  return e;
}

endpoint endpoint::parse(std::string_view text, std::error_code& ec) noexcept {
  auto fail = [&ec] {
    ec = make_error_code(errc::invalid_argument);
    return endpoint{};
  };
  if (text.substr(0, 5) == "unix:") return local(text.substr(5), ec);
  if (!text.empty() && text[0] == '/') return local(text, ec);

  std::string_view host, port_text;
  if (!text.empty() && text[0] == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail();
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    std::uint32_t scope = 0;
    std::size_t pct = host.find('%');
    if (pct != std::string_view::npos) {
      auto s = parse_decimal(host.substr(pct + 1), 0xffffffffu);
      if (!s) return fail();
      scope = *s;
      host = host.substr(0, pct);
    }
    auto addr = parse_v6(host);
    auto port = parse_decimal(port_text, 65535);
    if (!addr || !port) return fail();
    ec.clear();
    return ipv6(*addr, static_cast<std::uint16_t>(*port), scope);
  }
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail();
  host = text.substr(0, colon);
  port_text = text.substr(colon + 1);
  auto addr = parse_v4(host);
  auto port = parse_decimal(port_text, 65535);
  if (!addr || !port) return fail();
  ec.clear();
  return ipv4(*addr, static_cast<std::uint16_t>(*port));
}

std::span<const std::uint8_t> endpoint::address_bytes() const noexcept {
  switch (family_) {
    case address_family::ipv4:
      return {addr_, 4};
    case address_family::ipv6:
      return {addr_, 16};
    default:
      return {};
  }
}

bool endpoint::is_loopback() const noexcept {
  static constexpr std::uint8_t v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr std::uint8_t mapped_prefix[13] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127};
  if (family_ == address_family::ipv4) return addr_[0] == 127;
  if (family_ == address_family::ipv6)
    return std::memcmp(addr_, v6_loop, 16) == 0 || std::memcmp(addr_, mapped_prefix, 13) == 0;
  return false;
}

std::string endpoint::to_string() const {
  std::string out;
  switch (family_) {
    case address_family::ipv4:
      append_v4(out, addr_);
      out += ':';
      append_decimal(out, port_);
      break;
    case address_family::ipv6:
      out += '[';
      append_v6(out, addr_);
      if (scope_id_ != 0) {
        out += '%';
        append_decimal(out, scope_id_);
      }
      out += "]:";
      append_decimal(out, port_);
      break;
    case address_family::local:
      if (path().empty() || path()[0] != '/') out += "unix:";
      out += path();
      break;
    case address_family::unspecified:
      break;
  }
  return out;
}

bool operator==(const endpoint& a, const endpoint& b) noexcept {
  if (a.family_ != b.family_) return false;
  switch (a.family_) {
    case address_family::ipv4:
      return a.port_ == b.port_ && std::memcmp(a.addr_, b.addr_, 4) == 0;
    case address_family::ipv6:
      return a.port_ == b.port_ && a.scope_id_ == b.scope_id_ &&
             std::memcmp(a.addr_, b.addr_, 16) == 0;
    case address_family::local:
      return a.path() == b.path();
    case address_family::unspecified:
      return true;
  }
  return false;
}

}  // namespace pocore
