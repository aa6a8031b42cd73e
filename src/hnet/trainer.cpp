#include "hnet/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>

#include "hnet/file_io.hpp"
#include "hnet/job_file.hpp"
#include "hnet/model.hpp"
#include "hnet/parallel_layout.hpp"
#include "hnet/saturating.hpp"
#include "hnet/schedule.hpp"
#include "hnet/task_config.hpp"
#include "kernels/adam.hpp"

namespace hnet {

namespace fs = std::filesystem;

namespace {

std::vector<float> to_host_vector(const View1<float>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<float>(h.data(), h.data() + h.extent(0));
}
void from_host_vector(const View1<float>& v, const std::vector<float>& values) {
  auto h = Kokkos::create_mirror_view(v);
  std::copy(values.begin(), values.end(), h.data());
  Kokkos::deep_copy(v, h);
}

std::string format_duration(double seconds) {
  char buf[32];
  if (!std::isfinite(seconds)) return "?";
  if (seconds < 90) std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  else if (seconds < 5400) std::snprintf(buf, sizeof buf, "%.1fm", seconds / 60);
  else std::snprintf(buf, sizeof buf, "%.1fh", seconds / 3600);
  return buf;
}

// Test-only fault injection, so that the handling of non-finite values can be tested without
// a diverging run: HNET_FAULT_NONFINITE_STEP="K[:kind],..." poisons step K after the gradient
// exchange; kind nan (default) or inf puts that value in the gradient, loss makes the first
// network's loss NaN. Unset, it costs one getenv per run.
struct Fault {
  std::int64_t step;
  enum Kind { nan, inf, loss } kind;
};

std::vector<Fault> injected_faults() {
  const char* text = std::getenv("HNET_FAULT_NONFINITE_STEP");
  std::vector<Fault> faults;
  if (!text) return faults;
  const std::string all(text);
  std::size_t start = 0;
  while (start <= all.size()) {
    const std::size_t comma = std::min(all.find(',', start), all.size());
    const std::string item = all.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    const std::size_t colon = item.find(':');
    const std::string step = item.substr(0, colon), kind = colon == std::string::npos ? "nan" : item.substr(colon + 1);
    char* end = nullptr;
    const long long k = std::strtoll(step.c_str(), &end, 10);
    if (step.empty() || *end != '\0' || k < 0 || (kind != "nan" && kind != "inf" && kind != "loss"))
      throw std::runtime_error("HNET_FAULT_NONFINITE_STEP: cannot read '" + item +
                               "'; expected STEP or STEP:nan, STEP:inf, STEP:loss, comma-separated");
    faults.push_back({k, kind == "inf" ? Fault::inf : kind == "loss" ? Fault::loss : Fault::nan});
  }
  return faults;
}

// ‖g‖₂ in double with a fixed chunking, so every rank and thread count gets the same bits.
// partials_host: the partials' host mirror, made once (a step allocates nothing).
double global_norm(const View1<float>& gradient, const View1<double>& partials,
                   const View1<double>::HostMirror& partials_host, std::int64_t chunk) {
  kernels::sum_of_squares_partials(ExecSpace(), partials, gradient, chunk);
  Kokkos::deep_copy(partials_host, partials);
  double s = 0.0;
  for (std::size_t c = 0; c < partials_host.extent(0); ++c) s += partials_host(c);
  return std::sqrt(s);
}


// The most saved models that fall between two checkpoints (step 0 waits for the first).
std::int64_t most_models_per_checkpoint(const Deck& deck) {
  std::map<std::int64_t, std::int64_t> per_checkpoint;
  ++per_checkpoint[0];
  for (std::int64_t step : saved_model_steps(deck.train.steps, deck.output.save_models))
    ++per_checkpoint[(step - 1) / deck.output.checkpoint_every];
  std::int64_t most = 0;
  for (const auto& [interval, count] : per_checkpoint) most = std::max(most, count);
  return most;
}

// Refuses a deck that would not fit before anything is allocated (collective over the world).
void require_training_memory(const Deck& deck, const HypernetLayout& layout, const GroupLayout& group) {
  const TrainConfig& tc = deck.train;
  const std::int64_t size = layout.theta_size();
  MemoryNeed need;
  for (const std::int64_t n : training_sizes(deck)) {
    const std::int64_t m = n * deck.target.hidden_ratio;
    need.device.push_back({"model workspace for " + std::to_string(group.local_count) + " networks of n = " +
                               std::to_string(n) + ", m = " + std::to_string(m) + " on " + std::to_string(tc.batch_x) +
                               " inputs each",
                           Model<float>::estimate_bytes(layout, group.local_count, n, m, tc.batch_x)});
  }
  need.device.push_back({"theta, gradient and Adam moments (4 x " + std::to_string(size) + " floats)",
                         saturating_product({4, sizeof(float), size})});
  if (group.group_size > 1)
    need.device.push_back({"gradient exchange", GroupReducer::bytes(group.group_size, size)});
  // The checkpoint is built in memory before it is written: HDF5's buffer and the copy handed to
  // the disk. Saved models wait in memory for the next checkpoint.
  const std::size_t checkpoint = job_file_bytes(deck, size, /*with_optimizer=*/true);
  const std::int64_t pending = most_models_per_checkpoint(deck);
  need.host = {{"theta and Adam moments (3 x " + std::to_string(size) + " floats)",
                saturating_product({3, sizeof(float), size})},
               {"up to " + std::to_string(pending) + " saved models waiting for their checkpoint",
                saturating_product({pending, sizeof(float), size})},
               {"a checkpoint file built in memory (" + format_bytes(checkpoint) + ", twice)",
                saturating_add(checkpoint, checkpoint)},
               {"per-step history of " + std::to_string(tc.steps) + " steps",
                saturating_product({sizeof(double), tc.steps, 9 + 3 * tc.batch_beta})}};
  require_memory(need, "train",
                 "Lower train.batch_beta (or share it among more ranks with parallel.ranks_per_group), "
                 "train.batch_x, target.n (or train.sizes), model.d or train.steps.",
                 group.world);
}

// One step's numbers, the same on every rank of the group.
struct StepStatistics {
  std::vector<double> log10_betas, network_loss, network_kl;  // every network of the step
  double objective = 0, loss = 0, normalised = 0, kl = 0, grad_norm = 0, lr = 0;
  bool finite() const { return std::isfinite(objective) && std::isfinite(grad_norm) && std::isfinite(kl); }
};

// One job while it trains: its files, its state and what is on disk.
struct JobRun {
  const TrainingJob& job;
  JobFileContext context;
  JobPaths paths;
  JobState state;
  // Models saved since the last checkpoint (θ on the writer only). They are written with the
  // next checkpoint, just before it, so the files on disk change only at checkpoints: a run that
  // stops or dies between two leaves exactly what the last one left.
  std::vector<std::pair<std::int64_t, std::vector<float>>> pending;
  std::int64_t checkpoint_step = -1;  // step of the newest checkpoint on disk (-1: none), for failure messages
  int checkpoints = 0;                // written by this call, and the time they took (the writer's)
  double checkpoint_seconds = 0.0, last_checkpoint_seconds = 0.0;
};

// The group's training workspace, allocated once for all of its jobs.
class Trainer {
 public:
  Trainer(const Deck& deck, const TrainOptions& options, const GroupLayout& group, const HypernetLayout& layout)
      : deck_(deck), tc_(deck.train), options_(options), group_(group), layout_(layout), size_(layout.theta_size()),
        sizes_(training_sizes(deck)),
        theta_("hnet::train::theta", size_), gradient_("hnet::train::gradient", size_),
        adam_m_("hnet::train::adam_m", size_), adam_v_("hnet::train::adam_v", size_),
        norm_partials_("hnet::train::norm_partials", (size_ + norm_chunk - 1) / norm_chunk),
        norm_partials_host_(Kokkos::create_mirror_view(norm_partials_)),
        reducer_(group, size_), writer_(group.group_rank == 0), faults_(injected_faults()) {
    save_steps_ = saved_model_steps(tc_.steps, deck.output.save_models);
    save_steps_.insert(save_steps_.begin(), 0);
    // One workspace per training size, all allocated now: a step only picks one.
    for (const std::int64_t n : sizes_)
      models_.push_back(std::make_unique<Model<float>>(layout, group.local_count, n, n * deck.target.hidden_ratio,
                                                      tc_.batch_x, input_kind(deck.task.input),
                                                      norm_kind(deck.task.target)));
  }

