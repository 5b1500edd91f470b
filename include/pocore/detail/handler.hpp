// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The convenience layer: any callable as a completion handler. Each call
/// takes a record from a recycling pool, so a steady stream of operations
/// reuses the same few blocks instead of allocating.
///
/// Plain operations (connect, recv, send, timers, post, files) keep their
/// records alive between uses in a cache private to each thread: taking one
/// is a pointer pop and returning it a pointer push, with no call, no lock
/// and no re-initialisation of the record (a record may be resubmitted with
/// a new callback, exactly as a caller may resubmit its own). Records the
/// thread cache cannot hold or supply go to or come from the port's pool,
/// which any thread may use.
///
/// A callable is moved into its record when it is submitted. If that move
/// throws, the exception leaves the submitting call: nothing is submitted
/// and the record goes back. When the operation completes, a callable whose
/// move constructor is noexcept is moved out and its record recycled before
/// it runs, so a callable that submits again reuses the same record. A
/// callable whose move may throw is never moved at completion, where no
/// caller could catch the exception: it runs in place, in its record, and
/// is destroyed and the record recycled when it returns (a submission from
/// inside it takes another record). Either way every submission is followed
/// by exactly one call of the callable as it was stored, every copy made
/// is destroyed exactly once, and every record goes back. An exception
/// that escapes a callable ends the program (std::terminate), as for any
/// callback: ports run callbacks in a noexcept context.

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "pocore/socket.hpp"

// Keeps a rare path out of line, so the common one saves no registers.
#if defined(__GNUC__)
#define POCORE_DETAIL_COLD [[gnu::noinline, gnu::cold]]
#elif defined(_MSC_VER)
#define POCORE_DETAIL_COLD __declspec(noinline)
#else
#define POCORE_DETAIL_COLD
#endif

namespace pocore::detail {

/// Takes a block of at least `size` bytes from the port's pool.
void* handler_allocate(io_port& port, std::size_t size);
/// Returns a block to the port's pool.
void handler_deallocate(io_port& port, void* p, std::size_t size) noexcept;

/// Size classes of handler blocks: class c holds blocks of
/// `handler_min_block << c` bytes (64 .. 2048). Larger blocks are not
/// cached.
inline constexpr std::size_t handler_classes = 6;
/// The smallest block size.
inline constexpr std::size_t handler_min_block = 64;

/// The size class of a block of `size` bytes (at least 1): the smallest c
/// with `(handler_min_block << c) >= size`; `handler_classes` or more
/// means too large to cache.
constexpr std::size_t handler_class_of(std::size_t size) noexcept {
  return static_cast<std::size_t>(std::bit_width((size - 1) / handler_min_block));
}

/// A pooled record for a plain operation. The callable lives in the same
/// block, right after it; the record itself stays constructed while the
/// block sits in a thread cache.
struct handler_record : operation {
  /// The port whose pool takes the block if the thread cache cannot.
  io_port* port = nullptr;
};

/// One thread's cache of idle records, one list per size class, linked
/// through `operation::context`. Only its thread touches it.
struct handler_cache {
  handler_record* idle[handler_classes];  ///< idle records per class
  std::uint32_t count[handler_classes];   ///< records in each list
  /// Most records kept per class: 0 until the thread's exit hook is set
  /// (the first return goes through handler_record_release, which sets
  /// it), and 0 again once that hook has freed the cache.
  std::uint32_t limit;
  bool reaped;          ///< the exit hook has run: keep nothing more
  handler_cache* next;  ///< other caches freed by the same exit hook
};

/// Whether plain records use the thread caches. Not with MinGW: its
/// thread_local is emulated (emutls), whose per-thread storage may be freed
/// before thread_local destructors run, so the exit hook would read freed
/// memory (a crash seen under Wine). There every record comes from the
/// port's pool, which keeps a lock-free cache for the thread running it.
#if defined(__MINGW32__)
inline constexpr bool handler_thread_cache = false;
#else
inline constexpr bool handler_thread_cache = true;
#endif

/// The calling thread's cache. Constant-initialised and trivially
/// destructible, so reaching it costs no call; the exit hook that frees
/// its records lives in handler_pool.cpp.
inline thread_local constinit handler_cache this_thread_handlers{};

/// Makes a record in a block of `size` bytes from the port's pool (the
/// thread cache had none). A null port is a programming error: see
/// no_port_for_handler().
handler_record* handler_record_make(io_port* port, std::size_t size);
/// Takes back a record of class `cls` that `cache` cannot hold as it is:
/// on the thread's first return it sets the exit hook and keeps the
/// record; when the cache is full or already freed it returns the block to
/// the record's port.
void handler_record_release(handler_cache& cache, handler_record& rec, std::size_t cls) noexcept;

/// A plain operation with callable `F`: `F f(std::error_code, std::size_t)`
/// or `f(std::error_code)`.
template <class F>
struct handler_fn {
  static_assert(alignof(F) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
                "over-aligned completion handlers are not supported");
  /// Where the callable starts in the block.
  static constexpr std::size_t offset =
      (sizeof(handler_record) + alignof(F) - 1) / alignof(F) * alignof(F);
  static constexpr std::size_t cls = handler_class_of(offset + sizeof(F));
  /// Whether the thread cache takes records of this size.
  static constexpr bool cached = handler_thread_cache && cls < handler_classes;
  /// The block's size: its class's size, or the exact size if uncached.
  static constexpr std::size_t size = cached ? handler_min_block << cls : offset + sizeof(F);

