#pragma once
// One training job's files under output.dir and their formats: run attributes, the per-step
// history, the saved models and the parameter table; a checkpoint is the same file plus the
// optimizer state. Both are written to a temporary file and renamed (hdf5_file.hpp), so a reader
// only ever sees complete files. Readers (the sweep, `hnet generate`) go through the read API
// below, never through dataset names of their own.
#include <cstdint>
#include <string>
#include <vector>

#include "hnet/deck.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/parallel_layout.hpp"

namespace hnet {

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

// Paths of a job's files under output.dir.
std::string job_results_path(const Deck& deck, const std::string& job_name);
std::string job_checkpoint_path(const Deck& deck, const std::string& job_name);

struct JobFileContext {
  const Deck* deck = nullptr;
  const HypernetLayout* layout = nullptr;
  const TrainingJob* job = nullptr;
  int world_size = 1, group_size = 1;
};

void write_job_file(const std::string& path, const JobFileContext& context, const JobState& state,
                    bool with_optimizer);

// Reads a checkpoint for restart. Throws std::runtime_error naming the file when it is missing,
// truncated, foreign, or from an incompatible deck (different model or batch).
JobState read_checkpoint(const std::string& path, const JobFileContext& context);

// The deck keys that fix θ's layout and meaning (model, target, task, batch_beta, β range), as
// TOML: a job file stores it, and a checkpoint or a sweep must match it to use the file's θ.
std::string model_section(const Deck& deck);

// What a reader of a results (or checkpoint) file needs to know before using its models.
struct JobFileInfo {
  std::string path, kind;             // kind: "results" or "checkpoint"
  std::string model_section;          // as model_section() wrote it
  std::uint64_t seed = 0;             // the job's run seed
  std::vector<std::int64_t> saved_steps;  // steps of the saved models, increasing
};

// Throws std::runtime_error (naming the file) when it cannot be read or is not a job file.
JobFileInfo read_job_file_info(const std::string& path);

// θ of the model saved after `step` steps. Throws naming the file when it is missing, unreadable
// or holds other than `expected_size` parameters.
std::vector<float> read_saved_theta(const JobFileInfo& file, std::int64_t step, std::int64_t expected_size);

}  // namespace hnet
