// One training step of hnet against what the machine can do, measured in the same run:
//   (a) the SGEMM rate of KokkosBlas::gemm on n = 1024 float matrices (the BLAS TPL, OpenBLAS);
//   (b) STREAM-like copy bandwidth of a Kokkos kernel (a[i] = b[i], 2 × 128 MiB);
//   (c) one training step, Model<float>::forward + backward, at the quick (inputs/quick.toml) and
//       paper-scale (inputs/paper.toml) configurations, as GFLOP/s of the counted FLOP model
//       (Model::forward_flops() × 3) and as a percentage of (a); the optimizer part of a step
//       (global gradient norm + Adam on θ) is timed separately;
// then (d) the step's share of SGEMM again with the two interleaved in one loop (robust to a host
// whose speed drifts between (a) and (c)), and a per-kernel profile of one step at each
// configuration, taken with Kokkos Tools callbacks (every Kokkos kernel of the OpenMP and Serial
// backends runs synchronously, so the time between its begin and end callbacks is its run time;
// on a GPU both callbacks fence).
//
//   OMP_NUM_THREADS=2 OMP_PROC_BIND=false build/bin/hnet_step_benchmark
//   ... --benchmark_filter=TrainStep/paper --benchmark_repetitions=3   (Google Benchmark flags)
//   ... --profile_steps=N   (steps per configuration in the kernel profile; 0: no profile)
//   ... --interleaved_rounds=N   (SGEMM, copy and step interleaved, N rounds per configuration; 0: none)
// The decks are read from inputs/quick.toml and inputs/paper.toml when run from the repository
// root, else built-in copies of their model, target and train sections are used.
#include <benchmark/benchmark.h>

#include <KokkosBlas3_gemm.hpp>
#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "hnet/deck.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/model.hpp"
#include "hnet/schedule.hpp"
#include "hnet/task_config.hpp"
#include "hnet/version.hpp"
#include "kernels/adam.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Configurations.

// The model, target and train sections of inputs/quick.toml and inputs/paper.toml.
const char* const builtin_quick = R"(
[target]
n = 16
hidden_ratio = 3
[model]
d = 32
heads = 4
blocks = 2
latent = 4
readout = "edge_bilinear"
sigma = "bounded"
prior_scale = 0.2
posterior_identity = true
[train]
batch_beta = 8
batch_x = 256
log10_beta_min = -7.0
log10_beta_max = 1.0
objective = "log_sum"
lr = 3e-3
)";
const char* const builtin_paper = R"(
[target]
n = 16
hidden_ratio = 3
[model]
d = 64
heads = 4
blocks = 4
latent = 8
readout = "edge_bilinear"
sigma = "bounded"
prior_scale = 0.2
posterior_identity = true
[train]
batch_beta = 32
batch_x = 1024
log10_beta_min = -7.0
log10_beta_max = 1.0
objective = "log_sum"
lr = 1e-3
)";

struct Config {
  std::string name, source;
  hnet::Deck deck;
};

Config load_config(const std::string& name) {
  const std::string path = "inputs/" + name + ".toml";
  if (std::filesystem::exists(path)) return {name, path, hnet::load_deck(path)};
  return {name, "built-in copy of " + path, hnet::parse_deck(name == "quick" ? builtin_quick : builtin_paper, name)};
}

const std::vector<Config>& configs() {
  static const std::vector<Config> all = {load_config("quick"), load_config("paper")};
  return all;
}

// A model with its θ and gradient, ready to step.
struct Stepper {
  const Config& config;
  hnet::HypernetLayout layout;
  hnet::Model<float> model;
  hnet::View1<float> theta, gradient, adam_m, adam_v;
  hnet::View1<double> norm_partials;
  std::int64_t step = 0;
  static constexpr std::int64_t norm_chunk = 4096;  // as in src/hnet/trainer.cpp

