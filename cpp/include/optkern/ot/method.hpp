// Which domain a Sinkhorn-type iteration runs in: shared by the balanced solver (ot.hpp) and
// the unbalanced one (ot/unbalanced.hpp).
#pragma once

namespace optkern {

enum class SinkhornMethod : int {
  automatic = 0,  // plain when exp(-M/reg) fits the floating-point range, log otherwise
  plain = 1,      // kernel domain: K = exp(-M/reg) once, scalings u, v (one pass over K)
  log = 2,        // log domain: potentials f, g by log-sum-exp (one pass over M)
};

}  // namespace optkern
