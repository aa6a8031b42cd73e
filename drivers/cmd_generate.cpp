// hnet generate DECK --beta B --seed S [--n N] [--step K [--job J]]: run the hypernetwork once (at
// initialisation, or a trained job's saved model) and write the network it generates, with its loss
// on the fixed evaluation set and its D_KL.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "hnet/deck.hpp"
#include "hnet/deck_mpi.hpp"
#include "hnet/evaluation.hpp"
#include "hnet/file_io.hpp"
#include "hnet/hdf5_file.hpp"
#include "hnet/job_file.hpp"
#include "hnet/model.hpp"
#include "hnet/parallel_layout.hpp"
#include "hnet/saturating.hpp"
#include "hnet/task_config.hpp"
#include "hnet/version.hpp"

namespace hnet::driver {

namespace {

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

}  // namespace

Command add_generate_command(CLI::App& app) {
  struct Options {
    std::string deck_file;
    std::vector<std::string> overrides;
    double beta = 1e-3;
    std::uint64_t seed = 0;
    std::int64_t n = 0;
    bool mean = false;
    std::string output;
    std::int64_t step = -1;
    std::string job;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("generate", "Generate one network from the hypernetwork for a given β");
  sub->add_option("deck", o->deck_file, "TOML input deck")->required()->check(CLI::ExistingFile);
  add_overrides_option(sub, o->overrides);
  sub->add_option("--beta", o->beta, "β (not log10)")->required()->check(CLI::PositiveNumber);
  sub->add_option("--seed", o->seed, "Generation seed: the draw of the latent noise")->capture_default_str();
  sub->add_option("--n", o->n, "Input size of the generated network (default: the deck's target.n)")
      ->check(CLI::Range(1, 4096));
  sub->add_flag("--mean", o->mean, "Use the posterior mean instead of a sample");
  sub->add_option("--step", o->step,
                  "Generate from the model saved after this many training steps of a trained run (default: the "
                  "parameters at initialisation from train.seed)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--job", o->job, "With --step: the training job whose saved model to use (default: the first, seed0)");
  sub->add_option("--output", o->output, "HDF5 file to write (default: <output.dir>/generated/beta<B>_seed<S>_n<N>.h5)");

  return {sub, [o](MPI_Comm comm) {
            const Deck deck = load_deck_broadcast(o->deck_file, o->overrides, comm);
            const std::int64_t n = o->n > 0 ? o->n : deck.target.n;
            const std::int64_t m = n * deck.target.hidden_ratio;
            const HypernetLayout layout = build_layout(model_shape(deck));
            {
              const std::int64_t samples = deck.task.eval_size;
              MemoryNeed need;
              need.device = {{"model workspace for one network of n = " + std::to_string(n) + ", m = " + std::to_string(m),
                              Model<float>::estimate_bytes(layout, 1, n, m, 1)},
                             {"theta", saturating_product({sizeof(float), layout.theta_size()})},
                             {"evaluation on " + std::to_string(samples) + " inputs",
                              saturating_product({sizeof(float), samples, n + m + 2})}};
              need.host = {{o->step < 0 ? "initial theta" : "saved theta (read as double, kept as float)",
                            saturating_product({o->step < 0 ? 4 : 12, layout.theta_size()})}};
              require_memory(need, "generate", "Lower --n, task.eval_size or model.d.", comm);
            }
            std::string source = "untrained (initial parameters from train.seed)";
            const std::vector<float> theta = o->step < 0 ? initial_theta<float>(layout, deck.train.seed)
                                                         : saved_theta(deck, layout, o->job, o->step, source);
            View1<float> theta_view("hnet::generate::theta", theta.size());
            auto host_theta = Kokkos::create_mirror_view(theta_view);
            for (std::size_t k = 0; k < theta.size(); ++k) host_theta(k) = theta[k];
            Kokkos::deep_copy(theta_view, host_theta);

            Model<float> model(layout, 1, n, m, 1, input_kind(deck.task.input), norm_kind(deck.task.target));
            StepInputs in;
            in.log10_beta = {std::log10(o->beta)};
            in.seed = o->seed;
            in.use_mean = o->mean;
            const StepResult generated = model.forward(theta_view, in, /*evaluate_task=*/false);
            const HostNetwork net = model.networks().front();
            const BatchEvaluation eval = evaluate({net}, evaluation_config(deck.task));
            const double kl = generated.kl.front();

            std::string path = o->output;
            if (path.empty()) {
              char name[160];
              std::snprintf(name, sizeof name, "beta%.6g_seed%llu_n%lld%s.h5", o->beta,
                            static_cast<unsigned long long>(o->seed), static_cast<long long>(n), o->mean ? "_mean" : "");
              path = (std::filesystem::path(deck.output.dir) / "generated" / name).string();
            }
            if (is_root(comm)) {
              const auto parent = std::filesystem::path(path).parent_path();
              if (!parent.empty()) require_writable_directory(parent.string(), "the directory of the generated file");
              remove_stale_temporaries(path, "generate: ", true);
              Hdf5Writer file(path);
              file.write("W0", {n, m}, net.w0.data());
              file.write("b0", {m}, net.b0.data());
              file.write("W1", {m}, net.w1.data());
              file.write("b1", {1}, &net.b1);
              file.attribute("/", "hnet_version", version_string());
              file.attribute("/", "deck", to_toml(deck));
              file.attribute("/", "beta", o->beta);
              file.attribute("/", "generation_seed", static_cast<std::int64_t>(o->seed));
              file.attribute("/", "posterior_mean", static_cast<std::int64_t>(o->mean));
              file.attribute("/", "n", n);
              file.attribute("/", "m", m);
              file.attribute("/", "loss", eval.mse[0]);
              file.attribute("/", "normalised_loss", eval.normalised[0]);
              file.attribute("/", "kl_nats", kl);
              file.attribute("/", "source", source);
              file.commit();
              std::printf("generated beta=%.6g seed=%llu n=%lld m=%lld %s loss=%.6g normalised=%.6g kl_nats=%.6g kl_bits=%.6g file=%s\n",
                          o->beta, static_cast<unsigned long long>(o->seed), static_cast<long long>(n),
                          static_cast<long long>(m), o->mean ? "posterior=mean" : "posterior=sample", eval.mse[0],
                          eval.normalised[0], kl, kl / std::log(2.0), path.c_str());
              std::fflush(stdout);
            }
            return 0;
          }};
}

}  // namespace hnet::driver