  explicit Stepper(const Config& c)
      : config(c),
        layout(hnet::build_layout(hnet::model_shape(c.deck))),
        model(layout, c.deck.train.batch_beta, c.deck.target.n, c.deck.target.hidden(), c.deck.train.batch_x,
              hnet::input_kind(c.deck.task.input), hnet::norm_kind(c.deck.task.target)),
        theta("hnet::step_benchmark::theta", layout.theta_size()),
        gradient("hnet::step_benchmark::gradient", layout.theta_size()),
        adam_m("hnet::step_benchmark::adam_m", layout.theta_size()),
        adam_v("hnet::step_benchmark::adam_v", layout.theta_size()),
        norm_partials("hnet::step_benchmark::norm_partials", (layout.theta_size() + norm_chunk - 1) / norm_chunk) {
    const std::vector<float> initial = hnet::initial_theta<float>(layout, c.deck.train.seed);
    auto h = Kokkos::create_mirror_view(theta);
    std::copy(initial.begin(), initial.end(), h.data());
    Kokkos::deep_copy(theta, h);
  }

  // Model<float>::forward + backward, as in hnet::train (src/hnet/trainer.cpp).
  void forward_backward() {
    const hnet::TrainConfig& tc = config.deck.train;
    hnet::StepInputs in;
    in.log10_beta = hnet::draw_log10_betas(tc, tc.seed, step);
    in.seed = tc.seed, in.step = static_cast<std::uint64_t>(step);
    in.batch_total = tc.batch_beta, in.objective = tc.objective;
    model.forward(theta, in);
    Kokkos::deep_copy(gradient, 0.0f);
    model.backward(theta, gradient);
    Kokkos::fence();
    ++step;
  }

  // The rest of a training step: global gradient norm (fixed chunks, summed in order) and Adam.
  void optimizer() {
    const hnet::ExecSpace exec;
    hnet::kernels::sum_of_squares_partials(exec, norm_partials, gradient, norm_chunk);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), norm_partials);
    double s = 0.0;
    for (std::size_t c = 0; c < h.extent(0); ++c) s += h(c);
    const double norm = std::sqrt(s);
    hnet::kernels::AdamStep a;
    a.lr = 1e-9;  // keep θ where it is: the benchmark times the work, not the training
    a.grad_scale = norm > 1.0 ? 1.0 / norm : 1.0;
    a.t = step + 1;
    hnet::kernels::adam_update(exec, theta, adam_m, adam_v, gradient, a);
    Kokkos::fence();
  }

  double flops_per_step() const { return 3.0 * model.forward_flops(); }
};

// ---------------------------------------------------------------------------------------------
// Benchmarks. Wall time throughout: the OpenMP workers' time is not in the main thread's CPU time.

constexpr std::int64_t gemm_n = 1024;
constexpr double gemm_flops = 2.0 * gemm_n * gemm_n * gemm_n;
constexpr std::int64_t stream_n = std::int64_t(1) << 25;  // 128 MiB per float array

// Calls f until at least `seconds` have passed and it ran `min_calls` times; seconds per call.
template <class F>
double seconds_per_call(double seconds, std::int64_t min_calls, F&& f) {
  std::int64_t calls = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    f();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds || calls < min_calls);
  return elapsed / static_cast<double>(calls);
}

// KokkosBlas::gemm on n = gemm_n float matrices; rate(): bursts of at least `seconds`, as GFLOP/s.
class SgemmBurst {
 public:
  SgemmBurst()
      : A_("hnet::step_benchmark::A", gemm_n, gemm_n), B_("hnet::step_benchmark::B", gemm_n, gemm_n),
        C_("hnet::step_benchmark::C", gemm_n, gemm_n) {
    Kokkos::deep_copy(A_, 1.0f / static_cast<float>(gemm_n));
    Kokkos::deep_copy(B_, 0.5f);
    run_once();  // thread start-up outside any timing
  }
  double rate(double seconds) { return gemm_flops * 1e-9 / seconds_per_call(seconds, 1, [&] { run_once(); }); }

  void run_once() {
    KokkosBlas::gemm("N", "N", 1.0f, A_, B_, 0.0f, C_);
    Kokkos::fence();
  }

 private:
  hnet::View2<float> A_, B_, C_;
};

