#include "hnet/generate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "hnet/evaluation.hpp"
#include "hnet/file_io.hpp"
#include "hnet/hdf5_file.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/job_file.hpp"
#include "hnet/model.hpp"
#include "hnet/parallel_layout.hpp"
#include "hnet/saturating.hpp"
#include "hnet/task_config.hpp"
#include "hnet/version.hpp"

namespace hnet {

namespace {

constexpr const char* kUntrainedSource = "untrained (initial parameters from train.seed)";

// Refused before anything is allocated, like train and sweep (README, "Reliability"). A saved θ
// is read as double and kept as float on the host.
void require_generate_memory(const HypernetLayout& layout, std::int64_t n, std::int64_t m, std::int64_t samples,
                             bool saved, MPI_Comm comm) {
  MemoryNeed need;
  need.device = {{"model workspace for one network of n = " + std::to_string(n) + ", m = " + std::to_string(m),
                  Model<float>::estimate_bytes(layout, 1, n, m, 1)},
                 {"theta", saturating_product({sizeof(float), layout.theta_size()})},
                 {"evaluation on " + std::to_string(samples) + " inputs",
                  saturating_product({sizeof(float), samples, n + m + 2})}};
  need.host = {{saved ? "saved theta (read as double, kept as float)" : "initial theta",
                saturating_product({saved ? 12 : 4, layout.theta_size()})}};
  require_memory(need, "generate", "Lower --n, task.eval_size or model.d.", comm);
}

// θ of a trained job's saved model, through the job files' read API; `source` says which.
std::vector<float> saved_theta(const Deck& deck, const HypernetLayout& layout, const std::string& job_name,
                               std::int64_t step, std::string& source) {
  const std::vector<TrainingJob> jobs = training_jobs(deck);
  auto job = jobs.begin();
  if (!job_name.empty()) job = std::find_if(jobs.begin(), jobs.end(), [&](const TrainingJob& j) { return j.name == job_name; });
  if (job == jobs.end()) {
    std::string names;
    for (const TrainingJob& j : jobs) names += (names.empty() ? "" : ", ") + j.name;
    throw std::runtime_error("--job " + job_name + ": the deck has no such training job (it has " + names + ")");
  }
  const JobPaths paths = job_paths(deck, job->name);
  const std::string& path = paths.results;
  JobFileInfo info;
  try {
    info = read_job_file_info(paths);
  } catch (const std::exception& e) {
    throw std::runtime_error("--step: " + path + " (results of job " + job->name +
                             ") is not a readable hnet results file: " + e.what() + " (train first, with this deck)");
  }
  if (std::find(info.saved_steps.begin(), info.saved_steps.end(), step) == info.saved_steps.end()) {
    std::string list;
    for (std::int64_t s : info.saved_steps) list += (list.empty() ? "" : ", ") + std::to_string(s);
    throw std::runtime_error("--step " + std::to_string(step) + ": " + path + " has no saved model at that step; it holds steps " +
                             (list.empty() ? "none" : list));
  }
  source = "saved model at step " + std::to_string(step) + " of " + path;
  return read_saved_theta(info, step, layout.theta_size());
}

View1<float> to_device(const std::vector<float>& values) {
  View1<float> view("hnet::generate::theta", values.size());
  auto host = Kokkos::create_mirror_view(view);
  for (std::size_t k = 0; k < values.size(); ++k) host(k) = values[k];
  Kokkos::deep_copy(view, host);
  return view;
}

void write_generated_file(const Deck& deck, const GenerateRequest& request, const GeneratedNetwork& generated) {
  const HostNetwork& net = generated.network;
  const std::int64_t n = net.n, m = net.m;
  const auto parent = std::filesystem::path(generated.path).parent_path();
  if (!parent.empty()) require_writable_directory(parent.string(), "the directory of the generated file");
  remove_stale_temporaries(generated.path, "generate: ", true);
  Hdf5Writer file(generated.path);
  file.write("W0", {n, m}, net.w0.data());
  file.write("b0", {m}, net.b0.data());
  file.write("W1", {m}, net.w1.data());
  file.write("b1", {1}, &net.b1);
  file.attribute("/", "hnet_version", version_string());
  file.attribute("/", "deck", to_toml(deck));
  file.attribute("/", "beta", request.beta);
  file.attribute("/", "generation_seed", static_cast<std::int64_t>(request.seed));
  file.attribute("/", "posterior_mean", static_cast<std::int64_t>(request.mean));
  file.attribute("/", "n", n);
  file.attribute("/", "m", m);
  file.attribute("/", "loss", generated.loss);
  file.attribute("/", "normalised_loss", generated.normalised_loss);
  file.attribute("/", "kl_nats", generated.kl_nats);
  file.attribute("/", "source", generated.source);
  file.commit();
}

}  // namespace

std::string default_generated_path(const Deck& deck, const GenerateRequest& request, std::int64_t n) {
  char name[160];
  std::snprintf(name, sizeof name, "beta%.6g_seed%llu_n%lld%s.h5", request.beta,
                static_cast<unsigned long long>(request.seed), static_cast<long long>(n), request.mean ? "_mean" : "");
  return (std::filesystem::path(deck.output.dir) / "generated" / name).string();
}

GeneratedNetwork generate_network(const Deck& deck, const GenerateRequest& request, MPI_Comm comm) {
  const std::int64_t n = request.n > 0 ? request.n : deck.target.n;
  const std::int64_t m = n * deck.target.hidden_ratio;
  const HypernetLayout layout = build_layout(model_shape(deck));
  const bool saved = request.step >= 0;
  require_generate_memory(layout, n, m, deck.task.eval_size, saved, comm);

  GeneratedNetwork generated;
  generated.source = kUntrainedSource;
  const View1<float> theta = to_device(saved ? saved_theta(deck, layout, request.job, request.step, generated.source)
                                             : initial_theta<float>(layout, deck.train.seed));
  Model<float> model(layout, 1, n, m, 1, input_kind(deck.task.input), norm_kind(deck.task.target));
  StepInputs in;
  in.log10_beta = {std::log10(request.beta)};
  in.seed = request.seed;
  in.use_mean = request.mean;
  const StepResult forward = model.forward(theta, in, /*evaluate_task=*/false);

  generated.network = model.networks().front();
  const BatchEvaluation eval = evaluate({generated.network}, evaluation_config(deck.task));
  generated.loss = eval.mse[0];
  generated.normalised_loss = eval.normalised[0];
  generated.kl_nats = forward.kl.front();
  generated.path = request.output.empty() ? default_generated_path(deck, request, n) : request.output;

  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) write_generated_file(deck, request, generated);
  return generated;
}

}  // namespace hnet
