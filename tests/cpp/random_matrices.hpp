// Random test matrices shared by the C++ tests.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "optkern/common.hpp"

namespace optkern_test {

// `size` independent draws, uniform in [lo, hi).
inline std::vector<double> uniform_vector(optkern::index_t size, std::mt19937& gen, double lo,
                                          double hi) {
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::vector<double> out(static_cast<std::size_t>(size));
  for (auto& x : out) x = uniform(gen);
  return out;
}

// A random d x d orthogonal matrix (row-major): Gram-Schmidt, twice, on a Gaussian matrix's rows.
inline std::vector<double> random_orthogonal(optkern::index_t d, std::mt19937& gen) {
  std::normal_distribution<double> normal;
  std::vector<double> u(static_cast<std::size_t>(d * d));
  for (auto& v : u) v = normal(gen);
  for (optkern::index_t r = 0; r < d; ++r) {
    double* row = u.data() + r * d;
    for (int pass = 0; pass < 2; ++pass)
      for (optkern::index_t s = 0; s < r; ++s) {
        const double* prev = u.data() + s * d;
        double dot = 0;
        for (optkern::index_t k = 0; k < d; ++k) dot += row[k] * prev[k];
        for (optkern::index_t k = 0; k < d; ++k) row[k] -= dot * prev[k];
      }
    double norm = 0;
    for (optkern::index_t k = 0; k < d; ++k) norm += row[k] * row[k];
    norm = std::sqrt(norm);
    for (optkern::index_t k = 0; k < d; ++k) row[k] /= norm;
  }
  return u;
}

}  // namespace optkern_test
