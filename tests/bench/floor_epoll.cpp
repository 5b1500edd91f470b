// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// bench-floor-epoll: the least an epoll echo server can do, the floor no
// library on epoll can beat. Level-triggered, one thread: epoll_wait, then
// per ready connection one read and one write (3 system calls per message
// at one connection). A write that cannot finish (rare on loopback) parks
// the rest and waits for EPOLLOUT. No error recovery beyond closing the
// connection. See bench_args.hpp for the command line.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "bench_args.hpp"

namespace {

struct conn {
  explicit conn(int d) : fd(d) {}
  int fd;
  std::size_t pending = 0, done = 0;  // bytes of buf still to write back
  char buf[bench::buffer_size];
};

void close_conn(int ep, conn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  delete c;
  bench::connection_ended();
}

// Writes what is pending; false if the connection failed.
bool flush(int ep, conn* c) {
  while (c->done < c->pending) {
    ssize_t n = write(c->fd, c->buf + c->done, c->pending - c->done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return false;
      epoll_event ev{};
      ev.events = EPOLLOUT;  // stop reading until the echo is out
      ev.data.ptr = c;
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      return true;
    }
    c->done += static_cast<std::size_t>(n);
  }
  c->pending = c->done = 0;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bench::server_args args = bench::parse_server_args(argc, argv, false, false);
  if (args.threads != 1) return std::fprintf(stderr, "the floor is single-threaded\n"), 2;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(args.port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(lfd, 128) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return std::perror("listen"), 1;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;  // nullptr marks the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  bench::print_listening(ntohs(sa.sin_port));

  epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::perror("epoll_wait"), 1;
    }
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<conn*>(events[i].data.ptr);
      if (c == nullptr) {
        int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = new conn(fd);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        continue;
      }
      if (c->pending != 0) {  // EPOLLOUT: finish the parked echo, then read again
        if (!flush(ep, c)) {
          close_conn(ep, c);
        } else if (c->pending == 0) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        continue;
      }
      ssize_t got = read(c->fd, c->buf, sizeof c->buf);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        close_conn(ep, c);
        continue;
      }
      c->pending = static_cast<std::size_t>(got);
      if (!flush(ep, c)) close_conn(ep, c);
    }
  }
}