  void run_job(const TrainingJob& job);
  // Mean over the steps taken (the sizes differ in cost).
  double flops_per_step() const { return summary.steps > 0 ? flops_ / static_cast<double>(summary.steps) : 0.0; }
  TrainSummary summary;

 private:
  static constexpr std::int64_t norm_chunk = 4096;

  JobRun open_job(const TrainingJob& job);
  StepStatistics take_step(const TrainingJob& job, std::int64_t step);
  void reduce_statistics(StepStatistics& s, const StepResult& r, double kl_factor, std::int64_t n, const Fault* fault);
  void update(JobRun& run, std::int64_t step, const StepStatistics& s);
  void record(JobRun& run, std::int64_t step, const StepStatistics& s, double elapsed);
  void save_model_if_due(JobRun& run);
  void write_files(JobRun& run, bool with_results);

  const Deck& deck_;
  const TrainConfig& tc_;
  const TrainOptions& options_;
  const GroupLayout& group_;
  const HypernetLayout& layout_;
  const std::int64_t size_;
  const std::vector<std::int64_t> sizes_;
  std::vector<std::unique_ptr<Model<float>>> models_;  // one per entry of sizes_
  double flops_ = 0.0;
  View1<float> theta_, gradient_, adam_m_, adam_v_;
  View1<double> norm_partials_;
  View1<double>::HostMirror norm_partials_host_;
  GroupReducer reducer_;
  const bool writer_;
  const std::vector<Fault> faults_;
  std::vector<std::int64_t> save_steps_;
};

// A fresh job from θ at initialisation, or the newest checkpoint with --restart.
JobRun Trainer::open_job(const TrainingJob& job) {
  JobRun run{job, JobFileContext{&deck_, &layout_, &job, group_.world_size, group_.group_size},
             job_paths(deck_, job.name), JobState{}, {}};
  const JobPaths& paths = run.paths;
  if (writer_) {
    const std::string prefix = "[" + job.name + "] ";
    remove_stale_temporaries(paths.results, prefix, !options_.quiet);
    remove_stale_temporaries(paths.checkpoint, prefix, !options_.quiet);
    remove_stale_temporaries_in(paths.models, prefix, !options_.quiet);
  }
  JobState& state = run.state;
  if (options_.restart && fs::exists(paths.checkpoint)) {
    state = read_checkpoint(paths, run.context);
    run.checkpoint_step = state.next_step;
    if (writer_ && !options_.quiet)
      std::printf("[%s] restarting from %s at step %lld\n", job.name.c_str(), paths.checkpoint.c_str(),
                  static_cast<long long>(state.next_step));
  } else {
    state.theta = initial_theta<float>(layout_, job.seed);
    state.adam_m.assign(size_, 0.0f);
    state.adam_v.assign(size_, 0.0f);
  }
  from_host_vector(theta_, state.theta);
  from_host_vector(adam_m_, state.adam_m);
  from_host_vector(adam_v_, state.adam_v);
  return run;
}

// Forward, backward and the group's gradient sum for one step, then its statistics.
StepStatistics Trainer::take_step(const TrainingJob& job, std::int64_t step) {
  const std::int64_t batch = tc_.batch_beta;
  StepStatistics s;
  s.log10_betas = job.fixed_beta ? std::vector<double>(batch, job.log10_beta) : draw_log10_betas(tc_, job.seed, step);
  StepInputs in;
  in.log10_beta.assign(s.log10_betas.begin() + group_.local_begin,
                       s.log10_betas.begin() + group_.local_begin + group_.local_count);
  in.seed = job.seed, in.step = static_cast<std::uint64_t>(step);
  in.network_offset = static_cast<std::uint64_t>(group_.local_begin);
  in.batch_total = batch, in.kl_factor = kl_warmup_factor(tc_, step), in.objective = tc_.objective;
  in.shift_identity = true;
  const std::int64_t n = step_size(deck_, sizes_, job.seed, step);
  Model<float>& model = *models_[std::find(sizes_.begin(), sizes_.end(), n) - sizes_.begin()];
  const StepResult r = model.forward(theta_, in);
  Kokkos::deep_copy(gradient_, 0.0f);
  model.backward(theta_, gradient_);
  flops_ += 3.0 * model.forward_flops();
  const auto reduce_start = std::chrono::steady_clock::now();
  reducer_.allreduce(gradient_);
  summary.allreduce_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - reduce_start).count();
  const auto fault = std::find_if(faults_.begin(), faults_.end(), [&](const Fault& f) { return f.step == step; });
  if (fault != faults_.end() && fault->kind != Fault::loss)
    Kokkos::deep_copy(Kokkos::subview(gradient_, std::make_pair(0, 1)),
                      fault->kind == Fault::inf ? std::numeric_limits<float>::infinity()
                                                : std::numeric_limits<float>::quiet_NaN());
  reduce_statistics(s, r, in.kl_factor, n, fault != faults_.end() ? &*fault : nullptr);
  s.grad_norm = global_norm(gradient_, norm_partials_, norm_partials_host_, norm_chunk);
  s.lr = learning_rate(tc_, step);
  return s;
}

// Every rank of the group gets every network's loss and D_KL, in network order, and forms the
// step's objective and means from them.
void Trainer::reduce_statistics(StepStatistics& s, const StepResult& r, double kl_factor, std::int64_t n,
                                const Fault* fault) {
  const std::int64_t batch = tc_.batch_beta, local = group_.local_count;
  std::vector<double> local_terms(2 * local), all_terms(2 * batch);
  for (std::int64_t b = 0; b < local; ++b) local_terms[b] = r.loss[b], local_terms[local + b] = r.kl[b];
  MPI_Allgather(local_terms.data(), static_cast<int>(2 * local), MPI_DOUBLE, all_terms.data(),
                static_cast<int>(2 * local), MPI_DOUBLE, group_.group);
  s.network_loss.assign(batch, 0.0), s.network_kl.assign(batch, 0.0);
  for (int rank = 0; rank < group_.group_size; ++rank)
    for (std::int64_t b = 0; b < local; ++b) {
      s.network_loss[rank * local + b] = all_terms[rank * 2 * local + b];
      s.network_kl[rank * local + b] = all_terms[rank * 2 * local + local + b];
    }
  if (fault && fault->kind == Fault::loss) s.network_loss[0] = std::numeric_limits<double>::quiet_NaN();
  const double variance = target_variance(input_kind(deck_.task.input), norm_kind(deck_.task.target), n);
  for (std::int64_t b = 0; b < batch; ++b) {
    const double loss = s.network_loss[b], kl = s.network_kl[b];
    const double beta = std::pow(10.0, s.log10_betas[b]) * kl_factor;
    const double term = tc_.objective == Objective::log_sum ? std::log(loss + beta * kl)
                        : tc_.objective == Objective::sum   ? loss + beta * kl
                                                            : std::log(loss) + beta * kl;
    s.objective += term / batch, s.loss += loss / batch, s.kl += kl / batch;
    s.normalised += (variance > 0 ? loss / variance : loss) / batch;
  }
}

// The Adam step, or for a non-finite step: stop naming what is intact, or skip it.
void Trainer::update(JobRun& run, std::int64_t step, const StepStatistics& s) {
  if (!s.finite()) {
    if (tc_.nonfinite == NonFinitePolicy::stop)
      throw std::runtime_error(
          "non-finite loss or gradient at step " + std::to_string(step) + " in seed group " +
          std::to_string(group_.group_index) + " (job " + run.job.name + "; objective " + std::to_string(s.objective) +
          ", gradient norm " + std::to_string(s.grad_norm) + "). Training stopped; " +
          (run.checkpoint_step >= 0 ? "the last checkpoint, " + run.paths.checkpoint + " at step " +
                                          std::to_string(run.checkpoint_step) + ", is intact"
                                    : std::string("no checkpoint had been written yet")) +
          ". Set train.nonfinite = \"skip\" to skip such steps instead.");
    ++run.state.history.skipped;
    if (writer_ && !options_.quiet)
      std::printf("[%s] step %lld: non-finite loss or gradient, step skipped (%lld so far)\n", run.job.name.c_str(),
                  static_cast<long long>(step), static_cast<long long>(run.state.history.skipped));
    return;
  }
  kernels::AdamStep a;
  a.lr = s.lr, a.beta1 = tc_.adam_beta1, a.beta2 = tc_.adam_beta2, a.eps = tc_.adam_eps;
  a.grad_scale = s.grad_norm > tc_.clip_norm ? tc_.clip_norm / s.grad_norm : 1.0;
  a.t = step + 1;
  kernels::adam_update(ExecSpace(), theta_, adam_m_, adam_v_, gradient_, a);
}

void Trainer::record(JobRun& run, std::int64_t step, const StepStatistics& s, double elapsed) {
  History& h = run.state.history;
  h.step.push_back(step + 1);  // steps completed, as models/steps counts them
  h.objective.push_back(s.objective), h.loss.push_back(s.loss), h.normalised.push_back(s.normalised);
  h.kl.push_back(s.kl), h.grad_norm.push_back(s.grad_norm), h.lr.push_back(s.lr);
  h.beta_upper.push_back(run.job.fixed_beta ? run.job.log10_beta : beta_upper(tc_, step));
  h.wall_seconds.push_back(elapsed);
  h.network_log10_beta.insert(h.network_log10_beta.end(), s.log10_betas.begin(), s.log10_betas.end());
  h.network_loss.insert(h.network_loss.end(), s.network_loss.begin(), s.network_loss.end());
  h.network_kl.insert(h.network_kl.end(), s.network_kl.begin(), s.network_kl.end());
  run.state.next_step = step + 1;
}

// A disk's failure, with what a restart can count on.
IoError stopped_by(const JobRun& run, const IoError& e) {
  return IoError(std::string(e.what()) + ". Training of job " + run.job.name + " stopped at step " +
                     std::to_string(run.state.next_step) + "; " +
                     (run.checkpoint_step >= 0 ? "the last complete checkpoint, " + run.paths.checkpoint + " at step " +
                                                     std::to_string(run.checkpoint_step) +
                                                     ", is intact: fix the problem and continue with --restart"
                                               : std::string("no checkpoint had been written yet")),
                 e.error());
}

// A saved model is written once, into a file of its own, with the checkpoint after its step.
void Trainer::save_model_if_due(JobRun& run) {
  const std::int64_t completed = run.state.next_step;
  const std::vector<std::int64_t>& saved = run.state.saved_steps;
  if (!std::binary_search(save_steps_.begin(), save_steps_.end(), completed) ||
      std::find(saved.begin(), saved.end(), completed) != saved.end())
    return;
  for (const auto& model : run.pending)
    if (model.first == completed) return;
  run.pending.push_back({completed, writer_ ? to_host_vector(theta_) : std::vector<float>{}});
}

void Trainer::write_files(JobRun& run, bool with_results) {
  JobState& state = run.state;
  state.theta = to_host_vector(theta_);
  state.adam_m = to_host_vector(adam_m_);
  state.adam_v = to_host_vector(adam_v_);
  const auto start = std::chrono::steady_clock::now();
  try {
    // Models first: a checkpoint only lists models that are on disk.
    for (auto& [step, theta] : run.pending) {
      if (writer_) write_saved_model(run.paths, run.context, step, theta);
      state.saved_steps.push_back(step);
      theta = std::vector<float>();
    }
    run.pending.clear();
    if (writer_) write_job_file(run.paths.checkpoint, run.context, state, /*with_optimizer=*/true);
    run.checkpoint_step = state.next_step;
    if (writer_ && with_results) write_job_file(run.paths.results, run.context, state, /*with_optimizer=*/false);
  } catch (const IoError& e) {
    throw stopped_by(run, e);
  }
  ++run.checkpoints;
  run.last_checkpoint_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.checkpoint_seconds += run.last_checkpoint_seconds;
}

// What the checkpoints cost: count, time (with the saved models written at each) and sizes, which
// do not grow with the number of saved models.
void report_checkpoints(const JobRun& run) {
  if (run.checkpoints == 0) return;
  std::error_code ec;
  const auto megabytes = [&](const std::string& path) { return static_cast<double>(fs::file_size(path, ec)) / 1e6; };
  const std::vector<std::int64_t>& saved = run.state.saved_steps;
  std::printf("[%s] %d checkpoints in %.3f s (last %.3f s): checkpoint %.1f MB, results %.1f MB; %zu saved models of "
              "%.1f MB in %s\n",
              run.job.name.c_str(), run.checkpoints, run.checkpoint_seconds, run.last_checkpoint_seconds,
              megabytes(run.paths.checkpoint), megabytes(run.paths.results), saved.size(),
              saved.empty() ? 0.0 : megabytes(run.paths.model(saved.back())), run.paths.models.c_str());
}

void Trainer::run_job(const TrainingJob& job) {
  JobRun run = open_job(job);
  save_model_if_due(run);
  const auto job_start = std::chrono::steady_clock::now();
  const std::int64_t first_step = run.state.next_step;
  for (std::int64_t step = first_step; step < tc_.steps; ++step) {
    const StepStatistics s = take_step(job, step);
    update(run, step, s);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - job_start).count();
    record(run, step, s, elapsed);
    ++summary.steps;
    const std::int64_t completed = step + 1;
    save_model_if_due(run);
    const bool interrupted = options_.stop_after_steps > 0 && summary.steps >= options_.stop_after_steps;
    const bool last = completed == tc_.steps || interrupted;
    if (completed % deck_.output.checkpoint_every == 0 || last) write_files(run, /*with_results=*/true);
    if (writer_ && !options_.quiet && (completed % deck_.output.log_every == 0 || last || step == first_step)) {
      const double rate = static_cast<double>(completed - first_step) / std::max(elapsed, 1e-9);
      // The moving end of the β range: the lower one under a falling curriculum.
      const bool falling = !job.fixed_beta && tc_.beta_curriculum && tc_.curriculum_direction == CurriculumDirection::down;
      std::printf("[%s] step %lld/%lld J=%.5g loss=%.5g norm_loss=%.4g kl=%.5g |g|=%.3g lr=%.3g "
                  "log10b%s%.2f %.2f steps/s eta %s\n",
                  job.name.c_str(), static_cast<long long>(completed), static_cast<long long>(tc_.steps), s.objective,
                  s.loss, s.normalised, s.kl, s.grad_norm, s.lr, falling ? ">=" : "<=",
                  falling ? beta_range(tc_, step).lower : run.state.history.beta_upper.back(), rate,
                  format_duration(static_cast<double>(tc_.steps - completed) / rate).c_str());
      std::fflush(stdout);
    }
    if (interrupted) break;
  }
  if (first_step == tc_.steps) write_files(run, /*with_results=*/true);  // a restart of a finished job
  if (writer_ && !options_.quiet && run.state.history.skipped > 0)
    std::printf("[%s] %lld steps skipped for non-finite values (recorded in state/skipped_steps)\n", job.name.c_str(),
                static_cast<long long>(run.state.history.skipped));
  if (writer_ && !options_.quiet) report_checkpoints(run);
  if (writer_) summary.results.push_back(run.paths.results);
}

