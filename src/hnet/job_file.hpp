#pragma once
// One training job's files under output.dir and their formats. The results file holds the run
// attributes, the per-step history, the list of saved models, θ and the parameter table; the
// checkpoint is the same plus the optimizer state; each saved model is a file of its own, written
// once when its step completes, so checkpoints do not grow with the number of saved models. All
// are written to a temporary file and renamed (file_io.hpp), so a reader only ever sees complete
// files. Readers (the sweep, `hnet generate`) go through the read API below, never through file
// or dataset names of their own.
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

// The state a checkpoint holds, besides the deck. The saved models are files of their own; the
// state lists their steps.
struct JobState {
  std::int64_t next_step = 0;
  std::vector<float> theta, adam_m, adam_v;
  History history;
  std::vector<std::int64_t> saved_steps;  // increasing
};

// A job's files under output.dir.
struct JobPaths {
  std::string job;
  std::string results;     // <dir>/<job>.h5
  std::string checkpoint;  // <dir>/checkpoints/<job>.h5
  std::string models;      // <dir>/models/<job>/, one step_<N>.h5 per saved model
  std::string lock;        // <dir>/<job>.lock: held by the one process writing the job (file_io.hpp)
  std::string model(std::int64_t step) const;
};
JobPaths job_paths(const Deck& deck, const std::string& job_name);
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

// Upper estimates of the files' sizes, for the memory and disk checks: the data, the attributes
// (the deck twice) and a margin for HDF5's own metadata (about 40 kB measured on a tiny deck).
// A job file is estimated with the history of all train.steps steps.
std::size_t job_file_bytes(const Deck& deck, std::int64_t theta_size, bool with_optimizer);
std::size_t saved_model_bytes(const Deck& deck, std::int64_t theta_size);

// The model saved after `step` steps: θ with the job, its run seed and the model section.
void write_saved_model(const JobPaths& paths, const JobFileContext& context, std::int64_t step,
                       const std::vector<float>& theta);

// Reads a checkpoint for restart. Throws std::runtime_error naming the file when it is missing,
// truncated, foreign, from an incompatible deck (different model or batch), or when a saved model
// it lists is missing or not this job's.
JobState read_checkpoint(const JobPaths& paths, const JobFileContext& context);

// The deck keys that fix θ's layout and meaning (model, target, task, batch_beta, β range), as
// TOML: a job file stores it, and a checkpoint or a sweep must match it to use the file's θ.
std::string model_section(const Deck& deck);
// A stored model section as this version prints it: read as a deck (a key the writer did not know
// takes its default) and printed again, so that a file written before a [model] key existed still
// matches a deck that leaves the key at its default. Text that does not parse is returned as is.
std::string canonical_model_section(const std::string& stored);

// What a reader of a job's results needs to know before using its models.
struct JobFileInfo {
  JobPaths paths;
  std::string path, kind;                 // the file read (paths.results) and its kind: "results"
  std::string model_section;              // as model_section() wrote it
  std::uint64_t seed = 0;                 // the job's run seed
  std::vector<std::int64_t> saved_steps;  // steps of the saved models, increasing
};

// Reads paths.results. Throws std::runtime_error when it cannot be read or is not a job file.
JobFileInfo read_job_file_info(const JobPaths& paths);

// Checks, without reading θ, that the model saved after `step` steps is there, is this job's (same
// run seed and model section) and holds expected_size parameters. Throws naming the model file.
void check_saved_model(const JobFileInfo& file, std::int64_t step, std::int64_t expected_size);

// θ of the model saved after `step` steps. Throws naming the model file when it is missing,
// unreadable, another job's or holds other than `expected_size` parameters.
std::vector<float> read_saved_theta(const JobFileInfo& file, std::int64_t step, std::int64_t expected_size);

}  // namespace hnet