void BM_Sgemm(benchmark::State& state) {
  SgemmBurst sgemm;
  for (auto _ : state) sgemm.run_once();
  state.counters["GFLOP/s"] = benchmark::Counter(gemm_flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Sgemm)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

// a[i] = b[i] over two float arrays of n elements, a Kokkos kernel; rate(): bursts of at least
// `seconds`, as GB/s in STREAM's convention (bytes read + bytes written, no write-allocate traffic).
class CopyBurst {
 public:
  explicit CopyBurst(std::int64_t n) : a_("hnet::step_benchmark::a", n), b_("hnet::step_benchmark::b", n) {
    Kokkos::deep_copy(b_, 1.0f);
    run_once();  // first touch of a
  }
  double bytes() const { return 2.0 * sizeof(float) * static_cast<double>(a_.extent(0)); }
  double rate(double seconds) { return bytes() * 1e-9 / seconds_per_call(seconds, 1, [&] { run_once(); }); }

  void run_once() {
    const hnet::View1<float> a = a_, b = b_;
    Kokkos::parallel_for(
        "hnet::step_benchmark::stream_copy", Kokkos::RangePolicy<hnet::ExecSpace>(0, a.extent(0)),
        KOKKOS_LAMBDA(const std::int64_t i) { a(i) = b(i); });
    Kokkos::fence();
  }

 private:
  hnet::View1<float> a_, b_;
};

void BM_StreamCopy(benchmark::State& state) {
  CopyBurst copy(state.range(0));
  for (auto _ : state) copy.run_once();
  state.counters["GB/s"] = benchmark::Counter(copy.bytes() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_StreamCopy)->Arg(stream_n)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

void BM_TrainStep(benchmark::State& state, const Config* config) {
  Stepper s(*config);
  s.forward_backward();  // first touch of the workspace
  for (auto _ : state) s.forward_backward();
  state.counters["GFLOP/s"] = benchmark::Counter(s.flops_per_step() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["steps/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/step"] = s.flops_per_step() * 1e-9;
}

void BM_Optimizer(benchmark::State& state, const Config* config) {
  Stepper s(*config);
  s.forward_backward();
  s.optimizer();
  for (auto _ : state) s.optimizer();
  state.counters["theta"] = static_cast<double>(s.layout.theta_size());
}

// ---------------------------------------------------------------------------------------------
// Collects every result while the console reporter prints it.
class Recorder : public benchmark::ConsoleReporter {
 public:
  Recorder() : ConsoleReporter(isatty(fileno(stdout)) ? OO_ColorTabular : OO_Tabular) {}
  struct Result {
    double seconds = 0;  // per iteration, wall
    std::map<std::string, double> counters;
  };
  std::map<std::string, Result> results;  // by run name; aggregates under "name_mean" etc.

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      std::string name = run.benchmark_name();
      Result r;
      r.seconds = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      for (const auto& [key, counter] : run.counters) r.counters[key] = counter.value;
      // Repetitions: keep the median when there is one, else the best single run.
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name != "median") continue;
        name = run.run_name.str();
        r.counters["__median"] = 1;
      } else if (results.count(name) && results[name].counters.count("__median")) {
        continue;
      } else if (results.count(name) && results[name].seconds <= r.seconds) {
        continue;
      }
      results[name] = r;
    }
    ConsoleReporter::ReportRuns(runs);
  }

  const Result* find(const std::string& prefix) const {
    for (const auto& [name, r] : results)
      if (name.rfind(prefix, 0) == 0) return &r;
    return nullptr;
  }
};

