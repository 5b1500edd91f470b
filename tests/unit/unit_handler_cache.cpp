// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The convenience layer's record recycling (include/pocore/detail/handler.hpp,
// common/handler_pool.cpp): each thread keeps idle records per size class,
// a record goes back before its callable runs (so a callable that submits
// again gets the same block), and a thread's records are freed when it
// exits. On MinGW the thread cache is off and every record comes from the
// port's pool; these tests hold for both.
//
// What they check from the outside: every callable runs exactly once with
// its captures intact (a byte pattern per callable, checked in full);
// every capture object made is destroyed exactly once (a live count and a
// guard word), including captures that passed through recycled blocks and
// threads that exit with records cached; a capture whose move throws makes
// the call throw that exception, submits nothing and leaves the layer
// working; a capture whose move throws once its operation has completed
// is never moved then (it runs in place, once, and its record goes back);
// a resubmitting callable gets its own block back, and a callable of
// another size class does not. Leaks of the blocks themselves are the
// asan leg's (LeakSanitizer) to catch.

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "pocore_test.hpp"

#if defined(__linux__) && __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define POCORE_UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define POCORE_UNDER_VALGRIND() false
#endif

using namespace pocore_test;

namespace {

// ---- captures that count themselves ----

std::atomic<long> g_made{0};
std::atomic<long> g_gone{0};
std::atomic<long> g_bad{0};  // a copy/move from, or a destruction of, a dead object

/// Counts its constructions and destructions; a guard word catches a
/// second destruction or a use after one (while the memory still holds it).
struct tracked {
  static constexpr std::uint32_t alive = 0x5AFEC0DEu;
  static constexpr std::uint32_t dead = 0xDEADBEEFu;
  std::uint32_t guard = alive;
  tracked() noexcept { g_made.fetch_add(1, std::memory_order_relaxed); }
  tracked(const tracked& o) noexcept { from(o); }
  tracked(tracked&& o) noexcept { from(o); }
  tracked& operator=(const tracked&) = delete;
  tracked& operator=(tracked&&) = delete;
  ~tracked() {
    if (guard != alive) g_bad.fetch_add(1, std::memory_order_relaxed);
    guard = dead;
    g_gone.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  void from(const tracked& o) noexcept {
    if (o.guard != alive) g_bad.fetch_add(1, std::memory_order_relaxed);
    g_made.fetch_add(1, std::memory_order_relaxed);
  }
};

/// The capture objects alive now, as seen from a test's start.
class live_scope {
 public:
  live_scope() : made_(g_made.load()), gone_(g_gone.load()), bad_(g_bad.load()) {}
  long made() const { return g_made.load() - made_; }
  long live() const { return made() - (g_gone.load() - gone_); }
  long bad() const { return g_bad.load() - bad_; }

 private:
  long made_, gone_, bad_;
};

// ---- callables of several size classes ----

/// What the callables report: runs per id, and ids whose capture was
/// wrong when they ran.
struct results {
  explicit results(std::size_t n)
      : ran(new std::atomic<int>[n]), corrupt(new std::atomic<int>[n]), size(n) {
    for (std::size_t i = 0; i < n; ++i) {
      ran[i] = 0;
      corrupt[i] = 0;
    }
  }
  std::unique_ptr<std::atomic<int>[]> ran;
  std::unique_ptr<std::atomic<int>[]> corrupt;
  std::size_t size;
  std::atomic<long> total{0};

  int runs_not_one() const {
    int n = 0;
    for (std::size_t i = 0; i < size; ++i) n += ran[i].load() != 1 ? 1 : 0;
    return n;
  }
  int corrupted() const {
    int n = 0;
    for (std::size_t i = 0; i < size; ++i) n += corrupt[i].load() != 0 ? 1 : 0;
    return n;
  }
};

/// A callable carrying `N` bytes of pattern seeded by its id; running it
/// checks every byte, counts the run and may submit a follow-up.
template <std::size_t N>
struct job {
  std::array<std::uint8_t, N> bytes;
  tracked t;
  std::uint32_t id;
  results* out;
  // Run on the port: called with the follow-up's id (or none).
  void (*then)(std::uint32_t id, results* out) = nullptr;

