#include "hnet/job_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "hnet/hdf5_file.hpp"
#include "hnet/saturating.hpp"
#include "hnet/version.hpp"

namespace hnet {

namespace fs = std::filesystem;

JobPaths job_paths(const Deck& deck, const std::string& job_name) {
  const fs::path dir(deck.output.dir);
  JobPaths p;
  p.job = job_name;
  p.results = (dir / (job_name + ".h5")).string();
  p.checkpoint = (dir / "checkpoints" / (job_name + ".h5")).string();
  p.models = (dir / "models" / job_name).string();
  p.lock = (dir / (job_name + ".lock")).string();
  return p;
}
std::string JobPaths::model(std::int64_t step) const {
  return (fs::path(models) / ("step_" + std::to_string(step) + ".h5")).string();
}
std::string job_results_path(const Deck& deck, const std::string& job_name) { return job_paths(deck, job_name).results; }
std::string job_checkpoint_path(const Deck& deck, const std::string& job_name) {
  return job_paths(deck, job_name).checkpoint;
}

namespace {

// A saved model must be the one its job's results list: this job's run seed and model section,
// the step of its name and θ of the deck's length. Throws naming the file.
void check_model_file(const std::string& path, std::int64_t step, std::uint64_t seed, const std::string& section,
                      std::int64_t theta_size) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error("the saved model " + path + " is missing");
  try {
    const std::string kind = read_hdf5_string_attribute(path, "/", "kind");
    if (kind != "model") throw std::runtime_error("its kind is '" + kind + "', not 'model'");
    if (read_hdf5_int_attribute(path, "/", "step") != step)
      throw std::runtime_error("it holds another step than its name says");
    if (static_cast<std::uint64_t>(read_hdf5_int_attribute(path, "/", "seed")) != seed ||
        canonical_model_section(read_hdf5_string_attribute(path, "/", "model_section")) != section)
      throw std::runtime_error("it was saved by a run with another run seed or model section");
    if (read_hdf5_dims(path, "theta") != std::vector<std::int64_t>{theta_size})
      throw std::runtime_error("its theta does not hold the " + std::to_string(theta_size) +
                               " parameters of this deck's model");
  } catch (const std::exception& e) {
    throw std::runtime_error("the saved model " + path + " is not this job's model at step " + std::to_string(step) +
                             ": " + e.what());
  }
}

std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : "\n") + s;
  return out;
}

JobState read_checkpoint_unchecked(const std::string& path, const JobFileContext& c);

}  // namespace

