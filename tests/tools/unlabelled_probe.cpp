// Input of ctest hnet_kokkos_tools_rejects_unlabelled: launches and allocates, next to properly
// labelled work, each thing the label checker (label_checker.cpp) must report, so the test
// proves the checker can fail rather than only that hnet passes it.
#include <Kokkos_Core.hpp>

int main(int argc, char** argv) {
  Kokkos::ScopeGuard guard(argc, argv);
  int failures = 0;
  {
    Kokkos::View<double*> good("hnet::probe::good", 8);
    Kokkos::View<double*> bad("probe_view", 8);  // a View label without "hnet::"
    Kokkos::parallel_for(
        "hnet::probe::labelled", 8, KOKKOS_LAMBDA(const int i) { good(i) = i; });
    // No label at all: Kokkos names it after the functor's mangled type.
    Kokkos::parallel_for(8, KOKKOS_LAMBDA(const int i) { bad(i) = i; });
    Kokkos::parallel_for(
        "probe::wrong_prefix", 8, KOKKOS_LAMBDA(const int i) { bad(i) += good(i); });
    double sum = 0;
    // An empty label, which Kokkos also replaces by the mangled type.
    Kokkos::parallel_reduce(
        "", 8, KOKKOS_LAMBDA(const int i, double& s) { s += bad(i); }, sum);
    if (sum != 56.0) ++failures;
    // A memory space's own label-less allocation, outside any kernel launch.
    void* raw = Kokkos::HostSpace().allocate(64);
    Kokkos::HostSpace().deallocate(raw, 64);
  }
  return failures;
}
