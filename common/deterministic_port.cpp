// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// The deterministic test backend (see deterministic_port.hpp for what it
// keeps and what it shuffles).
//
// How a record travels: submit() swaps the caller's callback for
// trampoline() (the caller's is kept in priv.deadline, which only timers
// use) and hands the record to the inner backend. The inner backend is only
// ever run from here, with tls_current set; its callbacks are therefore
// trampolines, which put the caller's callback back and move the record to
// the ready slots. run() then repeatedly drains the inner backend without waiting
// (so the choice sees everything already finished), and picks one eligible
// ready record with the seeded generator. Posts, expired timers and
// records failed at submission go straight to the ready slots.
//
// Files take the same road through the inner backend's own file service
// (deterministic_files). Their records keep the file offset in
// priv.deadline, so while one is in flight its callback waits in a side
// table (file_callbacks_) instead.
//
// The inner backend holds one unit of work for the port's whole life, so
// its run_one waits (for a completion, or for wake_op_, which wake() posts)
// even when all the outstanding work is timers or posts held here.

#include "common/deterministic_port.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>

namespace pocore::detail {
namespace {

constexpr std::string_view base_name = "deterministic";

// The port whose inner backend this thread is running (the trampoline's
// way back to it), restored on the way out so ports may nest.
thread_local deterministic_port* tls_current = nullptr;

class current_scope {
 public:
  explicit current_scope(deterministic_port* p) noexcept : saved_(tls_current) { tls_current = p; }
  ~current_scope() { tls_current = saved_; }
  current_scope(const current_scope&) = delete;
  current_scope& operator=(const current_scope&) = delete;

 private:
  deterministic_port* saved_;
};

static_assert(sizeof(operation::callback) <= sizeof(op_private::deadline),
              "the caller's callback is kept in priv.deadline while in flight");

void stash_callback(operation& op) noexcept {
  std::memcpy(&priv(op).deadline, &op.on_complete, sizeof(operation::callback));
}

void restore_callback(operation& op) noexcept {
  std::memcpy(&op.on_complete, &priv(op).deadline, sizeof(operation::callback));
}

bool is_file(op_kind k) noexcept { return k == op_kind::read_at || k == op_kind::write_at; }

// 1: reads (accept, recv, recv_from), 2: writes (connect, send, send_to,
// disconnect), 0: not a socket direction (files included: their records
// have no order to keep).
std::uintptr_t direction(op_kind k) noexcept {
  switch (k) {
    case op_kind::accept:
    case op_kind::recv:
    case op_kind::recv_from:
      return 1;
    case op_kind::connect:
    case op_kind::send:
    case op_kind::send_to:
    case op_kind::disconnect:
      return 2;
    default:
      return 0;
  }
}

// A socket_state is at least 8-aligned, so its address has room for the
// direction in its low bits; 3 is the socket's key once it is closing.
static_assert(alignof(socket_state) >= 4);
std::uintptr_t lane_key(const void* owner, op_kind k) noexcept {
  const std::uintptr_t d = direction(k);
  if (owner == nullptr || d == 0) return 0;
  return reinterpret_cast<std::uintptr_t>(owner) | d;
}
// The expired timers' lane: no object lives at address 1.
constexpr std::uintptr_t timer_lane = 1;
std::uintptr_t closing_key(const socket_state& s) noexcept {
  return reinterpret_cast<std::uintptr_t>(&s) | 3;
}

// What a real failure of this kind looks like (DESIGN.md guarantee 7).
std::error_code injected_error(op_kind k, socket_type type) noexcept {
  const bool stream = type == socket_type::stream;
  switch (k) {
    case op_kind::accept:
      return make_ec(errc::connection_aborted);
    case op_kind::connect:
      return make_ec(errc::connection_refused);
    case op_kind::recv:
    case op_kind::recv_from:
      return make_ec(stream ? errc::connection_reset : errc::connection_refused);
    case op_kind::send:
    case op_kind::send_to:
      return make_ec(stream ? errc::connection_reset : errc::no_buffer_space);
    default:
      return make_ec(errc::connection_reset);
  }
}

// The same for files. A write fails as on a full device (ENOSPC, EFBIG,
// ERROR_DISK_FULL: errc::no_space), a read as on a device error: whatever
// the platform's backends report for EIO / ERROR_IO_DEVICE.
std::error_code injected_file_error(op_kind k) noexcept {
  return k == op_kind::write_at ? make_ec(errc::no_space) : native_io_error();
}

struct kind_name {
  std::string_view name;
  op_kind kind;
};
constexpr kind_name kind_names[] = {
    {"any", op_kind::none},        {"accept", op_kind::accept},
    {"connect", op_kind::connect}, {"recv", op_kind::recv},
    {"send", op_kind::send},       {"recv_from", op_kind::recv_from},
    {"send_to", op_kind::send_to}, {"disconnect", op_kind::disconnect},
    {"read_at", op_kind::read_at}, {"write_at", op_kind::write_at},
};

bool parse_u64(std::string_view s, std::uint64_t& out) noexcept {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty()) return false;
  auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return err == std::errc{} && end == s.data() + s.size();
}

bool parse_seed(std::string_view s, std::uint64_t& out) {
  if (s == "random") {
    std::random_device rd;
    out = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return true;
  }
  return parse_u64(s, out);
}

// "recv/10+connect/3" (',' also separates rules).
bool parse_inject(std::string_view s, std::vector<inject_rule>& out) {
  while (!s.empty()) {
    const std::size_t end = s.find_first_of("+,");
    std::string_view rule = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
    if (rule.empty()) continue;
    const std::size_t slash = rule.find('/');
    if (slash == std::string_view::npos) return false;
    const std::string_view kind = rule.substr(0, slash);
    std::uint64_t n = 0;
    if (!parse_u64(rule.substr(slash + 1), n) || n == 0 || n > 0xFFFFFFFFu) return false;
    const auto it = std::find_if(std::begin(kind_names), std::end(kind_names),
                                 [&](const kind_name& k) { return k.name == kind; });
    if (it == std::end(kind_names)) return false;
    out.push_back({it->kind, static_cast<std::uint32_t>(n)});
  }
  return true;
}

std::string_view env(const char* name) noexcept {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string_view{} : std::string_view(v);
}

}  // namespace

