// hnet draw SWEEP --beta B: draw one network of a sweep file (model.md §10) as DOT, SVG and PNG,
// laid out by Graphviz's force-directed engines.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "hnet/draw_network.hpp"

namespace hnet::driver {

Command add_draw_command(CLI::App& app) {
  auto r = std::make_shared<DrawRequest>();
  CLI::App* sub = app.add_subcommand("draw", "Draw one network of a sweep file with Graphviz (DOT, SVG, PNG)");
  sub->add_option("sweep", r->sweep, "Sweep file written by hnet sweep (<output.dir>/sweep.h5)")->required();
  sub->add_option("--beta", r->beta, "β (not log10); the nearest grid value is drawn")
      ->required()
      ->check(CLI::PositiveNumber);
  sub->add_option("--seed", r->seed, "Generation seed")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--n", r->n, "Input size (default: the deck's target.n)")->check(CLI::Range(1, 4096));
  sub->add_option("--step", r->step, "Training step of the saved model (default: the largest)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--mean", r->mean, "The network generated from the posterior mean instead of a sample");
  sub->add_option("--job", r->job, "Training job, by name (default: the first in the sweep)");
  sub->add_option("--output", r->output,
                  "Prefix of the files to write (default: <directory of SWEEP>/drawings/beta<B>_seed<S>_n<N>[_step<K>][_<job>][_mean], "
                  "B the drawn grid β)");
  sub->add_option("--layout", r->layout, "Graphviz layout engine")
      ->check(CLI::IsMember({"neato", "fdp"}))
      ->capture_default_str();
  sub->add_option("--omit-below", r->omit_fraction,
                  "Leave out edges with |w| below this fraction of their layer's largest |w|")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();

  return {sub, [r](MPI_Comm comm) {
            // Drawing is serial work; other ranks (if started under mpirun) have nothing to do.
            if (!is_root(comm)) return 0;
            const DrawnNetwork d = draw_sweep_network(*r);
            if (!d.warnings.empty()) std::cerr << r->layout << ": " << d.warnings << std::flush;
            const SweepRecord& rec = d.record;
            std::printf("drew beta=%.6g log10_beta=%.4f step=%lld seed=%lld n=%lld posterior=%s job=%s class=%s "
                        "normalised_loss=%.6g kl_bits=%.6g record=%lld files=%s,%s,%s\n",
                        std::pow(10.0, rec.log10_beta), rec.log10_beta, static_cast<long long>(rec.step),
                        static_cast<long long>(rec.generation_seed), static_cast<long long>(rec.n),
                        rec.posterior_mean ? "mean" : "sample", d.job_name.c_str(), d.class_name.c_str(),
                        rec.normalised_loss, rec.kl_bits, static_cast<long long>(rec.index), d.dot_path.c_str(),
                        d.svg_path.c_str(), d.png_path.c_str());
            std::fflush(stdout);
            return 0;
          }};
}

}  // namespace hnet::driver
