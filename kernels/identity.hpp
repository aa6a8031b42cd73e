#pragma once
// Identity features drawn afresh for every generated network (model.md §4, model.identity_draw =
// "per_network"): r_v of network b comes from the counter-based generator keyed by (identity
// seed, run seed, step, global network index, node type, index within type), so no node index
// keeps a fixed vector, and the draws do not depend on thread or rank count. An edge s → t
// carries [r_s ; r_t]. The features are inputs, not parameters: there is no backward.

#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/graph_views.hpp"
#include "kernels/random.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

struct IdentityDraw {
  std::uint64_t identity_seed = 1, run_seed = 1, step = 0, network_offset = 0;
  double scale = 1.0;
};

// r_nodes: [B][N][d_r], r_edges: [B][E][2 d_r].
template <class E, class T>
void draw_identity_features(const E& exec, const V3<E, T>& r_nodes, const V3<E, T>& r_edges,
                            const GraphViews<typename E::memory_space>& graph, const IdentityDraw draw) {
  const std::int64_t batch = r_nodes.extent(0), nodes = r_nodes.extent(1), dr = r_nodes.extent(2);
  const std::int64_t edges = r_edges.extent(1);
  const auto node_type = graph.node_type, node_index = graph.node_index_in_type;
  const std::uint64_t seed = combine(draw.identity_seed, draw.run_seed);
  Kokkos::parallel_for(
      "hnet::draw_identity_features::nodes", Kokkos::RangePolicy<E>(exec, 0, batch * nodes * dr),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (nodes * dr), v = (flat / dr) % nodes, c = flat % dr;
        const std::uint64_t node = (static_cast<std::uint64_t>(node_type(v)) << 32) |
                                   static_cast<std::uint64_t>(node_index(v));
        const RngKey key = make_key(seed, Purpose::identity_draws, draw.step,
                                    draw.network_offset + static_cast<std::uint64_t>(b), node);
        r_nodes(b, v, c) = static_cast<T>(draw.scale * normal(key, static_cast<std::uint64_t>(c)));
      });
  const auto source = graph.edge_source, target = graph.edge_target;
  Kokkos::parallel_for(
      "hnet::draw_identity_features::edges", Kokkos::RangePolicy<E>(exec, 0, batch * edges * 2 * dr),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (edges * 2 * dr), e = (flat / (2 * dr)) % edges, c = flat % (2 * dr);
        r_edges(b, e, c) = c < dr ? r_nodes(b, source(e), c) : r_nodes(b, target(e), c - dr);
      });
}

}  // namespace hnet::kernels