  static void* storage(handler_record& rec) noexcept {
    return reinterpret_cast<unsigned char*>(&rec) + offset;
  }

  /// This thread's idle record of the class, or null.
  static handler_record* try_acquire() noexcept {
    if constexpr (cached) {
      handler_cache& c = this_thread_handlers;
      handler_record* rec = c.idle[cls];
      if (rec != nullptr) [[likely]] {
        c.idle[cls] = static_cast<handler_record*>(rec->context);
        --c.count[cls];
      }
      return rec;
    } else {
      return nullptr;
    }
  }

  /// Points an idle record at `port` and this callable.
  static handler_record& prepare(handler_record& rec, io_port* port, F&& fn) {
    rec.on_complete = &complete;
    rec.port = port;
    if constexpr (std::is_nothrow_move_constructible_v<F>) {
      ::new (storage(rec)) F(std::move(fn));
    } else {
      try {
        ::new (storage(rec)) F(std::move(fn));
      } catch (...) {
        release_slow(rec);
        throw;
      }
    }
    return rec;
  }

  /// A record from the thread cache, else from the port's pool.
  static handler_record* make(io_port* port, F&& fn) {
    handler_record* rec = try_acquire();
    if (rec == nullptr) [[unlikely]]
      rec = handler_record_make(port, size);
    return &prepare(*rec, port, std::move(fn));
  }

  /// `make`, then `submit(record)`; the rare path (no idle record) is out
  /// of line so that the common one is straight-line code ending in the
  /// call of `submit`, and its caller saves no registers for the other.
  template <class Submit>
  static void make_and_submit(io_port* port, F&& fn, const Submit& submit) {
    if (handler_record* rec = try_acquire()) [[likely]]
      submit(prepare(*rec, port, std::move(fn)));
    else
      make_and_submit_slow(port, std::move(fn), submit);
  }

  template <class Submit>
  POCORE_DETAIL_COLD static void make_and_submit_slow(io_port* port, F&& fn, Submit submit) {
    submit(prepare(*handler_record_make(port, size), port, std::move(fn)));
  }

  static void release_slow(handler_record& rec) noexcept {
    if constexpr (cached)
      handler_record_release(this_thread_handlers, rec, cls);
    else
      handler_deallocate(*rec.port, &rec, size);
  }

  static void invoke(F& fn, const std::error_code& ec, std::size_t n) {
    if constexpr (std::is_invocable_v<F&, std::error_code, std::size_t>)
      fn(ec, n);
    else
      fn(ec);
  }

  /// Puts `rec` on the thread cache's list of its class (the caller has
  /// checked there is room).
  static void push_idle(handler_cache& c, handler_record& rec) noexcept {
    rec.context = c.idle[cls];
    c.idle[cls] = &rec;
    ++c.count[cls];
  }

  /// Recycles the record of a callable that has run in place.
  static void release(handler_record& rec) noexcept {
    if constexpr (cached) {
      handler_cache& c = this_thread_handlers;
      if (c.count[cls] < c.limit) [[likely]] {
        push_idle(c, rec);
        return;
      }
    }
    release_slow(rec);
  }

