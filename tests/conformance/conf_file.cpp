// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// Files (pocore::file): overlapped read_at/write_at complete like socket
// operations on every backend: native on IOCP and io_uring, a thread pool
// on epoll and kqueue. Data is verified byte for byte; every record is
// counted (exactly one callback, never inline); the fixture then checks
// that nothing is owed and no descriptor or thread is left.
//
// Every case works in its own temporary directory, removed at its end.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pocore_test.hpp"

using namespace pocore_test;
using pocore::errc;
using pocore::file_mode;

namespace {

namespace fs = std::filesystem;

// A fresh directory under the system's temporary directory (on Wine,
// GetTempPathW's), removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    const fs::path base = fs::temp_directory_path();
    for (int attempt = 0; attempt < 100 && path_.empty(); ++attempt) {
      fs::path p = base / ("pocore-file-" + std::to_string(rd()) + "-" + std::to_string(attempt));
      std::error_code ec;
      if (fs::create_directory(p, ec)) path_ = p;
    }
  }
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  bool ok() const { return !path_.empty(); }
  // A UTF-8 path for pocore (the names used here are ASCII).
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

constexpr std::uint32_t seed = 0x46494c45;  // "FILE"

// Writes `n` pattern bytes into `f` from offset 0, synchronously.
void fill_file(pocore::file& f, std::size_t n) {
  std::vector<std::uint8_t> data(n);
  fill_pattern(data, 0, seed);
  std::error_code ec;
  ASSERT_EQ(f.write_at(0, pocore::make_buffer(data.data(), data.size()), ec), n);
  ASSERT_FALSE(ec) << ec.message();
}

}  // namespace

// Writes more than 1 MiB as many overlapped writes at different offsets,
// all in flight at once, then reads it back with reads cut differently.
POCORE_CASE(file_write_then_read_back) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  pocore::file f(port());
  ASSERT_FALSE(
      f.open(dir.file("data"), file_mode::read_write | file_mode::create | file_mode::truncate));
  ASSERT_TRUE(f.is_open());
  ASSERT_NE(f.native_handle(), -1);

  constexpr std::size_t total = (1u << 20) + 4099;  // not a multiple of any chunk
  std::vector<std::uint8_t> out(total);
  fill_pattern(out, 0, seed);

  // Chunks of 1..40 KiB, submitted last first so the file grows out of order.
  std::vector<std::pair<std::size_t, std::size_t>> chunks;  // offset, size
  std::mt19937 rng(7);
  for (std::size_t off = 0; off < total;) {
    std::size_t n = std::min<std::size_t>(total - off, 1 + rng() % (40 * 1024));
    chunks.emplace_back(off, n);
    off += n;
  }
  std::vector<std::unique_ptr<op_rec>> writes;
  for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) {
    writes.push_back(std::make_unique<op_rec>());
    op_rec& w = *writes.back();
    submit([&] {
      f.async_write_at(w, it->first, pocore::make_buffer(out.data() + it->first, it->second));
    });
  }
  ASSERT_TRUE(drain(port()));
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const auto& c = chunks[chunks.size() - 1 - i];
    EXPECT_EQ(writes[i]->calls.load(), 1);
    EXPECT_FALSE(writes[i]->error) << writes[i]->error.message();
    EXPECT_EQ(writes[i]->bytes, c.second);
  }
  std::error_code ec;
  EXPECT_EQ(f.size(ec), total);
  EXPECT_FALSE(ec);

  // Read back in 37 KiB pieces, the last one asking past the end.
  constexpr std::size_t piece = 37 * 1024;
  std::vector<std::uint8_t> in(total + piece, 0xAA);
  std::vector<std::unique_ptr<op_rec>> reads;
  for (std::size_t off = 0; off < total; off += piece) {
    reads.push_back(std::make_unique<op_rec>());
    op_rec& r = *reads.back();
    submit([&] { f.async_read_at(r, off, pocore::make_buffer(in.data() + off, piece)); });
  }
  ASSERT_TRUE(drain(port()));
  for (std::size_t i = 0; i < reads.size(); ++i) {
    const std::size_t off = i * piece;
    EXPECT_EQ(reads[i]->calls.load(), 1);
    EXPECT_FALSE(reads[i]->error) << reads[i]->error.message();
    EXPECT_EQ(reads[i]->bytes, std::min(piece, total - off)) << "read at " << off;
  }
  EXPECT_EQ(check_pattern(std::span<const std::uint8_t>(in.data(), total), 0, seed), total);

  // Scatter read and gather write: the buffers are filled in order.
  std::uint8_t a[3000], b[5000];
  const pocore::buffer scatter[] = {{a, sizeof(a)}, {b, sizeof(b)}};
  op_rec sr;
  submit([&] { f.async_read_at(sr, 12345, scatter); });
  ASSERT_TRUE(run_until(port(), [&] { return sr.calls.load() == 1; }));
  EXPECT_FALSE(sr.error);
  EXPECT_EQ(sr.bytes, sizeof(a) + sizeof(b));
  EXPECT_EQ(check_pattern(a, 12345, seed), sizeof(a));
  EXPECT_EQ(check_pattern(b, 12345 + sizeof(a), seed), sizeof(b));
  const pocore::const_buffer gather[] = {{b, sizeof(b)}, {a, sizeof(a)}};
  op_rec gw;
  submit([&] { f.async_write_at(gw, 100, gather); });
  ASSERT_TRUE(run_until(port(), [&] { return gw.calls.load() == 1; }));
  EXPECT_FALSE(gw.error);
  EXPECT_EQ(gw.bytes, sizeof(a) + sizeof(b));
  std::vector<std::uint8_t> back(sizeof(a) + sizeof(b));
  EXPECT_EQ(f.read_at(100, pocore::make_buffer(back.data(), back.size()), ec), back.size());
  EXPECT_EQ(std::memcmp(back.data(), b, sizeof(b)), 0);
  EXPECT_EQ(std::memcmp(back.data() + sizeof(b), a, sizeof(a)), 0);
  f.close();
  EXPECT_FALSE(f.is_open());
}