bool is_deterministic_name(std::string_view name) noexcept {
  return name == base_name ||
         (name.size() > base_name.size() && name.substr(0, base_name.size()) == base_name &&
          name[base_name.size()] == ':');
}

std::unique_ptr<port_backend> make_deterministic(std::string_view name,
                                                 std::string_view default_inner,
                                                 backend_factory make_inner, std::error_code& ec) {
  ec.clear();
  std::string_view seed_text = env("POCORE_SEED");
  std::string_view inject_text = env("POCORE_INJECT");
  std::string_view inner_name = default_inner;
  std::string_view rest = name.substr(base_name.size());
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the ':'
    const std::size_t end = rest.find(':');
    const std::string_view opt = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    const std::size_t eq = opt.find('=');
    const std::string_view key = opt.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : opt.substr(eq + 1);
    if (eq == std::string_view::npos || value.empty()) {
      ec = make_ec(errc::invalid_argument);
      return nullptr;
    }
    if (key == "seed") {
      seed_text = value;
    } else if (key == "inject") {
      inject_text = value;
    } else if (key == "inner") {
      inner_name = value;
    } else {
      ec = make_ec(errc::invalid_argument);
      return nullptr;
    }
  }
  std::uint64_t seed = 1;
  std::vector<inject_rule> rules;
  if ((!seed_text.empty() && !parse_seed(seed_text, seed)) || !parse_inject(inject_text, rules) ||
      is_deterministic_name(inner_name)) {
    ec = make_ec(errc::invalid_argument);
    return nullptr;
  }
  std::unique_ptr<port_backend> inner = make_inner(inner_name, ec);
  if (!inner) return nullptr;
  return std::make_unique<deterministic_port>(std::move(inner), std::string(name), seed,
                                              std::move(rules));
}

deterministic_port::deterministic_port(std::unique_ptr<port_backend> inner, std::string name,
                                       std::uint64_t seed, std::vector<inject_rule> rules)
    : inner_(std::move(inner)),
      name_(std::move(name)),
      seed_(seed),
      rules_(std::move(rules)),
      wake_op_(&deterministic_port::wake_done, this),
      order_rng_{seed},
      inject_rng_{seed ^ 0xD1B54A32D192ED03ull} {
  priv(wake_op_).kind = op_kind::post;
  inner_->work_started();  // held until the destructor, see the file comment
}

deterministic_port::~deterministic_port() {
  // Files live in the inner backend, which joins its own file threads.
  static constexpr auto nothing = [](operation&) {};
  operation release{+nothing};
  inner_->invoke(release);
  // Before wake_op_, which the inner backend may still hold, goes.
  inner_.reset();
}

