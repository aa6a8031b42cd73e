#include "hnet/sweep.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "hnet/analysis.hpp"
#include "hnet/evaluation.hpp"
#include "hnet/hdf5_file.hpp"
#include "hnet/job_file.hpp"
#include "hnet/model.hpp"
#include "hnet/parallel_layout.hpp"
#include "hnet/task_config.hpp"
#include "hnet/trainer.hpp"
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

enum Field {
  f_job, f_step, f_log10_beta, f_seed, f_n, f_m, f_mean, f_loss, f_normalised, f_kl_nats, f_kl_bits, f_o1, f_o2,
  f_o3, f_coverage, f_duplication, f_valley_units, f_class, field_count
};

std::int64_t network_floats(std::int64_t n, std::int64_t m) { return n * m + 2 * m + 1; }

std::vector<float> load_theta(const std::string& path, std::int64_t step, std::int64_t expected) {
  const std::vector<double> v = read_hdf5_dataset(path, "models/step_" + std::to_string(step) + "/theta");
  if (static_cast<std::int64_t>(v.size()) != expected)
    throw std::runtime_error(path + ": saved model at step " + std::to_string(step) + " has " +
                             std::to_string(v.size()) + " parameters, this deck's model has " + std::to_string(expected) +
                             " (was it trained with another deck?)");
  return std::vector<float>(v.begin(), v.end());
}

std::size_t saturating_product(std::initializer_list<std::int64_t> factors) {
  std::size_t total = 1;
  for (const std::int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(total, static_cast<std::size_t>(f), &total)) return SIZE_MAX;
  return total;
}

// An Evaluator (evaluation.cpp) for `batch` networks of size n -> m: inputs, hidden
// activations, targets and predictions of every sample, and the networks themselves.
std::size_t evaluation_bytes(std::int64_t batch, std::int64_t samples, std::int64_t n, std::int64_t m) {
  const std::size_t activations = saturating_product({static_cast<std::int64_t>(sizeof(float)), batch, samples, n + m + 2});
  const std::size_t networks = saturating_product({static_cast<std::int64_t>(sizeof(float)), batch, network_floats(n, m)});
  return activations > SIZE_MAX - networks ? SIZE_MAX : activations + networks;
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

std::vector<std::int64_t> check_results_files(const Deck& deck, const std::vector<std::string>& files,
                                              const std::vector<TrainingJob>& jobs,
                                              const std::vector<std::int64_t>& wanted) {
  std::vector<std::int64_t> first_steps;
  for (std::size_t j = 0; j < files.size(); ++j) {
    std::vector<std::int64_t> saved;
    std::string trained_with;
    std::int64_t trained_seed = 0;
    try {
      const std::string kind = read_hdf5_string_attribute(files[j], "/", "kind");
      if (kind != "results" && kind != "checkpoint") throw std::runtime_error("its kind is '" + kind + "'");
      for (double s : read_hdf5_dataset(files[j], "models/steps")) saved.push_back(static_cast<std::int64_t>(s));
      trained_with = read_hdf5_string_attribute(files[j], "/", "model_section");
      trained_seed = read_hdf5_int_attribute(files[j], "/", "seed");
    } catch (const std::exception& e) {
      throw std::runtime_error("sweep: " + files[j] + " (results of job " + jobs[j].name +
                               ") is not a readable hnet results file: " + e.what() +
                               ". Nothing was written; train the job again or restore the file.");
    }
    // θ means something only under the deck it was trained with, and the generation noise is
    // keyed by the run seed: a different deck would analyse other networks than the trained ones.
    if (without_evaluation_keys(trained_with) != without_evaluation_keys(model_section(deck)))
      throw std::runtime_error("sweep: " + files[j] + " (results of job " + jobs[j].name +
                               ") was trained with a different [model], [target], [task] (other than the "
                               "evaluation set), train.batch_beta or β range than this deck; sweep with the deck "
                               "(and --set options) it was trained with (stored in the file's 'deck' attribute). "
                               "Nothing was written.");
    if (static_cast<std::uint64_t>(trained_seed) != jobs[j].seed)
      throw std::runtime_error("sweep: " + files[j] + " (results of job " + jobs[j].name + ") was trained with run seed " +
                               std::to_string(trained_seed) + ", but this deck gives job " + jobs[j].name +
                               " the seed " + std::to_string(jobs[j].seed) +
                               " (train.seed + job index); sweep with the train.seed it was trained with. "
                               "Nothing was written.");
    for (std::int64_t step : wanted)
      if (std::find(saved.begin(), saved.end(), step) == saved.end()) {
        std::string list;
        for (std::int64_t s : saved) list += (list.empty() ? "" : ", ") + std::to_string(s);
        throw std::runtime_error("sweep: " + files[j] + " (results of job " + jobs[j].name +
                                 ") has no saved model at step " + std::to_string(step) + "; it holds steps " +
                                 (list.empty() ? "none" : list) + " (set sweep.steps to some of them)");
      }
    if (j == 0) first_steps = saved;
  }
  return first_steps;
}

}  // namespace

