// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The Boost.Asio side of the interop tests: an independent, well-known
// implementation that pocore must talk to. Each behaviour is a coroutine on
// an io_context that a `peer` runs in its own thread, bounded in time, so a
// pocore bug shows as a failed check rather than a hang. Used in-process by
// pocore-interop and, for the Wine leg, by the stand-alone pocore-asio-peer.
//
// Boost is a test-only dependency; nothing here is linked into pocore.

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
// clang-format on

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "interop_data.hpp"

namespace iop {

namespace asio = boost::asio;
using asio_tcp = asio::ip::tcp;
using asio_udp = asio::ip::udp;
using asio_error = boost::system::error_code;

/// An io_context run by one thread for at most `budget`. The destructor
/// stops and joins it, so a failed check on the pocore side never leaves
/// the thread behind.
class peer {
 public:
  peer() = default;
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;
  ~peer() {
    io.stop();
    if (thread_.joinable()) thread_.join();
    owned_.clear();  // sockets before their io_context
  }

  /// Makes an object that lives until the thread has stopped (sockets,
  /// acceptors, timers the coroutines use).
  template <class T, class... Args>
  T& make(Args&&... args) {
    auto p = std::make_shared<T>(std::forward<Args>(args)...);
    owned_.push_back(p);
    return *p;
  }

  /// Starts the thread; the coroutines must be spawned already.
  void start(std::chrono::milliseconds budget) {
    thread_ = std::thread([this, budget] {
      io.run_for(budget);
      finished_ = true;
    });
  }
  /// Waits until every coroutine has finished (or the budget ran out).
  /// True if the io_context ran out of work rather than out of time.
  bool join() {
    if (thread_.joinable()) thread_.join();
    return io.stopped() && finished_ && done_count == spawned;
  }

  /// Spawns a coroutine that counts itself done when it returns.
  template <class Awaitable>
  void spawn(Awaitable a) {
    ++spawned;
    asio::co_spawn(io, std::move(a), [this](std::exception_ptr) { ++done_count; });
  }

  asio::io_context io;
  int spawned = 0;
  std::atomic<int> done_count{0};

 private:
  std::vector<std::shared_ptr<void>> owned_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

/// What one Asio stream session saw.
struct stream_stats {
  asio_error read_error;   ///< first read error other than EOF
  asio_error write_error;  ///< first write error
  bool eof = false;        ///< reads ended with end of stream
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  checksum sent_sum;
  checksum received_sum;
  std::uint64_t first_bad = no_mismatch;  ///< stream offset of a pattern mismatch
};

inline constexpr std::size_t chunk_size = 64 * 1024;

/// Reads until EOF or error, checking the data against pattern `seed` (when
/// `seed` is not no_seed) and summing it.
inline asio::awaitable<void> read_all(asio_tcp::socket& s, stream_stats& st, std::uint32_t seed,
                                      std::uint64_t stop_after = UINT64_MAX) {
  std::vector<std::uint8_t> buf(chunk_size);
  while (st.received < stop_after) {
    asio_error ec;
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), stop_after - st.received));
    const std::size_t n = co_await s.async_read_some(asio::buffer(buf.data(), want),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (n > 0) {
      if (seed != no_seed) note_pattern(st.first_bad, {buf.data(), n}, st.received, seed);
      st.received_sum.add({buf.data(), n});
      st.received += n;
    }
    if (ec == asio::error::eof) {
      st.eof = true;
      break;
    }
    if (ec) {
      st.read_error = ec;
      break;
    }
  }
}

/// Writes `total` bytes of pattern `seed` from offset `from`.
inline asio::awaitable<void> write_pattern(asio_tcp::socket& s, stream_stats& st,
                                           std::uint64_t total, std::uint32_t seed,
                                           std::uint64_t from = 0) {
  std::vector<std::uint8_t> buf(chunk_size);
  std::uint64_t off = from;
  while (off < total) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), total - off));
    fill_pattern_bytes({buf.data(), n}, off, seed);
    asio_error ec;
    const std::size_t w = co_await asio::async_write(s, asio::buffer(buf.data(), n),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    st.sent_sum.add({buf.data(), w});
    st.sent += w;
    off += w;
    if (ec) {
      st.write_error = ec;
      co_return;
    }
  }
}

/// Echo session: echoes until EOF, then shuts down its send side (the
/// client sees EOF after the last byte) and closes.
inline asio::awaitable<void> asio_echo_session(asio_tcp::socket s,
                                               std::shared_ptr<stream_stats> st) {
  std::vector<std::uint8_t> buf(chunk_size);
  for (;;) {
    asio_error ec;
    const std::size_t n = co_await s.async_read_some(asio::buffer(buf),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (n > 0) {
      st->received_sum.add({buf.data(), n});
      st->received += n;
      asio_error wec;
      const std::size_t w = co_await asio::async_write(
          s, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, wec));
      st->sent_sum.add({buf.data(), w});
      st->sent += w;
      if (wec) {
        st->write_error = wec;
        break;
      }
    }
    if (ec == asio::error::eof) {
      st->eof = true;
      break;
    }
    if (ec) {
      st->read_error = ec;
      break;
    }
  }
  asio_error ignore;
  s.shutdown(asio_tcp::socket::shutdown_send, ignore);
  s.close(ignore);
}

