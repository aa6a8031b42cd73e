#pragma once
// `hnet train`: Adam on θ with warm-up + cosine schedule and global-norm clipping (model.md §7),
// MPI seed groups with data parallelism inside a group, progress lines, HDF5 results,
// checkpoints and restart. The files themselves are job_file.hpp's.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hnet/deck.hpp"

namespace hnet {

struct TrainOptions {
  bool restart = false;  // continue each job from its newest complete checkpoint
  bool quiet = false;    // no step lines (tests)
  // Stop (with a checkpoint) after this many steps in this call; 0 = run to train.steps. For
  // batch systems with a wall-time limit: the next call continues with --restart.
  std::int64_t stop_after_steps = 0;
};

struct TrainSummary {
  std::int64_t steps = 0;           // steps run in this call (all jobs of this rank's group)
  double seconds = 0.0;
  double flops_per_step = 0.0;      // counted FLOP model of this rank's share of one step
  double allreduce_seconds = 0.0;   // time in the group's gradient reduction
  std::vector<std::string> results; // result files written by this group
};

TrainSummary train(const Deck& deck, const TrainOptions& options, MPI_Comm world);

}  // namespace hnet
