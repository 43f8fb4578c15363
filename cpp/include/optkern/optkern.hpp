// Everything in optkern's C++ core: the services and every area's umbrella header.
#pragma once

#include "optkern/build_info.hpp"
#include "optkern/common.hpp"
#include "optkern/config.hpp"
#include "optkern/interrupt.hpp"
#include "optkern/simd.hpp"
#include "optkern/threads.hpp"

#include "optkern/givens.hpp"
#include "optkern/linalg.hpp"
#include "optkern/optimize.hpp"
#include "optkern/ot.hpp"
#include "optkern/tv.hpp"
