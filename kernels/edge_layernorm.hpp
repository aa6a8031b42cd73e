#pragma once
// The edge update's input g = [e ; h_s ; h_t] (gather.hpp's edge_inputs, model.md §5.1) and its
// layer norm (layernorm.hpp) in one pass: the gathered rows live in a thread's L1, never in
// memory. At paper size g is 20 MB per block; the two kernels wrote it, read it back and, in the
// backward, wrote and read its gradient as well.
//
// Each row sees the same operations in the same order as in the two kernels, so the bits are
// theirs: the forward gathers a row into y and normalises it in place; the backward (one work item
// per network, as layernorm_backward_by_network) regathers the row, forms its dx in scratch, adds
// the gain and bias terms, adds dx's first third to de and sums the other two into the endpoint
// nodes in double, in edge order. That is edge_inputs_backward's order (the CSR incidences of
// each node are listed in edge order, src/hnet/graph.cpp), so dh gets its bits too.
//
// The backward needs a network per thread (the node sums of one network have one owner, so no
// atomics): the model fuses only where edge_layernorm_fused() says so and runs the two kernels
// elsewhere (GPUs; hosts with more threads than networks).
#include <cstdint>

#include "kernels/graph_views.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

namespace edge_layernorm_detail {
// row = [er ; hs ; ht] as three contiguous copies: at paper size the fused forward runs 28 % and
// the backward 15 % faster than with one loop writing all three parts (measured).
template <class T>
KOKKOS_INLINE_FUNCTION void gather_row(T* row, const T* er, const T* hs, const T* ht, std::int64_t d) {
  for (std::int64_t c = 0; c < d; ++c) row[c] = er[c];
  for (std::int64_t c = 0; c < d; ++c) row[d + c] = hs[c];
  for (std::int64_t c = 0; c < d; ++c) row[2 * d + c] = ht[c];
}

// One network's sums in the backward, in its team's scratch: the gain and bias sums and the node
// sums, in double.
struct NetworkSums {
  double* dgain;  // [C]
  double* dbias;  // [C]
  double* dnode;  // [nodes][d]
  static std::size_t bytes(std::int64_t C, std::int64_t nodes, std::int64_t d) {
    return scratch_bytes<double>(2 * C + nodes * d);
  }
  template <class Member>
  KOKKOS_INLINE_FUNCTION NetworkSums(const Member& team, std::int64_t C, std::int64_t nodes, std::int64_t d) {
    dgain = scratch_array<double>(team, 2 * C + nodes * d);
    dbias = dgain + C;
    dnode = dbias + C;
    for (std::int64_t c = 0; c < 2 * C + nodes * d; ++c) dgain[c] = 0.0;
  }
};

// Edge k of network b, from dyr = ∂J/∂y of its row: the row regathered into xr, its dx into dxr,
// de (when present) and the endpoints' node sums; not the gain and bias terms.
template <class T, class V3T, class V2T, class Ends>
KOKKOS_INLINE_FUNCTION void backward_row_dx(const NetworkSums& sums, T* xr, T* dxr, const T* dyr, const V3T& de,
                                            const V3T& e, const V3T& h, const Ends& source, const Ends& target,
                                            const V2T& mean, const V2T& rstd, const T* gain, std::int64_t b,
                                            std::int64_t k, bool with_de) {
  const std::int64_t d = e.extent(2), C = 3 * d, s = source(k), t = target(k);
  const T inv_c = T(1) / static_cast<T>(C);
  gather_row(xr, &e(b, k, 0), &h(b, s, 0), &h(b, t, 0), d);
  layernorm_detail::add_row_dx(dxr, dyr, xr, gain, mean(b, k), rstd(b, k), C, inv_c, false);
  if (with_de)
    for (std::int64_t c = 0; c < d; ++c) de(b, k, c) += dxr[c];
  for (std::int64_t c = 0; c < d; ++c) {
    sums.dnode[s * d + c] += static_cast<double>(dxr[d + c]);
    sums.dnode[t * d + c] += static_cast<double>(dxr[2 * d + c]);
  }
}

// Network b's sums into dP (gain, bias) and dh (when present).
template <class V3T, class V2T>
KOKKOS_INLINE_FUNCTION void add_network_sums(const NetworkSums& sums, const V2T& dP, const V3T& dh, std::int64_t b,
                                             std::int64_t off_gain, std::int64_t off_bias, std::int64_t C,
                                             bool with_dh) {
  layernorm_detail::add_gain_bias_sums(dP, b, off_gain, off_bias, sums.dgain, sums.dbias, C);
  if (!with_dh) return;
  using T = typename V3T::non_const_value_type;
  const std::int64_t nodes = dh.extent(1), d = dh.extent(2);
  for (std::int64_t v = 0; v < nodes; ++v)
    for (std::int64_t c = 0; c < d; ++c) dh(b, v, c) += static_cast<T>(sums.dnode[v * d + c]);
}
}  // namespace edge_layernorm_detail

