#pragma once
// The identity features r_v that are fixed for a given graph G(n, m) (model.md §4):
// model.identity_draw = "fixed" (a normal draw per node type and index) or "positional" (random
// Fourier features of the node's relative position within its type). "per_network" draws them
// on the device every step instead (kernels/identity.hpp).
#include <vector>

#include "hnet/graph.hpp"
#include "hnet/hypernet_layout.hpp"

namespace hnet {

// [N][d_r], node-major: r_v[c] at v·d_r + c.
std::vector<double> fixed_identity_features(const ModelShape& shape, const HostGraph& graph);

}  // namespace hnet
