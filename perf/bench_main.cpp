// The main of every Google Benchmark executable: Kokkos lives for the whole run, threads unbound
// unless OMP_PROC_BIND says otherwise (spread binding halved GEMM speed on 2 cores).
#include <benchmark/benchmark.h>

#include <Kokkos_Core.hpp>
#include <cstdlib>

int main(int argc, char** argv) {
  setenv("OMP_PROC_BIND", "false", 0);
  Kokkos::ScopeGuard guard(argc, argv);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
