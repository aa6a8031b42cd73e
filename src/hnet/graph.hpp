#pragma once
// Builds G(n, m) (model.md §3) on the host and copies it to the device.
#include <cstdint>

#include "kernels/graph_views.hpp"

namespace hnet {

using Graph = kernels::GraphViews<MemSpace>;
using HostGraph = kernels::GraphViews<Kokkos::HostSpace>;

HostGraph build_host_graph(std::int64_t n, std::int64_t m);
Graph build_graph(std::int64_t n, std::int64_t m);

inline std::int64_t node_of_input(std::int64_t i) { return i; }
inline std::int64_t node_of_hidden(std::int64_t n, std::int64_t j) { return n + j; }
inline std::int64_t node_of_output(std::int64_t n, std::int64_t m) { return n + m; }
inline std::int64_t edge_in_hidden(std::int64_t m, std::int64_t i, std::int64_t j) { return i * m + j; }
inline std::int64_t edge_hidden_out(std::int64_t n, std::int64_t m, std::int64_t j) { return n * m + j; }

}  // namespace hnet