// ---------------------------------------------------------------------------------------------
// Per-kernel profile through the Kokkos Tools callbacks.
namespace profile {

struct Entry {
  double seconds = 0;
  std::int64_t calls = 0;
};
std::map<std::string, Entry> table;
std::vector<std::pair<std::string, Clock::time_point>> open;  // kernel id - 1 → (name, start)
Clock::time_point copy_start;
bool in_copy = false;  // a deep_copy that fills runs a kernel of its own: count it once

// GPU kernels run asynchronously: without a fence at both callbacks a kernel's time would land on
// whichever later call waits (measured on an H200: 58 % of the step on one kernel that happened
// to wait). The host backends run every kernel synchronously and skip the fence.
void settle() {
  if (!hnet::kernels::on_host<hnet::ExecSpace>) hnet::ExecSpace().fence();
}

void begin_kernel(const char* name, std::uint32_t, std::uint64_t* id) {
  if (in_copy) {
    *id = 0;
    return;
  }
  settle();
  open.emplace_back(name, Clock::now());
  *id = open.size();
}
void end_kernel(std::uint64_t id) {
  if (id == 0) return;
  settle();
  const auto& [name, start] = open.at(id - 1);
  Entry& e = table[name];
  e.seconds += std::chrono::duration<double>(Clock::now() - start).count();
  ++e.calls;
}
void begin_copy(Kokkos_Profiling_SpaceHandle, const char*, const void*, Kokkos_Profiling_SpaceHandle, const char*,
                const void*, std::uint64_t) {
  in_copy = true;
  settle();
  copy_start = Clock::now();
}
void end_copy() {
  in_copy = false;
  Entry& e = table["Kokkos::deep_copy"];
  e.seconds += std::chrono::duration<double>(Clock::now() - copy_start).count();
  ++e.calls;
}

// Kernel → group for the summary.
std::string group_of(const std::string& name) {
  struct Rule {
    const char* prefix;
    const char* group;
  };
  static const Rule rules[] = {
      {"hnet::linear_forward", "linear layers (forward)"},
      {"hnet::linear_backward", "linear layers (backward)"},
      {"hnet::attention", "attention (scores, softmax, sums)"},
      {"hnet::layernorm", "layer norm"},
      {"hnet::edge_layernorm", "edge inputs + their layer norm (fused)"},
      {"hnet::edge_input_forward", "edge inputs, layer norm, edge MLP's first layer (fused)"},
      {"hnet::edge_input_backward", "edge inputs, layer norm, edge MLP's first layer (fused)"},
      {"hnet::concat_layernorm", "layer norm"},
      {"hnet::swish", "swish"},
      {"hnet::generate_parameters", "P(beta) = P0 + U phi"},
      {"hnet::phi_", "phi MLP"},
      {"hnet::generated_mlp", "generated networks"},
      {"hnet::task_data", "task data (inputs, targets)"},
      {"hnet::task_inputs", "task data (inputs, targets)"},
      {"hnet::draw_identity", "identity features"},
      {"hnet::shifted_identity", "identity features"},
      {"hnet::identity_", "identity features"},
      {"hnet::latent", "latent channel"},
      {"hnet::kl_sum", "latent channel"},
      {"hnet::readout", "read-out"},
      {"Kokkos::deep_copy", "copies and zeroing"},
      {"hnet::clear_arena", "copies and zeroing"},
  };
  for (const Rule& r : rules)
    if (name.rfind(r.prefix, 0) == 0) return r.group;
  return "gathers, concats, type vectors, adds";
}

void print_table(const std::string& title, const std::map<std::string, Entry>& rows, double total, double steps,
                 std::size_t limit) {
  std::vector<std::pair<std::string, Entry>> sorted(rows.begin(), rows.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  std::printf("  %-46s %9s %7s %9s\n", title.c_str(), "ms/step", "share", "calls/step");
  double listed = 0;
  for (std::size_t k = 0; k < sorted.size() && k < limit; ++k) {
    const auto& [name, e] = sorted[k];
    listed += e.seconds;
    std::printf("  %-46s %9.2f %6.1f%% %9.0f\n", name.c_str(), 1e3 * e.seconds / steps, 100.0 * e.seconds / total,
                static_cast<double>(e.calls) / steps);
  }
  if (sorted.size() > limit)
    std::printf("  %-46s %9.2f %6.1f%%\n", "(the rest)", 1e3 * (total - listed) / steps, 100.0 * (total - listed) / total);
}

}  // namespace profile

// ---------------------------------------------------------------------------------------------
// SGEMM and the step interleaved: S C T S C T … S in one process, each T's rate set against the mean
// of the two SGEMM bursts around it. On a shared host the machine's speed drifts over a minute (other
// tenants, reclaim threads); Google Benchmark measures SGEMM first and the paper step a minute
// later, so their ratio carries that drift. Interleaving seconds apart cancels most of it. The copy
// burst C before each T says how much memory bandwidth the host left us in that round: other
// tenants share the memory system and the L3, and the step (unlike SGEMM) streams its activations.

struct InterleavedRound {
  double sgemm_before = 0, sgemm_after = 0;  // GFLOP/s
  double copy = 0;                           // GB/s, just before the steps
  double step_seconds = 0;                   // per forward + backward
  double percent = 0;                        // step GFLOP/s / mean SGEMM GFLOP/s
};

constexpr double interleaved_sgemm_seconds = 0.5, interleaved_copy_seconds = 0.25, interleaved_step_seconds = 1.0;

std::vector<InterleavedRound> run_interleaved(const Config& config, int rounds) {
  Stepper s(config);
  s.forward_backward();  // first touch
  SgemmBurst sgemm;
  CopyBurst copy(stream_n);
  std::vector<InterleavedRound> out(rounds);
  double before = sgemm.rate(interleaved_sgemm_seconds);
  for (InterleavedRound& r : out) {
    r.copy = copy.rate(interleaved_copy_seconds);
    r.step_seconds = seconds_per_call(interleaved_step_seconds, 2, [&] { s.forward_backward(); });
    r.sgemm_before = before;
    r.sgemm_after = before = sgemm.rate(interleaved_sgemm_seconds);
    const double step_rate = s.flops_per_step() * 1e-9 / r.step_seconds;
    r.percent = 100.0 * step_rate / (0.5 * (r.sgemm_before + r.sgemm_after));
  }
  return out;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void print_interleaved(const Config& config, int rounds) {
  const std::vector<InterleavedRound> r = run_interleaved(config, rounds);
  std::vector<double> percent, ms, copy;
  for (const InterleavedRound& x : r)
    percent.push_back(x.percent), ms.push_back(1e3 * x.step_seconds), copy.push_back(x.copy);
  const auto [low, high] = std::minmax_element(percent.begin(), percent.end());
  const auto [copy_low, copy_high] = std::minmax_element(copy.begin(), copy.end());
  std::printf("  interleaved %-6s (%d rounds of SGEMM %.1f s | copy %.2f s | steps >= %.1f s | SGEMM ...): median "
              "%.1f%% of SGEMM (rounds %.1f-%.1f%%), median step %.2f ms, copy %.1f-%.1f GB/s\n",
              config.name.c_str(), rounds, interleaved_sgemm_seconds, interleaved_copy_seconds,
              interleaved_step_seconds, median_of(percent), *low, *high, median_of(ms), *copy_low, *copy_high);
  for (std::size_t k = 0; k < r.size(); ++k)
    std::printf("    round %zu: SGEMM %.1f | copy %.1f GB/s | step %.2f ms | SGEMM %.1f GFLOP/s -> %.1f%%\n", k + 1,
                r[k].sgemm_before, r[k].copy, 1e3 * r[k].step_seconds, r[k].sgemm_after, r[k].percent);
}

// Returns the seconds spent in the linear-layer kernels and the counted forward FLOPs. The fused
// edge-input kernels count as linear layers: their FLOPs (the edge MLP's first layer, each way)
// are in linear_forward_flops, and a layer norm's work is a few per cent of their time.
std::pair<double, double> run_profile(const Config& config, int steps) {
  Stepper s(config);
  s.forward_backward();  // first touch, outside the profile
  namespace tools = Kokkos::Tools::Experimental;
  const tools::EventSet saved = tools::get_callbacks();
  profile::table.clear();
  tools::set_begin_parallel_for_callback(profile::begin_kernel);
  tools::set_end_parallel_for_callback(profile::end_kernel);
  tools::set_begin_parallel_reduce_callback(profile::begin_kernel);
  tools::set_end_parallel_reduce_callback(profile::end_kernel);
  tools::set_begin_parallel_scan_callback(profile::begin_kernel);
  tools::set_end_parallel_scan_callback(profile::end_kernel);
  tools::set_begin_deep_copy_callback(profile::begin_copy);
  tools::set_end_deep_copy_callback(profile::end_copy);
  const auto start = Clock::now();
  for (int k = 0; k < steps; ++k) {
    profile::open.clear();
    s.forward_backward();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  tools::set_callbacks(saved);

  double in_kernels = 0;
  std::map<std::string, profile::Entry> groups;
  for (const auto& [name, e] : profile::table) {
    in_kernels += e.seconds;
    profile::Entry& g = groups[profile::group_of(name)];
    g.seconds += e.seconds, g.calls += e.calls;
  }
  groups["host code between kernels"] = {wall - in_kernels, 0};
  const double per_step = wall / steps;
  std::printf("\nKernel profile, %s (%d steps of forward + backward, %.1f ms/step with the callbacks on):\n",
              config.name.c_str(), steps, 1e3 * per_step);
  profile::print_table("group", groups, wall, steps, groups.size());
  std::printf("\n");
  profile::print_table("kernel", profile::table, wall, steps, 20);
  double linear_seconds = 0;
  for (const auto& [name, e] : profile::table)
    if (name.rfind("hnet::linear_", 0) == 0 || name.rfind("hnet::edge_input_", 0) == 0) linear_seconds += e.seconds;
  return {linear_seconds, s.model.forward_flops()};
}

// ---------------------------------------------------------------------------------------------

// Linear-layer FLOPs of one forward (the counted model less attention, P(β) and the generated
// networks), so the linear kernels' own rate can be printed.
double linear_forward_flops(const Config& c, double forward_flops) {
  const hnet::HypernetLayout layout = hnet::build_layout(hnet::model_shape(c.deck));
  const double B = static_cast<double>(c.deck.train.batch_beta), S = static_cast<double>(c.deck.train.batch_x);
  const double n = static_cast<double>(c.deck.target.n), m = static_cast<double>(c.deck.target.hidden());
  const double E = n * m + m, d = static_cast<double>(c.deck.model.d);
  const double attention = 2.0 * static_cast<double>(c.deck.model.blocks) * 8.0 * B * 2.0 * E * d;
  const double beta = 2.0 * B * static_cast<double>(layout.p() * layout.shape.phi_dim);
  const double generated = 2.0 * B * S * n * m + 8.0 * B * S * m;
  return forward_flops - attention - beta - generated;
}

void print_summary(const Recorder& rec, int profile_steps, int interleaved_rounds) {
  std::printf("\nSummary (%s; Kokkos %s threads: %d; OMP_NUM_THREADS=%s OMP_PROC_BIND=%s OPENBLAS_NUM_THREADS=%s "
              "OPENBLAS_CORETYPE=%s)\n",
              hnet::ExecSpace::name(), hnet::ExecSpace::name(), hnet::ExecSpace().concurrency(),
              std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "(unset)",
              std::getenv("OMP_PROC_BIND") ? std::getenv("OMP_PROC_BIND") : "(unset)",
              std::getenv("OPENBLAS_NUM_THREADS") ? std::getenv("OPENBLAS_NUM_THREADS") : "(unset)",
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)");
  const Recorder::Result* gemm = rec.find("BM_Sgemm");
  const Recorder::Result* stream = rec.find("BM_StreamCopy");
  const double sgemm = gemm ? gemm->counters.at("GFLOP/s") : 0.0;
  if (gemm) std::printf("  SGEMM (KokkosBlas::gemm, n=%lld, float): %.1f GFLOP/s\n", static_cast<long long>(gemm_n), sgemm);
  if (stream) std::printf("  STREAM-like copy (Kokkos, 2 x %lld MiB):  %.1f GB/s\n",
                          static_cast<long long>(stream_n * 4 / (1 << 20)), stream->counters.at("GB/s"));
  for (const Config& c : configs()) {
    const Recorder::Result* step = rec.find("BM_TrainStep/" + c.name);
    if (!step) continue;
    const double rate = step->counters.at("GFLOP/s"), per_step = step->counters.at("GFLOP/step");
    const Recorder::Result* opt = rec.find("BM_Optimizer/" + c.name);
    const hnet::HypernetLayout layout = hnet::build_layout(hnet::model_shape(c.deck));
    std::printf("  train step %-6s (%s): p=%lld theta=%lld, %.3f GFLOP/step counted, %.2f ms/step forward+backward "
                "= %.2f steps/s, %.2f GFLOP/s",
                c.name.c_str(), c.source.c_str(), static_cast<long long>(layout.p()),
                static_cast<long long>(layout.theta_size()), per_step, 1e3 * step->seconds, 1.0 / step->seconds, rate);
    if (sgemm > 0) std::printf(" = %.1f%% of SGEMM", 100.0 * rate / sgemm);
    if (opt) std::printf("; optimizer (norm + Adam) %.2f ms, full step %.2f steps/s", 1e3 * opt->seconds,
                         1.0 / (step->seconds + opt->seconds));
    std::printf("\n");
  }
  if (interleaved_rounds > 0)
    for (const Config& c : configs())
      if (rec.find("BM_TrainStep/" + c.name)) print_interleaved(c, interleaved_rounds);
  if (profile_steps <= 0) return;
  for (const Config& c : configs()) {
    if (!rec.find("BM_TrainStep/" + c.name)) continue;
    const int steps = c.name == "quick" ? 4 * profile_steps : profile_steps;
    const auto [lin_seconds, forward_flops] = run_profile(c, steps);
    // The linear kernels' own rate, from the profile's times.
    const double lin_flops = 3.0 * linear_forward_flops(c, forward_flops);
    const double lin_rate = lin_flops * steps / lin_seconds * 1e-9;
    std::printf("  linear layers alone (with the fused edge-input layer): %.3f GFLOP/step, %.2f GFLOP/s",
                lin_flops * 1e-9, lin_rate);
    if (sgemm > 0) std::printf(" = %.1f%% of SGEMM", 100.0 * lin_rate / sgemm);
    std::printf("\n");
  }
}

// OpenBLAS reads OPENBLAS_CORETYPE once, when it is loaded: a value inherited from the environment
// (some shared hosts export OPENBLAS_CORETYPE=Haswell) pins its SGEMM to older kernels, and every
// "% of SGEMM" would be taken against a rate below the machine's (on a 2-vCPU AMD EPYC with
// AVX-512: Haswell 140-190, its own choice Cooperlake 300-350 GFLOP/s). So the benchmark starts
// itself again without it, unless --keep_openblas_coretype asks to measure under the pinned kernels.
void restart_without_openblas_coretype(int argc, char** argv) {
  bool keep = false;
  for (int k = 1; k < argc; ++k) keep = keep || std::strcmp(argv[k], "--keep_openblas_coretype") == 0;
  const char* pinned = std::getenv("OPENBLAS_CORETYPE");
  if (keep || !pinned) return;
  std::fprintf(stderr, "hnet_step_benchmark: OPENBLAS_CORETYPE=%s pins OpenBLAS's kernels; restarting without it so "
               "that SGEMM runs at the machine's rate (--keep_openblas_coretype keeps it)\n", pinned);
  unsetenv("OPENBLAS_CORETYPE");
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "hnet_step_benchmark: could not restart (%s); measuring with the pinned kernels\n",
               std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  restart_without_openblas_coretype(argc, argv);
  setenv("OMP_PROC_BIND", "false", 0);  // as perf/bench_main.cpp: threads unbound unless the user says
  Kokkos::ScopeGuard kokkos(argc, argv);
  int profile_steps = 2, interleaved_rounds = 5;
  std::vector<char*> args;
  for (int k = 0; k < argc; ++k) {
    if (std::strncmp(argv[k], "--profile_steps=", 16) == 0)
      profile_steps = std::atoi(argv[k] + 16);
    else if (std::strncmp(argv[k], "--interleaved_rounds=", 21) == 0)
      interleaved_rounds = std::atoi(argv[k] + 21);
    else if (std::strcmp(argv[k], "--keep_openblas_coretype") != 0)
      args.push_back(argv[k]);
  }
  int count = static_cast<int>(args.size());
  for (const Config& c : configs()) {
    benchmark::RegisterBenchmark(("BM_TrainStep/" + c.name).c_str(), BM_TrainStep, &c)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MinTime(c.name == "quick" ? 2.0 : 8.0);
    benchmark::RegisterBenchmark(("BM_Optimizer/" + c.name).c_str(), BM_Optimizer, &c)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  std::printf("%s\n", hnet::kokkos_configuration().c_str());
  Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  print_summary(recorder, profile_steps, interleaved_rounds);
  benchmark::Shutdown();
  return 0;
}
