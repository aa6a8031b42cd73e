#include "hnet/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "hnet/hdf5_file.hpp"
#include "hnet/job_file.hpp"
#include "hnet/model.hpp"
#include "hnet/parallel_layout.hpp"
#include "hnet/schedule.hpp"
#include "hnet/task_config.hpp"
#include "kernels/adam.hpp"

namespace hnet {

namespace fs = std::filesystem;

std::string job_results_path(const Deck& deck, const std::string& job_name) {
  return (fs::path(deck.output.dir) / (job_name + ".h5")).string();
}
std::string job_checkpoint_path(const Deck& deck, const std::string& job_name) {
  return (fs::path(deck.output.dir) / "checkpoints" / (job_name + ".h5")).string();
}

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

std::size_t saturating_product(std::initializer_list<std::size_t> factors) {
  std::size_t total = 1;
  for (const std::size_t f : factors)
    if (__builtin_mul_overflow(total, f, &total)) return SIZE_MAX;
  return total;
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
double global_norm(const View1<float>& gradient, const View1<double>& partials, std::int64_t chunk) {
  kernels::sum_of_squares_partials(ExecSpace(), partials, gradient, chunk);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partials);
  double s = 0.0;
  for (std::size_t c = 0; c < h.extent(0); ++c) s += h(c);
  return std::sqrt(s);
}

}  // namespace

