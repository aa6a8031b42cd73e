// hnet draw SWEEP --beta B: draw one network of a sweep file (model.md §10) as DOT, SVG and PNG,
// laid out by Graphviz's force-directed engines.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "hnet/drawing.hpp"
#include "hnet/file_io.hpp"

namespace hnet::driver {

Command add_draw_command(CLI::App& app) {
  struct Options {
    std::string sweep;
    double beta = 0;
    std::int64_t seed = 0;
    std::int64_t n = 0;
    std::int64_t step = -1;
    bool mean = false;
    std::string job;
    std::string output;
    std::string layout = "neato";
    double omit = 0.02;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("draw", "Draw one network of a sweep file with Graphviz (DOT, SVG, PNG)");
  sub->add_option("sweep", o->sweep, "Sweep file written by hnet sweep (<output.dir>/sweep.h5)")->required();
  sub->add_option("--beta", o->beta, "β (not log10); the nearest grid value is drawn")
      ->required()
      ->check(CLI::PositiveNumber);
  sub->add_option("--seed", o->seed, "Generation seed")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--n", o->n, "Input size (default: the deck's target.n)")->check(CLI::Range(1, 4096));
  sub->add_option("--step", o->step, "Training step of the saved model (default: the largest)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--mean", o->mean, "The network generated from the posterior mean instead of a sample");
  sub->add_option("--job", o->job, "Training job, by name (default: the first in the sweep)");
  sub->add_option("--output", o->output,
                  "Prefix of the files to write (default: <directory of SWEEP>/drawings/beta<B>_seed<S>_n<N>[_step<K>][_<job>][_mean], "
                  "B the drawn grid β)");
  sub->add_option("--layout", o->layout, "Graphviz layout engine")
      ->check(CLI::IsMember({"neato", "fdp"}))
      ->capture_default_str();
  sub->add_option("--omit-below", o->omit, "Leave out edges with |w| below this fraction of their layer's largest |w|")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();

  return {sub, [o](MPI_Comm comm) {
            // Drawing is serial work; other ranks (if started under mpirun) have nothing to do.
            if (!is_root(comm)) return 0;
            const SweepContents sweep = read_sweep(o->sweep);
            RecordQuery query;
            query.log10_beta = std::log10(o->beta);
            query.generation_seed = o->seed;
            query.n = o->n;
            query.step = o->step;
            query.posterior_mean = o->mean;
            if (!o->job.empty()) {
              query.job = -1;
              for (std::size_t k = 0; k < sweep.jobs.size(); ++k)
                if (sweep.jobs[k] == o->job) query.job = static_cast<std::int64_t>(k);
              if (query.job < 0) throw std::runtime_error(o->sweep + ": no job named " + o->job + "\n" + sweep.describe());
            }
            const SweepRecord& r = select_record(sweep, query);
            const HostNetwork net = read_sweep_network(sweep, r);
            const std::string job_name =
                r.job < static_cast<std::int64_t>(sweep.jobs.size()) ? sweep.jobs[r.job] : std::to_string(r.job);
            const std::string class_name = sweep.class_name(r.algorithm_class);
            const char* posterior = r.posterior_mean ? "mean" : "sample";

            std::string prefix = o->output;
            if (prefix.empty()) {
              // The drawn grid β, not the requested one: the name says what the picture shows.
              char beta[40];
              std::snprintf(beta, sizeof beta, "%.3g", std::pow(10.0, r.log10_beta));
              // Step and job appear only when chosen, so the usual name stays short.
              std::string name = "beta" + std::string(beta) + "_seed" + std::to_string(o->seed) + "_n" + std::to_string(r.n);
              if (o->step >= 0) name += "_step" + std::to_string(o->step);
              if (query.job > 0) name += "_" + job_name;
              if (o->mean) name += "_mean";
              prefix = (std::filesystem::path(o->sweep).parent_path() / "drawings" / name).string();
            }
            const auto parent = std::filesystem::path(prefix).parent_path();
            if (!parent.empty()) require_writable_directory(parent.string(), "the directory of the drawings");

            DrawingOptions drawing;
            drawing.layout = o->layout;
            drawing.omit_fraction = o->omit;
            char line[300];
            std::snprintf(line, sizeof line, "β = %.3g (log₁₀β = %.2f)   class: %s", std::pow(10.0, r.log10_beta),
                          r.log10_beta, class_name.c_str());
            drawing.label.emplace_back(line);
            std::snprintf(line, sizeof line, "normalised loss %.4g   D_KL %.4g bits   n = %lld, m = %lld",
                          r.normalised_loss, r.kl_bits, static_cast<long long>(r.n), static_cast<long long>(r.m));
            drawing.label.emplace_back(line);
            std::snprintf(line, sizeof line, "step %lld, generation seed %lld, posterior %s, job %s",
                          static_cast<long long>(r.step), static_cast<long long>(r.generation_seed), posterior,
                          job_name.c_str());
            drawing.label.emplace_back(line);
            std::snprintf(line, sizeof line,
                          "Source: %s, record %lld (networks/n%lld row %lld); O1 %.3f, O2 %.3f, O3 %.3f, coverage %.3f.",
                          o->sweep.c_str(), static_cast<long long>(r.index), static_cast<long long>(r.n),
                          static_cast<long long>(r.network_row), r.o1, r.o2, r.o3, r.coverage);
            drawing.comments.emplace_back(line);

            const std::string dot_path = prefix + ".dot", svg_path = prefix + ".svg", png_path = prefix + ".png";
            write_file_atomically(dot_path, network_dot(net, drawing));
            std::string warnings;
            try {
              warnings = render_graphviz(o->layout, dot_path, {{"svg", svg_path}, {"png", png_path}});
            } catch (const std::exception& e) {
              throw std::runtime_error(std::string(e.what()) + "\n(the DOT file " + dot_path + " was written)");
            }
            if (!warnings.empty()) std::cerr << o->layout << ": " << warnings << std::flush;
            std::printf("drew beta=%.6g log10_beta=%.4f step=%lld seed=%lld n=%lld posterior=%s job=%s class=%s "
                        "normalised_loss=%.6g kl_bits=%.6g record=%lld files=%s,%s,%s\n",
                        std::pow(10.0, r.log10_beta), r.log10_beta, static_cast<long long>(r.step),
                        static_cast<long long>(r.generation_seed), static_cast<long long>(r.n), posterior,
                        job_name.c_str(), class_name.c_str(), r.normalised_loss, r.kl_bits,
                        static_cast<long long>(r.index), dot_path.c_str(), svg_path.c_str(), png_path.c_str());
            std::fflush(stdout);
            return 0;
          }};
}

}  // namespace hnet::driver
