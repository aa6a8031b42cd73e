#include "hnet/sweep.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>

#include "hnet/analysis.hpp"
#include "hnet/evaluation.hpp"
#include "hnet/file_io.hpp"
#include "hnet/hdf5_file.hpp"
#include "hnet/job_file.hpp"
#include "hnet/model.hpp"
#include "hnet/parallel_layout.hpp"
#include "hnet/saturating.hpp"
#include "hnet/sweep_records.hpp"
#include "hnet/task_config.hpp"
#include "hnet/version.hpp"

namespace hnet {

namespace fs = std::filesystem;

std::string default_sweep_path(const Deck& deck) { return (fs::path(deck.output.dir) / "sweep.h5").string(); }

std::vector<double> sweep_log10_betas(const Deck& deck) {
  const double lo = deck.train.log10_beta_min, hi = deck.train.log10_beta_max;
  const std::int64_t k = deck.sweep.beta_points;
  std::vector<double> grid(k);
  for (std::int64_t i = 0; i < k; ++i) grid[i] = k == 1 ? hi : lo + (hi - lo) * static_cast<double>(i) / (k - 1);
  return grid;
}

namespace {

// Latent noise of generation seed g is stream g of this key, never a training step's.
constexpr std::uint64_t generation_step = 1ULL << 62;

// One forward of the hypernetwork: every generation seed for one (job, step, n, posterior, β).
struct Unit {
  std::int64_t job, step, n, beta_index;
  bool mean;
};

// A record's columns (sweep_records.hpp) travel between ranks as doubles in this order.
constexpr int field_count = record_field_count;
constexpr int column(RecordField f) { return static_cast<int>(f); }

std::int64_t network_floats(std::int64_t n, std::int64_t m) { return n * m + 2 * m + 1; }

// An Evaluator (evaluation.cpp) for `batch` networks of size n -> m: inputs, hidden
// activations, targets and predictions of every sample, and the networks themselves.
std::size_t evaluation_bytes(std::int64_t batch, std::int64_t samples, std::int64_t n, std::int64_t m) {
  const std::size_t activations = saturating_product({static_cast<std::int64_t>(sizeof(float)), batch, samples, n + m + 2});
  const std::size_t networks = saturating_product({static_cast<std::int64_t>(sizeof(float)), batch, network_floats(n, m)});
  return saturating_add(activations, networks);
}

// Every results file must open and hold the saved models asked for before any work starts, so a
// damaged or foreign file stops the sweep at once with its name, and nothing is written.
// The evaluation set (task.eval_size, task.eval_seed) is the sweep's own choice; every other key
// of the model section must be the one θ was trained under.
std::string without_evaluation_keys(const std::string& section) {
  std::string out, line;
  for (std::size_t at = 0; at < section.size();) {
    const std::size_t end = std::min(section.find('\n', at), section.size());
    line = section.substr(at, end - at);
    if (line.rfind("eval_size", 0) != 0 && line.rfind("eval_seed", 0) != 0) out += line + '\n';
    at = end + 1;
  }
  return out;
}

// Every results file must open and hold the saved models asked for before any work starts, so a
// damaged or foreign file stops the sweep at once with its name, and nothing is written.
std::vector<JobFileInfo> check_results_files(const Deck& deck, const std::vector<TrainingJob>& jobs,
                                             const std::vector<std::int64_t>& wanted) {
  std::vector<JobFileInfo> files;
  for (const TrainingJob& job : jobs) {
    const JobPaths paths = job_paths(deck, job.name);
    const std::string& path = paths.results;
    if (!fs::exists(path))
      throw std::runtime_error("no results for job " + job.name + ": " + path +
                               " does not exist (train first: hnet train with the same deck)");
    const std::string what = "sweep: " + path + " (results of job " + job.name + ")";
    try {
      files.push_back(read_job_file_info(paths));
    } catch (const std::exception& e) {
      throw std::runtime_error(what + " is not a readable hnet results file: " + e.what() +
                               ". Nothing was written; train the job again or restore the file.");
    }
    const JobFileInfo& file = files.back();
    // θ means something only under the deck it was trained with, and the generation noise is
    // keyed by the run seed: a different deck would analyse other networks than the trained ones.
    if (without_evaluation_keys(file.model_section) != without_evaluation_keys(model_section(deck)))
      throw std::runtime_error(what + " was trained with a different [model], [target], [task] (other than the "
                               "evaluation set), train.batch_beta or β range than this deck; sweep with the deck "
                               "(and --set options) it was trained with (stored in the file's 'deck' attribute). "
                               "Nothing was written.");
    if (file.seed != job.seed)
      throw std::runtime_error(what + " was trained with run seed " + std::to_string(file.seed) +
                               ", but this deck gives job " + job.name + " the seed " + std::to_string(job.seed) +
                               " (train.seed + job index); sweep with the train.seed it was trained with. "
                               "Nothing was written.");
    for (std::int64_t step : wanted)
      if (std::find(file.saved_steps.begin(), file.saved_steps.end(), step) == file.saved_steps.end()) {
        std::string list;
        for (std::int64_t s : file.saved_steps) list += (list.empty() ? "" : ", ") + std::to_string(s);
        throw std::runtime_error(what + " has no saved model at step " + std::to_string(step) +
                                 "; it holds steps " + (list.empty() ? "none" : list) +
                                 " (set sweep.steps to some of them)");
      }
  }
  return files;
}

// What a sweep computes, fixed before any work: the checked results files and every unit, in
// canonical order.
struct SweepPlan {
  std::vector<TrainingJob> jobs;
  std::vector<JobFileInfo> files;  // one per job
  std::vector<double> betas;
  std::vector<std::int64_t> steps, sizes;
  std::vector<bool> posteriors;
  std::vector<Unit> units;
  std::int64_t seeds = 0, ratio = 0;
};

SweepPlan plan_sweep(const Deck& deck, std::int64_t theta_size) {
  const SweepConfig& sc = deck.sweep;
  SweepPlan plan;
  plan.jobs = training_jobs(deck);
  plan.betas = sweep_log10_betas(deck);
  plan.seeds = sc.generation_seeds, plan.ratio = deck.target.hidden_ratio;
  const std::int64_t train_n = deck.target.n;
  // Saved models: the deck's sweep.steps, or every model of the first job's results file.
  plan.files = check_results_files(deck, plan.jobs, sc.steps);
  plan.steps = plan.files.front().saved_steps;
  if (!sc.steps.empty()) {
    plan.steps = sc.steps;
    std::sort(plan.steps.begin(), plan.steps.end());
  }
  if (plan.steps.empty()) throw std::runtime_error(plan.files.front().path + " holds no saved models");
  for (const JobFileInfo& file : plan.files) {
    try {
      for (std::int64_t step : plan.steps) check_saved_model(file, step, theta_size);
    } catch (const std::exception& e) {
      throw std::runtime_error("sweep: " + file.path + " (results of job " + file.paths.job + "): " + e.what() +
                               ". Nothing was written; train the job again or restore the file.");
    }
  }
  plan.sizes = {train_n};
  for (std::int64_t n : sc.sizes) plan.sizes.push_back(n);
  std::sort(plan.sizes.begin(), plan.sizes.end());
  plan.sizes.erase(std::unique(plan.sizes.begin(), plan.sizes.end()), plan.sizes.end());

  // Units in canonical order: the β grid at the training n for every step; other n′ at the last.
  plan.posteriors = sc.posterior_mean ? std::vector<bool>{false, true} : std::vector<bool>{false};
  for (std::int64_t j = 0; j < static_cast<std::int64_t>(plan.jobs.size()); ++j)
    for (std::int64_t step : plan.steps)
      for (std::int64_t n : plan.sizes) {
        if (n != train_n && step != plan.steps.back()) continue;
        for (bool mean : plan.posteriors)
          for (std::int64_t b = 0; b < static_cast<std::int64_t>(plan.betas.size()); ++b)
            plan.units.push_back({j, step, n, b, mean});
      }
  return plan;
}

// Refuse before allocating: this rank's workspaces and evaluation sets (one of each per size, all
// kept), its records; rank 0 also holds everyone's records while it writes the file, and the file
// itself, built in memory. Returns the bytes of all records and networks (an upper estimate of
// the file).
std::size_t require_sweep_memory(const SweepPlan& plan, const HypernetLayout& layout, const EvaluationConfig& evaluation,
                          MPI_Comm world) {
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  const std::int64_t seeds = plan.seeds, ratio = plan.ratio, unit_count = plan.units.size();
  std::size_t workspaces = 0, evaluation_peak = 0, mine_bytes = 0, all_bytes = 0;
  for (std::int64_t n : plan.sizes) {
    workspaces = saturating_add(workspaces, Model<float>::estimate_bytes(layout, seeds, n, n * ratio, 1));
    evaluation_peak = saturating_add(evaluation_peak, evaluation_bytes(seeds, evaluation.samples, n, n * ratio));
  }
  for (std::int64_t u = 0; u < unit_count; ++u) {
    const std::int64_t n = plan.units[u].n;
    const std::size_t b = saturating_product({sizeof(double), seeds, field_count + network_floats(n, n * ratio)});
    all_bytes = saturating_add(all_bytes, b);
    if (u % size == rank) mine_bytes = saturating_add(mine_bytes, b);
  }
  // MPI counts are ints: one rank's records, and all of them on rank 0, must stay below 2^31 values.
  if (all_bytes / sizeof(double) > static_cast<std::size_t>(INT_MAX))
    throw std::runtime_error("sweep: " + std::to_string(unit_count * seeds) + " networks make " +
                             format_bytes(all_bytes) +
                             " of records, more than one MPI gather can carry (2^31 values); lower "
                             "sweep.beta_points, sweep.generation_seeds, sweep.steps or sweep.sizes");
  MemoryNeed need;
  need.device = {{"model workspaces for " + std::to_string(plan.sizes.size()) + " sizes x " + std::to_string(seeds) +
                      " generation seeds",
                  workspaces},
                 {"theta", saturating_product({sizeof(float), layout.theta_size()})},
                 {"evaluation on " + std::to_string(evaluation.samples) + " inputs", evaluation_peak}};
  need.host = {{"this rank's records and networks", mine_bytes}};
  if (rank == 0) {
    need.host.push_back({"all records and networks, gathered for sweep.h5 (twice)", saturating_add(all_bytes, all_bytes)});
    need.host.push_back({"sweep.h5 built in memory before it is written (twice)", saturating_add(all_bytes, all_bytes)});
  }
  require_memory(need, "sweep",
                 "Lower sweep.generation_seeds, sweep.sizes, task.eval_size, sweep.beta_points or sweep.steps, "
                 "or spread the sweep over more ranks.",
                 world);
  return all_bytes;
}

// Before any work: the sweep file's directory usable, with room for the file, and no other sweep
// writing the same file. Returns the lock, held until the file is written.
FileLock prepare_sweep_file(const std::string& path, std::size_t file_bytes) {
  const std::string dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path().string() : ".";
  const std::string created = require_writable_directory(dir, "the directory of the sweep file");
  const FreeSpace free = free_disk_space(dir);
  if (free.bytes < file_bytes) {
    remove_created_directories(dir, created);
    throw std::runtime_error("sweep: not enough free space for " + path + ": it needs up to " + format_bytes(file_bytes) +
                             ", but only " + format_bytes(free.bytes) + " is free (" + free.source +
                             "). Nothing was written; free some space or write it elsewhere (--output).");
  }
  return FileLock(path + ".lock", "the sweep file " + path);
}

// This rank's units (u % size == rank): generated, evaluated, measured and classified, appended as
// field_count record values then the network's W0, b0, W1, b1. One model workspace and one
// evaluation set per size; θ loaded once per saved model.
std::vector<double> evaluate_units(const Deck& deck, const SweepPlan& plan, const HypernetLayout& layout,
                                   const EvaluationConfig& evaluation, MPI_Comm world, bool quiet) {
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  const ClassifierThresholds thresholds = thresholds_from(deck.sweep);
  const std::int64_t seeds = plan.seeds, ratio = plan.ratio, unit_count = plan.units.size();
  std::vector<double> mine;
  std::map<std::int64_t, std::unique_ptr<Model<float>>> models;
  std::map<std::int64_t, std::unique_ptr<Evaluator>> evaluators;  // evaluation set drawn once per n
  View1<float> theta("hnet::sweep::theta", layout.theta_size());
  std::pair<std::int64_t, std::int64_t> loaded{-1, -1};
  std::int64_t done = 0;
  for (std::int64_t u = rank; u < unit_count; u += size) {
    const Unit& unit = plan.units[u];
    if (loaded != std::make_pair(unit.job, unit.step)) {
      const std::vector<float> values = read_saved_theta(plan.files[unit.job], unit.step, layout.theta_size());
      auto host = Kokkos::create_mirror_view(theta);
      std::copy(values.begin(), values.end(), host.data());
      Kokkos::deep_copy(theta, host);
      loaded = {unit.job, unit.step};
    }
    auto& model = models[unit.n];
    if (!model)
      model = std::make_unique<Model<float>>(layout, seeds, unit.n, unit.n * ratio, 1, evaluation.input, evaluation.norm);
    auto& evaluator = evaluators[unit.n];
    if (!evaluator) evaluator = std::make_unique<Evaluator>(evaluation, seeds, unit.n, unit.n * ratio);
    StepInputs in;
    in.log10_beta.assign(seeds, plan.betas[unit.beta_index]);
    in.seed = plan.jobs[unit.job].seed;
    in.step = generation_step;
    in.use_mean = unit.mean;
    const StepResult generated = model->forward(theta, in, /*evaluate_task=*/false);
    const std::vector<HostNetwork> nets = model->networks();
    const BatchEvaluation eval = evaluator->run(nets);
    for (std::int64_t g = 0; g < seeds; ++g) {
      const OrderParameters op = order_parameters(nets[g], thresholds);
      const AlgorithmClass cls = classify(eval.normalised[g], op, thresholds);
      using F = RecordField;
      double record[field_count] = {};
      record[column(F::job)] = unit.job, record[column(F::step)] = unit.step;
      record[column(F::log10_beta)] = plan.betas[unit.beta_index], record[column(F::generation_seed)] = g;
      record[column(F::n)] = unit.n, record[column(F::m)] = unit.n * ratio, record[column(F::posterior_mean)] = unit.mean;
      record[column(F::loss)] = eval.mse[g], record[column(F::normalised_loss)] = eval.normalised[g];
      record[column(F::kl_nats)] = generated.kl[g], record[column(F::kl_bits)] = generated.kl[g] / std::log(2.0);
      record[column(F::o1)] = op.o1, record[column(F::o2)] = op.o2, record[column(F::o3)] = op.o3;
      record[column(F::coverage)] = op.coverage, record[column(F::duplication)] = op.duplication;
      record[column(F::valley_units)] = static_cast<double>(op.valley_units);
      record[column(F::algorithm_class)] = static_cast<double>(static_cast<int>(cls));
      // network_row is known only once rank 0 has gathered every network.
      mine.insert(mine.end(), record, record + field_count);
      const HostNetwork& net = nets[g];
      mine.insert(mine.end(), net.w0.begin(), net.w0.end());
      mine.insert(mine.end(), net.b0.begin(), net.b0.end());
      mine.insert(mine.end(), net.w1.begin(), net.w1.end());
      mine.push_back(net.b1);
    }
    ++done;
    if (rank == 0 && !quiet && (done % 20 == 0))
      std::printf("sweep: rank 0 %lld/%lld units\n", static_cast<long long>(done),
                  static_cast<long long>((unit_count + size - 1) / size)), std::fflush(stdout);
  }
  return mine;
}

// Every record and network in canonical order, as the file stores them.
struct GatheredSweep {
  std::vector<std::vector<double>> records;  // [field][row]
  std::map<std::int64_t, std::vector<float>> w0, b0, w1, b1;
  std::map<std::int64_t, std::vector<std::int64_t>> rows_of;  // n -> the rows of its networks
};

// Gathers every rank's units on rank 0 and puts them back in canonical order (empty elsewhere).
GatheredSweep gather_units(const SweepPlan& plan, const std::vector<double>& mine, MPI_Comm world) {
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  int my_count = static_cast<int>(mine.size());
  std::vector<int> counts(size), displs(size);
  MPI_Gather(&my_count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
  std::vector<double> all;
  if (rank == 0) {
    int total = 0;
    for (int r = 0; r < size; ++r) displs[r] = total, total += counts[r];
    all.resize(total);
  }
  MPI_Gatherv(mine.data(), my_count, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0, world);
  GatheredSweep g;
  if (rank != 0) return g;
  std::vector<std::size_t> cursor(displs.begin(), displs.end());
  g.records.resize(field_count);
  for (std::int64_t u = 0; u < static_cast<std::int64_t>(plan.units.size()); ++u) {
    std::size_t& at = cursor[u % size];
    const std::int64_t n = plan.units[u].n, m = n * plan.ratio;
    for (std::int64_t seed = 0; seed < plan.seeds; ++seed) {
      for (int f = 0; f < field_count; ++f) g.records[f].push_back(all[at + f]);
      g.records[column(RecordField::network_row)].back() = static_cast<double>(g.rows_of[n].size());
      at += field_count;
      const double* net = all.data() + at;
      g.w0[n].insert(g.w0[n].end(), net, net + n * m);
      g.b0[n].insert(g.b0[n].end(), net + n * m, net + n * m + m);
      g.w1[n].insert(g.w1[n].end(), net + n * m + m, net + n * m + 2 * m);
      g.b1[n].push_back(static_cast<float>(net[n * m + 2 * m]));
      at += network_floats(n, m);
      g.rows_of[n].push_back(static_cast<std::int64_t>(g.records[0].size()) - 1);
    }
  }
  return g;
}

void write_sweep_file(const std::string& path, const Deck& deck, const SweepPlan& plan, const GatheredSweep& g,
                      const SweepOptions& options) {
  remove_stale_temporaries(path, "sweep: ", !options.quiet);
  const auto rows = static_cast<std::int64_t>(g.records[0].size());
  std::size_t bytes = saturating_product({sizeof(double), field_count, rows});
  for (const auto& [n, w0] : g.w0) bytes = saturating_add(bytes, saturating_product({sizeof(float), 2, static_cast<std::int64_t>(w0.size())}));
  Hdf5Writer f(path, bytes);
  std::string job_names, class_names, commands;
  for (const TrainingJob& j : plan.jobs) job_names += (job_names.empty() ? "" : "\n") + j.name;
  for (AlgorithmClass c : all_algorithm_classes()) class_names += (class_names.empty() ? "" : "\n") + std::string(to_string(c));
  for (const std::string& c : options.commands) commands += (commands.empty() ? "" : "\n") + c;
  f.attribute("/", "hnet_version", version_string());
  f.attribute("/", "git_hash", git_hash());
  f.attribute("/", "deck", to_toml(deck));
  f.attribute("/", "jobs", job_names);
  f.attribute("/", "class_names", class_names);
  f.attribute("/", "commands", commands);
  auto ints = [](const std::vector<double>& v) { return std::vector<std::int64_t>(v.begin(), v.end()); };
  f.attribute("records", "fields", record_field_list());
  for (int field = 0; field < field_count; ++field) {
    const RecordFieldInfo& info = record_field(field);
    const std::string name = std::string("records/") + info.name;
    if (info.integer) f.write(name, {rows}, ints(g.records[field]).data());
    else f.write(name, {rows}, g.records[field].data());
  }
  for (const auto& [n, list] : g.rows_of) {
    const std::int64_t m = n * plan.ratio, count = list.size();
    const std::string group = "networks/n" + std::to_string(n);
    f.write(group + "/W0", {count, n, m}, g.w0.at(n).data());
    f.write(group + "/b0", {count, m}, g.b0.at(n).data());
    f.write(group + "/W1", {count, m}, g.w1.at(n).data());
    f.write(group + "/b1", {count}, g.b1.at(n).data());
    f.write(group + "/record", {count}, list.data());
  }
  std::vector<std::int64_t> seed_list(plan.seeds);
  for (std::int64_t s = 0; s < plan.seeds; ++s) seed_list[s] = s;
  f.write("grid/log10_beta", {static_cast<std::int64_t>(plan.betas.size())}, plan.betas.data());
  f.write("grid/steps", {static_cast<std::int64_t>(plan.steps.size())}, plan.steps.data());
  f.write("grid/sizes", {static_cast<std::int64_t>(plan.sizes.size())}, plan.sizes.data());
  f.write("grid/generation_seeds", {plan.seeds}, seed_list.data());
  f.commit();
}

}  // namespace

SweepSummary run_sweep(const Deck& deck, const SweepOptions& options, MPI_Comm world) {
  const auto start = std::chrono::steady_clock::now();
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  const HypernetLayout layout = build_layout(model_shape(deck));
  const EvaluationConfig evaluation = evaluation_config(deck.task);
  const SweepPlan plan = plan_sweep(deck, layout.theta_size());
  const std::size_t file_bytes = require_sweep_memory(plan, layout, evaluation, world);
  SweepSummary summary;
  summary.path = options.output.empty() ? default_sweep_path(deck) : options.output;
  FileLock lock;
  collective_check(world, [&] {
    if (rank == 0) lock = prepare_sweep_file(summary.path, file_bytes);
  });
  const std::int64_t networks = static_cast<std::int64_t>(plan.units.size()) * plan.seeds;
  if (rank == 0 && !options.quiet)
    std::printf("sweep: %zu jobs x %zu steps x %zu sizes x %zu posteriors x %zu betas x %lld seeds = %lld networks on %d ranks\n",
                plan.jobs.size(), plan.steps.size(), plan.sizes.size(), plan.posteriors.size(), plan.betas.size(),
                static_cast<long long>(plan.seeds), static_cast<long long>(networks), size);
  const std::vector<double> mine = evaluate_units(deck, plan, layout, evaluation, world, options.quiet);
  const GatheredSweep gathered = gather_units(plan, mine, world);

  summary.networks = networks;
  if (rank == 0) write_sweep_file(summary.path, deck, plan, gathered, options);
  MPI_Barrier(world);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace hnet
