// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// A minimal Win32 program (Winsock + one I/O completion port, no pocore)
// that does what pocore's IOCP backend does to a socket under the race
// stress: overlapped WSARecvFrom/WSASendTo (udp) or WSARecv/WSASend (tcp)
// on sockets associated with one port with
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, from several threads, mixed with
// CancelIoEx of one request, CancelIoEx of all, and close as pocore does it
// (CancelIoEx(s, NULL) then closesocket). Two threads dequeue with
// GetQueuedCompletionStatusEx and sometimes re-issue a receive from there.
//
// Checked: every call that returned ERROR_IO_PENDING (or succeeded at once,
// where the probe posts the packet itself, as pocore does) gets exactly one
// packet. At the end every socket is closed and the probe waits up to 10 s;
// a request still without its packet is printed with its history and the
// program exits 1. It exists to tell a Wine defect from a pocore one
// (tests/stress/CMakeLists.txt); it is built on Windows only and not
// registered as a test.
//
// Usage: pocore-iocp-close-probe udp|tcp [--seconds S] [--seed N] [--no-skip]
//                                [--no-cancel-one] [--no-cancel-all] [--no-port-resubmit]
//                                [--hold-handles] [--linger]

// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
// clang-format on

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

bool g_tcp = false;
bool g_skip = true;
bool g_cancel_one = true;
bool g_cancel_all = true;
bool g_port_resubmit = true;
bool g_linger = false;  // the workaround: close a handle only once it is idle
std::atomic<long> g_recancels{0};
bool g_hold_handles = false;         // keep closed handle values from being reused
std::vector<HANDLE> g_placeholders;  // guarded by g_handles_mutex
HANDLE g_port = nullptr;
std::atomic<bool> g_stop{false};
std::atomic<long> g_issued{0}, g_packets{0}, g_immediate{0}, g_failed{0}, g_closes{0}, g_cancel1{0},
    g_cancel_all_n{0}, g_aborted{0}, g_ok{0}, g_resubmits{0}, g_bad{0};

struct sock_slot;

// One request record, reused like a pocore operation record.
struct record {
  OVERLAPPED ov{};
  sock_slot* owner = nullptr;
  int side = 0;
  bool is_recv = false;
  // Guarded by the owner's mutex.
  bool pending = false;
  long long issue_no = 0;      // how many times issued
  unsigned long gen = 0;       // the socket generation it was issued on
  bool immediate = false;      // the call succeeded at once (we posted)
  bool cancelled_one = false;  // CancelIoEx(h, &ov) while pending
  bool cancelled_all = false;  // CancelIoEx(h, NULL) while pending
  bool closed = false;         // its socket was closed while pending
  DWORD issue_thread = 0;
  SOCKET handle = INVALID_SOCKET;  // the handle it was issued on
  long opens_at_issue = 0;         // sockets made with that value so far
  // The last events on this record, for the report of a lost request.
  std::string hist[8];
  unsigned nhist = 0;
  char buf[1500];
  SOCKADDR_STORAGE from{};
  INT from_len = 0;
};

struct sock_slot {
  int index = 0;
  std::mutex m;  // guards everything below and every call on the handles
  SOCKET s[2] = {INVALID_SOCKET, INVALID_SOCKET};
  unsigned long gen[2] = {0, 0};
  sockaddr_in addr{};  // udp: the socket's own address (it sends to itself)
  std::vector<std::unique_ptr<record>> recs;
  // --linger: closed handles kept open while requests on them are pending.
  struct lingering {
    SOCKET h;
    int side;
    unsigned long gen;
  };
  std::vector<lingering> linger;
};

std::vector<std::unique_ptr<sock_slot>> g_slots;
// How many sockets have been created with each handle value (any slot).
std::mutex g_handles_mutex;
std::vector<std::pair<SOCKET, long>> g_handle_opens;
long handle_opens(SOCKET h) {
  std::lock_guard<std::mutex> lock(g_handles_mutex);
  for (auto& e : g_handle_opens) {
    if (e.first == h) return e.second;
  }
  return 0;
}
void count_open(SOCKET h) {
  std::lock_guard<std::mutex> lock(g_handles_mutex);
  for (auto& e : g_handle_opens) {
    if (e.first == h) {
      ++e.second;
      return;
    }
  }
  g_handle_opens.emplace_back(h, 1);
}
thread_local const char* t_role = "worker";

// Keeps the first events since the record was last issued.
void note(record& r, const std::string& what) {
  if (r.nhist < 8) r.hist[r.nhist++] = what + " (" + t_role + ")";
}

void associate(SOCKET s) {
  count_open(s);
  CreateIoCompletionPort(reinterpret_cast<HANDLE>(s), g_port, 1, 0);
  if (g_skip) {
    SetFileCompletionNotificationModes(
        reinterpret_cast<HANDLE>(s),
        FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE);
  }
}