// The fused backward is a layer-norm backward by network: it runs where that one does.
template <class E>
bool edge_layernorm_fused(const E& exec, std::int64_t networks) {
  return layernorm_by_network(exec, networks);
}

// y [B][E][3d] = layernorm([e ; h_s ; h_t]) with gain at P(b, off_gain + c), bias at
// P(b, off_bias + c); mean, rstd [B][E] saved for the backward.
template <class E, class T>
void edge_inputs_layernorm_forward(const E& exec, const V3<E, T>& y, const V2<E, T>& mean, const V2<E, T>& rstd,
                                   const V3<E, T>& e, const V3<E, T>& h,
                                   const GraphViews<typename E::memory_space>& graph, const V2<E, T>& P,
                                   std::int64_t off_gain, std::int64_t off_bias) {
  const std::int64_t B = e.extent(0), edges = e.extent(1), d = e.extent(2), C = 3 * d;
  const T inv_c = T(1) / static_cast<T>(C);
  const auto source = graph.edge_source, target = graph.edge_target;
  using edge_layernorm_detail::gather_row;
  Kokkos::parallel_for(
      "hnet::edge_layernorm_forward", Kokkos::RangePolicy<E>(exec, 0, B * edges),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / edges, k = flat % edges;
        const T* er = &e(b, k, 0);
        const T* hs = &h(b, source(k), 0);
        const T* ht = &h(b, target(k), 0);
        T* yr = &y(b, k, 0);
        gather_row(yr, er, hs, ht, d);
        layernorm_detail::normalize_row(yr, mean(b, k), rstd(b, k), yr, &P(b, off_gain), &P(b, off_bias), C, inv_c);
      });
}

// From dy = ∂J/∂y: de += ∂J/∂e, dh += ∂J/∂h (either may be absent), and the gain and bias
// gradients += at their offsets in dP.
template <class E, class T>
void edge_inputs_layernorm_backward(const E& exec, const V3<E, T>& de, const V3<E, T>& dh, const V2<E, T>& dP,
                                    const V3<E, T>& dy, const V3<E, T>& e, const V3<E, T>& h,
                                    const GraphViews<typename E::memory_space>& graph, const V2<E, T>& P,
                                    const V2<E, T>& mean, const V2<E, T>& rstd, std::int64_t off_gain,
                                    std::int64_t off_bias) {
  using namespace edge_layernorm_detail;
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  const std::int64_t B = e.extent(0), edges = e.extent(1), d = e.extent(2), C = 3 * d, nodes = h.extent(1);
  const bool with_de = present(de), with_dh = present(dh);
  const auto source = graph.edge_source, target = graph.edge_target;
  // Per network: NetworkSums, the regathered row and its dx.
  const std::size_t scratch = NetworkSums::bytes(C, nodes, d) + 2 * scratch_bytes<T>(C);
  Kokkos::parallel_for(
      "hnet::edge_layernorm_backward", Policy(exec, B, 1).set_scratch_size(1, Kokkos::PerTeam(scratch)),
      KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank();
        const NetworkSums sums(team, C, nodes, d);
        T* const xr = scratch_array<T>(team, C);
        T* const dxr = scratch_array<T>(team, C);
        const T* gain = &P(b, off_gain);
        for (std::int64_t k = 0; k < edges; ++k) {
          const T* dyr = &dy(b, k, 0);
          backward_row_dx(sums, xr, dxr, dyr, de, e, h, source, target, mean, rstd, gain, b, k, with_de);
          layernorm_detail::add_gain_bias_terms(sums.dgain, sums.dbias, dyr, xr, mean(b, k), rstd(b, k), C);
        }
        add_network_sums(sums, dP, dh, b, off_gain, off_bias, C, with_dh);
      });
}

}  // namespace hnet::kernels
