#pragma once
// One training job's HDF5 file: run attributes, the per-step history, the saved models and the
// parameter table; a checkpoint is the same file plus the optimizer state. Both are written to a
// temporary file and renamed (hdf5_file.hpp), so a reader only ever sees complete files.
#include <string>

#include "hnet/deck.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/parallel_layout.hpp"
#include "hnet/trainer.hpp"

namespace hnet {

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

}  // namespace hnet
