// The group's gradient sum (GroupReducer: reduce-scatter + allgather over a fixed pairwise tree)
// timed at the rank count it is started with, for gradient lengths from 1 Ki to the paper deck's
// |θ| floats, and the same sum done the old way (MPI_Allgather of whole gradients, then the tree),
// so that an α–β model T(R, bytes) = a·α + b·bytes·β can be fitted and extrapolated:
//   mpirun -n 2 build/bin/hnet_reduce_benchmark [--repeats 20]
// Prints one line per length: seconds per sum (median over repeats) for both methods.
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hnet/parallel_layout.hpp"
#include "kernels/pairwise_sum.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The former exchange: every rank gathers every rank's whole gradient, then sums in rank order.
double time_allgather(MPI_Comm comm, int ranks, std::int64_t length, int repeats) {
  std::vector<float> mine(length, 1.0f), all(static_cast<std::size_t>(ranks) * length);
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    MPI_Barrier(comm);
    const auto start = std::chrono::steady_clock::now();
    MPI_Allgather(mine.data(), static_cast<int>(length), MPI_FLOAT, all.data(), static_cast<int>(length), MPI_FLOAT,
                  comm);
    for (std::int64_t i = 0; i < length; ++i) {
      hnet::kernels::PairwiseSum<float> sum;
      for (int k = 0; k < ranks; ++k) sum.add(all[k * length + i]);
      mine[i] = sum.total();
    }
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return median(times);
}

double time_reducer(const hnet::GroupLayout& group, std::int64_t length, int repeats) {
  hnet::GroupReducer reducer(group, length);
  hnet::View1<float> gradient("hnet::bench::gradient", length);
  Kokkos::deep_copy(gradient, 1.0f);
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    MPI_Barrier(group.group);
    const auto start = std::chrono::steady_clock::now();
    reducer.allreduce(gradient);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return median(times);
}

}  // namespace

int main(int argc, char** argv) {
  setenv("OMP_PROC_BIND", "false", 0);  // as bench_main.cpp: threads unbound unless asked
  MPI_Init(&argc, &argv);
  {
    Kokkos::ScopeGuard guard(argc, argv);
    int repeats = 20;
    for (int k = 1; k + 1 < argc; ++k)
      if (std::strcmp(argv[k], "--repeats") == 0) repeats = std::max(1, std::atoi(argv[k + 1]));
    hnet::GroupLayout group;
    MPI_Comm_rank(MPI_COMM_WORLD, &group.group_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &group.group_size);
    group.group = MPI_COMM_WORLD;
    if (group.group_rank == 0)
      std::printf("# ranks %d, median of %d sums; seconds per sum\n# floats  bytes  reduce_scatter_allgather  "
                  "allgather_then_sum\n",
                  group.group_size, repeats);
    // 1 Ki floats up to the paper deck's θ (9 756 120 floats) and the quick deck's (1 296 376).
    std::vector<std::int64_t> lengths;
    for (std::int64_t n = 1024; n < 9756120; n *= 4) lengths.push_back(n);
    lengths.push_back(1296376);
    lengths.push_back(9756120);
    std::sort(lengths.begin(), lengths.end());
    for (const std::int64_t n : lengths) {
      const double fast = time_reducer(group, n, repeats);
      const double old = time_allgather(MPI_COMM_WORLD, group.group_size, n, repeats);
      if (group.group_rank == 0)
        std::printf("%lld %lld %.6e %.6e\n", static_cast<long long>(n), static_cast<long long>(4 * n), fast, old);
    }
  }
  MPI_Finalize();
  return 0;
}
