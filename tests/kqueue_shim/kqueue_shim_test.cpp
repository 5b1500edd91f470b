// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The stand-in checked against the kqueue behaviour the backend relies on
// (see kqueue_shim.h), as the FreeBSD and macOS manuals describe it. The
// conformance suite runs the backend through it; this checks the stand-in
// on its own, so a conformance failure on kqueue can be told apart from a
// stand-in that drifted from the real interface.

#include "kqueue_shim.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace {

const timespec no_wait{0, 0};

struct shim_queue {
  int kq = ::kqueue();
  ~shim_queue() { ::kqueue_shim_close(kq); }
  int change(int ident, short filter, unsigned short flags, unsigned fflags = 0,
             void* udata = nullptr) {
    struct kevent ch;
    EV_SET(&ch, static_cast<uintptr_t>(ident), filter, flags, fflags, 0, udata);
    return ::kevent(kq, &ch, 1, nullptr, 0, nullptr);
  }
  int poll(struct kevent* out, int n, const timespec* t = &no_wait) {
    return ::kevent(kq, nullptr, 0, out, n, t);
  }
};

struct socket_pair {
  int fd[2] = {-1, -1};
  socket_pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0); }
  ~socket_pair() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
};

}  // namespace

TEST(unit, kqueue_shim_user_event_is_taken_once) {
  shim_queue q;
  ASSERT_GE(q.kq, 0);
  int tag = 0;
  ASSERT_EQ(q.change(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, &tag), 0);
  struct kevent ev[4];
  EXPECT_EQ(q.poll(ev, 4), 0);
  // Triggered before anyone waits: kept until one call takes it.
  ASSERT_EQ(q.change(1, EVFILT_USER, 0, NOTE_TRIGGER, &tag), 0);
  ASSERT_EQ(q.change(1, EVFILT_USER, 0, NOTE_TRIGGER, &tag), 0);  // folded into one
  ASSERT_EQ(q.poll(ev, 4), 1);
  EXPECT_EQ(ev[0].filter, EVFILT_USER);
  EXPECT_EQ(ev[0].ident, 1u);
  EXPECT_EQ(ev[0].udata, &tag);
  EXPECT_EQ(q.poll(ev, 4), 0);  // EV_CLEAR: taken
}

TEST(unit, kqueue_shim_trigger_wakes_a_blocked_waiter) {
  shim_queue q;
  ASSERT_EQ(q.change(7, EVFILT_USER, EV_ADD | EV_CLEAR), 0);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    q.change(7, EVFILT_USER, 0, NOTE_TRIGGER);
  });
  struct kevent ev[2];
  const timespec five_s{5, 0};
  EXPECT_EQ(q.poll(ev, 2, &five_s), 1);
  t.join();
}

TEST(unit, kqueue_shim_socket_edges_and_eof) {
  shim_queue q;
  socket_pair p;
  int tag = 0;
  ASSERT_EQ(q.change(p.fd[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, &tag), 0);
  ASSERT_EQ(q.change(p.fd[0], EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, &tag), 0);
  struct kevent ev[4];
  // EV_ADD evaluates the filter at once: writable, nothing to read.
  ASSERT_EQ(q.poll(ev, 4), 1);
  EXPECT_EQ(ev[0].filter, EVFILT_WRITE);
  EXPECT_EQ(ev[0].udata, &tag);
  EXPECT_EQ(ev[0].flags & EV_EOF, 0);
  EXPECT_EQ(q.poll(ev, 4), 0);  // EV_CLEAR: no change, no event
  ASSERT_EQ(::write(p.fd[1], "x", 1), 1);
  ASSERT_EQ(q.poll(ev, 4), 1);
  EXPECT_EQ(ev[0].filter, EVFILT_READ);
  EXPECT_EQ(q.poll(ev, 4), 0);
  ::close(p.fd[1]);
  p.fd[1] = -1;
  int n = q.poll(ev, 4);
  ASSERT_GE(n, 1);
  bool read_eof = false;
  for (int i = 0; i < n; ++i)
    read_eof |= ev[i].filter == EVFILT_READ && (ev[i].flags & EV_EOF) != 0;
  EXPECT_TRUE(read_eof);
}

TEST(unit, kqueue_shim_delete_stops_events_and_errors_are_reported) {
  shim_queue q;
  socket_pair p;
  ASSERT_EQ(q.change(p.fd[0], EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  ASSERT_EQ(q.change(p.fd[0], EVFILT_READ, EV_DELETE), 0);
  ASSERT_EQ(::write(p.fd[1], "x", 1), 1);
  struct kevent ev[2];
  EXPECT_EQ(q.poll(ev, 2), 0);
  // No event list: the call fails with the error.
  EXPECT_EQ(q.change(p.fd[0], EVFILT_READ, EV_DELETE), -1);
  EXPECT_EQ(errno, ENOENT);
  // With room: an EV_ERROR entry, returned without waiting.
  struct kevent ch;
  EV_SET(&ch, static_cast<uintptr_t>(p.fd[0]), EVFILT_READ, EV_DELETE, 0, 0, nullptr);
  ASSERT_EQ(::kevent(q.kq, &ch, 1, ev, 2, nullptr), 1);
  EXPECT_EQ(ev[0].flags, EV_ERROR);
  EXPECT_EQ(ev[0].data, ENOENT);
  // What the backend does not use is refused, not half-emulated.
  EXPECT_EQ(q.change(p.fd[0], EVFILT_READ, EV_ADD), -1);  // level-triggered
  EXPECT_EQ(errno, EINVAL);
}
