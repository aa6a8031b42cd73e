#pragma once
// `hnet train`: Adam on θ with warm-up + cosine schedule and global-norm clipping (model.md §7),
// MPI seed groups with data parallelism inside a group, progress lines, HDF5 results,
// checkpoints and restart.
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

// Per-step record of one job. Everything but wall_seconds is a pure function of the deck and
// the step, so a restarted run reproduces it bit for bit.
struct History {
  std::vector<std::int64_t> step;
  std::vector<double> objective, loss, normalised, kl, grad_norm, lr, beta_upper, wall_seconds;
  std::vector<double> network_log10_beta, network_loss, network_kl;  // [step][B_β], flattened
  std::int64_t skipped = 0;
  std::size_t size() const { return step.size(); }
};

struct SavedModel {
  std::int64_t step = 0;
  std::vector<float> theta;
};

// The state a checkpoint holds, besides the deck.
struct JobState {
  std::int64_t next_step = 0;
  std::vector<float> theta, adam_m, adam_v;
  History history;
  std::vector<SavedModel> models;
};

struct TrainSummary {
  std::int64_t steps = 0;           // steps run in this call (all jobs of this rank's group)
  double seconds = 0.0;
  double flops_per_step = 0.0;      // counted FLOP model of this rank's share of one step
  double allreduce_seconds = 0.0;   // time in the group's gradient reduction
  std::vector<std::string> results; // result files written by this group
};

TrainSummary train(const Deck& deck, const TrainOptions& options, MPI_Comm world);

// Paths of a job's files under output.dir.
std::string job_results_path(const Deck& deck, const std::string& job_name);
std::string job_checkpoint_path(const Deck& deck, const std::string& job_name);

}  // namespace hnet
