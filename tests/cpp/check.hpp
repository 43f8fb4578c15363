// A minimal test harness: CHECK records failures, main() returns their count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>

namespace optkern_test {

inline int& failures() {
  static int count = 0;
  return count;
}

inline void check(bool ok, const char* expr, const char* file, int line) {
  if (!ok) {
    std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
    ++failures();
  }
}

// Whether `f` throws std::invalid_argument whose message starts with `prefix`.
inline bool throws_invalid_argument(const std::function<void()>& f, const std::string& prefix) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return std::string(e.what()).rfind(prefix, 0) == 0;
  }
  return false;
}

// max_k |got[k] - want[k]| over two sequences of the same length (vectors or arrays).
template <class A, class B>
double max_abs_diff(const A& got, const B& want) {
  double err = 0;
  for (std::size_t k = 0; k < std::size(want); ++k)
    err = std::max(err, std::fabs(double(got[k]) - double(want[k])));
  return err;
}

}  // namespace optkern_test

#define CHECK(expr) ::optkern_test::check(static_cast<bool>(expr), #expr, __FILE__, __LINE__)
