// The identity features fixed for a graph (model.md §4): "fixed" keeps a node's vector whatever n
// is; "positional" makes it a function of the node's relative position index/(count − 1) alone,
// in one Fourier basis for every node type.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "hnet/graph.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/identity_features.hpp"

namespace {

std::vector<double> node_features(const hnet::ModelShape& s, std::int64_t n, std::int64_t node) {
  const auto all = hnet::fixed_identity_features(s, hnet::build_host_graph(n, 3 * n));
  return {all.begin() + node * s.identity_dim, all.begin() + (node + 1) * s.identity_dim};
}

hnet::ModelShape shape(hnet::IdentityDraw draw) {
  hnet::ModelShape s;
  s.identity_dim = 16, s.identity_draw = draw;
  return s;
}

TEST(IdentityFeatures, FixedFollowTheNodeIndex) {
  const auto s = shape(hnet::IdentityDraw::fixed);
  EXPECT_EQ(node_features(s, 8, 3), node_features(s, 16, 3));  // input 3
  EXPECT_EQ(node_features(s, 8, hnet::node_of_hidden(8, 5)), node_features(s, 16, hnet::node_of_hidden(16, 5)));
  EXPECT_NE(node_features(s, 8, 3), node_features(s, 8, 4));
}

TEST(IdentityFeatures, PositionalFollowTheRelativePosition) {
  const auto s = shape(hnet::IdentityDraw::positional);
  // Input 4 of 9 and input 8 of 17 both sit at 1/2, as does hidden unit 13 of 27 (m = 3n).
  const auto middle = node_features(s, 9, 4);
  EXPECT_EQ(node_features(s, 17, 8), middle);
  EXPECT_EQ(node_features(s, 9, hnet::node_of_hidden(9, 13)), middle);
  EXPECT_EQ(node_features(s, 8, hnet::node_of_output(8, 24)), node_features(s, 16, hnet::node_of_output(16, 48)));
  // Index i of n is not index i of 2n: the last input is at 1 at every size.
  EXPECT_NE(node_features(s, 8, 3), node_features(s, 16, 3));
  EXPECT_EQ(node_features(s, 8, 7), node_features(s, 16, 15));
  // Neighbours differ, and the features keep a mean square near the normal draw's 1.
  EXPECT_NE(node_features(s, 16, 0), node_features(s, 16, 1));
  double square = 0.0;
  const auto all = hnet::fixed_identity_features(s, hnet::build_host_graph(16, 48));
  for (const double r : all) square += r * r;
  EXPECT_NEAR(square / static_cast<double>(all.size()), 1.0, 0.35);
}

}  // namespace
