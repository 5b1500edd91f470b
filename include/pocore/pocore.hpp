// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Everything public in one include.

#include "pocore/buffer.hpp"
#include "pocore/coro.hpp"
#include "pocore/endpoint.hpp"
#include "pocore/error.hpp"
#include "pocore/file.hpp"
#include "pocore/native.hpp"
#include "pocore/operation.hpp"
#include "pocore/port.hpp"
#include "pocore/resolver.hpp"
#include "pocore/socket.hpp"
#include "pocore/timer.hpp"
#include "pocore/version.hpp"