// 256 reads in flight at once, each at its own offset, run by four threads.
POCORE_CASE(file_many_concurrent_reads) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  constexpr std::size_t count = 256, size = 4096;
  pocore::file f(port());
  ASSERT_FALSE(f.open(dir.file("data"), file_mode::read_write | file_mode::create));
  fill_file(f, count * size);
  std::vector<std::uint8_t> in(count * size);
  std::vector<op_rec> reads(count);
  // Submitted back to front, from the test thread while others run the port.
  {
    port().add_work();  // keeps the runners in run() until every read is in
    run_threads runner(port(), 4);
    for (std::size_t i = count; i-- > 0;) {
      submit([&] {
        f.async_read_at(reads[i], i * size, pocore::make_buffer(in.data() + i * size, size));
      });
    }
    port().remove_work();
    runner.join();
  }
  EXPECT_EQ(port().outstanding(), 0u);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(reads[i].calls.load(), 1);
    EXPECT_FALSE(reads[i].error) << reads[i].error.message();
    EXPECT_EQ(reads[i].bytes, size);
  }
  EXPECT_EQ(check_pattern(in, 0, seed), in.size());
}

// At the end of the file a read is short; at or past it, 0 bytes, no error.
POCORE_CASE(file_read_at_end_of_file) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  pocore::file f(port());
  ASSERT_FALSE(f.open(dir.file("data"), file_mode::read_write | file_mode::create));
  fill_file(f, 1000);
  std::uint8_t buf[200];
  op_rec short_read, at_end, past_end, empty;
  submit([&] { f.async_read_at(short_read, 900, pocore::make_buffer(buf, sizeof(buf))); });
  submit([&] { f.async_read_at(at_end, 1000, pocore::make_buffer(buf, sizeof(buf))); });
  submit([&] { f.async_read_at(past_end, 1u << 30, pocore::make_buffer(buf, sizeof(buf))); });
  submit([&] { f.async_read_at(empty, 0, pocore::make_buffer(buf, 0)); });
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(short_read.calls.load(), 1);
  EXPECT_FALSE(short_read.error) << short_read.error.message();
  EXPECT_EQ(short_read.bytes, 100u);
  for (op_rec* r : {&at_end, &past_end, &empty}) {
    EXPECT_EQ(r->calls.load(), 1);
    EXPECT_FALSE(r->error) << r->error.message();
    EXPECT_EQ(r->bytes, 0u);
  }
  // The synchronous forms agree.
  std::error_code ec;
  EXPECT_EQ(f.read_at(900, pocore::make_buffer(buf, sizeof(buf)), ec), 100u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(check_pattern(std::span<const std::uint8_t>(buf, 100), 900, seed), 100u);
  EXPECT_EQ(f.read_at(1000, pocore::make_buffer(buf, sizeof(buf)), ec), 0u);
  EXPECT_FALSE(ec);
}