void write_job_file(const std::string& path, const JobFileContext& c, const JobState& s, bool with_optimizer) {
  const Deck& deck = *c.deck;
  const HypernetLayout& layout = *c.layout;
  const History& h = s.history;
  const auto steps = static_cast<std::int64_t>(h.size());
  const std::int64_t batch = deck.train.batch_beta;
  Hdf5Writer f(path, job_file_bytes(deck, layout.theta_size(), with_optimizer));
  f.attribute("/", "hnet_version", version_string());
  f.attribute("/", "git_hash", git_hash());
  f.attribute("/", "kokkos_configuration", kokkos_configuration());
  f.attribute("/", "deck", to_toml(deck));
  f.attribute("/", "model_section", model_section(deck));
  f.attribute("/", "mpi_ranks", static_cast<std::int64_t>(c.world_size));
  f.attribute("/", "ranks_per_group", static_cast<std::int64_t>(c.group_size));
  f.attribute("/", "job", c.job->name);
  f.attribute("/", "seed", static_cast<std::int64_t>(c.job->seed));
  f.attribute("/", "fixed_beta", static_cast<std::int64_t>(c.job->fixed_beta));
  f.attribute("/", "fixed_log10_beta", c.job->log10_beta);
  f.attribute("/", "next_step", s.next_step);
  f.attribute("/", "skipped_steps", h.skipped);
  f.attribute("/", "kind", std::string(with_optimizer ? "checkpoint" : "results"));

  f.write("state/skipped_steps", {1}, &h.skipped);
  f.write("history/step", {steps}, h.step.data());
  f.write("history/objective", {steps}, h.objective.data());
  f.write("history/loss", {steps}, h.loss.data());
  f.write("history/normalised_loss", {steps}, h.normalised.data());
  f.write("history/kl", {steps}, h.kl.data());
  f.write("history/grad_norm", {steps}, h.grad_norm.data());
  f.write("history/lr", {steps}, h.lr.data());
  f.write("history/log10_beta_upper", {steps}, h.beta_upper.data());
  f.write("history/wall_seconds", {steps}, h.wall_seconds.data());
  f.write("history/network_log10_beta", {steps, batch}, h.network_log10_beta.data());
  f.write("history/network_loss", {steps, batch}, h.network_loss.data());
  f.write("history/network_kl", {steps, batch}, h.network_kl.data());

  f.write("models/steps", {static_cast<std::int64_t>(s.saved_steps.size())}, s.saved_steps.data());
  f.write("theta", {static_cast<std::int64_t>(s.theta.size())}, s.theta.data());
  if (with_optimizer) {
    f.write("optimizer/adam_m", {static_cast<std::int64_t>(s.adam_m.size())}, s.adam_m.data());
    f.write("optimizer/adam_v", {static_cast<std::int64_t>(s.adam_v.size())}, s.adam_v.data());
  }

  // The parameter tables: θ = [P0 | U | φ-MLP], and the tensors of P inside P0.
  for (const auto* table : {&layout.table, &layout.trainable}) {
    const std::string group = table == &layout.table ? "parameters/P" : "parameters/theta";
    std::vector<std::string> names, shapes;
    std::vector<std::int64_t> offsets, sizes;
    for (const TensorInfo& t : table->tensors()) {
      names.push_back(t.name);
      std::string shape;
      for (std::int64_t d : t.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
      shapes.push_back(shape);
      offsets.push_back(t.offset);
      sizes.push_back(t.size);
    }
    f.write(group + "/offset", {static_cast<std::int64_t>(offsets.size())}, offsets.data());
    f.write(group + "/size", {static_cast<std::int64_t>(sizes.size())}, sizes.data());
    f.attribute(group, "names", join_lines(names));
    f.attribute(group, "shapes", join_lines(shapes));
  }
  f.commit();
}

namespace {
constexpr std::int64_t hdf5_margin = 64 << 10;
}

std::size_t job_file_bytes(const Deck& deck, std::int64_t theta_size, bool with_optimizer) {
  // Rounded up, so that decks differing in a few characters (parallel.seeds) get the same estimate.
  const std::int64_t text = static_cast<std::int64_t>(to_toml(deck).size() + model_section(deck).size());
  const std::int64_t deck_text = (text + (16 << 10) - 1) / (16 << 10) * (16 << 10);
  return saturating_sum({saturating_product({with_optimizer ? 3 : 1, sizeof(float), theta_size}),
                         saturating_product({sizeof(double), deck.train.steps, 10 + 3 * deck.train.batch_beta}),
                         saturating_product({sizeof(std::int64_t), deck.output.save_models + 2}),
                         static_cast<std::size_t>(deck_text + hdf5_margin)});
}

std::size_t saved_model_bytes(const Deck& deck, std::int64_t theta_size) {
  const std::int64_t text = static_cast<std::int64_t>(model_section(deck).size());
  return saturating_sum({saturating_product({sizeof(float), theta_size}),
                         static_cast<std::size_t>((text + (16 << 10) - 1) / (16 << 10) * (16 << 10) + hdf5_margin / 4)});
}

void write_saved_model(const JobPaths& paths, const JobFileContext& c, std::int64_t step, const std::vector<float>& theta) {
  Hdf5Writer f(paths.model(step), saved_model_bytes(*c.deck, static_cast<std::int64_t>(theta.size())));
  f.attribute("/", "hnet_version", version_string());
  f.attribute("/", "git_hash", git_hash());
  f.attribute("/", "kind", std::string("model"));
  f.attribute("/", "job", c.job->name);
  f.attribute("/", "seed", static_cast<std::int64_t>(c.job->seed));
  f.attribute("/", "step", step);
  f.attribute("/", "model_section", model_section(*c.deck));
  f.write("theta", {static_cast<std::int64_t>(theta.size())}, theta.data());
  f.commit();
}

JobState read_checkpoint(const JobPaths& paths, const JobFileContext& c) {
  try {
    JobState s = read_checkpoint_unchecked(paths.checkpoint, c);
    for (std::int64_t step : s.saved_steps)
      check_model_file(paths.model(step), step, c.job->seed, model_section(*c.deck), c.layout->theta_size());
    return s;
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot restart from checkpoint " + paths.checkpoint + ": " + e.what() +
                             ". Nothing was written; move the file away to start this job from step 0.");
  }
}