TrainSummary train(const Deck& deck, const TrainOptions& options, MPI_Comm world) {
  GroupLayout group = make_group_layout(deck, world);
  struct FreeGroup {
    GroupLayout& g;
    ~FreeGroup() { free_group_layout(g); }
  } free_group{group};

  const TrainConfig& tc = deck.train;
  const HypernetLayout layout = build_layout(model_shape(deck));
  const std::int64_t n = deck.target.n, m = deck.target.hidden(), batch = tc.batch_beta;
  const std::int64_t size = layout.theta_size();
  {
    const auto u = [](std::int64_t v) { return static_cast<std::size_t>(v); };
    const std::size_t theta_bytes = saturating_product({sizeof(float), u(size)});
    MemoryNeed need;
    need.device = {
        {"model workspace for " + std::to_string(group.local_count) + " networks of n = " + std::to_string(n) +
             ", m = " + std::to_string(m) + " on " + std::to_string(tc.batch_x) + " inputs each",
         Model<float>::estimate_bytes(layout, group.local_count, n, m, tc.batch_x)},
        {"theta, gradient and Adam moments (4 x " + std::to_string(size) + " floats)", saturating_product({4, theta_bytes})}};
    if (group.group_size > 1)
      need.device.push_back({"gradient exchange", saturating_product({u(group.group_size), theta_bytes})});
    need.host = {{"checkpoint copies and " + std::to_string(deck.output.save_models + 1) + " saved models of theta",
                  saturating_product({u(3 + deck.output.save_models + 1), theta_bytes})},
                 {"per-step history of " + std::to_string(tc.steps) + " steps",
                  saturating_product({sizeof(double), u(tc.steps), u(9 + 3 * batch)})}};
    require_memory(need, "train",
                   "Lower train.batch_beta (or share it among more ranks with parallel.ranks_per_group), "
                   "train.batch_x, target.n, model.d or train.steps.",
                   world);
  }
  Model<float> model(layout, group.local_count, n, m, tc.batch_x, input_kind(deck.task.input),
                     norm_kind(deck.task.target));
  View1<float> theta("hnet::train::theta", size), gradient("hnet::train::gradient", size);
  View1<float> adam_m("hnet::train::adam_m", size), adam_v("hnet::train::adam_v", size);
  constexpr std::int64_t norm_chunk = 4096;
  View1<double> norm_partials("hnet::train::norm_partials", (size + norm_chunk - 1) / norm_chunk);
  GroupReducer reducer(group, size);
  const bool writer = group.group_rank == 0;
  const std::vector<std::int64_t> save_steps = [&] {
    std::vector<std::int64_t> s = saved_model_steps(tc.steps, deck.output.save_models);
    s.insert(s.begin(), 0);
    return s;
  }();

  if (group.world_rank == 0 && !options.quiet && static_cast<int>(training_jobs(deck).size()) < group.group_count)
    std::printf("warning: %d seed groups but only %zu training jobs: some ranks will idle (raise parallel.seeds or "
                "parallel.ranks_per_group)\n",
                group.group_count, training_jobs(deck).size());

  const std::vector<Fault> faults = injected_faults();
  TrainSummary summary;
  const auto start = std::chrono::steady_clock::now();
  for (const TrainingJob& job : group.jobs) {
    if (options.stop_after_steps > 0 && summary.steps >= options.stop_after_steps) break;
    JobFileContext context{&deck, &layout, &job, group.world_size, group.group_size};
    const std::string results_path = job_results_path(deck, job.name);
    const std::string checkpoint_path = job_checkpoint_path(deck, job.name);
    if (writer) {
      remove_stale_temporaries(results_path, "[" + job.name + "] ", !options.quiet);
      remove_stale_temporaries(checkpoint_path, "[" + job.name + "] ", !options.quiet);
    }
    JobState state;
    if (options.restart && fs::exists(checkpoint_path)) {
      state = read_checkpoint(checkpoint_path, context);
      if (writer && !options.quiet)
        std::printf("[%s] restarting from %s at step %lld\n", job.name.c_str(), checkpoint_path.c_str(),
                    static_cast<long long>(state.next_step));
    } else {
      if (!options.restart && !deck.output.overwrite && (fs::exists(results_path) || fs::exists(checkpoint_path)))
        throw std::runtime_error(results_path + " (or its checkpoint) already exists: pass --restart to continue it, "
                                 "set output.overwrite = true to start again, or choose another output.dir");
      state.theta = initial_theta<float>(layout, job.seed);
      state.adam_m.assign(size, 0.0f);
      state.adam_v.assign(size, 0.0f);
    }
    if (writer) fs::create_directories(fs::path(checkpoint_path).parent_path());
    from_host_vector(theta, state.theta);
    from_host_vector(adam_m, state.adam_m);
    from_host_vector(adam_v, state.adam_v);
    auto save_model_if_due = [&](std::int64_t completed) {
      if (!std::binary_search(save_steps.begin(), save_steps.end(), completed)) return;
      for (const SavedModel& saved : state.models)
        if (saved.step == completed) return;
      state.models.push_back({completed, to_host_vector(theta)});
    };
    // What a failure can promise about the files on disk.
    std::int64_t checkpoint_step = options.restart && fs::exists(checkpoint_path) ? state.next_step : -1;
    auto write_files = [&](bool with_results) {
      checkpoint_step = state.next_step;
      state.theta = to_host_vector(theta);
      state.adam_m = to_host_vector(adam_m);
      state.adam_v = to_host_vector(adam_v);
      if (!writer) return;
      write_job_file(checkpoint_path, context, state, /*with_optimizer=*/true);
      if (with_results) write_job_file(results_path, context, state, /*with_optimizer=*/false);
    };
    save_model_if_due(state.next_step);

    const auto job_start = std::chrono::steady_clock::now();
    const std::int64_t first_step = state.next_step;
    std::vector<double> local_terms(2 * group.local_count), all_terms(2 * batch);
    for (std::int64_t step = first_step; step < tc.steps; ++step) {
      std::vector<double> betas = job.fixed_beta ? std::vector<double>(batch, job.log10_beta)
                                                 : draw_log10_betas(tc, job.seed, step);
      StepInputs in;
      in.log10_beta.assign(betas.begin() + group.local_begin, betas.begin() + group.local_begin + group.local_count);
      in.seed = job.seed, in.step = static_cast<std::uint64_t>(step);
      in.network_offset = static_cast<std::uint64_t>(group.local_begin);
      in.batch_total = batch, in.kl_factor = kl_warmup_factor(tc, step), in.objective = tc.objective;
      const StepResult r = model.forward(theta, in);
      Kokkos::deep_copy(gradient, 0.0f);
      model.backward(theta, gradient);
      const auto reduce_start = std::chrono::steady_clock::now();
      reducer.allreduce(gradient);
      summary.allreduce_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - reduce_start).count();
      const auto fault = std::find_if(faults.begin(), faults.end(), [&](const Fault& f) { return f.step == step; });
      if (fault != faults.end() && fault->kind != Fault::loss)
        Kokkos::deep_copy(Kokkos::subview(gradient, std::make_pair(0, 1)),
                          fault->kind == Fault::inf ? std::numeric_limits<float>::infinity()
                                                    : std::numeric_limits<float>::quiet_NaN());

      // Every rank of the group gets every network's loss and D_KL, in network order.
      for (std::int64_t b = 0; b < group.local_count; ++b) local_terms[b] = r.loss[b], local_terms[group.local_count + b] = r.kl[b];
      MPI_Allgather(local_terms.data(), static_cast<int>(2 * group.local_count), MPI_DOUBLE, all_terms.data(),
                    static_cast<int>(2 * group.local_count), MPI_DOUBLE, group.group);
      double objective = 0, loss_mean = 0, norm_mean = 0, kl_mean = 0;
      const double variance = target_variance(input_kind(deck.task.input), norm_kind(deck.task.target), n);
      std::vector<double> net_loss(batch), net_kl(batch);
      for (int rank = 0; rank < group.group_size; ++rank)
        for (std::int64_t b = 0; b < group.local_count; ++b) {
          const std::int64_t global = rank * group.local_count + b;
          net_loss[global] = all_terms[rank * 2 * group.local_count + b];
          net_kl[global] = all_terms[rank * 2 * group.local_count + group.local_count + b];
        }
      if (fault != faults.end() && fault->kind == Fault::loss) net_loss[0] = std::numeric_limits<double>::quiet_NaN();
      for (std::int64_t b = 0; b < batch; ++b) {
        const double beta = std::pow(10.0, betas[b]) * in.kl_factor;
        const double term = tc.objective == Objective::log_sum ? std::log(net_loss[b] + beta * net_kl[b])
                            : tc.objective == Objective::sum   ? net_loss[b] + beta * net_kl[b]
                                                               : std::log(net_loss[b]) + beta * net_kl[b];
        objective += term / batch, loss_mean += net_loss[b] / batch, kl_mean += net_kl[b] / batch;
        norm_mean += (variance > 0 ? net_loss[b] / variance : net_loss[b]) / batch;
      }
      const double norm = global_norm(gradient, norm_partials, norm_chunk);
      const double lr = learning_rate(tc, step);
      const bool finite = std::isfinite(objective) && std::isfinite(norm) && std::isfinite(kl_mean);
      if (!finite) {
        if (tc.nonfinite == NonFinitePolicy::stop)
          throw std::runtime_error("non-finite loss or gradient at step " + std::to_string(step) + " in seed group " +
                                   std::to_string(group.group_index) + " (job " + job.name + "; objective " +
                                   std::to_string(objective) + ", gradient norm " + std::to_string(norm) +
                                   "). Training stopped; " +
                                   (checkpoint_step >= 0 ? "the last checkpoint, " + checkpoint_path + " at step " +
                                                               std::to_string(checkpoint_step) + ", is intact"
                                                         : std::string("no checkpoint had been written yet")) +
                                   ". Set train.nonfinite = \"skip\" to skip such steps instead.");
        ++state.history.skipped;
        if (writer && !options.quiet)
          std::printf("[%s] step %lld: non-finite loss or gradient, step skipped (%lld so far)\n", job.name.c_str(),
                      static_cast<long long>(step), static_cast<long long>(state.history.skipped));
      } else {
        kernels::AdamStep a;
        a.lr = lr, a.beta1 = tc.adam_beta1, a.beta2 = tc.adam_beta2, a.eps = tc.adam_eps;
        a.grad_scale = norm > tc.clip_norm ? tc.clip_norm / norm : 1.0;
        a.t = step + 1;
        kernels::adam_update(ExecSpace(), theta, adam_m, adam_v, gradient, a);
      }

      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - job_start).count();
      History& h = state.history;
      h.step.push_back(step + 1);  // steps completed, as models/steps counts them
      h.objective.push_back(objective), h.loss.push_back(loss_mean), h.normalised.push_back(norm_mean);
      h.kl.push_back(kl_mean), h.grad_norm.push_back(norm), h.lr.push_back(lr);
      h.beta_upper.push_back(job.fixed_beta ? job.log10_beta : beta_upper(tc, step));
      h.wall_seconds.push_back(elapsed);
      h.network_log10_beta.insert(h.network_log10_beta.end(), betas.begin(), betas.end());
      h.network_loss.insert(h.network_loss.end(), net_loss.begin(), net_loss.end());
      h.network_kl.insert(h.network_kl.end(), net_kl.begin(), net_kl.end());
      ++summary.steps;

      const std::int64_t completed = step + 1;
      state.next_step = completed;
      save_model_if_due(completed);
      const bool interrupted = options.stop_after_steps > 0 && summary.steps >= options.stop_after_steps;
      const bool last = completed == tc.steps || interrupted;
      if (completed % deck.output.checkpoint_every == 0 || last) write_files(/*with_results=*/true);
      if (writer && !options.quiet && (completed % deck.output.log_every == 0 || last || step == first_step)) {
        const double rate = static_cast<double>(completed - first_step) / std::max(elapsed, 1e-9);
        std::printf("[%s] step %lld/%lld J=%.5g loss=%.5g norm_loss=%.4g kl=%.5g |g|=%.3g lr=%.3g "
                    "log10b<=%.2f %.2f steps/s eta %s\n",
                    job.name.c_str(), static_cast<long long>(completed), static_cast<long long>(tc.steps), objective,
                    loss_mean, norm_mean, kl_mean, norm, lr, h.beta_upper.back(), rate,
                    format_duration(static_cast<double>(tc.steps - completed) / rate).c_str());
        std::fflush(stdout);
      }
      if (interrupted) break;
    }
    if (first_step == tc.steps) write_files(/*with_results=*/true);  // a restart of a finished job
    if (writer && !options.quiet && state.history.skipped > 0)
      std::printf("[%s] %lld steps skipped for non-finite values (recorded in state/skipped_steps)\n", job.name.c_str(),
                  static_cast<long long>(state.history.skipped));
    if (writer) summary.results.push_back(results_path);
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.flops_per_step = 3.0 * model.forward_flops();
  return summary;
}

}  // namespace hnet