// A write past the end extends the file; the gap reads as zeros.
POCORE_CASE(file_write_extends_file) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  pocore::file f(port());
  ASSERT_FALSE(
      f.open(dir.file("data"), file_mode::read_write | file_mode::create | file_mode::exclusive));
  std::error_code ec;
  EXPECT_EQ(f.size(ec), 0u);
  const char tail[] = "tail";
  op_rec w;
  submit([&] { f.async_write_at(w, 10000, pocore::make_buffer(tail, 4)); });
  ASSERT_TRUE(run_until(port(), [&] { return w.calls.load() == 1; }));
  EXPECT_FALSE(w.error) << w.error.message();
  EXPECT_EQ(w.bytes, 4u);
  EXPECT_EQ(f.size(ec), 10004u);
  std::vector<std::uint8_t> in(10004, 0xAA);
  op_rec r;
  submit([&] { f.async_read_at(r, 0, pocore::make_buffer(in.data(), in.size())); });
  ASSERT_TRUE(run_until(port(), [&] { return r.calls.load() == 1; }));
  EXPECT_EQ(r.bytes, in.size());
  for (std::size_t i = 0; i < 10000; ++i) ASSERT_EQ(in[i], 0) << "byte " << i;
  EXPECT_EQ(std::memcmp(in.data() + 10000, tail, 4), 0);
  // resize cuts and extends.
  EXPECT_FALSE(f.resize(5));
  EXPECT_EQ(f.size(ec), 5u);
  EXPECT_FALSE(f.resize(1u << 20));
  EXPECT_EQ(f.size(ec), 1u << 20);
  EXPECT_FALSE(ec);
}

// A write on a read-only file, a read on a write-only one and any call on
// a closed file report bad_descriptor, through the callback, once.
POCORE_CASE(file_wrong_direction_and_closed) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("data");
  {
    pocore::file make(port());
    ASSERT_FALSE(make.open(path, file_mode::write_only | file_mode::create));
    fill_file(make, 100);
  }
  pocore::file ro(port()), wo(port()), closed(port());
  ASSERT_FALSE(ro.open(path, file_mode::read_only));
  ASSERT_FALSE(wo.open(path, file_mode::write_only));
  std::uint8_t buf[16] = {};
  op_rec w_on_ro, r_on_wo, r_on_closed, w_on_closed, r_ok;
  submit([&] { ro.async_write_at(w_on_ro, 0, pocore::make_buffer(buf, sizeof(buf))); });
  submit([&] { wo.async_read_at(r_on_wo, 0, pocore::make_buffer(buf, sizeof(buf))); });
  submit([&] { closed.async_read_at(r_on_closed, 0, pocore::make_buffer(buf, sizeof(buf))); });
  submit([&] { closed.async_write_at(w_on_closed, 0, pocore::make_buffer(buf, sizeof(buf))); });
  submit([&] { ro.async_read_at(r_ok, 0, pocore::make_buffer(buf, sizeof(buf))); });
  ASSERT_TRUE(drain(port()));
  for (op_rec* r : {&w_on_ro, &r_on_wo, &r_on_closed, &w_on_closed}) {
    EXPECT_EQ(r->calls.load(), 1);
    EXPECT_EQ(r->error, errc::bad_descriptor) << r->error.message();
    EXPECT_EQ(r->bytes, 0u);
  }
  EXPECT_EQ(r_ok.calls.load(), 1);
  EXPECT_EQ(r_ok.bytes, sizeof(buf));
  std::error_code ec;
  EXPECT_EQ(ro.write_at(0, pocore::make_buffer(buf, sizeof(buf)), ec), 0u);
  EXPECT_EQ(ec, errc::bad_descriptor);
  EXPECT_EQ(wo.read_at(0, pocore::make_buffer(buf, sizeof(buf)), ec), 0u);
  EXPECT_EQ(ec, errc::bad_descriptor);
  EXPECT_EQ(ro.resize(0), errc::bad_descriptor);
  EXPECT_EQ(closed.size(ec), 0u);
  EXPECT_EQ(ec, errc::bad_descriptor);
  EXPECT_EQ(closed.native_handle(), -1);
  // An offset beyond 2^63-1 (or one the length would carry past it).
  op_rec far, carry;
  submit([&] {
    ro.async_read_at(far, std::uint64_t{1} << 63, pocore::make_buffer(buf, sizeof(buf)));
  });
  submit([&] {
    ro.async_read_at(carry, std::numeric_limits<std::int64_t>::max() - 4,
                     pocore::make_buffer(buf, sizeof(buf)));
  });
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(far.calls.load(), 1);
  EXPECT_EQ(far.error, errc::invalid_argument);
  EXPECT_EQ(carry.calls.load(), 1);
  EXPECT_EQ(carry.error, errc::invalid_argument);
}

