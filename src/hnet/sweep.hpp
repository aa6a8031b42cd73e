#pragma once
// `hnet sweep`: for trained runs, generate networks over a β grid, generation seeds, saved
// models (training steps) and input sizes n′ (model.md §8, §9.2); evaluate, measure and classify
// them; gather everything into one HDF5 file. Work is divided over all MPI ranks; the result does
// not depend on how many there are.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hnet/deck.hpp"

namespace hnet {

struct SweepOptions {
  std::string output;  // default <output.dir>/sweep.h5
  std::vector<std::string> commands;  // recorded in the file, for the report
  bool quiet = false;
};

struct SweepSummary {
  std::string path;
  std::int64_t networks = 0;
  double seconds = 0.0;
};

SweepSummary run_sweep(const Deck& deck, const SweepOptions& options, MPI_Comm world);

std::string default_sweep_path(const Deck& deck);
// The β grid of model.md §8: beta_points values of log₁₀β evenly spaced over [lo, hi].
std::vector<double> sweep_log10_betas(const Deck& deck);

}  // namespace hnet
