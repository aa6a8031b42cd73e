#pragma once
// `hnet fit`: the direct baseline of issue "reproduce the discovery": train generated-size swish
// MLPs n → m → 1 directly with Adam (no hypernetwork), the loss any generated network should be
// able to approach as β → 0 (model.md §11).
#include <cstdint>
#include <vector>

#include "hnet/analysis.hpp"
#include "hnet/deck.hpp"
#include "hnet/network.hpp"

namespace hnet {

struct FitOptions {
  std::int64_t n = 16;
  std::int64_t steps = 3000;
  std::int64_t networks = 4;  // independent fits, one batch
  double lr = 1e-2;
  std::uint64_t seed = 1;
  std::int64_t log_every = 500;
  bool quiet = false;
};

struct FitResult {
  std::vector<HostNetwork> networks;
  std::vector<double> normalised;  // on the fixed evaluation set
  std::vector<OrderParameters> order;
  std::vector<AlgorithmClass> classes;
};

FitResult fit_directly(const Deck& deck, const FitOptions& options);

}  // namespace hnet