  // A nothrow-movable callable is moved out and the record recycled before
  // the callable runs, so a handler that submits again reuses the same
  // record (the cache is last in, first out). The common case (room in the
  // thread cache) makes no call before the callable's; the rest is out of
  // line. Any other callable runs in place (complete_in_place).
  static void complete(operation& base) {
    auto& rec = static_cast<handler_record&>(base);
    if constexpr (!std::is_nothrow_move_constructible_v<F>) {
      complete_in_place(rec);
    } else {
      if constexpr (cached) {
        handler_cache& c = this_thread_handlers;
        if (c.count[cls] < c.limit) [[likely]] {
          F& stored = *std::launder(static_cast<F*>(storage(rec)));
          F fn(std::move(stored));
          stored.~F();
          const std::error_code ec = rec.error;
          const std::size_t n = rec.bytes;
          push_idle(c, rec);
          invoke(fn, ec, n);
          return;
        }
      }
      complete_slow(rec);
    }
  }

  POCORE_DETAIL_COLD static void complete_slow(handler_record& rec) {
    F& stored = *std::launder(static_cast<F*>(storage(rec)));
    F fn(std::move(stored));
    stored.~F();
    const std::error_code ec = rec.error;
    const std::size_t n = rec.bytes;
    release_slow(rec);
    invoke(fn, ec, n);
  }

  // A callable whose move may throw runs where it is: a move that threw
  // here would have nowhere to go (callbacks run in a noexcept context),
  // so the move is not made. The callable is destroyed and the record
  // recycled when it returns, or while an exception leaves it.
  static void complete_in_place(handler_record& rec) {
    struct retire {
      handler_record& rec;
      F& fn;
      ~retire() {
        fn.~F();
        release(rec);
      }
    };
    const retire done{rec, *std::launder(static_cast<F*>(storage(rec)))};
    const std::error_code ec = rec.error;
    invoke(done.fn, ec, rec.bytes);
  }
};

/// A record of another kind (accept, datagram) that owns a callable. Made
/// and destroyed whole each time, in a block from the port's pool. A
/// nothrow-movable callable is moved out and the block returned before the
/// callable runs; any other runs in place, and the record is destroyed and
/// its block returned when it returns (see the file comment).
template <class Op, class F>
struct handler_op : Op {
  handler_op(io_port& p, F&& fn) : Op(&handler_op::complete), port(&p), f(std::move(fn)) {}
  io_port* port;
  F f;

  static void complete(operation& base) {
    auto* self = static_cast<handler_op*>(&base);
    if constexpr (std::is_nothrow_move_constructible_v<F>)
      complete_moved(self);
    else
      complete_in_place(*self);
  }

  // Calls `fn` with what this kind of record hands over: the accepted
  // socket, or the byte count (and, to a recv_from handler, the sender).
  template <class Result>
  static void call(F& fn, std::error_code ec, Result&& r, const endpoint& from) {
    if constexpr (std::is_same_v<Op, accept_operation>) {
      fn(ec, std::forward<Result>(r));
    } else {
      static_assert(std::is_same_v<Op, datagram_operation>);
      // send_to's handler takes no endpoint.
      if constexpr (std::is_invocable_v<F&, std::error_code, std::size_t, const endpoint&>)
        fn(ec, r, from);
      else
        fn(ec, r);
    }
  }

  static void complete_moved(handler_op* self) {
    io_port& p = *self->port;
    F fn(std::move(self->f));
    std::error_code ec = self->error;
    if constexpr (std::is_same_v<Op, accept_operation>) {
      socket s(std::move(self->accepted));
      self->~handler_op();
      handler_deallocate(p, self, sizeof(handler_op));
      call(fn, ec, std::move(s), endpoint{});
    } else {
      std::size_t n = self->bytes;
      endpoint from = self->peer;
      self->~handler_op();
      handler_deallocate(p, self, sizeof(handler_op));
      call(fn, ec, n, from);
    }
  }

