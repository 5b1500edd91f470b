// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

// The fixture every injected-fault case runs in, on POSIX and on Windows:
// the conformance fixture (no callback owed, no socket open, descriptors
// back at the end) with the seam disarmed before and after each case and
// the number of faults it injected printed.

#include <cstdint>
#include <cstdio>

#include "pocore_test.hpp"
#include "posix/fault_inject.hpp"

namespace pocore_fault_test {

namespace pf = pocore::fault;
using namespace pocore_test;
using pocore::errc;

class fault : public conformance {
 protected:
  void SetUp() override {
    pf::disarm_all();
    conformance::SetUp();
    pf::reset_counts();
  }
  void TearDown() override {
    pf::disarm_all();
    std::printf("fault: %llu faults injected\n",
                static_cast<unsigned long long>(pf::injected_total()));
    conformance::TearDown();
  }
};

/// A rule failing calls on `fd` with `error`: the `nth` matching call and
/// `times` calls from there.
inline pf::rule on_fd(std::intptr_t fd, int error, std::uint64_t nth = 1, std::uint64_t times = 1) {
  pf::rule r;
  r.fd = fd;
  r.error = error;
  r.nth = nth;
  r.times = times;
  return r;
}

}  // namespace pocore_fault_test
