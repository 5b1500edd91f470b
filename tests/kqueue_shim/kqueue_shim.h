// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// A test-only stand-in for the BSD kqueue()/kevent() interface, built on
// Linux epoll, so that posix/kqueue_reactor.cpp -- the same source that
// runs on macOS and FreeBSD -- can run the conformance suite on Linux.
// It is linked only into test builds (CMake option POCORE_KQUEUE_SHIM);
// a release library never contains it.
//
// It implements exactly what the kqueue backend relies on and refuses the
// rest with EINVAL, so a backend change that needs more fails loudly here
// instead of passing against semantics the real kernel does not have:
//
//   filters  EVFILT_READ, EVFILT_WRITE  on any descriptor epoll accepts,
//                                       EV_CLEAR (edge) only
//            EVFILT_USER                EV_CLEAR only, fflags NOTE_TRIGGER
//   flags    EV_ADD (add or modify), EV_DELETE, EV_CLEAR;
//            returned: EV_EOF, EV_ERROR (a failed change, errno in data)
//   kevent() changelist applied in order, then eventlist with a timeout
//            (null: no bound); errors as on FreeBSD: an EV_ERROR entry if
//            the eventlist has room, else -1 and errno for the first
//            failed change (later changes are not applied).
//
// How it maps (details in kqueue_shim.cpp):
//   - kqueue() is two epoll instances and an eventfd: READ knotes are
//     registered in the main instance (EPOLLIN | EPOLLRDHUP | EPOLLET),
//     WRITE knotes in the second (EPOLLOUT | EPOLLET), which is registered
//     in the main one, so each direction gets its own edges as kqueue's
//     separate knotes do. EPOLLIN -> READ, EPOLLOUT -> WRITE; EPOLLRDHUP
//     -> READ with EV_EOF; EPOLLHUP -> both with EV_EOF; EPOLLERR -> both
//     (a pending error fires both filters in kqueue too).
//   - EVFILT_USER: NOTE_TRIGGER marks the knote and makes the eventfd
//     readable (registered level-triggered); the kevent() call that
//     returns the knote clears it (EV_CLEAR) and empties the eventfd once
//     no user knote is left triggered. Until then every waiter can see it,
//     so, as in the kernel, one trigger is consumed by exactly one caller.
//   - A knote deleted (or a descriptor deleted and added again) while
//     another thread's epoll_wait() already holds its event: the event is
//     dropped, since no event is returned for a knote once its EV_DELETE
//     has returned.

// Limits (none of which the backend depends on):
//   - kevent.data is always 0 (no byte counts) and fflags 0 (no so_error
//     with EV_EOF); no EV_OOBAND, no low-water marks.
//   - close() of a descriptor is invisible to the shim: its knotes stay in
//     the table until EV_DELETE (epoll itself forgets the descriptor, so
//     no event is reported for it, and an EV_ADD for a reused number
//     replaces the stale entry). The backend deletes before closing.
//   - close() of the kqueue itself is invisible too, hence
//     kqueue_shim_close(), which frees the epoll instances, the eventfd
//     and the table; the backend calls it in place of close() when built on
//     the shim.
//   - Real kqueues are not inherited by fork(); this one is.

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

// Values as on FreeBSD.
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_USER (-11)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_CLEAR 0x0020
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define NOTE_TRIGGER 0x01000000

struct kevent {
  uintptr_t ident;
  int16_t filter;
  uint16_t flags;
  uint32_t fflags;
  int64_t data;
  void* udata;
};

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* ev_set_ = (kevp);   \
    ev_set_->ident = (a);              \
    ev_set_->filter = (b);             \
    ev_set_->flags = (c);              \
    ev_set_->fflags = (d);             \
    ev_set_->data = (e);               \
    ev_set_->udata = (f);              \
  } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout);
/// Closes a kqueue made by kqueue(), with everything the shim keeps for it.
int kqueue_shim_close(int kq);

#ifdef __cplusplus
}
#endif