// ---- completions ----

void deterministic_port::trampoline(operation& op) {
  deterministic_port* self = tls_current;
  if (self == nullptr) std::abort();  // the inner backend ran outside run(): a pocore bug
  self->arrived(op);
}

void deterministic_port::wake_done(operation& op) {
  static_cast<deterministic_port*>(op.context)
      ->wake_pending_.store(false, std::memory_order_release);
}

void deterministic_port::release_front(std::deque<pending>& lane) noexcept {
  while (!lane.empty() && lane.front().injected) {
    push_ready(*lane.front().op, lane.front().key);
    lane.pop_front();
  }
}

void deterministic_port::arrived(operation& op) noexcept {
  std::lock_guard lock(mutex_);
  const op_private& p = priv(op);
  if (is_file(p.kind)) {
    const auto it = file_callbacks_.find(&op);
    if (it == file_callbacks_.end()) std::abort();  // not handed over here: a pocore bug
    op.on_complete = it->second;
    file_callbacks_.erase(it);
    push_ready(op, 0);
    return;
  }
  restore_callback(op);
  auto find_in = [&](std::uintptr_t lane) {
    auto it = lanes_.find(lane);
    if (it == lanes_.end()) return false;
    auto& q = it->second;
    auto e = std::find_if(q.begin(), q.end(), [&](const pending& x) { return x.op == &op; });
    if (e == q.end()) return false;
    push_ready(op, e->key);
    q.erase(e);
    release_front(q);
    if (q.empty()) lanes_.erase(it);
    return true;
  };
  if (find_in(lane_key(p.owner, p.kind))) return;
  // Not where its kind and owner say (should not happen): look everywhere.
  for (auto& [lane, q] : lanes_) {
    (void)q;
    if (find_in(lane)) return;
  }
  push_ready(op, 0);
}

void deterministic_port::enqueue(operation& op) noexcept {
  {
    std::lock_guard lock(mutex_);
    const op_private& p = priv(op);
    push_ready(op, lane_key(p.owner, p.kind));
  }
  wake();
}

void deterministic_port::push_ready(operation& op, std::uintptr_t key) {
  const entry e{&op, next_seq_++};
  ready_seqs_.insert(e.seq);
  if (key == 0) {
    slots_.push_back({0, e, {}});
    return;
  }
  auto [it, fresh] = keyed_.try_emplace(key, slots_.size());
  if (fresh) {
    slots_.push_back({key, {}, {}});
  }
  slots_[it->second].lane.push_back(e);
}

void deterministic_port::remove_slot(std::size_t i) noexcept {
  if (slots_[i].key != 0) keyed_.erase(slots_[i].key);
  if (i + 1 != slots_.size()) {
    slots_[i] = std::move(slots_.back());
    if (slots_[i].key != 0) keyed_[slots_[i].key] = i;
  }
  slots_.pop_back();
}

operation* deterministic_port::pick() noexcept {
  std::lock_guard lock(mutex_);
  if (slots_.empty()) return nullptr;
  const std::size_t i = order_rng_.below(slots_.size());
  slot& s = slots_[i];
  entry e = s.single;
  if (s.key != 0) {
    e = s.lane.front();
    s.lane.pop_front();
  }
  if (s.key == 0 || s.lane.empty()) remove_slot(i);
  if (e.seq != *ready_seqs_.begin()) ++reordered_;
  ready_seqs_.erase(e.seq);
  ++callbacks_;
  return e.op;
}

// The inner backend counts the sockets, including those it attaches
// itself for a finished accept; the front end asks this port.
void deterministic_port::sync_sockets() noexcept {
  open_sockets().store(inner_->open_sockets().load(std::memory_order_acquire),
                       std::memory_order_release);
}

void deterministic_port::gather() noexcept {
  {
    current_scope scope(this);
    inner_->run(run_mode::poll, std::chrono::milliseconds{0});
  }
  sync_sockets();
  if (!has_timers()) return;
  op_queue expired;
  collect_timers(expired);
  if (expired.empty()) return;
  // Expired waits form one lane, in the order collect_timers() gives:
  // deadline order, and submission order for equal deadlines (timer.hpp;
  // conformance cases timers_fire_in_deadline_order_never_early and
  // timers_equal_deadlines_fire_in_submission_order). A loaded machine
  // collects several at once; the other backends still run them in that
  // order, so this one does too. They are shuffled against everything else.
  std::lock_guard lock(mutex_);
  while (operation* op = expired.pop()) push_ready(*op, timer_lane);
}

