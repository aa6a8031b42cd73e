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

// The fixed identity feature r_v[c] of the node with this type and index within its type
// (model.md §4): the same for a node whatever n is. Used on the host for identity_draw = fixed
// (src/hnet/identity_features.cpp) and on the device at shifted indices (below).
KOKKOS_INLINE_FUNCTION double fixed_identity_feature(std::uint64_t identity_seed, double scale, std::uint64_t type,
                                                     std::uint64_t index, std::uint64_t c) {
  return scale * normal(make_key(identity_seed, Purpose::identity_features, type, index), c);
}

// An edge s → t carries [r_s ; r_t]: r_edges: [B][E][2 d_r] from r_nodes: [B][N][d_r].
template <class E, class T>
void identity_edges_from_nodes(const E& exec, const V3<E, T>& r_edges, const V3<E, T>& r_nodes,
                               const GraphViews<typename E::memory_space>& graph) {
  const std::int64_t batch = r_nodes.extent(0), dr = r_nodes.extent(2), edges = r_edges.extent(1);
  const auto source = graph.edge_source, target = graph.edge_target;
  Kokkos::parallel_for(
      "hnet::identity_edges_from_nodes", Kokkos::RangePolicy<E>(exec, 0, batch * edges * 2 * dr),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (edges * 2 * dr), e = (flat / (2 * dr)) % edges, c = flat % (2 * dr);
        r_edges(b, e, c) = c < dr ? r_nodes(b, source(e), c) : r_nodes(b, target(e), c - dr);
      });
}

// r_nodes: [B][N][d_r], r_edges: [B][E][2 d_r].
template <class E, class T>
void draw_identity_features(const E& exec, const V3<E, T>& r_nodes, const V3<E, T>& r_edges,
                            const GraphViews<typename E::memory_space>& graph, const IdentityDraw draw) {
  const std::int64_t batch = r_nodes.extent(0), nodes = r_nodes.extent(1), dr = r_nodes.extent(2);
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
  identity_edges_from_nodes(exec, r_edges, r_nodes, graph);
}

// Shifted identity features (model.md §4, model.identity_draw = "shifted"): network b sees the
// fixed features (identity_features.cpp) of index i + o_b for input i, of j + hidden_per_input·o_b
// for hidden unit j, and the output's own, with o_b uniform on 0 … max_shift, drawn per training
// step and global network index. With `shift` false (evaluation) o_b = 0: the fixed features.
struct IdentityShift {
  std::uint64_t identity_seed = 1, run_seed = 1, step = 0, network_offset = 0;
  double scale = 1.0;
  std::int64_t max_shift = 0, hidden_per_input = 1;
  bool shift = false;
};

KOKKOS_INLINE_FUNCTION std::int64_t identity_offset(const IdentityShift& s, std::int64_t b) {
  if (!s.shift || s.max_shift <= 0) return 0;
  const RngKey key = make_key(combine(s.identity_seed, s.run_seed), Purpose::identity_shift, s.step,
                              s.network_offset + static_cast<std::uint64_t>(b));
  const auto o = static_cast<std::int64_t>(uniform01(key, 0) * static_cast<double>(s.max_shift + 1));
  return o < s.max_shift ? o : s.max_shift;
}

// r_nodes: [B][N][d_r], r_edges: [B][E][2 d_r].
template <class E, class T>
void shifted_identity_features(const E& exec, const V3<E, T>& r_nodes, const V3<E, T>& r_edges,
                               const GraphViews<typename E::memory_space>& graph, const IdentityShift shift) {
  const std::int64_t batch = r_nodes.extent(0), nodes = r_nodes.extent(1), dr = r_nodes.extent(2);
  const auto node_type = graph.node_type, node_index = graph.node_index_in_type;
  Kokkos::parallel_for(
      "hnet::shifted_identity_features::nodes", Kokkos::RangePolicy<E>(exec, 0, batch * nodes * dr),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (nodes * dr), v = (flat / dr) % nodes, c = flat % dr;
        const std::int64_t type = node_type(v), o = identity_offset(shift, b);
        const std::int64_t index = node_index(v) + (type == 0 ? o : type == 1 ? o * shift.hidden_per_input : 0);
        r_nodes(b, v, c) = static_cast<T>(fixed_identity_feature(shift.identity_seed, shift.scale, type, index, c));
      });
  identity_edges_from_nodes(exec, r_edges, r_nodes, graph);
}

}  // namespace hnet::kernels