/// Accepts `n` connections on `acc` and echoes each; one stats record each
/// (in accept order) is appended to `out`.
inline asio::awaitable<void> asio_echo_server(asio_tcp::acceptor& acc, int n,
                                              std::vector<std::shared_ptr<stream_stats>>& out,
                                              asio_error& accept_error) {
  auto ex = co_await asio::this_coro::executor;
  for (int i = 0; i < n; ++i) {
    asio_error ec;
    asio_tcp::socket s = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      accept_error = ec;
      co_return;
    }
    auto st = std::make_shared<stream_stats>();
    out.push_back(st);
    asio::co_spawn(ex, asio_echo_session(std::move(s), st), asio::detached);
  }
}

/// Echo client: connects, writes `total` bytes of pattern `seed` while
/// reading (and checking against `read_seed`) what comes back, shuts down
/// its send side after the last byte and reads to EOF.
inline asio::awaitable<void> asio_echo_client(asio_tcp::endpoint ep, std::uint64_t total,
                                              std::uint32_t seed, std::shared_ptr<stream_stats> st,
                                              std::shared_ptr<asio_error> connect_error,
                                              std::uint32_t read_seed) {
  auto ex = co_await asio::this_coro::executor;
  auto s = std::make_shared<asio_tcp::socket>(ex);
  asio_error ec;
  co_await s->async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    *connect_error = ec;
    co_return;
  }
  // The writer runs beside the reader so neither side's buffers fill up
  // with echoed data nobody reads.
  asio::co_spawn(
      ex,
      [s, st, total, seed]() -> asio::awaitable<void> {
        co_await write_pattern(*s, *st, total, seed);
        asio_error ignore;
        s->shutdown(asio_tcp::socket::shutdown_send, ignore);
      },
      asio::detached);
  co_await read_all(*s, *st, read_seed);
  asio_error ignore;
  s->close(ignore);
}

/// Half-close server: reads to EOF (the client shut down its send side),
/// then replies with `reply` bytes of pattern `reply_seed` and closes.
inline asio::awaitable<void> sink_then_reply(asio_tcp::socket s, std::shared_ptr<stream_stats> st,
                                             std::uint32_t seed, std::uint64_t reply,
                                             std::uint32_t reply_seed) {
  co_await read_all(s, *st, seed);
  if (st->eof) co_await write_pattern(s, *st, reply, reply_seed);
  asio_error ignore;
  s.shutdown(asio_tcp::socket::shutdown_send, ignore);
  s.close(ignore);
}

/// Reads `n` bytes, then resets the connection (SO_LINGER 0, close) while
/// the peer is still sending.
inline asio::awaitable<void> read_then_reset(asio_tcp::socket s, std::shared_ptr<stream_stats> st,
                                             std::uint64_t n) {
  co_await read_all(s, *st, no_seed, n);
  asio_error ignore;
  s.set_option(asio::socket_base::linger(true, 0), ignore);
  s.close(ignore);
}

/// Accepts one connection into `out`.
inline asio::awaitable<void> accept_one(asio_tcp::acceptor& acc, asio_tcp::socket& out,
                                        asio_error& ec) {
  out = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
}

/// UDP echo: answers `n` datagrams, each to its sender.
inline asio::awaitable<void> udp_echo(asio_udp::socket& s, int n, int& echoed, asio_error& err) {
  std::vector<std::uint8_t> buf(65536);
  for (int i = 0; i < n; ++i) {
    asio_udp::endpoint from;
    asio_error ec;
    const std::size_t got = co_await s.async_receive_from(
        asio::buffer(buf), from, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      err = ec;
      co_return;
    }
    co_await s.async_send_to(asio::buffer(buf.data(), got), from,
                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      err = ec;
      co_return;
    }
    ++echoed;
  }
}

/// A one-way role for one Asio connection: write, then read, then close
/// (with a reset if asked). Reads and writes never overlap, so the error a
/// reset produces is seen by the one call that is running.
struct role {
  std::uint64_t write_total = 0;
  std::uint32_t write_seed = 1;
  bool read = false;
  std::uint32_t read_seed = no_seed;
  std::uint64_t read_limit = UINT64_MAX;
  bool reset = false;  ///< SO_LINGER 0 before close
};

inline asio::awaitable<void> run_role(asio_tcp::socket& s, role r,
                                      std::shared_ptr<stream_stats> st) {
  if (r.write_total > 0) co_await write_pattern(s, *st, r.write_total, r.write_seed);
  if (r.read) co_await read_all(s, *st, r.read_seed, r.read_limit);
  asio_error ignore;
  if (r.reset) s.set_option(asio::socket_base::linger(true, 0), ignore);
  s.close(ignore);
}