std::mutex g_create_mutex;  // with --hold-handles: handle creation vs close

bool open_slot(sock_slot& sl) {
  std::unique_lock<std::mutex> create(g_create_mutex, std::defer_lock);
  if (g_hold_handles) create.lock();
  if (!g_tcp) {
    SOCKET u = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_OVERLAPPED);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (u == INVALID_SOCKET || bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      return false;
    int len = sizeof sl.addr;
    getsockname(u, reinterpret_cast<sockaddr*>(&sl.addr), &len);
    associate(u);
    sl.s[0] = u;
    ++sl.gen[0];
    return true;
  }
  SOCKET l = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int len = sizeof a;
  if (l == INVALID_SOCKET || bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(l, 4) != 0 || getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return false;
  SOCKET c = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
  if (c == INVALID_SOCKET || connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return false;
  SOCKET acc = accept(l, nullptr, nullptr);
  closesocket(l);
  if (acc == INVALID_SOCKET) return false;
  associate(c);
  associate(acc);
  sl.s[0] = c;
  sl.s[1] = acc;
  ++sl.gen[0];
  ++sl.gen[1];
  return true;
}

// Issues `r` (slot mutex held).
void issue(sock_slot& sl, record& r, std::mt19937_64& rng) {
  SOCKET h = sl.s[r.side];
  if (h == INVALID_SOCKET || r.pending) return;
  std::memset(&r.ov, 0, sizeof r.ov);
  r.pending = true;
  ++r.issue_no;
  r.gen = sl.gen[r.side];
  r.immediate = r.cancelled_one = r.cancelled_all = r.closed = false;
  r.issue_thread = GetCurrentThreadId();
  r.nhist = 0;
  r.handle = h;
  r.opens_at_issue = handle_opens(h);
  DWORD bytes = 0;
  DWORD flags = 0;
  const ULONG n = 16 + static_cast<ULONG>(rng() % 1000);
  WSABUF b{n, r.buf};
  int rc;
  if (r.is_recv) {
    b.len = sizeof r.buf;
    if (g_tcp) {
      rc = WSARecv(h, &b, 1, &bytes, &flags, &r.ov, nullptr);
    } else {
      r.from_len = sizeof r.from;
      rc = WSARecvFrom(h, &b, 1, &bytes, &flags, reinterpret_cast<sockaddr*>(&r.from), &r.from_len,
                       &r.ov, nullptr);
    }
  } else if (g_tcp) {
    rc = WSASend(h, &b, 1, &bytes, 0, &r.ov, nullptr);
  } else {
    rc = WSASendTo(h, &b, 1, &bytes, 0, reinterpret_cast<const sockaddr*>(&sl.addr), sizeof sl.addr,
                   &r.ov, nullptr);
  }
  g_issued.fetch_add(1);
  note(r, std::string("issue #") + std::to_string(r.issue_no) +
              (rc == 0 ? ": at once" : ": error " + std::to_string(WSAGetLastError())));
  if (rc == 0) {
    g_immediate.fetch_add(1);
    if (g_skip) {
      // Skip-on-success queued nothing: post the packet, as pocore does.
      r.immediate = true;
      r.ov.Internal = 0;
      PostQueuedCompletionStatus(g_port, bytes, 2, &r.ov);
    }
    return;
  }
  const int err = WSAGetLastError();
  if (err == WSA_IO_PENDING) return;
  // Failed at once: no packet comes.
  g_failed.fetch_add(1);
  r.pending = false;
}

void close_side(sock_slot& sl, int side) {
  SOCKET h = sl.s[side];
  if (h == INVALID_SOCKET) return;
  for (auto& r : sl.recs) {
    if (r->side == side && r->pending && r->gen == sl.gen[side]) {
      r->closed = true;
      note(*r, "close");
    }
  }
  sl.s[side] = INVALID_SOCKET;
  std::unique_lock<std::mutex> create(g_create_mutex, std::defer_lock);
  if (g_hold_handles) create.lock();
  CancelIoEx(reinterpret_cast<HANDLE>(h), nullptr);
  bool busy = false;
  for (auto& r : sl.recs) busy = busy || (r->side == side && r->pending && r->gen == sl.gen[side]);
  if (g_linger && busy) {
    sl.linger.push_back({h, side, sl.gen[side]});
  } else {
    closesocket(h);
  }
  g_closes.fetch_add(1);
  if (g_hold_handles) {
    // Wine gives out the lowest free handle value: an event made now takes
    // the socket's old value, so no later socket gets it.
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    g_placeholders.push_back(CreateEventW(nullptr, TRUE, FALSE, nullptr));
  }
}

void on_packet(const OVERLAPPED_ENTRY& e, std::mt19937_64& rng) {
  if (e.lpOverlapped == nullptr) return;
  auto* r = reinterpret_cast<record*>(e.lpOverlapped);  // ov is the first member
  sock_slot& sl = *r->owner;
  g_packets.fetch_add(1);
  const auto status = static_cast<unsigned long>(e.lpOverlapped->Internal);
  std::unique_lock<std::mutex> lock(sl.m);
  if (!r->pending) {
    g_bad.fetch_add(1);
    std::printf("BAD: packet for a request not pending (slot %d side %d %s issue %lld)\n", sl.index,
                r->side, r->is_recv ? "recv" : "send", r->issue_no);
    return;
  }
  r->pending = false;
  note(*r, "packet 0x" + std::to_string(status));
  (status == 0 ? g_ok : g_aborted).fetch_add(1);
  // Like pocore's stress: a receive often goes again from the port thread.
  if (g_port_resubmit && r->is_recv && status == 0 && !g_stop.load() && rng() % 2 == 0 &&
      r->gen == sl.gen[r->side]) {
    g_resubmits.fetch_add(1);
    issue(sl, *r, rng);
  }
}

void port_thread(int i) {
  t_role = "port thread";
  std::mt19937_64 rng(0x5eed + static_cast<unsigned>(i));
  OVERLAPPED_ENTRY entries[64];
  for (;;) {
    ULONG count = 0;
    if (!GetQueuedCompletionStatusEx(g_port, entries, 64, &count, INFINITE, FALSE)) continue;
    int exits = 0;
    for (ULONG k = 0; k < count; ++k) {
      if (entries[k].lpOverlapped == nullptr && entries[k].lpCompletionKey == 99) {
        ++exits;
      } else {
        on_packet(entries[k], rng);
      }
    }
    if (exits != 0) {
      // One exit packet is ours; pass on the others a batch may have taken.
      for (int k = 1; k < exits; ++k) PostQueuedCompletionStatus(g_port, 0, 99, nullptr);
      return;
    }
  }
}

// --linger: cancels again what closed handles still have pending, and
// closes each handle once nothing is pending on it.
void sweep() {
  for (auto& slp : g_slots) {
    sock_slot& sl = *slp;
    std::lock_guard<std::mutex> lock(sl.m);
    for (std::size_t i = 0; i < sl.linger.size();) {
      auto& l = sl.linger[i];
      bool busy = false;
      for (auto& r : sl.recs) busy = busy || (r->side == l.side && r->pending && r->gen == l.gen);
      if (busy) {
        g_recancels.fetch_add(1);
        CancelIoEx(reinterpret_cast<HANDLE>(l.h), nullptr);
        ++i;
      } else {
        closesocket(l.h);
        sl.linger.erase(sl.linger.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
  }
}

void worker(std::uint64_t seed, clk::time_point until) {
  std::mt19937_64 rng(seed);
  while (clk::now() < until) {
    sock_slot& sl = *g_slots[rng() % g_slots.size()];
    std::lock_guard<std::mutex> lock(sl.m);
    record& r = *sl.recs[rng() % sl.recs.size()];
    const unsigned roll = static_cast<unsigned>(rng() % 100);
    if (sl.s[0] == INVALID_SOCKET) {
      open_slot(sl);
    } else if (roll < 2) {
      close_side(sl, 0);
      if (g_tcp) close_side(sl, 1);
    } else if (roll < 12 && g_cancel_one) {
      if (r.pending && r.gen == sl.gen[r.side]) {
        r.cancelled_one = true;
        g_cancel1.fetch_add(1);
        BOOL ok = CancelIoEx(reinterpret_cast<HANDLE>(sl.s[r.side]), &r.ov);
        note(r, ok ? "cancel-one: found" : "cancel-one: " + std::to_string(GetLastError()));
      }
    } else if (roll < 15 && g_cancel_all) {
      g_cancel_all_n.fetch_add(1);
      BOOL ok = CancelIoEx(reinterpret_cast<HANDLE>(sl.s[r.side]), nullptr);
      for (auto& x : sl.recs) {
        if (x->side == r.side && x->pending && x->gen == sl.gen[r.side]) {
          x->cancelled_all = true;
          note(*x, ok ? "cancel-all: found" : "cancel-all: " + std::to_string(GetLastError()));
        }
      }
    } else {
      issue(sl, r, rng);
    }
  }
}

long long arg(int argc, char** argv, const char* name, long long def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
  }
  return def;
}

bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  if (argc < 2 || (std::strcmp(argv[1], "udp") != 0 && std::strcmp(argv[1], "tcp") != 0)) {
    std::fprintf(stderr, "usage: %s udp|tcp [--seconds S] [--seed N] [--no-skip] ...\n", argv[0]);
    return 2;
  }
  g_tcp = std::strcmp(argv[1], "tcp") == 0;
  g_skip = !flag(argc, argv, "--no-skip");
  g_cancel_one = !flag(argc, argv, "--no-cancel-one");
  g_cancel_all = !flag(argc, argv, "--no-cancel-all");
  g_port_resubmit = !flag(argc, argv, "--no-port-resubmit");
  g_hold_handles = flag(argc, argv, "--hold-handles");
  g_linger = flag(argc, argv, "--linger");
  const long long seconds = arg(argc, argv, "--seconds", 10);
  const auto seed = static_cast<std::uint64_t>(arg(argc, argv, "--seed", 1));
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return 2;
  g_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);

  for (int i = 0; i < 4; ++i) {
    auto sl = std::make_unique<sock_slot>();
    sl->index = i;
    for (int j = 0; j < 4; ++j) {
      auto r = std::make_unique<record>();
      r->owner = sl.get();
      r->is_recv = j >= 2;
      r->side = g_tcp ? j % 2 : 0;
      sl->recs.push_back(std::move(r));
    }
    if (!open_slot(*sl)) {
      std::printf("cannot open slot %d: %d\n", i, WSAGetLastError());
      return 2;
    }
    g_slots.push_back(std::move(sl));
  }
  std::vector<std::thread> port_threads;
  for (int i = 0; i < 2; ++i) port_threads.emplace_back(port_thread, i);
  const auto until = clk::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) workers.emplace_back(worker, seed * 7919 + i, until);
  std::thread sweeper;
  if (g_linger) {
    sweeper = std::thread([until] {
      while (clk::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a period, not a sync
        sweep();
      }
    });
  }
  for (auto& w : workers) w.join();
  if (sweeper.joinable()) sweeper.join();
  g_stop = true;
  for (auto& sl : g_slots) {
    std::lock_guard<std::mutex> lock(sl->m);
    close_side(*sl, 0);
    close_side(*sl, 1);
  }
  // Every pending request must now get its packet.
  const auto deadline = clk::now() + std::chrono::seconds(10);
  int missing = 0;
  for (;;) {
    missing = 0;
    for (auto& sl : g_slots) {
      std::lock_guard<std::mutex> lock(sl->m);
      for (auto& r : sl->recs) missing += r->pending ? 1 : 0;
    }
    if (g_linger) sweep();
    if (missing == 0 || clk::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a count, bounded
  }
  std::printf(
      "probe %s skip=%d: issued %ld (immediate %ld, failed at once %ld), packets %ld (ok %ld, "
      "error %ld), resubmits %ld, closes %ld, cancel-one %ld, cancel-all %ld\n",
      g_tcp ? "tcp" : "udp", g_skip ? 1 : 0, g_issued.load(), g_immediate.load(), g_failed.load(),
      g_packets.load(), g_ok.load(), g_aborted.load(), g_resubmits.load(), g_closes.load(),
      g_cancel1.load(), g_cancel_all_n.load());
  if (g_linger) std::printf("probe: --linger: %ld repeated cancels\n", g_recancels.load());
  for (auto& sl : g_slots) {
    for (auto& r : sl->recs) {
      if (!r->pending) continue;
      std::printf(
          "MISSING: slot %d side %d %s issue #%lld: no packet after close (immediate=%d "
          "cancel-one=%d cancel-all=%d closed=%d, issued on %s thread, Internal=0x%lx)\n",
          sl->index, r->side, r->is_recv ? "recv" : "send", r->issue_no, r->immediate ? 1 : 0,
          r->cancelled_one ? 1 : 0, r->cancelled_all ? 1 : 0, r->closed ? 1 : 0,
          r->issue_thread == GetCurrentThreadId() ? "main" : "another",
          static_cast<unsigned long>(r->ov.Internal));
      std::printf("    issued on handle 0x%llx; %ld later socket(s) got the same handle value\n",
                  static_cast<unsigned long long>(r->handle),
                  handle_opens(r->handle) - r->opens_at_issue);
      for (unsigned k = 0; k < r->nhist; ++k) std::printf("    %s\n", r->hist[k].c_str());
    }
  }
  PostQueuedCompletionStatus(g_port, 0, 99, nullptr);
  PostQueuedCompletionStatus(g_port, 0, 99, nullptr);
  if (missing != 0) {
    std::printf("probe: FAILED: %d requests never completed\n", missing);
    std::_Exit(1);  // threads may still hold the lost requests
  }
  for (auto& t : port_threads) t.join();
  std::printf("probe: %s\n", g_bad.load() == 0 ? "PASSED" : "FAILED (bad packets)");
  return g_bad.load() == 0 ? 0 : 1;
}
