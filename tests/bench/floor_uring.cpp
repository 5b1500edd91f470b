// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// bench-floor-uring: the least an io_uring echo server can do (liburing),
// the floor for pocore's io_uring backend. One thread, one ring; each
// connection has one request in flight: recv into its buffer, then send
// what came (again for the rest after a short send), then recv again.
// Every loop submits what it queued and waits in one io_uring_enter call,
// then reaps every completion there is; the ring runs completion work only
// in that call (DEFER_TASKRUN) where the kernel has it. See bench_args.hpp.

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "bench_args.hpp"

namespace {

struct conn {
  explicit conn(int d) : fd(d) {}
  int fd;
  bool sending = false;
  std::size_t pending = 0, done = 0;
  char buf[bench::buffer_size];
};

io_uring ring;
int listen_fd = -1;

io_uring_sqe* sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  while (s == nullptr) {  // the submission queue is full: hand it over first
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

void arm_accept() {
  io_uring_sqe* s = sqe();
  io_uring_prep_accept(s, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data(s, nullptr);  // nullptr marks the accept
}
void arm_recv(conn* c) {
  c->sending = false;
  io_uring_sqe* s = sqe();
  io_uring_prep_recv(s, c->fd, c->buf, sizeof c->buf, 0);
  io_uring_sqe_set_data(s, c);
}
void arm_send(conn* c) {
  c->sending = true;
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, c->fd, c->buf + c->done, c->pending - c->done, MSG_NOSIGNAL);
  io_uring_sqe_set_data(s, c);
}

}  // namespace

int main(int argc, char** argv) {
  bench::server_args args = bench::parse_server_args(argc, argv, false, false);
  if (args.threads != 1) return std::fprintf(stderr, "the floor is single-threaded\n"), 2;
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(args.port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(listen_fd, 128) != 0 ||
      getsockname(listen_fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return std::perror("listen"), 1;
  // One thread submits and reaps, so the ring may run completions' task
  // work only when that thread waits (DEFER_TASKRUN, 6.1); failing that,
  // without interrupting it (COOP_TASKRUN, 5.19); failing that, plainly.
  int rc = -EINVAL;
  for (unsigned flags :
       {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0u}) {
    io_uring_params params{};
    params.flags = flags;
    rc = io_uring_queue_init_params(4096, &ring, &params);
    if (rc != -EINVAL) break;
  }
  if (rc < 0) return std::fprintf(stderr, "io_uring_queue_init: %s\n", std::strerror(-rc)), 1;
  arm_accept();
  bench::print_listening(ntohs(sa.sin_port));

  for (;;) {
    int rc = io_uring_submit_and_wait(&ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
      return std::fprintf(stderr, "io_uring_submit_and_wait: %s\n", std::strerror(-rc)), 1;
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      auto* c = static_cast<conn*>(io_uring_cqe_get_data(cqe));
      int res = cqe->res;
      if (c == nullptr) {
        if (res >= 0) {
          setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          arm_recv(new conn(res));
        }
        arm_accept();
      } else if (res <= 0) {  // error, or end of stream on a recv
        close(c->fd);
        delete c;
        bench::connection_ended();
      } else if (!c->sending) {
        c->pending = static_cast<std::size_t>(res);
        c->done = 0;
        arm_send(c);
      } else {
        c->done += static_cast<std::size_t>(res);
        if (c->done < c->pending)
          arm_send(c);
        else
          arm_recv(c);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
