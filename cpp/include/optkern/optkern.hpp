// Everything in optkern's C++ core.
#pragma once

#include "optkern/build_info.hpp"
#include "optkern/common.hpp"
#include "optkern/config.hpp"
#include "optkern/interrupt.hpp"
#include "optkern/linalg.hpp"
#include "optkern/simd.hpp"
#include "optkern/threads.hpp"
