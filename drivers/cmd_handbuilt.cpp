// hnet handbuilt: build the reference networks of model.md §9, fit the output bias and evaluate
// them on the fixed evaluation set through the generated-MLP kernel.
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "hnet/deck.hpp"
#include "hnet/deck_mpi.hpp"
#include "hnet/handbuilt.hpp"
#include "hnet/task_config.hpp"

namespace hnet::driver {

Command add_handbuilt_command(CLI::App& app) {
  struct Options {
    std::string algorithm = "all";
    std::string deck_file;
    std::vector<std::string> overrides;
    HandbuiltOptions network;
  };
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "handbuilt", "Evaluate the hand-built reference networks (double-sided, pudding ±, convexity)");
  std::vector<std::string> names{"all"};
  for (HandbuiltAlgorithm a : all_handbuilt_algorithms()) names.emplace_back(to_string(a));
  sub->add_option("--algorithm", options->algorithm, "Which network")
      ->check(CLI::IsMember(names))
      ->capture_default_str();
  sub->add_option("--deck", options->deck_file,
                  "Take n, hidden ratio, input distribution, target and evaluation set from this deck");
  add_overrides_option(sub, options->overrides);
  sub->add_option("--n", options->network.n, "Input size n (default: the deck's target.n)")
      ->check(CLI::Range(1, 4096));
  sub->add_option("--slope", options->network.slope, "Valley slope a")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--pool-bias", options->network.pool_bias, "Pudding: bias of the pool unit")
      ->capture_default_str();
  sub->add_option("--pool-weight", options->network.pool_weight,
                  "Pudding: |weight| from each input into the pool unit")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--seed", options->network.seed, "Convexity: seed of the random directions")
      ->capture_default_str();

  return {sub, [options, sub](MPI_Comm comm) {
            const Deck deck = options->deck_file.empty()
                                  ? parse_deck("", "<defaults>", options->overrides)
                                  : load_deck_broadcast(options->deck_file, options->overrides, comm);
            HandbuiltOptions base = options->network;
            if (sub->count("--n") == 0) base.n = deck.target.n;
            base.hidden_ratio = deck.target.hidden_ratio;
            const EvaluationConfig evaluation = evaluation_config(deck.task);

            std::vector<HandbuiltAlgorithm> algorithms;
            if (options->algorithm == "all") algorithms = all_handbuilt_algorithms();
            else algorithms.push_back(*parse_handbuilt_algorithm(options->algorithm));

            const bool root = is_root(comm);
            if (root)
              std::printf("# hand-built networks (model.md §9): n=%lld m=%lld, %lld evaluation inputs, seed %llu\n",
                          static_cast<long long>(base.n), static_cast<long long>(base.n * base.hidden_ratio),
                          static_cast<long long>(evaluation.samples),
                          static_cast<unsigned long long>(evaluation.seed));
            for (HandbuiltAlgorithm algorithm : algorithms) {
              HandbuiltOptions o = base;
              o.algorithm = algorithm;
              const HandbuiltResult r = fit_handbuilt(o, evaluation);
              if (root)
                std::printf("algorithm=%s n=%lld mse=%.6g normalised=%.6g %s=%.4g\n", to_string(algorithm),
                            static_cast<long long>(o.n), r.mse, r.normalised,
                            algorithm == HandbuiltAlgorithm::convexity ? "scale" : "slope", r.scale);
            }
            std::fflush(stdout);
            return 0;
          }};
}

}  // namespace hnet::driver
