// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The pocore side of the interop tests: an echo connection and a stream
// endpoint driven by caller-owned operation records, plus the fixture.
// Free of Boost, so the Windows build (Wine leg) uses it too.

#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

#include "interop_data.hpp"
#include "pocore_test.hpp"

/// An interop case: one process per case and backend, registered as
/// `interop.<name>.<backend>`. The fixture is the conformance one, so each
/// case also ends with no callback owed, no socket and no descriptor left.
class interop : public conformance {};
#define POCORE_INTEROP(name) TEST_F(interop, name)

namespace iop {

inline constexpr std::size_t pocore_chunk = 64 * 1024;

/// What one pocore stream saw.
struct pocore_stats {
  std::error_code read_error;
  std::error_code write_error;
  bool eof = false;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  checksum sent_sum;
  checksum received_sum;
  std::uint64_t first_bad = no_mismatch;
};

/// A pocore connection that echoes until EOF, then shuts down its send side
/// and closes.
class echo_conn {
 public:
  explicit echo_conn(pocore::socket s);
  void start();
  bool done() const noexcept { return done_; }
  pocore_stats stats;

 private:
  static void on_recv(pocore::operation& o);
  static void on_send(pocore::operation& o);
  void finish();

  pocore::socket sock_;
  std::vector<std::uint8_t> buf_;
  pocore::operation recv_;
  pocore::operation send_;
  bool done_ = false;
};

/// Accepts `n` connections on a listener and echoes each.
class echo_server {
 public:
  echo_server(pocore::io_port& port, pocore::address_family family, int n);
  const pocore::endpoint& endpoint() const noexcept { return bound_; }
  bool done() const noexcept;
  std::error_code accept_error;
  std::vector<std::unique_ptr<echo_conn>> conns;

 private:
  static void on_accept(pocore::operation& o);

  pocore::endpoint bound_;  // before listener_: its initialiser fills it
  pocore::socket listener_;
  pocore::accept_operation accept_;
  int want_;
};

/// A pocore stream that sends a pattern and reads (and checks) what comes
/// back, both at once. Options say when to send, when to stop reading and
/// how to close.
class stream {
 public:
  struct options {
    std::uint64_t send_total = 0;  ///< bytes of pattern `send_seed` to send
    std::uint32_t send_seed = 1;
    bool send_after_eof = false;            ///< send only once the peer's EOF arrived
    bool shutdown_after_send = true;        ///< shutdown(send) after the last byte
    std::uint32_t recv_seed = no_seed;      ///< pattern expected from the peer
    std::uint64_t recv_limit = UINT64_MAX;  ///< stop reading after this many
    bool reset_at_limit = false;            ///< at recv_limit: SO_LINGER 0 and close
    bool receive = true;                    ///< false: never read (no recv pending)
    bool reset_when_done = false;           ///< SO_LINGER 0 before the final close
  };

  stream(pocore::io_port& port, const options& opt);
  /// Connects to `ep`, then starts.
  void connect(const pocore::endpoint& ep);
  /// Starts on an accepted socket.
  void start(pocore::socket s);
  /// Both directions have finished and the socket is closed.
  bool done() const noexcept { return closed_; }
  pocore::socket& socket() noexcept { return sock_; }
  std::error_code connect_error;
  pocore_stats stats;

 private:
  static void on_connect(pocore::operation& o);
  static void on_recv(pocore::operation& o);
  static void on_send(pocore::operation& o);
  void begin();
  void send_next();
  void recv_next();
  void maybe_close();

  options opt_;
  pocore::socket sock_;
  std::vector<std::uint8_t> rbuf_;
  std::vector<std::uint8_t> sbuf_;
  pocore::operation connect_;
  pocore::operation recv_;
  pocore::operation send_;
  bool send_done_ = false;
  bool recv_done_ = false;
  bool closed_ = false;
};

/// A loopback endpoint of `family`, port 0.
inline pocore::endpoint loopback(pocore::address_family family, std::uint16_t port = 0) {
  return family == pocore::address_family::ipv6 ? pocore::endpoint::loopback_v6(port)
                                                : pocore::endpoint::loopback_v4(port);
}

}  // namespace iop
