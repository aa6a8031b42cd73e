#pragma once
// Central finite differences in double against an analytic gradient, element by element.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

namespace hnet::testing {

struct GradcheckTolerance {
  double step = 1e-5;
  double rtol = 1e-6;
  double atol = 1e-8;
};

// values: the parameters the objective reads; analytic: dJ/dvalues; objective(): recomputes J
// from the current values. Checks the listed elements and returns the number of mismatches
// (each one reported through gtest).
inline int check_gradient_at(const std::string& name, double* values, const double* analytic,
                             const std::vector<std::int64_t>& indices, const std::function<double()>& objective,
                             GradcheckTolerance tol = {}) {
  int failures = 0;
  double largest = 0.0;
  for (std::int64_t k : indices) {
    const double saved = values[k];
    values[k] = saved + tol.step;
    const double plus = objective();
    values[k] = saved - tol.step;
    const double minus = objective();
    values[k] = saved;
    const double numeric = (plus - minus) / (2.0 * tol.step);
    largest = std::fmax(largest, std::fabs(numeric));
    const double error = std::fabs(analytic[k] - numeric);
    if (!(error <= tol.atol + tol.rtol * std::fabs(numeric))) {
      if (++failures <= 10)
        ADD_FAILURE() << name << "[" << k << "]: analytic " << analytic[k] << " vs finite difference " << numeric
                      << " (error " << error << ")";
    }
  }
  // A gradient that is zero everywhere would pass trivially; the checks here must see signal.
  EXPECT_GT(largest, 1e-6) << name << ": every finite difference is ~0, the check proves nothing";
  return failures;
}

// Every element of a block.
inline int check_gradient(const std::string& name, double* values, const double* analytic, std::int64_t count,
                          const std::function<double()>& objective, GradcheckTolerance tol = {}) {
  std::vector<std::int64_t> all(count);
  std::iota(all.begin(), all.end(), 0);
  return check_gradient_at(name, values, analytic, all, objective, tol);
}

}  // namespace hnet::testing
