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
};

struct GeneratedNetwork {
  HostNetwork network;
  double loss = 0.0, normalised_loss = 0.0, kl_nats = 0.0;
  std::string path;  // the file written (by rank 0)
};

// <output.dir>/generated/beta<B>_seed<S>_n<N>[_mean].h5
std::string default_generated_path(const Deck& deck, const GenerateRequest& request, std::int64_t n);

// Collective over `comm`: every rank checks the memory and generates; rank 0 writes the file
// (written to a temporary name and renamed). The parameters are θ at initialisation from
// train.seed: no saved model is read. The same request writes the same bytes.
GeneratedNetwork generate_network(const Deck& deck, const GenerateRequest& request, MPI_Comm comm);

}  // namespace hnet
