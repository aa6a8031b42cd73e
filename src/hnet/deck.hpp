// The input deck: every setting of a run, read from TOML (docs/model.md says what each key
// does; the schema in deck.cpp holds its range and a one-line meaning). Plain data and free
// functions; no MPI, no Kokkos, no global state.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hnet {

enum class InputDistribution { normal, uniform };
enum class TargetNorm { l1, l2sq, linf };
enum class Readout { edge, edge_bilinear };
enum class Prior { standard, learned };
enum class SigmaParam { bounded, softplus };
enum class IdentityDraw { fixed, per_network, positional, shifted };
enum class Objective { log_sum, sum, log_loss };
enum class NonFinitePolicy { stop, skip };
enum class CurriculumDirection { up, down, ends, low_then_ends };
enum class ParallelMode { seeds, fixed_beta };

// The deck spelling of each value ("edge_bilinear", ...); "<invalid>" for a value outside the enum.
const char* to_string(InputDistribution);
const char* to_string(TargetNorm);
const char* to_string(Readout);
const char* to_string(Prior);
const char* to_string(SigmaParam);
const char* to_string(IdentityDraw);
const char* to_string(Objective);
const char* to_string(NonFinitePolicy);
const char* to_string(CurriculumDirection);
const char* to_string(ParallelMode);

// The member initialisers below are the reference configuration and the only place
// defaults are written; ranges and meanings live in the schema in deck.cpp.
struct TaskConfig {
  InputDistribution input = InputDistribution::normal;
  TargetNorm target = TargetNorm::l1;
  int64_t eval_size = 16384;
  uint64_t eval_seed = 20231205;
};

struct TargetConfig {
  int64_t n = 16;
  int64_t hidden_ratio = 3;
  int64_t hidden() const { return n * hidden_ratio; }
};

struct ModelConfig {
  int64_t d = 32;
  int64_t heads = 4;
  int64_t blocks = 2;
  int64_t latent = 4;
  int64_t identity_dim = 16;
  uint64_t identity_seed = 1;
  double identity_scale = 1.0;
  IdentityDraw identity_draw = IdentityDraw::fixed;
  double identity_frequency = 4.0;
  int64_t identity_shift = 8;
  double type_scale = 1.0;
  int64_t phi_hidden = 64;
  int64_t phi_dim = 16;
  double u_init = 1e-3;
  Readout readout = Readout::edge_bilinear;
  Prior prior = Prior::standard;
  SigmaParam sigma = SigmaParam::bounded;
  double prior_scale = 0.2;
  double rho_bias_init = 2.0;
  bool posterior_identity = true;
};

struct TrainConfig {
  int64_t steps = 3000;
  int64_t batch_beta = 8;
  int64_t batch_x = 256;
  double log10_beta_min = -7.0;
  double log10_beta_max = 1.0;
  Objective objective = Objective::log_sum;
  double lr = 3e-3;
  int64_t warmup_steps = 500;
  double lr_final_fraction = 0.1;
  double clip_norm = 1.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  int64_t kl_warmup_steps = 0;
  bool beta_curriculum = true;
  CurriculumDirection curriculum_direction = CurriculumDirection::up;
  int64_t curriculum_hold_steps = 1000;
  int64_t curriculum_widen_steps = 1000;
  std::vector<int64_t> sizes = {};  // input sizes n drawn per step; empty = target.n only
  int64_t sizes_hold_steps = 0;     // steps at target.n alone before train.sizes are drawn
  int64_t sizes_widen_steps = 0;    // after the hold, steps over which the drawn sizes reach the list's ends
  uint64_t seed = 1;
  NonFinitePolicy nonfinite = NonFinitePolicy::stop;
};

struct SweepConfig {
  int64_t beta_points = 25;
  int64_t generation_seeds = 4;
  std::vector<int64_t> sizes = {4, 8, 12, 20, 24, 32};
  std::vector<int64_t> steps = {};  // empty = every saved model
  bool posterior_mean = true;
  double trivial_loss = 0.9;
  double convexity_o1 = 0.35;
  double double_sided_o2 = 0.5;
  double pudding_o3 = 0.0;
  double valley_kappa = 0.5;
  double valley_importance = 0.05;
};

struct ParallelConfig {
  ParallelMode mode = ParallelMode::seeds;
  int64_t seeds = 1;
  int64_t ranks_per_group = 1;
  std::vector<double> fixed_log10_betas = {};
};

struct OutputConfig {
  std::string dir = "results/quick";
  int64_t log_every = 50;
  int64_t checkpoint_every = 500;
  int64_t save_models = 8;  // models saved at log-spaced steps
  bool overwrite = false;
};

struct Deck {
  TaskConfig task;
  TargetConfig target;
  ModelConfig model;
  TrainConfig train;
  SweepConfig sweep;
  ParallelConfig parallel;
  OutputConfig output;
  std::string source = "<defaults>";  // file name, or "<defaults>"
};

// Every message has the form "FILE:LINE:COL: section.key: problem; what is valid"
// (or "--set section.key=value: ..." for an override); several problems are
// reported together, one per line, in file order.
class DeckError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Deck default_deck();

// Parses a whole deck (an empty text is valid: all defaults), applies the
// "section.key=value" overrides in order, then runs the cross-key checks.
Deck parse_deck(const std::string& toml_text, const std::string& source_name,
                const std::vector<std::string>& overrides = {});

// As parse_deck on the file's contents; a missing or unreadable file is a
// DeckError naming the path and the system's reason.
Deck load_deck(const std::string& path, const std::vector<std::string>& overrides = {});

// The fully resolved deck: every section and key, one per line, each with a
// comment giving its meaning and valid values. parse_deck(to_toml(d)) == d exactly
// (doubles are printed with the fewest digits that read back to the same bits).
// Deck::source is not printed.
std::string to_toml(const Deck&);

// One markdown table per section (key | type | default | valid values | meaning),
// followed by the cross-key checks.
std::string deck_reference_markdown();

// The integer at table.key of a TOML text, read without the schema (a deck written by another
// hnet version); nullopt when the text does not parse or holds no such integer. This file is the
// only one that reads TOML (on CUDA builds it is compiled by the host compiler alone).
std::optional<std::int64_t> toml_integer(const std::string& toml_text, const std::string& table,
                                         const std::string& key);

}  // namespace hnet