// The writer's checks before a run spends anything: output.dir usable with room for one checkpoint
// of every seed group, this group's jobs locked against other processes, and no result that a
// fresh start would overwrite. Returns the locks, held until the run ends.
std::vector<FileLock> prepare_output(const Deck& deck, const GroupLayout& group, std::int64_t theta_size,
                                     const TrainOptions& options) {
  std::vector<FileLock> locks;
  if (group.group_rank != 0) return locks;
  const std::string& dir = deck.output.dir;
  const std::string created = require_writable_directory(dir, "output.dir");
  const std::size_t checkpoint = job_file_bytes(deck, theta_size, /*with_optimizer=*/true);
  const std::size_t results = job_file_bytes(deck, theta_size, /*with_optimizer=*/false);
  const std::size_t model = saved_model_bytes(deck, theta_size);
  const std::int64_t models = most_models_per_checkpoint(deck);
  const auto writers = std::min<std::int64_t>(group.group_count, static_cast<std::int64_t>(training_jobs(deck).size()));
  const std::size_t need = saturating_multiply(
      static_cast<std::size_t>(writers),
      saturating_sum({checkpoint, results, saturating_multiply(static_cast<std::size_t>(models), model)}));
  const FreeSpace free = free_disk_space(dir);
  if (free.bytes < need) {
    remove_created_directories(dir, created);
    throw std::runtime_error(
        "train: not enough free space in output.dir " + dir + ": one checkpoint of " + std::to_string(writers) +
        " seed group(s) needs " + format_bytes(need) + " (each: checkpoint " +
        format_bytes(checkpoint) + ", results " + format_bytes(results) + ", up to " + std::to_string(models) +
        " saved models of " + format_bytes(model) + "), but only " + format_bytes(free.bytes) + " is free (" + free.source +
        "). Nothing was written; free some space or choose another output.dir.");
  }
  for (const TrainingJob& job : group.jobs) {
    const JobPaths paths = job_paths(deck, job.name);
    locks.emplace_back(paths.lock, "job " + job.name + " in " + dir);
    if (!options.restart && !deck.output.overwrite && (fs::exists(paths.results) || fs::exists(paths.checkpoint)))
      throw std::runtime_error(paths.results + " (or its checkpoint) already exists: pass --restart to continue it, "
                               "set output.overwrite = true to start again, or choose another output.dir");
    require_writable_directory(fs::path(paths.checkpoint).parent_path().string(), "output.dir");
    require_writable_directory(paths.models, "output.dir");
  }
  return locks;
}

}  // namespace

