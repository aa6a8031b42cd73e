#pragma once
// `hnet generate`: run the hypernetwork once for one β and write the network it generates, with
// its loss on the fixed evaluation set (model.md §8) and its D_KL, to HDF5.
#include <mpi.h>

#include <cstdint>
#include <string>

#include "hnet/deck.hpp"
#include "hnet/network.hpp"

namespace hnet {

struct GenerateRequest {
  double beta = 1e-3;        // β, not log₁₀β
  std::uint64_t seed = 0;    // generation seed: the draw of the latent noise
  std::int64_t n = 0;        // input size; 0 = the deck's target.n
  bool mean = false;         // the posterior mean instead of a sample
  std::string output;        // empty = default_generated_path()
  std::int64_t step = -1;    // >= 0: the model a trained job saved after this many steps;
                             // < 0: θ at initialisation from train.seed
  std::string job;           // with step: the training job by name; empty = the first
};

struct GeneratedNetwork {
  HostNetwork network;
  double loss = 0.0, normalised_loss = 0.0, kl_nats = 0.0;
  std::string path;    // the file written (by rank 0)
  std::string source;  // where θ came from: initialisation or which saved model (the file's `source`)
};

// <output.dir>/generated/beta<B>_seed<S>_n<N>[_mean].h5
std::string default_generated_path(const Deck& deck, const GenerateRequest& request, std::int64_t n);

// Collective over `comm`: every rank checks the memory and generates; rank 0 checks the file's
// directory, removes stale temporaries and writes the file (to a temporary name, then renamed).
// The parameters are θ at initialisation from train.seed, or with request.step >= 0 the saved
// model of that step of request.job, read through the job files' read API (job_file.hpp); an
// unknown job, a missing results file or an unsaved step throws std::runtime_error naming them.
// The same request writes the same bytes.
GeneratedNetwork generate_network(const Deck& deck, const GenerateRequest& request, MPI_Comm comm);

}  // namespace hnet