void deterministic_port::wait(int ms) noexcept {
  waiting_.fetch_add(1, std::memory_order_acq_rel);
  bool idle;
  {
    std::lock_guard lock(mutex_);
    idle = slots_.empty();
  }
  if (idle && !stopped() && outstanding() != 0) {
    current_scope scope(this);
    inner_->run(run_mode::run_one, std::chrono::milliseconds{ms});
  }
  waiting_.fetch_sub(1, std::memory_order_acq_rel);
}

void deterministic_port::wake() noexcept {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  inner_->work_started();
  inner_->enqueue(wake_op_);
}

// ---- run ----

std::size_t deterministic_port::run(run_mode mode, std::chrono::milliseconds timeout) {
  if (stopped() || outstanding() == 0) return 0;
  const run_limits limits = run_limits::of(mode, timeout);
  const bool one = limits.one;
  std::size_t n = 0;
  for (;;) {
    if (stopped()) break;
    gather();
    if (operation* op = pick()) {
      invoke(*op);
      ++n;
      if (one) break;
      continue;
    }
    if (outstanding() == 0 || limits.polling) break;
    const int cap = limits.cap();
    if (cap == 0) break;
    // Bounded so that a wake-up lost between several threads costs at most
    // a second, never a hang.
    int ms = timer_timeout_ms(cap);
    if (ms < 0 || ms > 1000) ms = 1000;
    wait(ms);
  }
  // A stop or the end of work must reach every thread waiting here; each
  // one that leaves passes the wake-up on.
  if ((stopped() || outstanding() == 0) && waiting_.load(std::memory_order_acquire) > 0) wake();
  return n;
}

void deterministic_port::stop() noexcept {
  stopped_.store(true, std::memory_order_seq_cst);
  wake();
}

void deterministic_port::restart() noexcept { stopped_.store(false, std::memory_order_seq_cst); }

bool deterministic_port::stopped() const noexcept {
  return stopped_.load(std::memory_order_acquire);
}

// ---- sockets ----

socket_state* deterministic_port::attach(native_handle_type h, address_family family,
                                         socket_type type, std::error_code& ec) noexcept {
  socket_state* s = inner_->attach(h, family, type, ec);
  sync_sockets();
  return s;
}

void deterministic_port::close(socket_state& s) noexcept {
  {
    // From now on the socket's completions of both directions go in the
    // inner backend's order, which runs none after the last aborted one.
    std::lock_guard lock(mutex_);
    const std::uintptr_t closing = closing_key(s);
    std::vector<entry> merged;
    for (std::uintptr_t d = 1; d <= 3; ++d) {
      const std::uintptr_t lane = reinterpret_cast<std::uintptr_t>(&s) | d;
      if (auto k = keyed_.find(lane); k != keyed_.end()) {
        const std::size_t i = k->second;
        merged.insert(merged.end(), slots_[i].lane.begin(), slots_[i].lane.end());
        remove_slot(i);
      }
      if (d == 3) break;
      auto it = lanes_.find(lane);
      if (it == lanes_.end()) continue;
      for (pending& e : it->second) {
        e.key = closing;
        if (e.injected) e.op->error = make_ec(errc::operation_aborted);
      }
    }
    if (!merged.empty()) {
      std::sort(merged.begin(), merged.end(),
                [](const entry& a, const entry& b) { return a.seq < b.seq; });
      keyed_[closing] = slots_.size();
      slots_.push_back({closing, {}, std::deque<entry>(merged.begin(), merged.end())});
    }
  }
  inner_->close(s);
  sync_sockets();
}

bool deterministic_port::inject(op_kind kind) noexcept {
  for (const inject_rule& r : rules_) {
    // `any` means every socket operation; files are named alone, so a rule
    // for sockets draws nothing for them (and their order stays the same).
    if (r.kind == op_kind::none ? is_file(kind) : r.kind != kind) continue;
    if (inject_rng_.below(r.one_in) == 0) return true;
  }
  return false;
}