  job(std::uint32_t id_, results* out_) : id(id_), out(out_) {
    for (std::size_t i = 0; i < N; ++i) bytes[i] = pattern_byte(i, id_);
  }
  void operator()() {
    bool ok = true;
    for (std::size_t i = 0; i < N && ok; ++i) ok = bytes[i] == pattern_byte(i, id);
    if (id >= out->size) return;  // an id out of range is itself corruption
    if (!ok) out->corrupt[id].fetch_add(1);
    out->ran[id].fetch_add(1);
    out->total.fetch_add(1);
    if (then != nullptr) then(id, out);
  }
};

// The sizes used: one capture per size class a record can have (a record
// takes more than 128 bytes), plus one too large for any class.
constexpr std::size_t kSizes[] = {40, 300, 700, 1500, 3000};
constexpr int kKinds = static_cast<int>(std::size(kSizes));

template <std::size_t N>
constexpr std::size_t class_of_job() {
  return pocore::detail::handler_fn<job<N>>::cls;
}
// Guards the choice of sizes: each lands in its own class, and the last is
// beyond every class (the port's pool serves it exactly, uncached).
static_assert(class_of_job<40>() < class_of_job<300>() &&
              class_of_job<300>() < class_of_job<700>() &&
              class_of_job<700>() < class_of_job<1500>() &&
              class_of_job<1500>() + 1 == pocore::detail::handler_classes &&
              class_of_job<3000>() >= pocore::detail::handler_classes);

template <std::size_t N>
void post_job(pocore::io_port& port, std::uint32_t id, results* out,
              void (*then)(std::uint32_t, results*)) {
  job<N> j(id, out);
  j.then = then;
  pocore::post(port, std::move(j));
}

/// Posts a job of kind `kind` (an index into kSizes) with `id` on `port`.
void post_kind(pocore::io_port& port, int kind, std::uint32_t id, results* out,
               void (*then)(std::uint32_t, results*) = nullptr) {
  static_assert(kKinds == 5);
  switch (kind) {
    case 0:
      return post_job<kSizes[0]>(port, id, out, then);
    case 1:
      return post_job<kSizes[1]>(port, id, out, then);
    case 2:
      return post_job<kSizes[2]>(port, id, out, then);
    case 3:
      return post_job<kSizes[3]>(port, id, out, then);
    default:
      return post_job<kSizes[4]>(port, id, out, then);
  }
}

// ---- the port a follow-up goes to ----
// Follow-ups are posted by a plain function pointer (no capture to keep
// the job types few), so the port and the id base live here; each test
// sets them before anything runs and the port's run orders the reads.
pocore::io_port* g_port = nullptr;
std::uint32_t g_followup_base = 0;

/// Posts one follow-up of the next size class, with id `base + id`.
void followup(std::uint32_t id, results* out) {
  post_kind(*g_port, static_cast<int>((id + 1) % kKinds), g_followup_base + id, out);
}

/// Runs `port` until `pred()` or the budget ends, yielding between looks
/// (another thread runs the port). Bounded in time and in count.
template <class Pred>
bool wait_for(Pred pred) {
  const auto deadline = clock::now() + wait_budget();
  for (long i = 0; i < 100'000'000 && !pred(); ++i) {
    if (clock::now() >= deadline) break;
    std::this_thread::yield();
  }
  return pred();
}

/// The end of a test that ran jobs, once its port is gone (a record still
/// queued holds its capture until then): each of the `expected` callables
/// ran exactly once with its capture intact, and every capture object made
/// since `live` began was destroyed exactly once.
void expect_ran_once_and_freed(const results& out, long expected, const live_scope& live) {
  EXPECT_EQ(out.total.load(), expected);
  EXPECT_EQ(out.runs_not_one(), 0) << "callables that did not run exactly once";
  EXPECT_EQ(out.corrupted(), 0) << "callables whose capture changed on the way";
  EXPECT_EQ(live.live(), 0) << "capture objects made but never destroyed (or destroyed twice)";
  EXPECT_EQ(live.bad(), 0) << "a capture was used or destroyed after its destruction";
}

}  // namespace

// Rounds of every size class, in rotating order, each callable posting one
// of the next class from inside itself: every one runs once, intact, and
// every capture is destroyed exactly once.
POCORE_UNIT(lambda_captures_intact_across_size_classes) {
  live_scope live;
  constexpr std::uint32_t kRounds = 200;
  constexpr std::uint32_t kFirst = kRounds * kKinds;
  results out(2 * kFirst);
  {
    pocore::io_port port;
    g_port = &port;
    g_followup_base = kFirst;
    for (std::uint32_t r = 0; r < kRounds; ++r) {
      for (int k = 0; k < kKinds; ++k) {
        const std::uint32_t id = r * kKinds + static_cast<std::uint32_t>(k);
        post_kind(port, static_cast<int>((k + r) % kKinds), id, &out, &followup);
      }
      // Every few rounds, run what is there: blocks go back to the cache
      // and the next rounds take them again, in another class order.
      if (r % 7 == 6) {
        ASSERT_TRUE(drain(port));
      }
    }
    ASSERT_TRUE(drain(port));
    EXPECT_EQ(port.outstanding(), 0u);
    g_port = nullptr;
  }
  EXPECT_GT(live.made(), 0);
  expect_ran_once_and_freed(out, 2 * kFirst, live);
}

namespace {

// Where the last `probe` was copied or moved to. A callable's last move on
// the way in is into its record's block, so right after a submission this
// is the address of the callable inside the block.
const void* g_placed = nullptr;

struct probe {
  probe() = default;
  probe(const probe&) noexcept { g_placed = this; }
  probe(probe&&) noexcept { g_placed = this; }
  probe& operator=(const probe&) = delete;
  probe& operator=(probe&&) = delete;
};

struct hop_state {
  pocore::io_port* port;
  int left;
  int small_runs = 0;
  std::vector<const void*> big_at;    // where each resubmitted big callable was put
  std::vector<const void*> small_at;  // where each small one was put
};

struct small_hop {
  probe where;
  std::array<char, 8> pad{};
  hop_state* s;
  void operator()() { ++s->small_runs; }
};

struct big_hop {
  probe where;
  std::array<char, 900> pad{};
  hop_state* s;
  void operator()() {
    // Another class first: it must not get this callable's block, which
    // went back to the cache before this call.
    pocore::post(*s->port, small_hop{{}, {}, s});
    s->small_at.push_back(g_placed);
    if (--s->left > 0) {
      pocore::post(*s->port, big_hop{{}, {}, s});
      s->big_at.push_back(g_placed);
    }
  }
};

static_assert(pocore::detail::handler_fn<big_hop>::cls !=
              pocore::detail::handler_fn<small_hop>::cls);

}  // namespace

// A callable that submits again from inside itself reuses its own block
// (the record goes back before the callable runs, last in first out); one
// of another size class gets another block.
POCORE_UNIT(lambda_resubmit_reuses_its_block) {
  pocore::io_port port;
  hop_state s{&port, 1000, 0, {}, {}};
  pocore::post(port, big_hop{{}, {}, &s});
  const void* first = g_placed;
  ASSERT_TRUE(drain(port));
  ASSERT_EQ(s.big_at.size(), 999u);
  ASSERT_EQ(s.small_at.size(), 1000u);
  EXPECT_EQ(s.small_runs, 1000);
  int moved = 0;
  for (const void* at : s.big_at) moved += at != first ? 1 : 0;
  EXPECT_EQ(moved, 0) << "resubmissions from inside the callable that got another block";
  int shared = 0;
  for (const void* at : s.small_at) shared += at == first ? 1 : 0;
  EXPECT_EQ(shared, 0) << "a callable of another size class got the big one's block";
}

namespace {

std::atomic<bool> g_throw_on_move{false};

struct move_failure : std::runtime_error {
  move_failure() : std::runtime_error("move failed") {}
};

/// Copies fine; its move throws while g_throw_on_move is set.
struct fragile {
  tracked t;
  int value = 0;
  fragile() = default;
  fragile(const fragile&) = default;
  fragile(fragile&& o) : t(std::move(o.t)), value(o.value) {
    if (g_throw_on_move.load()) throw move_failure();
  }
};

struct fragile_io {  // f(std::error_code, std::size_t)
  fragile f;
  int* runs;
  std::size_t* got;
  void operator()(std::error_code ec, std::size_t n) {
    ++*runs;
    *got = ec ? 0 : n;
  }
};
struct fragile_wait {  // f(std::error_code)
  fragile f;
  int* runs;
  void operator()(std::error_code) { ++*runs; }
};

static_assert(!std::is_nothrow_move_constructible_v<fragile_io>);

/// Sets g_throw_on_move for its lifetime.
struct throwing_moves {
  throwing_moves() { g_throw_on_move = true; }
  ~throwing_moves() { g_throw_on_move = false; }
  throwing_moves(const throwing_moves&) = delete;
  throwing_moves& operator=(const throwing_moves&) = delete;
};

}  // namespace

// A callable whose move throws while it is put into its record: the call
// throws that exception (handler.hpp: the block goes back, the exception
// is rethrown), nothing is submitted or run, no capture is lost, and the
// same operations work afterwards. An lvalue is copied first, so the
// throwing move is the one into the block.
POCORE_UNIT(lambda_throwing_move_submits_nothing) {
  live_scope live;
  {
    pocore::io_port port;
    stream_pair p = make_tcp_pair(port);
    ASSERT_TRUE(p.client.is_open() && p.server.is_open());
    pocore::timer t(port);
    int recv_runs = 0, wait_runs = 0;
    std::size_t got = 0;
    char in[16] = {};
    fragile_io on_recv{{}, &recv_runs, &got};
    fragile_wait on_wait{{}, &wait_runs};
    on_recv.f.value = on_wait.f.value = 7;
    constexpr int kTries = 200;  // more than a thread cache class holds
    int thrown = 0;
    {
      throwing_moves armed;
      for (int i = 0; i < kTries; ++i) {
        try {
          p.server.async_recv(pocore::buffer{in, sizeof in}, on_recv);
        } catch (const move_failure&) {
          ++thrown;
        }
        try {
          t.async_wait_until(pocore::timer::clock::now(), on_wait);
        } catch (const move_failure&) {
          ++thrown;
        }
        EXPECT_THROW(pocore::post(port, [f = on_wait.f] { (void)f; }), move_failure);
      }
    }
    EXPECT_EQ(thrown, 2 * kTries) << "a submission with a throwing move did not throw";
    EXPECT_EQ(port.outstanding(), 0u) << "a failed submission left work counted";
    EXPECT_EQ(t.pending(), 0u);
    EXPECT_EQ(port.poll(), 0u) << "a failed submission ran a callback";
    EXPECT_EQ(recv_runs + wait_runs, 0);

    // Nothing was left pending on the socket: the next recv gets the data.
    const char msg[] = "after the throw";
    std::error_code ec;
    ASSERT_EQ(p.client.send(pocore::const_buffer{msg, sizeof msg}, ec), sizeof msg);
    p.server.async_recv(pocore::buffer{in, sizeof in}, on_recv);  // moves fine now
    t.async_wait_until(pocore::timer::clock::now(), on_wait);
    ASSERT_TRUE(run_until(port, [&] { return recv_runs == 1 && wait_runs == 1; }));
    EXPECT_GT(got, 0u);
    EXPECT_EQ(std::string(in, got), std::string(msg, got));
    EXPECT_EQ(on_recv.f.value, 7);
    p.client.close();
    p.server.close();
    EXPECT_TRUE(drain(port));
    EXPECT_EQ(recv_runs + wait_runs, 2);
  }
  EXPECT_EQ(live.live(), 0) << "capture objects made but never destroyed (or destroyed twice)";
  EXPECT_EQ(live.bad(), 0);
}

namespace {

/// What a callable of the next case saw when it ran: how often, whether
/// its capture was intact, and where it was (inside its record's block
/// when it runs in place).
struct seen {
  int runs = 0;
  int wrong = 0;
  const void* at = nullptr;
  void note(const void* where, const fragile& f) {
    ++runs;
    wrong += f.value != 7 ? 1 : 0;
    at = where;
  }
};

// One callable per shape the layer has: plain records (post, connect,
// recv, send, timer wait) and whole-made ones (accept, datagrams). Each
// carries a fragile, so none is nothrow-movable.
struct seen_post {
  fragile f;
  seen* s;
  void operator()() { s->note(this, f); }
};
struct seen_done {  // connect, timer wait
  fragile f;
  seen* s;
  void operator()(std::error_code ec) {
    s->note(this, f);
    if (ec) ++s->wrong;
  }
};
struct seen_bytes {  // recv, send, send_to
  fragile f;
  seen* s;
  std::size_t* got;
  void operator()(std::error_code ec, std::size_t n) {
    s->note(this, f);
    *got = ec ? 0 : n;
  }
};
struct seen_accept {
  fragile f;
  seen* s;
  pocore::socket* out;
  void operator()(std::error_code ec, pocore::socket sock) {
    s->note(this, f);
    if (!ec) *out = std::move(sock);
  }
};
struct seen_from {
  fragile f;
  seen* s;
  std::size_t* got;
  void operator()(std::error_code ec, std::size_t n, const pocore::endpoint&) {
    s->note(this, f);
    *got = ec ? 0 : n;
  }
};

static_assert(!std::is_nothrow_move_constructible_v<seen_accept> &&
              !std::is_nothrow_move_constructible_v<seen_from>);

}  // namespace

// A callable whose move throws when its operation completes (it moved
// fine when submitted): handler.hpp's promise is that the layer never
// moves such a callable at completion, so nothing throws inside run().
// Every operation's callable runs once, in place and intact; each record
// goes back (the next callable of its size takes the same block); every
// capture is destroyed exactly once; and the port goes on working.
POCORE_UNIT(lambda_throwing_move_at_completion_runs_in_place) {
  live_scope live;
  {
    pocore::io_port port;
    stream_pair p = make_tcp_pair(port);
    ASSERT_TRUE(p.client.is_open() && p.server.is_open());
    pocore::endpoint listen_at, udp_at, udp2_at;
    pocore::socket listener = make_listener(port, pocore::endpoint::loopback_v4(), listen_at);
    pocore::socket udp = make_udp(port, pocore::address_family::ipv4, udp_at);
    pocore::socket udp2 = make_udp(port, pocore::address_family::ipv4, udp2_at);
    ASSERT_TRUE(listener.is_open() && udp.is_open() && udp2.is_open());
    pocore::socket dialer(port);
    ASSERT_FALSE(dialer.open(pocore::address_family::ipv4, pocore::socket_type::stream));
    pocore::socket accepted;
    pocore::timer t(port);
    fragile f;
    f.value = 7;
    seen posted, connected, received, sent, waited, accepted_by, from_by, sent_to;
    std::size_t got_recv = 0, got_send = 0, got_from = 0, got_send_to = 0;
    char in[16] = {}, dgram[16] = {};
    const char msg[] = "ping";

    // Submitted while moves work: each callable moves into its record.
    pocore::post(port, seen_post{f, &posted});
    listener.async_accept(seen_accept{f, &accepted_by, &accepted});
    dialer.async_connect(listen_at, seen_done{f, &connected});
    p.server.async_recv(pocore::buffer{in, sizeof in}, seen_bytes{f, &received, &got_recv});
    p.client.async_send(pocore::const_buffer{msg, sizeof msg}, seen_bytes{f, &sent, &got_send});
    t.async_wait_until(pocore::timer::clock::now(), seen_done{f, &waited});
    udp.async_recv_from(pocore::buffer{dgram, sizeof dgram}, seen_from{f, &from_by, &got_from});
    udp2.async_send_to(pocore::const_buffer{msg, sizeof msg}, udp_at,
                       seen_bytes{f, &sent_to, &got_send_to});
    seen* const all[] = {&posted, &connected,   &received, &sent,
                         &waited, &accepted_by, &from_by,  &sent_to};
    const auto total_runs = [&] {
      int n = 0;
      for (const seen* s : all) n += s->runs;
      return n;
    };
    {
      // Every move from here on throws: one at completion would leave
      // complete() with nowhere to go (a callback runs in a noexcept
      // context, so the program would end).
      throwing_moves armed;
      ASSERT_TRUE(run_until(port, [&] { return total_runs() == 8; }))
          << total_runs() << " of 8 callables ran";
      EXPECT_EQ(port.poll(), 0u) << "a callable ran twice";
      for (const seen* s : all) {
        EXPECT_EQ(s->runs, 1);
        EXPECT_EQ(s->wrong, 0) << "a callable's capture or result was wrong";
      }
      EXPECT_EQ(got_recv, sizeof msg);
      EXPECT_EQ(got_send, sizeof msg);
      EXPECT_EQ(got_from, sizeof msg);
      EXPECT_EQ(got_send_to, sizeof msg);
      EXPECT_EQ(std::string(in, sizeof msg), std::string(msg, sizeof msg));
      EXPECT_TRUE(accepted.is_open());
      EXPECT_EQ(port.outstanding(), 0u);
    }

    // A record goes back when its callable returns: the next post of the
    // same size takes the same block (the thread cache, and the port's
    // pool for its running thread, are last in, first out).
    seen first, second;
    for (seen* s : {&first, &second}) {
      pocore::post(port, seen_post{f, s});
      throwing_moves armed;
      ASSERT_EQ(port.poll(), 1u);
    }
    EXPECT_EQ(first.runs + second.runs, 2);
    EXPECT_EQ(first.wrong + second.wrong, 0);
    EXPECT_EQ(second.at, first.at) << "the record was not recycled";

    // The port goes on: a nothrow callable's round trip still works.
    int later = 0;
    pocore::post(port, [&later] { ++later; });
    EXPECT_TRUE(drain(port));
    EXPECT_EQ(later, 1);
    p.client.close();
    p.server.close();
    accepted.close();
    EXPECT_TRUE(drain(port));
  }
  EXPECT_EQ(live.live(), 0) << "capture objects made but never destroyed (or destroyed twice)";
  EXPECT_EQ(live.bad(), 0) << "a capture was used or destroyed after its destruction";
}

// Fifty threads, each running the port for one batch (callables of every
// class, each posting one more from the running thread) and then exiting
// with records in its cache: every callable runs once, intact, and every
// capture is destroyed once; the exiting threads' records are freed (the
// asan leg's leak check sees it if not).
POCORE_UNIT(lambda_threads_that_exit_leave_nothing) {
  live_scope live;
  constexpr std::uint32_t kThreads = 50;
  constexpr std::uint32_t kPerThread = 20;  // four of each class
  constexpr std::uint32_t kFirst = kThreads * kPerThread;
  results out(2 * kFirst);
  {
    pocore::io_port port;
    g_port = &port;
    g_followup_base = kFirst;
    for (std::uint32_t t = 0; t < kThreads; ++t) {
      for (std::uint32_t i = 0; i < kPerThread; ++i) {
        const std::uint32_t id = t * kPerThread + i;
        post_kind(port, static_cast<int>(i % kKinds), id, &out, &followup);
      }
      std::size_t ran = 0;
      std::thread runner([&] { ran = port.run(); });
      runner.join();
      ASSERT_EQ(ran, 2 * kPerThread) << "thread " << t;
      port.restart();
    }
    g_port = nullptr;
  }
  expect_ran_once_and_freed(out, 2 * kFirst, live);
}

// One thread posts, another runs the port (and posts a follow-up from each
// callback): records taken from one thread's cache come back to another's
// and are used from there. Every callable runs once, intact.
POCORE_UNIT(lambda_cross_thread_posts_run_once) {
  live_scope live;
  constexpr std::uint32_t kBursts = 60;
  constexpr std::uint32_t kBurst = 140;  // more than a class's cache holds
  constexpr std::uint32_t kFirst = kBursts * kBurst;
  results out(2 * kFirst);
  {
    // Under valgrind 3.19 (the memcheck leg) an io_uring port fed by
    // another thread stalls. valgrind runs io_uring_enter as a non-blocking
    // ("[sync]") system call: `valgrind --tool=none --trace-syscalls=yes`
    // on an io_uring server prints `sys_io_uring_enter ( 0x4, 0, 1 1, 0 8
    // )[sync]` for a wait for one completion, where a blocking read prints
    // `[async]`. So valgrind keeps its one-thread-at-a-time lock while a
    // thread sleeps in the ring, and no other thread of the process runs
    // until that wait ends. The layer tested here is the same on every
    // backend, so there it runs on epoll.
    const bool vg = POCORE_UNDER_VALGRIND() && std::getenv("POCORE_BACKEND") == nullptr;
    if (vg) std::printf("[ pocore   ] under valgrind: epoll port (io_uring stalls there)\n");
    pocore::io_port port(pocore::port_options{vg ? std::string_view("epoll") : std::string_view()});
    g_port = &port;
    g_followup_base = kFirst;
    port.add_work();
    std::atomic<bool> finish{false};
    std::thread runner([&] {
      // Waits of at most 5 ms rather than one run(): valgrind (the memcheck
      // leg) holds its scheduler lock across io_uring_enter, so a runner
      // blocked there for good would stop the posting thread for good.
      const auto deadline = clock::now() + 2 * wait_budget();
      while (!finish.load() && clock::now() < deadline) port.run_one_for(5ms);
    });
    bool ok = true;
    for (std::uint32_t b = 0; b < kBursts && ok; ++b) {
      for (std::uint32_t i = 0; i < kBurst; ++i) {
        const std::uint32_t id = b * kBurst + i;
        post_kind(port, static_cast<int>((i + b) % kKinds), id, &out, &followup);
      }
      const long target = 2 * static_cast<long>((b + 1) * kBurst);
      ok = wait_for([&] { return out.total.load() == target; });
      EXPECT_TRUE(ok) << "burst " << b << ": " << out.total.load() << " of " << target;
    }
    finish = true;
    runner.join();
    port.remove_work();
    EXPECT_TRUE(drain(port));
    g_port = nullptr;
  }
  expect_ran_once_and_freed(out, 2 * kFirst, live);
}