  // As handler_fn::complete_in_place: the record is destroyed and its
  // block returned when the callable returns or an exception leaves it.
  static void complete_in_place(handler_op& self) {
    struct retire {
      handler_op& self;
      ~retire() {
        io_port& p = *self.port;
        self.~handler_op();
        handler_deallocate(p, &self, sizeof(handler_op));
      }
    };
    const retire done{self};
    if constexpr (std::is_same_v<Op, accept_operation>)
      call(self.f, self.error, std::move(self.accepted), self.peer);
    else
      call(self.f, self.error, self.bytes, self.peer);
  }

  static handler_op* make(io_port& p, F&& fn) {
    void* mem = handler_allocate(p, sizeof(handler_op));
    try {
      return ::new (mem) handler_op(p, std::move(fn));
    } catch (...) {
      handler_deallocate(p, mem, sizeof(handler_op));
      throw;
    }
  }
};

/// A socket with no port cannot take a convenience handler: there is no
/// pool and no thread to run it. Such calls are a programming error.
[[noreturn]] void no_port_for_handler();

/// A record of kind `Op` on port `p` that calls `f` once and then recycles
/// itself. A null `p` (a socket on no port) aborts: for plain operations
/// the front end does so when the record is submitted (such a socket is
/// never open), which spares the check here.
template <class Op, class F>
auto* make_handler(io_port* p, F&& f) {
  if constexpr (std::is_same_v<Op, operation>) {
    return handler_fn<std::decay_t<F>>::make(p, std::decay_t<F>(std::forward<F>(f)));
  } else {
    if (p == nullptr) no_port_for_handler();
    return handler_op<Op, std::decay_t<F>>::make(*p, std::decay_t<F>(std::forward<F>(f)));
  }
}

/// Makes a plain record for `f` on port `p` and passes it to `submit`
/// (the record call), as make_handler<operation> does but with the rare
/// path out of line. A null `p` reaches `submit`, whose front end aborts.
template <class F, class Submit>
void submit_handler(io_port* p, F&& f, const Submit& submit) {
  handler_fn<std::decay_t<F>>::make_and_submit(p, std::decay_t<F>(std::forward<F>(f)), submit);
}

/// As above, for a port the caller holds.
template <class Op, class F>
auto* make_handler(io_port& p, F&& f) {
  return make_handler<Op>(&p, std::forward<F>(f));
}

}  // namespace pocore::detail

namespace pocore {

template <class F>
requires(!std::is_base_of_v<operation, std::remove_cvref_t<F>>) void socket::async_accept(F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, socket>,
                "handler must be callable as f(std::error_code, pocore::socket)");
  async_accept(*detail::make_handler<accept_operation>(port_, std::forward<F>(f)));
}

template <class F>
void socket::async_connect(const endpoint& ep, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code>,
                "handler must be callable as f(std::error_code)");
  detail::submit_handler(port_, std::forward<F>(f),
                         [this, &ep](operation& op) { async_connect(op, ep); });
}

template <class F>
void socket::async_recv(buffer b, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t>,
                "handler must be callable as f(std::error_code, std::size_t)");
  detail::submit_handler(port_, std::forward<F>(f),
                         [this, b](operation& op) { async_recv(op, b); });
}

template <class F>
void socket::async_send(const_buffer b, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t>,
                "handler must be callable as f(std::error_code, std::size_t)");
  detail::submit_handler(port_, std::forward<F>(f),
                         [this, b](operation& op) { async_send(op, b); });
}

template <class F>
void socket::async_recv_from(buffer b, F&& f) {
  static_assert(
      std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t, const endpoint&>,
      "handler must be callable as f(std::error_code, std::size_t, const pocore::endpoint&)");
  async_recv_from(*detail::make_handler<datagram_operation>(port_, std::forward<F>(f)), b);
}

template <class F>
void socket::async_send_to(const_buffer b, const endpoint& to, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::error_code, std::size_t>,
                "handler must be callable as f(std::error_code, std::size_t)");
  auto* op = detail::make_handler<datagram_operation>(port_, std::forward<F>(f));
  op->peer = to;
  async_send_to(*op, b);
}

/// Posts any callable `f()` to run on the port.
template <class F>
void post(io_port& port, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "f must be callable as f()");
  auto wrapped = [fn = std::forward<F>(f)](std::error_code) mutable { fn(); };
  port.post(*detail::make_handler<operation>(port, std::move(wrapped)));
}

}  // namespace pocore

#undef POCORE_DETAIL_COLD
