// hnet fit DECK [--n N] [--lr LR] [--steps S]: the direct baseline (no hypernetwork).
#include <cstdio>

#include "commands.hpp"
#include "hnet/deck_mpi.hpp"
#include "hnet/fit.hpp"

namespace hnet::driver {

Command add_fit_command(CLI::App& app) {
  struct Options {
    std::string deck_file;
    std::vector<std::string> overrides;
    std::vector<std::int64_t> sizes;
    FitOptions fit;
    bool steps_given = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("fit", "Train swish MLPs of the target size directly with Adam (baseline)");
  sub->add_option("deck", o->deck_file, "TOML input deck (task, target size, batch_x, classifier thresholds)")->required();
  add_overrides_option(sub, o->overrides);
  sub->add_option("--n", o->sizes, "Input sizes to fit (repeatable; default: the deck's target.n)");
  sub->add_option("--lr", o->fit.lr, "Adam learning rate (constant)")->capture_default_str();
  sub->add_option("--steps", o->fit.steps, "Adam steps (default: the deck's train.steps)");
  sub->add_option("--networks", o->fit.networks, "Independent fits per size")->capture_default_str();
  sub->add_option("--seed", o->fit.seed, "Seed of the initialisation and data")->capture_default_str();
  return {sub, [o, sub](MPI_Comm comm) {
            const Deck deck = load_deck_broadcast(o->deck_file, o->overrides, comm);
            if (sub->count("--steps") == 0) o->fit.steps = deck.train.steps;
            o->fit.log_every = deck.output.log_every * 10;
            o->fit.quiet = !is_root(comm);
            std::vector<std::int64_t> sizes = o->sizes.empty() ? std::vector<std::int64_t>{deck.target.n} : o->sizes;
            for (std::int64_t n : sizes) {
              FitOptions fo = o->fit;
              fo.n = n;
              const FitResult r = fit_directly(deck, fo);
              if (!is_root(comm)) continue;
              for (std::size_t b = 0; b < r.networks.size(); ++b)
                std::printf("fit n=%lld network=%zu lr=%g steps=%lld normalised=%.5g O1=%.3f O2=%.3f O3=%.3f "
                            "coverage=%.3f class=%s\n",
                            static_cast<long long>(n), b, fo.lr, static_cast<long long>(fo.steps), r.normalised[b],
                            r.order[b].o1, r.order[b].o2, r.order[b].o3, r.order[b].coverage, to_string(r.classes[b]));
              std::fflush(stdout);
            }
            return 0;
          }};
}

}  // namespace hnet::driver
