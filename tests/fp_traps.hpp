#pragma once
// A NaN or a division by zero anywhere in a test stops it with SIGFPE instead of passing quietly.
// Floating-point exception masks are per thread, so every OpenMP worker sets its own.
#include <cfenv>
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace hnet::testing {

inline void enable_fp_traps() {
  feenableexcept(FE_INVALID | FE_DIVBYZERO);
#if defined(_OPENMP)
#pragma omp parallel
  { feenableexcept(FE_INVALID | FE_DIVBYZERO); }
#endif
}

}  // namespace hnet::testing
