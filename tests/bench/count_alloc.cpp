// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// libbench-count-alloc.so: a heap-allocation counter to LD_PRELOAD into a
// benchmark server. It replaces malloc, calloc, realloc and the aligned
// variants (operator new and Boost/libstdc++ all end in them), counts each
// call and forwards it to glibc's own implementation (__libc_malloc, ...).
//
// The count lives in a file the caller names with BENCH_ALLOC_COUNTER: the
// library maps it shared and keeps the 64-bit count at offset 0, so
// ci/bench.sh reads it (`od -An -tu8 -N8 FILE`) between two load runs
// while the server goes on; no signal, thread or exit hook is involved.
// Without the variable the count is only kept in memory.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {

std::atomic<std::uint64_t> early_count{0};
std::atomic<std::atomic<std::uint64_t>*> counter{&early_count};

inline void count() {
  counter.load(std::memory_order_relaxed)->fetch_add(1, std::memory_order_relaxed);
}

// Runs when the library is loaded, before main; makes no allocation.
__attribute__((constructor)) void map_counter() {
  const char* path = std::getenv("BENCH_ALLOC_COUNTER");
  if (path == nullptr || *path == '\0') return;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (ftruncate(fd, 4096) == 0) {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      auto* shared = static_cast<std::atomic<std::uint64_t>*>(p);
      shared->store(early_count.load());
      counter.store(shared);
    }
  }
  close(fd);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* malloc(std::size_t n) noexcept {
  count();
  return __libc_malloc(n);
}
__attribute__((visibility("default"))) void* calloc(std::size_t n, std::size_t size) noexcept {
  count();
  return __libc_calloc(n, size);
}
__attribute__((visibility("default"))) void* realloc(void* p, std::size_t n) noexcept {
  count();
  return __libc_realloc(p, n);
}
__attribute__((visibility("default"))) void free(void* p) noexcept { __libc_free(p); }
__attribute__((visibility("default"))) void* memalign(std::size_t align, std::size_t n) noexcept {
  count();
  return __libc_memalign(align, n);
}
__attribute__((visibility("default"))) void* aligned_alloc(std::size_t align,
                                                           std::size_t n) noexcept {
  count();
  return __libc_memalign(align, n);
}
__attribute__((visibility("default"))) int posix_memalign(void** out, std::size_t align,
                                                          std::size_t n) noexcept {
  count();
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
__attribute__((visibility("default"))) void* valloc(std::size_t n) noexcept {
  count();
  return __libc_memalign(static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), n);
}

}  // extern "C"
