#include "hnet/graph.hpp"

#include <stdexcept>
#include <vector>

namespace hnet {

HostGraph build_host_graph(std::int64_t n, std::int64_t m) {
  if (n < 1 || m < 1) throw std::invalid_argument("graph needs n >= 1 and m >= 1");
  HostGraph g;
  g.n = n, g.m = m, g.nodes = n + m + 1, g.edges = n * m + m;
  const std::int64_t N = g.nodes, E = g.edges;
  using HV = Kokkos::View<int*, Kokkos::LayoutRight, Kokkos::HostSpace>;
  g.node_type = HV("hnet::graph::node_type", N);
  g.node_index_in_type = HV("hnet::graph::node_index_in_type", N);
  g.edge_type = HV("hnet::graph::edge_type", E);
  g.edge_source = HV("hnet::graph::edge_source", E);
  g.edge_target = HV("hnet::graph::edge_target", E);
  g.incidence_offset = HV("hnet::graph::incidence_offset", N + 1);
  g.incidence_edge = HV("hnet::graph::incidence_edge", 2 * E);
  g.incidence_other = HV("hnet::graph::incidence_other", 2 * E);
  g.incidence_direction = HV("hnet::graph::incidence_direction", 2 * E);
  g.incidence_mirror = HV("hnet::graph::incidence_mirror", 2 * E);
  g.edge_incidence = Kokkos::View<int**, Kokkos::LayoutRight, Kokkos::HostSpace>("hnet::graph::edge_incidence", E, 2);

  for (std::int64_t i = 0; i < n; ++i) g.node_type(i) = kernels::node_input, g.node_index_in_type(i) = i;
  for (std::int64_t j = 0; j < m; ++j)
    g.node_type(n + j) = kernels::node_hidden, g.node_index_in_type(n + j) = j;
  g.node_type(n + m) = kernels::node_output, g.node_index_in_type(n + m) = 0;

  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j) {
      const std::int64_t e = edge_in_hidden(m, i, j);
      g.edge_type(e) = kernels::edge_in_hidden, g.edge_source(e) = i, g.edge_target(e) = n + j;
    }
  for (std::int64_t j = 0; j < m; ++j) {
    const std::int64_t e = edge_hidden_out(n, m, j);
    g.edge_type(e) = kernels::edge_hidden_out, g.edge_source(e) = n + j, g.edge_target(e) = n + m;
  }

  // Incidences of each node in edge order: a stable order that is the same for every n.
  std::vector<std::vector<int>> touching(N);
  for (std::int64_t e = 0; e < E; ++e) {
    touching[g.edge_source(e)].push_back(static_cast<int>(e));
    touching[g.edge_target(e)].push_back(static_cast<int>(e));
  }
  int next = 0;
  for (std::int64_t v = 0; v < N; ++v) {
    g.incidence_offset(v) = next;
    for (int e : touching[v]) {
      const bool incoming = g.edge_target(e) == v;
      g.incidence_edge(next) = e;
      g.incidence_other(next) = incoming ? g.edge_source(e) : g.edge_target(e);
      g.incidence_direction(next) = incoming ? kernels::direction_in : kernels::direction_out;
      g.edge_incidence(e, incoming ? 0 : 1) = next;
      ++next;
    }
  }
  g.incidence_offset(N) = next;
  for (std::int64_t e = 0; e < E; ++e) {
    const int at_target = g.edge_incidence(e, 0), at_source = g.edge_incidence(e, 1);
    g.incidence_mirror(at_target) = at_source;
    g.incidence_mirror(at_source) = at_target;
  }
  return g;
}

Graph build_graph(std::int64_t n, std::int64_t m) {
  const HostGraph h = build_host_graph(n, m);
  Graph g;
  g.n = h.n, g.m = h.m, g.nodes = h.nodes, g.edges = h.edges;
  g.node_type = Kokkos::create_mirror_view_and_copy(MemSpace(), h.node_type);
  g.node_index_in_type = Kokkos::create_mirror_view_and_copy(MemSpace(), h.node_index_in_type);
  g.edge_type = Kokkos::create_mirror_view_and_copy(MemSpace(), h.edge_type);
  g.edge_source = Kokkos::create_mirror_view_and_copy(MemSpace(), h.edge_source);
  g.edge_target = Kokkos::create_mirror_view_and_copy(MemSpace(), h.edge_target);
  g.incidence_offset = Kokkos::create_mirror_view_and_copy(MemSpace(), h.incidence_offset);
  g.incidence_edge = Kokkos::create_mirror_view_and_copy(MemSpace(), h.incidence_edge);
  g.incidence_other = Kokkos::create_mirror_view_and_copy(MemSpace(), h.incidence_other);
  g.incidence_direction = Kokkos::create_mirror_view_and_copy(MemSpace(), h.incidence_direction);
  g.incidence_mirror = Kokkos::create_mirror_view_and_copy(MemSpace(), h.incidence_mirror);
  g.edge_incidence = Kokkos::create_mirror_view_and_copy(MemSpace(), h.edge_incidence);
  return g;
}

}  // namespace hnet
