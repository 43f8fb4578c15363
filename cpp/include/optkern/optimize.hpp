// The optimize area: unconstrained and bound-constrained minimisers for C++ objectives
// (gradient descent, L-BFGS, L-BFGS-B, BFGS, modified Newton), their compiled entry points
// for objectives known at run time (minimize.hpp) and the native test problems.
#pragma once

#include "optkern/optimize/bfgs.hpp"
#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/driver.hpp"
#include "optkern/optimize/gradient_descent.hpp"
#include "optkern/optimize/gradient_descent_machine.hpp"
#include "optkern/optimize/lbfgs.hpp"
#include "optkern/optimize/lbfgs_machine.hpp"
#include "optkern/optimize/lbfgsb.hpp"
#include "optkern/optimize/lbfgsb_machine.hpp"
#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/minimize.hpp"
#include "optkern/optimize/modified_newton.hpp"
#include "optkern/optimize/newton.hpp"
#include "optkern/optimize/problems.hpp"
#include "optkern/optimize/search_fallback.hpp"
#include "optkern/optimize/tridiagonal_spectrum.hpp"
#include "optkern/optimize/types.hpp"