SweepSummary run_sweep(const Deck& deck, const SweepOptions& options, MPI_Comm world) {
  const auto start = std::chrono::steady_clock::now();
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  const SweepConfig& sc = deck.sweep;
  const ClassifierThresholds thresholds = thresholds_from(sc);
  const HypernetLayout layout = build_layout(model_shape(deck));
  const std::vector<TrainingJob> jobs = training_jobs(deck);
  const std::vector<double> betas = sweep_log10_betas(deck);
  const std::int64_t seeds = sc.generation_seeds, ratio = deck.target.hidden_ratio, train_n = deck.target.n;
  const EvaluationConfig evaluation = evaluation_config(deck.task);

  // Saved models: the deck's sweep.steps, or every model of the first job's results file.
  std::vector<std::string> result_files;
  for (const TrainingJob& job : jobs) {
    result_files.push_back(job_results_path(deck, job.name));
    if (!fs::exists(result_files.back()))
      throw std::runtime_error("no results for job " + job.name + ": " + result_files.back() +
                               " does not exist (train first: hnet train with the same deck)");
  }
  std::vector<std::int64_t> steps = check_results_files(deck, result_files, jobs, sc.steps);
  if (!sc.steps.empty()) {
    steps = sc.steps;
    std::sort(steps.begin(), steps.end());
  }
  if (steps.empty()) throw std::runtime_error(result_files.front() + " holds no saved models");
  std::vector<std::int64_t> sizes{train_n};
  for (std::int64_t n : sc.sizes) sizes.push_back(n);
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());

  // Units in canonical order: the β grid at the training n for every step; other n′ at the last.
  std::vector<Unit> units;
  const std::vector<bool> posteriors = sc.posterior_mean ? std::vector<bool>{false, true} : std::vector<bool>{false};
  for (std::int64_t j = 0; j < static_cast<std::int64_t>(jobs.size()); ++j)
    for (std::int64_t step : steps)
      for (std::int64_t n : sizes) {
        if (n != train_n && step != steps.back()) continue;
        for (bool mean : posteriors)
          for (std::int64_t b = 0; b < static_cast<std::int64_t>(betas.size()); ++b) units.push_back({j, step, n, b, mean});
      }
  const std::int64_t unit_count = units.size();

  // Refuse before allocating: this rank's workspaces and evaluation sets (one of each per size, all
  // kept), its records; rank 0 also holds everyone's records while it writes the file.
  {
    std::size_t workspaces = 0, evaluation_peak = 0, mine_bytes = 0, all_bytes = 0;
    for (std::int64_t n : sizes) {
      const std::size_t w = Model<float>::estimate_bytes(layout, seeds, n, n * ratio, 1);
      workspaces = w > SIZE_MAX - workspaces ? SIZE_MAX : workspaces + w;
      const std::size_t e = evaluation_bytes(seeds, evaluation.samples, n, n * ratio);
      evaluation_peak = e > SIZE_MAX - evaluation_peak ? SIZE_MAX : evaluation_peak + e;
    }
    for (std::int64_t u = 0; u < unit_count; ++u) {
      const std::size_t b = saturating_product(
          {static_cast<std::int64_t>(sizeof(double)), seeds, field_count + network_floats(units[u].n, units[u].n * ratio)});
      all_bytes = b > SIZE_MAX - all_bytes ? SIZE_MAX : all_bytes + b;
      if (u % size == rank) mine_bytes = b > SIZE_MAX - mine_bytes ? SIZE_MAX : mine_bytes + b;
    }
    // MPI counts are ints: one rank's records, and all of them on rank 0, must stay below 2^31 values.
    if (all_bytes / sizeof(double) > static_cast<std::size_t>(INT_MAX))
      throw std::runtime_error("sweep: " + std::to_string(unit_count * seeds) + " networks make " +
                               format_bytes(all_bytes) +
                               " of records, more than one MPI gather can carry (2^31 values); lower "
                               "sweep.beta_points, sweep.generation_seeds, sweep.steps or sweep.sizes");
    MemoryNeed need;
    need.device = {{"model workspaces for " + std::to_string(sizes.size()) + " sizes x " + std::to_string(seeds) +
                        " generation seeds",
                    workspaces},
                   {"theta", saturating_product({static_cast<std::int64_t>(sizeof(float)), layout.theta_size()})},
                   {"evaluation on " + std::to_string(evaluation.samples) + " inputs", evaluation_peak}};
    need.host = {{"this rank's records and networks", mine_bytes}};
    if (rank == 0) need.host.push_back({"all records and networks, gathered for sweep.h5 (twice)",
                                        all_bytes > SIZE_MAX / 2 ? SIZE_MAX : 2 * all_bytes});
    require_memory(need, "sweep",
                   "Lower sweep.generation_seeds, sweep.sizes, task.eval_size, sweep.beta_points or sweep.steps, "
                   "or spread the sweep over more ranks.",
                   world);
  }
  if (rank == 0 && !options.quiet)
    std::printf("sweep: %zu jobs x %zu steps x %zu sizes x %zu posteriors x %zu betas x %lld seeds = %lld networks on %d ranks\n",
                jobs.size(), steps.size(), sizes.size(), posteriors.size(), betas.size(), static_cast<long long>(seeds),
                static_cast<long long>(unit_count * seeds), size);

  // This rank's units (u % size == rank), one model workspace per size, θ loaded once per model.
  std::vector<double> mine;
  std::map<std::int64_t, std::unique_ptr<Model<float>>> models;
  std::map<std::int64_t, std::unique_ptr<Evaluator>> evaluators;  // evaluation set drawn once per n
  View1<float> theta("hnet::sweep::theta", layout.theta_size());
  std::pair<std::int64_t, std::int64_t> loaded{-1, -1};
  std::int64_t done = 0;
  for (std::int64_t u = rank; u < unit_count; u += size) {
    const Unit& unit = units[u];
    if (loaded != std::make_pair(unit.job, unit.step)) {
      const std::vector<float> values = load_theta(result_files[unit.job], unit.step, layout.theta_size());
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
    in.log10_beta.assign(seeds, betas[unit.beta_index]);
    in.seed = jobs[unit.job].seed;
    in.step = generation_step;
    in.use_mean = unit.mean;
    const StepResult generated = model->forward(theta, in, /*evaluate_task=*/false);
    const std::vector<HostNetwork> nets = model->networks();
    const BatchEvaluation eval = evaluator->run(nets);
    for (std::int64_t g = 0; g < seeds; ++g) {
      const OrderParameters op = order_parameters(nets[g], thresholds);
      const AlgorithmClass cls = classify(eval.normalised[g], op, thresholds);
      double record[field_count];
      record[f_job] = unit.job, record[f_step] = unit.step, record[f_log10_beta] = betas[unit.beta_index];
      record[f_seed] = g, record[f_n] = unit.n, record[f_m] = unit.n * ratio, record[f_mean] = unit.mean;
      record[f_loss] = eval.mse[g], record[f_normalised] = eval.normalised[g];
      record[f_kl_nats] = generated.kl[g], record[f_kl_bits] = generated.kl[g] / std::log(2.0);
      record[f_o1] = op.o1, record[f_o2] = op.o2, record[f_o3] = op.o3, record[f_coverage] = op.coverage;
      record[f_duplication] = op.duplication, record[f_valley_units] = static_cast<double>(op.valley_units);
      record[f_class] = static_cast<double>(static_cast<int>(cls));
      mine.insert(mine.end(), record, record + field_count);
      const HostNetwork& net = nets[g];
      mine.insert(mine.end(), net.w0.begin(), net.w0.end());
      mine.insert(mine.end(), net.b0.begin(), net.b0.end());
      mine.insert(mine.end(), net.w1.begin(), net.w1.end());
      mine.push_back(net.b1);
    }
    ++done;
    if (rank == 0 && !options.quiet && (done % 20 == 0))
      std::printf("sweep: rank 0 %lld/%lld units\n", static_cast<long long>(done),
                  static_cast<long long>((unit_count + size - 1) / size)), std::fflush(stdout);
  }

  // Gather every rank's units to rank 0 and put them back in canonical order.
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

  SweepSummary summary;
  summary.path = options.output.empty() ? default_sweep_path(deck) : options.output;
  summary.networks = unit_count * seeds;
  if (rank == 0) {
    std::vector<std::size_t> cursor(displs.begin(), displs.end());
    std::vector<std::vector<double>> records(field_count);
    std::map<std::int64_t, std::vector<float>> w0, b0, w1, b1;
    std::map<std::int64_t, std::vector<std::int64_t>> rows_of;
    std::vector<std::int64_t> network_row;
    for (std::int64_t u = 0; u < unit_count; ++u) {
      std::size_t& at = cursor[u % size];
      const std::int64_t n = units[u].n, m = n * ratio;
      for (std::int64_t g = 0; g < seeds; ++g) {
        for (int f = 0; f < field_count; ++f) records[f].push_back(all[at + f]);
        at += field_count;
        const double* net = all.data() + at;
        w0[n].insert(w0[n].end(), net, net + n * m);
        b0[n].insert(b0[n].end(), net + n * m, net + n * m + m);
        w1[n].insert(w1[n].end(), net + n * m + m, net + n * m + 2 * m);
        b1[n].push_back(static_cast<float>(net[n * m + 2 * m]));
        at += network_floats(n, m);
        network_row.push_back(static_cast<std::int64_t>(rows_of[n].size()));
        rows_of[n].push_back(static_cast<std::int64_t>(records[0].size()) - 1);
      }
    }
    const auto parent = fs::path(summary.path).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    remove_stale_temporaries(summary.path, "sweep: ", !options.quiet);
    Hdf5Writer f(summary.path);
    std::string job_names, class_names, commands;
    for (const TrainingJob& j : jobs) job_names += (job_names.empty() ? "" : "\n") + j.name;
    for (AlgorithmClass c : all_algorithm_classes()) class_names += (class_names.empty() ? "" : "\n") + std::string(to_string(c));
    for (const std::string& c : options.commands) commands += (commands.empty() ? "" : "\n") + c;
    f.attribute("/", "hnet_version", version_string());
    f.attribute("/", "git_hash", git_hash());
    f.attribute("/", "deck", to_toml(deck));
    f.attribute("/", "jobs", job_names);
    f.attribute("/", "class_names", class_names);
    f.attribute("/", "commands", commands);
    const auto rows = static_cast<std::int64_t>(records[0].size());
    auto ints = [](const std::vector<double>& v) { return std::vector<std::int64_t>(v.begin(), v.end()); };
    const char* names[field_count] = {"job", "step", "log10_beta", "generation_seed", "n", "m", "posterior_mean",
                                      "loss", "normalised_loss", "kl_nats", "kl_bits", "o1", "o2", "o3", "coverage",
                                      "duplication", "valley_units", "class"};
    for (int field = 0; field < field_count; ++field) {
      const bool integer = field == f_job || field == f_step || field == f_seed || field == f_n || field == f_m ||
                           field == f_mean || field == f_valley_units || field == f_class;
      const std::string name = std::string("records/") + names[field];
      if (integer) f.write(name, {rows}, ints(records[field]).data());
      else f.write(name, {rows}, records[field].data());
    }
    f.write("records/network_row", {rows}, network_row.data());
    for (const auto& [n, list] : rows_of) {
      const std::int64_t m = n * ratio, count = list.size();
      const std::string group = "networks/n" + std::to_string(n);
      f.write(group + "/W0", {count, n, m}, w0[n].data());
      f.write(group + "/b0", {count, m}, b0[n].data());
      f.write(group + "/W1", {count, m}, w1[n].data());
      f.write(group + "/b1", {count}, b1[n].data());
      f.write(group + "/record", {count}, list.data());
    }
    std::vector<std::int64_t> seed_list(seeds);
    for (std::int64_t g = 0; g < seeds; ++g) seed_list[g] = g;
    f.write("grid/log10_beta", {static_cast<std::int64_t>(betas.size())}, betas.data());
    f.write("grid/steps", {static_cast<std::int64_t>(steps.size())}, steps.data());
    f.write("grid/sizes", {static_cast<std::int64_t>(sizes.size())}, sizes.data());
    f.write("grid/generation_seeds", {seeds}, seed_list.data());
    f.commit();
  }
  MPI_Barrier(world);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace hnet
