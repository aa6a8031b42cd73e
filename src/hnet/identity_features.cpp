#include "hnet/identity_features.hpp"

#include <cmath>
#include <cstdint>

#include "kernels/identity.hpp"
#include "kernels/random.hpp"

namespace hnet {
namespace hk = hnet::kernels;

namespace {

// index / (count − 1): 0 … 1 across a type's nodes at every size, 0 for a type of one node.
double relative_position(std::int64_t index, std::int64_t count) {
  return count > 1 ? static_cast<double>(index) / static_cast<double>(count - 1) : 0.0;
}

}  // namespace

std::vector<double> fixed_identity_features(const ModelShape& s, const HostGraph& g) {
  const std::int64_t dr = s.identity_dim, N = g.nodes;
  std::vector<double> feature(static_cast<std::size_t>(N * dr));
  if (s.identity_draw == IdentityDraw::positional) {
    // One Fourier basis for every node type, so that a hidden unit and an input at the same
    // relative position get the same vector; √2 makes each feature's mean square 1, as for the
    // normal draw.
    const auto frequency_key = hk::make_key(s.identity_seed, hk::Purpose::identity_positional, 0);
    const auto phase_key = hk::make_key(s.identity_seed, hk::Purpose::identity_positional, 1);
    const double two_pi = 2.0 * std::acos(-1.0);
    std::vector<double> frequency(static_cast<std::size_t>(dr)), phase(static_cast<std::size_t>(dr));
    for (std::int64_t c = 0; c < dr; ++c) {
      frequency[c] = s.identity_frequency * hk::normal(frequency_key, static_cast<std::uint64_t>(c));
      phase[c] = two_pi * hk::uniform01(phase_key, static_cast<std::uint64_t>(c));
    }
    const std::int64_t count[3] = {g.n, g.m, 1};  // inputs, hidden units, the output
    for (std::int64_t v = 0; v < N; ++v) {
      const double u = relative_position(g.node_index_in_type(v), count[g.node_type(v)]);
      for (std::int64_t c = 0; c < dr; ++c)
        feature[v * dr + c] = s.identity_scale * std::sqrt(2.0) * std::cos(two_pi * frequency[c] * u + phase[c]);
    }
    return feature;
  }
  for (std::int64_t v = 0; v < N; ++v)
    for (std::int64_t c = 0; c < dr; ++c)
      feature[v * dr + c] =
          hk::fixed_identity_feature(s.identity_seed, s.identity_scale, g.node_type(v), g.node_index_in_type(v), c);
  return feature;
}

}  // namespace hnet
