// Types and checks shared by every optkern kernel.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace optkern {

// Sizes, strides and indices: signed, so that negative strides (reversed views) work.
using index_t = std::ptrdiff_t;

// Throws std::invalid_argument("<name>: <what>") when `ok` is false. Every public entry point
// checks its parameters with this, so a caller always learns which argument was wrong.
inline void require(bool ok, const char* name, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(name) + ": " + what);
}

}  // namespace optkern