// Opening: a missing path, exclusive create of an existing file, a
// directory, a bad mode; the object stays closed and usable.
POCORE_CASE(file_open_errors) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  pocore::file f(port());
  EXPECT_EQ(f.open(dir.file("missing"), file_mode::read_only), errc::no_such_file);
  EXPECT_EQ(f.open(dir.file("missing/below"), file_mode::read_write | file_mode::create),
            errc::no_such_file);
  EXPECT_FALSE(f.is_open());
  ASSERT_FALSE(f.open(dir.file("there"), file_mode::write_only | file_mode::create));
  f.close();
  EXPECT_EQ(
      f.open(dir.file("there"), file_mode::write_only | file_mode::create | file_mode::exclusive),
      errc::file_exists);
  EXPECT_EQ(f.open(dir.file(""), file_mode::read_only), errc::is_a_directory);
  EXPECT_EQ(f.open(dir.file("there"), file_mode::create), errc::invalid_argument);
  EXPECT_EQ(f.open(dir.file("there"), file_mode::read_only | file_mode::truncate),
            errc::invalid_argument);
  EXPECT_EQ(f.open(dir.file("there"), file_mode::read_only | file_mode::exclusive),
            errc::invalid_argument);
  EXPECT_EQ(f.open("", file_mode::read_only), errc::invalid_argument);
  EXPECT_FALSE(f.is_open());
  pocore::file no_port;
  EXPECT_EQ(no_port.open(dir.file("there"), file_mode::read_only), errc::bad_descriptor);
  EXPECT_THROW(pocore::file(port(), dir.file("missing"), file_mode::read_only), std::system_error);
  // Still usable after the failures.
  EXPECT_FALSE(f.open(dir.file("there"), file_mode::read_only));
  EXPECT_TRUE(f.is_open());
}

// Close with many operations pending: each completes exactly once, either
// with its full result (it had started) or operation_aborted and 0 bytes.
POCORE_CASE(file_close_with_pending_operations) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  constexpr std::size_t count = 128, size = 64 * 1024;
  pocore::file f(port());
  ASSERT_FALSE(f.open(dir.file("data"), file_mode::read_write | file_mode::create));
  fill_file(f, count * size);
  std::vector<std::uint8_t> in(count * size);
  std::vector<op_rec> ops(count);
  for (std::size_t i = 0; i < count; ++i) {
    submit([&] {
      if (i % 2 == 0)
        f.async_read_at(ops[i], i * size, pocore::make_buffer(in.data() + i * size, size));
      else
        f.async_write_at(ops[i], i * size, pocore::make_buffer(in.data() + i * size, size));
    });
  }
  f.close();
  EXPECT_FALSE(f.is_open());
  ASSERT_TRUE(drain(port()));
  std::size_t aborted = 0;
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(ops[i].calls.load(), 1) << "op " << i;
    if (ops[i].error == errc::operation_aborted) {
      ++aborted;
    } else {
      EXPECT_FALSE(ops[i].error) << "op " << i << ": " << ops[i].error.message();
      EXPECT_EQ(ops[i].bytes, size) << "op " << i;
    }
  }
  RecordProperty("aborted", static_cast<int>(aborted));
}

