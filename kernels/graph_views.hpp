#pragma once
// The computation graph G(n, m) of a generated network (model.md §3) as device arrays.
// Nodes: n inputs, m hidden, 1 output. Edges: input i → hidden j at i·m + j, then hidden j →
// output at n·m + j. Each node lists its incidences (CSR): the edge, the node at its other end,
// and the direction relative to this node. Every incidence knows its mirror (the same edge seen
// from the other end), so backward passes gather what a forward pass spread instead of
// scatter-adding with atomics.
#include <cstdint>

#include "kernels/views.hpp"

namespace hnet::kernels {

enum NodeType : int { node_input = 0, node_hidden = 1, node_output = 2 };
enum EdgeType : int { edge_in_hidden = 0, edge_hidden_out = 1 };
enum Direction : int { direction_in = 0, direction_out = 1 };  // in: the edge points into this node

template <class Space = MemSpace>
struct GraphViews {
  std::int64_t n = 0, m = 0, nodes = 0, edges = 0;
  View1<int, Space> node_type;            // [N]
  View1<int, Space> node_index_in_type;   // [N]
  View1<int, Space> edge_type;            // [E]
  View1<int, Space> edge_source;          // [E]
  View1<int, Space> edge_target;          // [E]
  View1<int, Space> incidence_offset;     // [N+1]: incidences of v are [offset[v], offset[v+1])
  View1<int, Space> incidence_edge;       // [2E]
  View1<int, Space> incidence_other;      // [2E]: the node at the edge's other end
  View1<int, Space> incidence_direction;  // [2E]: Direction
  View1<int, Space> incidence_mirror;     // [2E]: the same edge's incidence at the other end
  View2<int, Space> edge_incidence;       // [E][2]: incidence at the target (in), at the source (out)
};

}  // namespace hnet::kernels
