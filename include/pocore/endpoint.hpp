// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Socket endpoints: an IPv4 or IPv6 address with a port, or a Unix-domain
/// path. Platform-neutral; the backends convert to `sockaddr` themselves.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace pocore {

/// Address families pocore supports.
enum class address_family : std::uint8_t {
  unspecified = 0,  ///< an empty endpoint
  ipv4,             ///< AF_INET
  ipv6,             ///< AF_INET6
  local,            ///< AF_UNIX (Unix-domain stream sockets)
};

/// An IPv4/IPv6 address and port, or a Unix-domain socket path.
///
/// Text forms: `127.0.0.1:80`, `[::1]:80`, `[fe80::1%2]:80` (numeric scope),
/// and for Unix-domain sockets `unix:PATH` or any text starting with `/`.
class endpoint {
 public:
  /// Longest Unix-domain path, in bytes (sockaddr_un holds 108 with the NUL).
  static constexpr std::size_t max_path_length = 107;

  /// An unspecified endpoint.
  constexpr endpoint() noexcept = default;

  /// An IPv4 endpoint from its four address bytes (network order).
  static endpoint ipv4(std::array<std::uint8_t, 4> addr, std::uint16_t port) noexcept;
  /// An IPv6 endpoint from its sixteen address bytes and optional scope id.
  static endpoint ipv6(std::array<std::uint8_t, 16> addr, std::uint16_t port,
                       std::uint32_t scope_id = 0) noexcept;
  /// 127.0.0.1:port.
  static endpoint loopback_v4(std::uint16_t port = 0) noexcept;
  /// The IPv6 loopback, \::1, with `port`.
  static endpoint loopback_v6(std::uint16_t port = 0) noexcept;
  /// \::ffff:127.0.0.1 with `port`: the IPv4 loopback seen by a dual-stack socket.
  static endpoint loopback_v4_mapped(std::uint16_t port = 0) noexcept;
  /// A Unix-domain endpoint. Fails with `errc::name_too_long` past
  /// `max_path_length` and `errc::invalid_argument` if empty or holding NUL.
  static endpoint local(std::string_view path, std::error_code& ec) noexcept;

  /// Parses the text forms above. Malformed text yields
  /// `errc::invalid_argument` (or `errc::name_too_long` for a long path) and
  /// an unspecified endpoint; it never throws or crashes.
  static endpoint parse(std::string_view text, std::error_code& ec) noexcept;

  /// The family; `unspecified` for a default-constructed endpoint.
  address_family family() const noexcept { return family_; }
  /// The port in host order (0 for Unix-domain endpoints).
  std::uint16_t port() const noexcept { return port_; }
  /// Sets the port (ignored for Unix-domain endpoints).
  void port(std::uint16_t p) noexcept {
    if (family_ == address_family::ipv4 || family_ == address_family::ipv6) port_ = p;
  }
  /// The IPv6 scope id (0 when none or not IPv6).
  std::uint32_t scope_id() const noexcept { return scope_id_; }
  /// The address bytes: 4 for IPv4, 16 for IPv6, none otherwise.
  std::span<const std::uint8_t> address_bytes() const noexcept;
  /// The Unix-domain path (empty otherwise).
  std::string_view path() const noexcept { return {path_, path_length_}; }
  /// True for 127.0.0.0/8, \::1 and \::ffff:127.0.0.0/104.
  bool is_loopback() const noexcept;

  /// The text form, parseable by `parse`.
  std::string to_string() const;

  /// Equal family, address, port, scope id and path.
  friend bool operator==(const endpoint& a, const endpoint& b) noexcept;

 private:
  address_family family_ = address_family::unspecified;
  std::uint8_t path_length_ = 0;
  std::uint16_t port_ = 0;
  std::uint32_t scope_id_ = 0;
  std::uint8_t addr_[16] = {};
  char path_[max_path_length + 1] = {};
};

}  // namespace pocore
