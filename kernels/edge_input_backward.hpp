#pragma once
// The backward of the edge update's input side in one pass (model.md §5.1): the first edge-MLP
// layer's dx = dy·Wᵀ (linear.hpp) and the edge input's layer norm and gather
// (edge_layernorm.hpp). A thread takes a network, forms dx a tile of MR rows at a time in scratch
// and runs the layer norm's backward on those rows while they are in L1: dx (20 MB per block at
// paper size) is never written to memory nor read back.
//
// The bits are those of the two kernels run apart: each dx element is the same tile product
// (tile_product on Wᵀ, the same tile shape), stored into scratch instead of memory, and the rows
// reach the layer norm's backward in edge order, as in edge_inputs_layernorm_backward. The layer
// of dW and dbias stays linear_backward's (called without dx).
//
// Where: the host, with 4 networks per thread (linear_backward_by_network, which implies
// edge_layernorm_fused); elsewhere the model runs the two kernels.
#include <cstdint>
#include <stdexcept>

#include "kernels/edge_layernorm.hpp"
#include "kernels/linear.hpp"

namespace hnet::kernels {

template <class E>
bool edge_input_backward_fused(const E& exec, std::int64_t networks) {
  return linear_backward_by_network(exec, networks) && edge_layernorm_fused(exec, networks);
}

namespace edge_input_backward_detail {

template <class E, int NR, class T>
void backward_by_network(const E& exec, const V3<E, T>& de, const V3<E, T>& dh, const V2<E, T>& dP,
                         const V3<E, T>& dy, std::int64_t off_w, const V3<E, T>& e, const V3<E, T>& h,
                         const GraphViews<typename E::memory_space>& graph, const V2<E, T>& P, const V2<E, T>& mean,
                         const V2<E, T>& rstd, std::int64_t off_gain, std::int64_t off_bias) {
  using namespace edge_layernorm_detail;
  using linear_detail::clamp_tile;
  constexpr int MR = linear_detail::Tile<E>::rows;
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  const std::int64_t B = e.extent(0), edges = e.extent(1), d = e.extent(2), C = 3 * d, nodes = h.extent(1);
  const std::int64_t Cout = dy.extent(2), dy_stride = dy.stride_1();
  const bool with_de = present(de), with_dh = present(dh);
  const auto source = graph.edge_source, target = graph.edge_target;
  // Per network: NetworkSums, Wᵀ, the tile's rows of the layer's dx (the layer norm's dy), and
  // one regathered row and its dx.
  const std::size_t scratch = NetworkSums::bytes(C, nodes, d) + scratch_bytes<T>(C * Cout) +
                              scratch_bytes<T>(MR * C) + 2 * scratch_bytes<T>(C);
  Kokkos::parallel_for(
      "hnet::edge_input_backward", Policy(exec, B, 1).set_scratch_size(1, Kokkos::PerTeam(scratch)),
      KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank();
        const NetworkSums sums(team, C, nodes, d);
        T* const wt = scratch_array<T>(team, C * Cout);
        T* const dy_ln = scratch_array<T>(team, MR * C);
        T* const xr = scratch_array<T>(team, C);
        T* const dg = scratch_array<T>(team, C);
        linear_detail::transpose_weights(team, wt, &P(b, off_w), C, Cout);
        const T* gain = &P(b, off_gain);
        for (std::int64_t r0 = 0; r0 < edges; r0 += MR) {
          const std::int64_t nr = clamp_tile(edges - r0, MR);
          const linear_detail::Ahead ahead =
              linear_detail::rows_ahead(&dy(b, 0, 0) + (r0 + MR) * dy_stride, clamp_tile(edges - r0 - MR, MR), dy_stride);
          for (std::int64_t i0 = 0; i0 < C; i0 += NR) {
            const linear_detail::TileOut<T> to{dy_ln + i0, C, nullptr, false, nullptr};
            linear_detail::tile_product<MR, NR>(&dy(b, r0, 0), dy_stride, 1, wt + i0, C, Cout, nr,
                                                clamp_tile(C - i0, NR), to, false, ahead);
          }
          for (std::int64_t rr = 0; rr < nr; ++rr) {
            const std::int64_t k = r0 + rr;
            backward_row_dx(sums, xr, dg, dy_ln + rr * C, de, e, h, source, target, mean, rstd, gain, b, k, with_de);
            layernorm_detail::add_gain_bias_terms(sums.dgain, sums.dbias, dy_ln + rr * C, xr, mean(b, k), rstd(b, k), C);
          }
        }
        add_network_sums(sums, dP, dh, b, off_gain, off_bias, C, with_dh);
      });
}

}  // namespace edge_input_backward_detail

// With g = [e ; h_s ; h_t], y = layernorm(g) (gain at P(b, off_gain + c), bias at off_bias + c;
// mean, rstd saved by edge_inputs_layernorm_forward) and the layer z = y·W + bias (W at
// P(b, off_w), [3d][Cout]), from dz = ∂J/∂z: de += ∂J/∂e, dh += ∂J/∂h (either may be absent) and
// the layer norm's gain and bias gradients += in dP. W's and the layer bias's gradients are
// linear_backward's. Only where edge_input_backward_fused() holds.
template <class E, class T>
void edge_input_backward(const E& exec, const V3<E, T>& de, const V3<E, T>& dh, const V2<E, T>& dP,
                         const V3<E, T>& dz, std::int64_t off_w, const V3<E, T>& e, const V3<E, T>& h,
                         const GraphViews<typename E::memory_space>& graph, const V2<E, T>& P, const V2<E, T>& mean,
                         const V2<E, T>& rstd, std::int64_t off_gain, std::int64_t off_bias) {
  if (!edge_input_backward_fused(exec, e.extent(0)))
    throw std::invalid_argument("edge_input_backward: needs a host with 4 networks per thread");
  linear_detail::with_tile_cols<E>(3 * e.extent(2), [&exec, &de, &dh, &dP, &dz, off_w, &e, &h, &graph, &P, &mean,
                                                       &rstd, off_gain, off_bias](auto cols) {
    edge_input_backward_detail::backward_by_network<E, decltype(cols)::value>(
        exec, de, dh, dP, dz, off_w, e, h, graph, P, mean, rstd, off_gain, off_bias);
  });
}

}  // namespace hnet::kernels
