// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0

#include "interop_pocore.hpp"

#include <algorithm>

namespace iop {

using pocore::buffer;
using pocore::const_buffer;
using pocore::operation;

// ---- echo_conn ----

echo_conn::echo_conn(pocore::socket s)
    : sock_(std::move(s)), buf_(pocore_chunk), recv_(&on_recv, this), send_(&on_send, this) {}

void echo_conn::start() { sock_.async_recv(recv_, buffer{buf_.data(), buf_.size()}); }

void echo_conn::on_recv(operation& o) {
  auto* c = static_cast<echo_conn*>(o.context);
  if (o.error) {
    c->stats.read_error = o.error;
    c->finish();
    return;
  }
  if (o.bytes == 0) {
    c->stats.eof = true;
    c->finish();
    return;
  }
  c->stats.received_sum.add({c->buf_.data(), o.bytes});
  c->stats.received += o.bytes;
  c->sock_.async_send(c->send_, const_buffer{c->buf_.data(), o.bytes});
}

void echo_conn::on_send(operation& o) {
  auto* c = static_cast<echo_conn*>(o.context);
  c->stats.sent_sum.add({c->buf_.data(), o.bytes});
  c->stats.sent += o.bytes;
  if (o.error) {
    c->stats.write_error = o.error;
    c->finish();
    return;
  }
  c->start();
}

void echo_conn::finish() {
  // Nothing is pending here: recv and send alternate. The shutdown gives
  // the peer its EOF after the last echoed byte; its error (peer already
  // gone) does not matter.
  (void)sock_.shutdown(pocore::shutdown_how::send);
  sock_.close();
  done_ = true;
}

// ---- echo_server ----

echo_server::echo_server(pocore::io_port& port, pocore::address_family family, int n)
    : bound_(),
      listener_(pocore_test::make_listener(port, loopback(family), bound_)),
      accept_(&on_accept, this),
      want_(n) {
  if (listener_.is_open()) listener_.async_accept(accept_);
}

bool echo_server::done() const noexcept {
  if (accept_error || listener_.is_open()) return accept_error.operator bool();
  return std::all_of(conns.begin(), conns.end(), [](const auto& c) { return c->done(); });
}

void echo_server::on_accept(operation& o) {
  auto* s = static_cast<echo_server*>(o.context);
  if (o.error) {
    s->accept_error = o.error;
    s->listener_.close();
    return;
  }
  s->conns.push_back(std::make_unique<echo_conn>(std::move(s->accept_.accepted)));
  s->conns.back()->start();
  if (static_cast<int>(s->conns.size()) == s->want_) {
    s->listener_.close();
  } else {
    s->listener_.async_accept(s->accept_);
  }
}

// ---- stream ----

stream::stream(pocore::io_port& port, const options& opt)
    : opt_(opt),
      sock_(port),
      rbuf_(pocore_chunk),
      sbuf_(pocore_chunk),
      connect_(&on_connect, this),
      recv_(&on_recv, this),
      send_(&on_send, this) {}

void stream::connect(const pocore::endpoint& ep) {
  const std::error_code ec = sock_.open(ep.family(), pocore::socket_type::stream);
  if (ec) {
    connect_error = ec;
    closed_ = true;
    return;
  }
  sock_.async_connect(connect_, ep);
}

void stream::start(pocore::socket s) {
  sock_ = std::move(s);
  begin();
}

void stream::on_connect(operation& o) {
  auto* s = static_cast<stream*>(o.context);
  if (o.error) {
    s->connect_error = o.error;
    s->sock_.close();
    s->closed_ = true;
    return;
  }
  s->begin();
}

void stream::begin() {
  if (opt_.send_after_eof || opt_.send_total == 0) {
    if (!opt_.send_after_eof) {
      send_done_ = true;
      if (opt_.shutdown_after_send) (void)sock_.shutdown(pocore::shutdown_how::send);
    }
  } else {
    send_next();
  }
  if (opt_.receive) {
    recv_next();
  } else {
    recv_done_ = true;
    maybe_close();
  }
}

void stream::send_next() {
  const std::uint64_t left = opt_.send_total - stats.sent;
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(sbuf_.size(), left));
  fill_pattern_bytes({sbuf_.data(), n}, stats.sent, opt_.send_seed);
  sock_.async_send(send_, const_buffer{sbuf_.data(), n});
}

void stream::recv_next() {
  const std::uint64_t left = opt_.recv_limit - stats.received;
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(rbuf_.size(), left));
  sock_.async_recv(recv_, buffer{rbuf_.data(), n});
}

void stream::on_send(operation& o) {
  auto* s = static_cast<stream*>(o.context);
  s->stats.sent_sum.add({s->sbuf_.data(), o.bytes});
  s->stats.sent += o.bytes;
  if (o.error || !s->sock_.is_open()) {
    if (o.error) s->stats.write_error = o.error;
    s->send_done_ = true;
    s->maybe_close();
    return;
  }
  if (s->stats.sent < s->opt_.send_total) {
    s->send_next();
    return;
  }
  s->send_done_ = true;
  if (s->opt_.shutdown_after_send) (void)s->sock_.shutdown(pocore::shutdown_how::send);
  s->maybe_close();
}

void stream::on_recv(operation& o) {
  auto* s = static_cast<stream*>(o.context);
  if (o.error || o.bytes == 0 || !s->sock_.is_open()) {
    if (o.error) {
      s->stats.read_error = o.error;
    } else if (s->sock_.is_open()) {
      s->stats.eof = true;
    }
    s->recv_done_ = true;
    if (s->stats.eof && s->opt_.send_after_eof && s->opt_.send_total > 0) {
      s->send_next();
      return;
    }
    if (o.error && !s->send_done_) s->sock_.close();  // aborts the send
    s->maybe_close();
    return;
  }
  if (s->opt_.recv_seed != no_seed) {
    note_pattern(s->stats.first_bad, {s->rbuf_.data(), o.bytes}, s->stats.received,
                 s->opt_.recv_seed);
  }
  s->stats.received_sum.add({s->rbuf_.data(), o.bytes});
  s->stats.received += o.bytes;
  if (s->stats.received >= s->opt_.recv_limit) {
    s->recv_done_ = true;
    if (s->opt_.reset_at_limit) {
      // SO_LINGER 0: close sends RST, aborting the peer mid-transfer.
      (void)s->sock_.set_option(pocore::socket_option::linger, 0);
      s->sock_.close();
      if (s->send_done_) s->closed_ = true;
      return;
    }
    s->maybe_close();
    return;
  }
  s->recv_next();
}

void stream::maybe_close() {
  if (!send_done_ || !recv_done_ || closed_) return;
  // SO_LINGER 0: close sends RST, dropping whatever the peer has not read.
  if (opt_.reset_when_done) (void)sock_.set_option(pocore::socket_option::linger, 0);
  sock_.close();
  closed_ = true;
}

}  // namespace iop