namespace {

JobState read_checkpoint_unchecked(const std::string& path, const JobFileContext& c) {
  const std::string kind = read_hdf5_string_attribute(path, "/", "kind");
  if (kind != "checkpoint") throw std::runtime_error(path + " is a " + kind + " file, not a checkpoint");
  const std::string theirs = canonical_model_section(read_hdf5_string_attribute(path, "/", "model_section"));
  if (theirs != model_section(*c.deck))
    throw std::runtime_error("checkpoint " + path +
                             " was written with a different model, task or batch; it cannot be resumed with this deck "
                             "(its deck is stored in the file's 'deck' attribute)");
  JobState s;
  auto as_floats = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  s.theta = as_floats(read_hdf5_dataset(path, "theta"));
  s.adam_m = as_floats(read_hdf5_dataset(path, "optimizer/adam_m"));
  s.adam_v = as_floats(read_hdf5_dataset(path, "optimizer/adam_v"));
  if (static_cast<std::int64_t>(s.theta.size()) != c.layout->theta_size() || s.adam_m.size() != s.theta.size() ||
      s.adam_v.size() != s.theta.size())
    throw std::runtime_error("checkpoint " + path + " holds vectors of the wrong length");
  History& h = s.history;
  for (double v : read_hdf5_dataset(path, "history/step")) h.step.push_back(static_cast<std::int64_t>(v));
  h.objective = read_hdf5_dataset(path, "history/objective");
  h.loss = read_hdf5_dataset(path, "history/loss");
  h.normalised = read_hdf5_dataset(path, "history/normalised_loss");
  h.kl = read_hdf5_dataset(path, "history/kl");
  h.grad_norm = read_hdf5_dataset(path, "history/grad_norm");
  h.lr = read_hdf5_dataset(path, "history/lr");
  h.beta_upper = read_hdf5_dataset(path, "history/log10_beta_upper");
  h.wall_seconds = read_hdf5_dataset(path, "history/wall_seconds");
  h.network_log10_beta = read_hdf5_dataset(path, "history/network_log10_beta");
  h.network_loss = read_hdf5_dataset(path, "history/network_loss");
  h.network_kl = read_hdf5_dataset(path, "history/network_kl");
  const std::vector<double> skipped = read_hdf5_dataset(path, "state/skipped_steps");
  if (skipped.size() != 1) throw std::runtime_error("state/skipped_steps does not hold one value");
  h.skipped = static_cast<std::int64_t>(skipped[0]);
  s.next_step = h.step.empty() ? 0 : h.step.back();
  for (double step : read_hdf5_dataset(path, "models/steps")) s.saved_steps.push_back(static_cast<std::int64_t>(step));

  // A file that opens is not yet a checkpoint that can be continued: a foreign or damaged one
  // could hold arrays of other lengths, which the next write would read past.
  const std::size_t steps = h.step.size(), batch = static_cast<std::size_t>(c.deck->train.batch_beta);
  auto fail = [&](const std::string& what) { throw std::runtime_error("inconsistent contents: " + what); };
  for (std::size_t k = 0; k < steps; ++k)
    if (h.step[k] != static_cast<std::int64_t>(k) + 1) fail("history/step is not 1, 2, 3, ...");
  for (const auto* v : {&h.objective, &h.loss, &h.normalised, &h.kl, &h.grad_norm, &h.lr, &h.beta_upper,
                        &h.wall_seconds})
    if (v->size() != steps) fail("the history datasets differ in length from history/step");
  for (const auto* v : {&h.network_log10_beta, &h.network_loss, &h.network_kl})
    if (v->size() != steps * batch) fail("history/network_* do not hold train.batch_beta values per step");
  if (h.skipped < 0 || h.skipped > static_cast<std::int64_t>(steps)) fail("state/skipped_steps is out of range");
  for (std::size_t k = 0; k < s.saved_steps.size(); ++k)
    if (s.saved_steps[k] < 0 || s.saved_steps[k] > s.next_step || (k > 0 && s.saved_steps[k] <= s.saved_steps[k - 1]))
      fail("models/steps is not an increasing list of completed steps");
  for (const auto* v : {&s.theta, &s.adam_m, &s.adam_v})
    if (!std::all_of(v->begin(), v->end(), [](float x) { return std::isfinite(x); }))
      fail("theta or the Adam moments hold non-finite values");
  return s;
}

}  // namespace

std::string model_section(const Deck& deck) {
  // The deck keys that fix θ's layout and meaning: a checkpoint must match them to be resumed.
  Deck only_model = default_deck();
  only_model.model = deck.model;
  only_model.target = deck.target;
  only_model.task = deck.task;
  only_model.train.batch_beta = deck.train.batch_beta;
  only_model.train.log10_beta_min = deck.train.log10_beta_min;
  only_model.train.log10_beta_max = deck.train.log10_beta_max;
  return to_toml(only_model);
}

std::string canonical_model_section(const std::string& stored) {
  try {
    return model_section(parse_deck(stored, "stored model section"));
  } catch (const std::exception&) {
    return stored;
  }
}

JobFileInfo read_job_file_info(const JobPaths& paths) {
  JobFileInfo info;
  info.paths = paths;
  info.path = paths.results;
  info.kind = read_hdf5_string_attribute(info.path, "/", "kind");
  if (info.kind != "results" && info.kind != "checkpoint") throw std::runtime_error("its kind is '" + info.kind + "'");
  for (double s : read_hdf5_dataset(info.path, "models/steps")) info.saved_steps.push_back(static_cast<std::int64_t>(s));
  info.model_section = canonical_model_section(read_hdf5_string_attribute(info.path, "/", "model_section"));
  info.seed = static_cast<std::uint64_t>(read_hdf5_int_attribute(info.path, "/", "seed"));
  return info;
}

void check_saved_model(const JobFileInfo& file, std::int64_t step, std::int64_t expected_size) {
  check_model_file(file.paths.model(step), step, file.seed, file.model_section, expected_size);
}

std::vector<float> read_saved_theta(const JobFileInfo& file, std::int64_t step, std::int64_t expected_size) {
  const std::string path = file.paths.model(step);
  check_model_file(path, step, file.seed, file.model_section, expected_size);
  const std::vector<double> v = read_hdf5_dataset(path, "theta");
  return std::vector<float>(v.begin(), v.end());
}

}  // namespace hnet