struct TrainingRun::Impl {
  const Deck& deck;
  const TrainOptions options;
  GroupLayout group;
  HypernetLayout layout;
  std::vector<FileLock> locks;
  ~Impl() { free_group_layout(group); }
};

TrainingRun::TrainingRun(const Deck& deck, const TrainOptions& options, MPI_Comm world)
    : impl_(new Impl{deck, options, make_group_layout(deck, world), build_layout(model_shape(deck)), {}}) {
  require_training_memory(deck, impl_->layout, impl_->group);
  collective_check(world, [&] { impl_->locks = prepare_output(deck, impl_->group, impl_->layout.theta_size(), options); });
}

TrainingRun::~TrainingRun() = default;

TrainSummary TrainingRun::run() {
  const Deck& deck = impl_->deck;
  const TrainOptions& options = impl_->options;
  const GroupLayout& group = impl_->group;
  Trainer trainer(deck, options, group, impl_->layout);
  if (group.world_rank == 0 && !options.quiet && static_cast<int>(training_jobs(deck).size()) < group.group_count)
    std::printf("warning: %d seed groups but only %zu training jobs: some ranks will idle (raise parallel.seeds or "
                "parallel.ranks_per_group)\n",
                group.group_count, training_jobs(deck).size());

  const auto start = std::chrono::steady_clock::now();
  for (const TrainingJob& job : group.jobs) {
    if (options.stop_after_steps > 0 && trainer.summary.steps >= options.stop_after_steps) break;
    trainer.run_job(job);
  }
  TrainSummary summary = trainer.summary;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.flops_per_step = trainer.flops_per_step();
  return summary;
}

TrainSummary train(const Deck& deck, const TrainOptions& options, MPI_Comm world) {
  return TrainingRun(deck, options, world).run();
}

}  // namespace hnet
