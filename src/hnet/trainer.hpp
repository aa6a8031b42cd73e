#pragma once
// `hnet train`: Adam on θ with warm-up + cosine schedule and global-norm clipping (model.md §7),
// MPI seed groups with data parallelism inside a group, progress lines, HDF5 results,
// checkpoints and restart. The files themselves are job_file.hpp's.
#include <mpi.h>

#include <cstdint>
#include <memory>
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

// A training run in two phases. The constructor checks everything that can refuse the run before
// anything is allocated or trained: the MPI layout, memory, output.dir (creatable, writable, room
// for one checkpoint of every seed group), that no other process writes these jobs (a lock per
// job, held until the run ends) and that no result would be overwritten by accident. run()
// trains. Both are collective over world; a refusal throws on every rank alike.
class TrainingRun {
 public:
  TrainingRun(const Deck& deck, const TrainOptions& options, MPI_Comm world);
  ~TrainingRun();
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;
  TrainSummary run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Both phases at once.
TrainSummary train(const Deck& deck, const TrainOptions& options, MPI_Comm world);

}  // namespace hnet