// Cancel one record and then all: each completes once, aborted or whole.
// A record that already completed is not touched by a later cancel.
POCORE_CASE(file_cancel) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  constexpr std::size_t count = 64, size = 32 * 1024;
  pocore::file f(port());
  ASSERT_FALSE(f.open(dir.file("data"), file_mode::read_write | file_mode::create));
  fill_file(f, count * size);
  std::vector<std::uint8_t> in(count * size);
  std::vector<op_rec> ops(count);
  for (std::size_t i = 0; i < count; ++i) {
    submit([&] {
      f.async_read_at(ops[i], i * size, pocore::make_buffer(in.data() + i * size, size));
    });
  }
  f.cancel(ops[count - 1]);
  f.cancel();
  ASSERT_TRUE(drain(port()));
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(ops[i].calls.load(), 1) << "op " << i;
    if (ops[i].error != errc::operation_aborted) {
      EXPECT_FALSE(ops[i].error) << ops[i].error.message();
      EXPECT_EQ(ops[i].bytes, size);
      EXPECT_EQ(
          check_pattern(std::span<const std::uint8_t>(in.data() + i * size, size), i * size, seed),
          size);
    }
  }
  // Finished records: cancel is a no-op, and the file works on.
  f.cancel(ops[0]);
  f.cancel();
  EXPECT_EQ(ops[0].calls.load(), 1);
  op_rec again;
  submit([&] { f.async_read_at(again, 0, pocore::make_buffer(in.data(), size)); });
  ASSERT_TRUE(run_until(port(), [&] { return again.calls.load() == 1; }));
  EXPECT_FALSE(again.error);
  EXPECT_EQ(again.bytes, size);
}

// A callback may resubmit its own record; lambdas through the convenience
// layer; completions never run inside the submitting call.
POCORE_CASE(file_resubmit_and_lambdas) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  pocore::file f(port());
  ASSERT_FALSE(f.open(dir.file("data"), file_mode::read_write | file_mode::create));
  constexpr std::size_t block = 1000, blocks = 50;
  std::vector<std::uint8_t> out(block * blocks);
  fill_pattern(out, 0, seed);
  // A chain of writes, each started from the previous one's callback.
  op_rec w;
  std::size_t next = 0;
  w.then = [&](op_rec& self) {
    if (self.error || ++next == blocks) return;
    submit([&] {
      f.async_write_at(self, next * block, pocore::make_buffer(&out[next * block], block));
    });
  };
  submit([&] { f.async_write_at(w, 0, pocore::make_buffer(out.data(), block)); });
  ASSERT_TRUE(drain(port()));
  EXPECT_EQ(w.calls.load(), static_cast<int>(blocks));
  EXPECT_FALSE(w.error);

  std::vector<std::uint8_t> in(out.size());
  std::atomic<int> done{0};
  std::error_code got_ec = pocore::make_error_code(errc::would_block);
  std::size_t got = 0;
  bool in_submit = true;
  f.async_read_at(0, pocore::make_buffer(in.data(), in.size()),
                  [&](std::error_code ec, std::size_t n) {
                    EXPECT_FALSE(in_submit) << "ran inline";
                    got_ec = ec;
                    got = n;
                    ++done;
                  });
  in_submit = false;
  ASSERT_TRUE(run_until(port(), [&] { return done.load() == 1; }));
  EXPECT_FALSE(got_ec);
  EXPECT_EQ(got, in.size());
  EXPECT_EQ(in, out);
  std::error_code write_ec = pocore::make_error_code(errc::would_block);
  f.async_write_at(0, pocore::make_buffer(out.data(), 10), [&](std::error_code ec, std::size_t n) {
    write_ec = ec;
    got = n;
    ++done;
  });
  ASSERT_TRUE(run_until(port(), [&] { return done.load() == 2; }));
  EXPECT_FALSE(write_ec);
  EXPECT_EQ(got, 10u);
}
