// hnet generate DECK --beta B --seed S [--n N] [--step K [--job J]]: run the hypernetwork once (at
// initialisation, or a trained job's saved model) and write the network it generates, with its loss
// on the fixed evaluation set and its D_KL.
#include <cmath>
#include <cstdio>

#include "commands.hpp"
#include "hnet/deck.hpp"
#include "hnet/deck_mpi.hpp"
#include "hnet/generate.hpp"

namespace hnet::driver {

Command add_generate_command(CLI::App& app) {
  struct Options {
    std::string deck_file;
    std::vector<std::string> overrides;
    GenerateRequest request;
  };
  auto o = std::make_shared<Options>();
  GenerateRequest& r = o->request;
  CLI::App* sub = app.add_subcommand("generate", "Generate one network from the hypernetwork for a given β");
  sub->add_option("deck", o->deck_file, "TOML input deck")->required()->check(CLI::ExistingFile);
  add_overrides_option(sub, o->overrides);
  sub->add_option("--beta", r.beta, "β (not log10)")->required()->check(CLI::PositiveNumber);
  sub->add_option("--seed", r.seed, "Generation seed: the draw of the latent noise")->capture_default_str();
  sub->add_option("--n", r.n, "Input size of the generated network (default: the deck's target.n)")
      ->check(CLI::Range(1, 4096));
  sub->add_flag("--mean", r.mean, "Use the posterior mean instead of a sample");
  sub->add_option("--step", r.step,
                  "Generate from the model saved after this many training steps of a trained run (default: the "
                  "parameters at initialisation from train.seed)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--job", r.job, "With --step: the training job whose saved model to use (default: the first, seed0)");
  sub->add_option("--output", r.output, "HDF5 file to write (default: <output.dir>/generated/beta<B>_seed<S>_n<N>.h5)");

  return {sub, [o](MPI_Comm comm) {
            const Deck deck = load_deck_broadcast(o->deck_file, o->overrides, comm);
            const GeneratedNetwork g = generate_network(deck, o->request, comm);
            if (is_root(comm)) {
              const GenerateRequest& r = o->request;
              std::printf("generated beta=%.6g seed=%llu n=%lld m=%lld %s loss=%.6g normalised=%.6g kl_nats=%.6g kl_bits=%.6g file=%s\n",
                          r.beta, static_cast<unsigned long long>(r.seed), static_cast<long long>(g.network.n),
                          static_cast<long long>(g.network.m), r.mean ? "posterior=mean" : "posterior=sample", g.loss,
                          g.normalised_loss, g.kl_nats, g.kl_nats / std::log(2.0), g.path.c_str());
              std::fflush(stdout);
            }
            return 0;
          }};
}

}  // namespace hnet::driver
