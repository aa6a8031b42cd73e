// hnet train DECK [--set ...] [--restart]
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "hnet/deck.hpp"
#include "hnet/deck_mpi.hpp"
#include "hnet/trainer.hpp"
#include "hnet/version.hpp"

namespace hnet::driver {

Command add_train_command(CLI::App& app) {
  struct Options {
    std::string deck_file;
    std::vector<std::string> overrides;
    TrainOptions train;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("train", "Train the hypernetwork described by a deck");
  sub->add_option("deck", o->deck_file, "TOML input deck")->required();
  add_overrides_option(sub, o->overrides);
  sub->add_flag("--restart", o->train.restart, "Continue every job from its newest complete checkpoint");
  sub->add_flag("--quiet", o->train.quiet, "No step lines");
  sub->add_option("--stop-after-steps", o->train.stop_after_steps,
                  "Stop with a checkpoint after this many steps (continue later with --restart)")
      ->check(CLI::NonNegativeNumber);
  return {sub, [o](MPI_Comm comm) {
            const Deck deck = load_deck_broadcast(o->deck_file, o->overrides, comm);
            int size = 1;
            MPI_Comm_size(comm, &size);
            const bool root = is_root(comm);
            // Refusals (memory, output.dir, another run on the same jobs) come before the deck.
            TrainingRun run(deck, o->train, comm);
            if (root) {
              std::printf("%s\n%s\n# ranks %d; resolved deck:\n%s\n", version_string().c_str(),
                          kokkos_configuration().c_str(), size, to_toml(deck).c_str());
              std::fflush(stdout);
            }
            const TrainSummary s = run.run();
            // Totals over all seed groups.
            double steps = static_cast<double>(s.steps), flops = s.flops_per_step * static_cast<double>(s.steps);
            double seconds = s.seconds;
            MPI_Allreduce(MPI_IN_PLACE, &flops, 1, MPI_DOUBLE, MPI_SUM, comm);
            MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
            if (root) {
              const double rate = steps / std::max(s.seconds, 1e-9);
              std::printf("PERFORMANCE steps/s=%.3f networks/s=%.1f GFLOP/s=%.2f seconds=%.1f allreduce_share=%.3f "
                          "ranks=%d (FLOP model: counted forward x3; rank 0's group for steps and networks)\n",
                          rate, rate * static_cast<double>(deck.train.batch_beta), flops / std::max(seconds, 1e-9) * 1e-9,
                          s.seconds, s.allreduce_seconds / std::max(s.seconds, 1e-9), size);
              for (const std::string& file : s.results) std::printf("results: %s\n", file.c_str());
              std::fflush(stdout);
            }
            return 0;
          }};
}

}  // namespace hnet::driver