void deterministic_port::submit(socket_state& s, operation& op, const endpoint* ep) noexcept {
  op_private& p = priv(op);
  const std::uintptr_t lane = lane_key(&s, p.kind);
  bool injected = false;
  {
    std::lock_guard lock(mutex_);
    injected = !rules_.empty() && lane != 0 && inject(p.kind);
    if (injected) {
      op.error = injected_error(p.kind, s.type);
      op.bytes = 0;
      ++injected_;
      auto it = lanes_.find(lane);
      if (it == lanes_.end()) {
        push_ready(op, lane);
      } else {
        it->second.push_back({&op, lane, true});
      }
    } else if (lane != 0) {
      lanes_[lane].push_back({&op, lane, false});
    }
  }
  if (injected) {
    wake();
    return;
  }
  hand_over(op);
  inner_->submit(s, op, ep);
}

void deterministic_port::hand_over(operation& op) noexcept {
  if (is_file(priv(op).kind)) {
    std::lock_guard lock(mutex_);
    file_callbacks_.emplace(&op, op.on_complete);
  } else {
    stash_callback(op);
  }
  op.on_complete = &deterministic_port::trampoline;
  inner_->work_started();
}

void deterministic_port::cancel(socket_state& s, operation* op) noexcept {
  bool released = false;
  {
    std::lock_guard lock(mutex_);
    for (std::uintptr_t d = 1; d <= 2; ++d) {
      auto it = lanes_.find(reinterpret_cast<std::uintptr_t>(&s) | d);
      if (it == lanes_.end()) continue;
      auto& q = it->second;
      for (auto e = q.begin(); e != q.end(); ++e) {
        if (!e->injected || (op != nullptr && e->op != op)) continue;
        e->op->error = make_ec(errc::operation_aborted);
        if (op != nullptr) {
          // Held behind a record that may never finish: it goes now, as a
          // cancelled record queued behind another does on every backend.
          push_ready(*e->op, e->key);
          q.erase(e);
          if (q.empty()) lanes_.erase(it);
          released = true;
          break;
        }
      }
      if (released) break;
    }
  }
  if (released) {
    wake();
    return;
  }
  inner_->cancel(s, op);
}

// ---- files ----

file_service* deterministic_port::files(std::error_code& ec) noexcept {
  file_service* inner = inner_->files(ec);
  if (inner != nullptr) inner_files_.store(inner, std::memory_order_release);
  return inner != nullptr ? &file_ops_ : nullptr;
}

// Set: the front end reaches every call below through files() first.
file_service& deterministic_files::inner() const noexcept {
  return *port_.inner_files_.load(std::memory_order_acquire);
}

file_state* deterministic_files::attach(std::intptr_t h, bool readable, bool writable,
                                        std::error_code& ec) noexcept {
  return inner().attach(h, readable, writable, ec);
}

bool deterministic_port::inject_file(operation& op) noexcept {
  {
    std::lock_guard lock(mutex_);
    if (rules_.empty() || !inject(priv(op).kind)) return false;
    op.error = injected_file_error(priv(op).kind);
    op.bytes = 0;
    ++injected_;
    // A file's records keep no order (file.hpp), so it is free to go at
    // once, shuffled against everything else like a finished one.
    push_ready(op, 0);
  }
  wake();
  return true;
}

bool deterministic_port::finished_here(const operation& op) noexcept {
  std::lock_guard lock(mutex_);
  return std::any_of(slots_.begin(), slots_.end(),
                     [&](const slot& s) { return s.key == 0 && s.single.op == &op; });
}

void deterministic_files::submit(file_state& f, operation& op) noexcept {
  // An injected failure never reaches the file: it completes once, here.
  if (port_.inject_file(op)) return;
  port_.hand_over(op);
  inner().submit(f, op);
}

void deterministic_files::cancel(file_state& f, operation* op) noexcept {
  // A record waiting for its turn here has finished (an injected failure
  // the inner backend never saw, or a real completion): nothing to cancel,
  // as on every backend once an operation has finished.
  if (op != nullptr && port_.finished_here(*op)) return;
  inner().cancel(f, op);
}

void deterministic_files::close(file_state& f) noexcept { inner().close(f); }

deterministic_stats deterministic_port::stats() const noexcept {
  std::lock_guard lock(mutex_);
  deterministic_stats out;
  out.seed = seed_;
  out.callbacks = callbacks_;
  out.reordered = reordered_;
  out.injected = injected_;
  return out;
}

}  // namespace pocore::detail

namespace pocore {

bool get_deterministic_stats(const io_port& port, deterministic_stats& out) noexcept {
  if (!port.valid() || !detail::is_deterministic_name(port.name())) return false;
  out = static_cast<const detail::deterministic_port&>(port.backend()).stats();
  return true;
}

}  // namespace pocore