inline asio::awaitable<void> accept_role(asio_tcp::acceptor& acc, role r,
                                         std::shared_ptr<stream_stats> st, asio_error& aerr) {
  asio_tcp::socket s(acc.get_executor());
  co_await accept_one(acc, s, aerr);
  if (!aerr) co_await run_role(s, r, st);
}

inline asio::awaitable<void> connect_role(asio_tcp::endpoint ep, role r,
                                          std::shared_ptr<stream_stats> st, asio_error& cerr) {
  asio_tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(ep, asio::redirect_error(asio::use_awaitable, cerr));
  if (!cerr) co_await run_role(s, r, st);
}

/// A point where an Asio coroutine stops until the test thread resumes it.
/// `on_pause` runs on the Asio thread when it gets there (it posts to the
/// pocore port, waking the test thread without polling).
struct pause_point {
  explicit pause_point(asio::io_context& io) : timer(io) {}
  asio::awaitable<void> wait() {
    timer.expires_at(asio::steady_timer::time_point::max());
    paused = true;
    if (on_pause) on_pause();
    asio_error ec;
    // resume() cancels the timer; it runs on this thread only after this
    // coroutine has suspended here, so the wake-up cannot be missed.
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  /// Callable from any thread.
  void resume() {
    asio::post(timer.get_executor(), [this] { timer.cancel(); });
  }
  asio::steady_timer timer;
  std::function<void()> on_pause;
  std::atomic<bool> paused{false};
};

/// Cancel-send peer: accepts, reads `first` bytes, pauses, then reads the
/// rest to EOF; the data is checked against `seed` throughout.
inline asio::awaitable<void> accept_read_pause_read(asio_tcp::acceptor& acc, pause_point& pp,
                                                    std::uint64_t first, std::uint32_t seed,
                                                    std::shared_ptr<stream_stats> st,
                                                    asio_error& aerr) {
  asio_tcp::socket s(acc.get_executor());
  co_await accept_one(acc, s, aerr);
  if (aerr) co_return;
  co_await read_all(s, *st, seed, first);
  co_await pp.wait();
  co_await read_all(s, *st, seed);
  asio_error ignore;
  s.close(ignore);
}

/// Cancel-recv peer: connects, writes `first` bytes, pauses, writes the
/// rest up to `total`, shuts down its send side and reads to EOF.
inline asio::awaitable<void> connect_write_pause_write(asio_tcp::endpoint ep, pause_point& pp,
                                                       std::uint64_t first, std::uint64_t total,
                                                       std::uint32_t seed,
                                                       std::shared_ptr<stream_stats> st,
                                                       asio_error& cerr) {
  asio_tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(ep, asio::redirect_error(asio::use_awaitable, cerr));
  if (cerr) co_return;
  co_await write_pattern(s, *st, first, seed);
  co_await pp.wait();
  co_await write_pattern(s, *st, total, seed, first);
  asio_error ignore;
  s.shutdown(asio_tcp::socket::shutdown_send, ignore);
  co_await read_all(s, *st, no_seed);
  s.close(ignore);
}

/// UDP client: for each size sends one datagram of pattern `seed + i` to
/// `to` and waits for its echo, which must match and come from `to`.
struct udp_stats {
  asio_error error;
  int echoed = 0;
  int bad = 0;  ///< echoes that differed in size, content or source
};

inline asio::awaitable<void> udp_client(asio_udp::socket& s, asio_udp::endpoint to,
                                        std::vector<std::size_t> sizes, udp_stats& st) {
  std::vector<std::uint8_t> out(65536);
  std::vector<std::uint8_t> in(65536);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto seed = static_cast<std::uint32_t>(500 + i);
    fill_pattern_bytes({out.data(), sizes[i]}, 0, seed);
    asio_error ec;
    co_await s.async_send_to(asio::buffer(out.data(), sizes[i]), to,
                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      st.error = ec;
      co_return;
    }
    asio_udp::endpoint from;
    const std::size_t n = co_await s.async_receive_from(
        asio::buffer(in), from, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      st.error = ec;
      co_return;
    }
    std::uint64_t bad = no_mismatch;
    note_pattern(bad, {in.data(), n}, 0, seed);
    if (n != sizes[i] || bad != no_mismatch || from != to) ++st.bad;
    ++st.echoed;
  }
}

/// Accepts one connection, reads it to EOF (pattern 3), replies with
/// `reply` bytes of pattern 7.
inline asio::awaitable<void> accept_sink_reply(asio_tcp::acceptor& acc,
                                               std::shared_ptr<stream_stats> st, asio_error& aerr,
                                               std::uint64_t reply) {
  asio_tcp::socket s(acc.get_executor());
  co_await accept_one(acc, s, aerr);
  if (!aerr) co_await sink_then_reply(std::move(s), st, 3, reply, 7);
}

/// The loopback address of the given family.
inline asio::ip::address asio_loopback(bool v6) {
  return v6 ? asio::ip::address(asio::ip::address_v6::loopback())
            : asio::ip::address(asio::ip::address_v4::loopback());
}

}  // namespace iop
