#pragma once
// The backward of the edge update's input side in one pass (model.md §5.1): the first edge-MLP
// layer's dx = dy·Wᵀ, dW and dbias (linear.hpp) and the edge input's layer norm and gather
// (edge_layernorm.hpp). A thread takes a network and walks its edges in blocks of whole dx tiles
// (about linear_detail::dw_row_block rows): it rebuilds the block's rows of the layer norm's
// output y from the regathered input and the saved mean and rstd, adds the block's terms of dW,
// then forms dx a tile of MR rows at a time in scratch and runs the layer norm's backward on those
// rows while they are in L1. Neither y nor dx (20 MB each per block at paper size) is in memory.
//
// The bits are those of the kernels run apart: each dx element is the same tile product
// (tile_product on Wᵀ, the same tile shape), stored into scratch instead of memory, and the rows
// reach the layer norm's backward in edge order, as in edge_inputs_layernorm_backward; the rebuilt
// rows of y are the forward's (normalize_row's arithmetic), and dW's tiles and final adds, dbias
// included, are linear_detail::backward_dw_by_network's own functions (add_dw_rows,
// add_dw_sums_and_dbias; the sums resume exactly, so the block size changes no bit).
//
// Where: the host, with 4 networks per thread (linear_backward_by_network, which implies
// edge_layernorm_fused); elsewhere the model runs the kernels apart.
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

// The layer's dW over rows r0 … r0 + rows − 1 of one network: y's rows rebuilt into `y_rows` from
// the regathered g and the saved mean and rstd (normalize_row's arithmetic, so the forward's bits),
// then linear_detail::add_dw_rows on them, resumed from `sums` past the first block.
template <int MR, int NR, class T, class V3T, class V2T, class Ends>
KOKKOS_INLINE_FUNCTION void add_dw_block(T* sums, T* y_rows, const V3T& dz, const V3T& e, const V3T& h,
                                         const Ends& source, const Ends& target, const V2T& mean, const V2T& rstd,
                                         const T* gain, const T* bias, std::int64_t b, std::int64_t r0,
                                         std::int64_t rows) {
  const std::int64_t d = e.extent(2), C = 3 * d;
  for (std::int64_t rr = 0; rr < rows; ++rr) {
    const std::int64_t k = r0 + rr;
    T* const yr = y_rows + rr * C;
    edge_layernorm_detail::gather_row(yr, &e(b, k, 0), &h(b, source(k), 0), &h(b, target(k), 0), d);
    layernorm_detail::apply_row(yr, yr, mean(b, k), rstd(b, k), gain, bias, C);
  }
  linear_detail::add_dw_rows<MR, NR>(sums, y_rows, C, &dz(b, r0, 0), dz.stride_1(), rows, C, dz.extent(2), r0 > 0);
}

template <class E, int NR, int NW, class T>
void backward_by_network(const E& exec, const V3<E, T>& de, const V3<E, T>& dh, const V2<E, T>& dP,
                         const V3<E, T>& dy, std::int64_t off_w, std::int64_t off_b, const V3<E, T>& e,
                         const V3<E, T>& h, const GraphViews<typename E::memory_space>& graph, const V2<E, T>& P,
                         const V2<E, T>& mean, const V2<E, T>& rstd, std::int64_t off_gain, std::int64_t off_bias) {
  using namespace edge_layernorm_detail;
  using linear_detail::clamp_tile;
  constexpr int MR = linear_detail::Tile<E>::rows;
  // dW's row blocks hold whole dx tiles (dW's bits do not depend on the block: its sums resume exactly).
  constexpr std::int64_t block = linear_detail::dw_row_block / MR * MR;
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  const std::int64_t B = e.extent(0), edges = e.extent(1), d = e.extent(2), C = 3 * d, nodes = h.extent(1);
  const std::int64_t Cout = dy.extent(2), dy_stride = dy.stride_1();
  const bool with_de = present(de), with_dh = present(dh);
  const auto source = graph.edge_source, target = graph.edge_target;
  // Per network: NetworkSums, Wᵀ, dW's sums, a block of y's rows, the tile's rows of the layer's dx
  // (the layer norm's dy), and one regathered row and its dx.
  const std::size_t scratch = NetworkSums::bytes(C, nodes, d) + 2 * scratch_bytes<T>(C * Cout) +
                              scratch_bytes<T>(block * C) + scratch_bytes<T>(MR * C) + 2 * scratch_bytes<T>(C);
  Kokkos::parallel_for(
      "hnet::edge_input_backward", Policy(exec, B, 1).set_scratch_size(1, Kokkos::PerTeam(scratch)),
      KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank();
        const NetworkSums sums(team, C, nodes, d);
        T* const wt = scratch_array<T>(team, C * Cout);
        T* const dw = scratch_array<T>(team, C * Cout);  // like W: [C][Cout]
        T* const y_rows = scratch_array<T>(team, block * C);
        T* const dy_ln = scratch_array<T>(team, MR * C);
        T* const xr = scratch_array<T>(team, C);
        T* const dg = scratch_array<T>(team, C);
        linear_detail::transpose_weights(team, wt, &P(b, off_w), C, Cout);
        const T* gain = &P(b, off_gain);
        for (std::int64_t b0 = 0; b0 < edges; b0 += block) {
          add_dw_block<MR, NW>(dw, y_rows, dy, e, h, source, target, mean, rstd, gain, &P(b, off_bias), b, b0,
                               clamp_tile(edges - b0, block));
          for (std::int64_t r0 = b0; r0 < edges && r0 < b0 + block; r0 += MR) {
            const std::int64_t nr = clamp_tile(edges - r0, MR);
            const linear_detail::Ahead ahead = linear_detail::rows_ahead(
                &dy(b, 0, 0) + (r0 + MR) * dy_stride, clamp_tile(edges - r0 - MR, MR), dy_stride);
            for (std::int64_t i0 = 0; i0 < C; i0 += NR) {
              const linear_detail::TileOut<T> to{dy_ln + i0, C, nullptr, false, nullptr};
              linear_detail::tile_product<MR, NR>(&dy(b, r0, 0), dy_stride, 1, wt + i0, C, Cout, nr,
                                                  clamp_tile(C - i0, NR), to, false, ahead);
            }
            for (std::int64_t rr = 0; rr < nr; ++rr) {
              const std::int64_t k = r0 + rr;
              backward_row_dx(sums, xr, dg, dy_ln + rr * C, de, e, h, source, target, mean, rstd, gain, b, k, with_de);
              layernorm_detail::add_gain_bias_terms(sums.dgain, sums.dbias, dy_ln + rr * C, xr, mean(b, k), rstd(b, k),
                                                    C);
            }
          }
        }
        add_network_sums(sums, dP, dh, b, off_gain, off_bias, C, with_dh);
        linear_detail::add_dw_sums_and_dbias<NW>(dP, dy, dw, b, off_w, off_b, C, Cout);
      });
}

}  // namespace edge_input_backward_detail

// With g = [e ; h_s ; h_t], y = layernorm(g) (gain at P(b, off_gain + c), bias at off_bias + c;
// mean, rstd saved by edge_input_forward or edge_inputs_layernorm_forward) and the layer
// z = y·W + bias (W at P(b, off_w), [3d][Cout]; the bias at off_b, none when off_b < 0), from
// dz = ∂J/∂z: de += ∂J/∂e, dh += ∂J/∂h (either may be absent), and the gradients of W, the layer's
// bias and the layer norm's gain and bias += in dP. y is rebuilt from g, not read. Only where
// edge_input_backward_fused() holds.
template <class E, class T>
void edge_input_backward(const E& exec, const V3<E, T>& de, const V3<E, T>& dh, const V2<E, T>& dP,
                         const V3<E, T>& dz, std::int64_t off_w, std::int64_t off_b, const V3<E, T>& e,
                         const V3<E, T>& h, const GraphViews<typename E::memory_space>& graph, const V2<E, T>& P,
                         const V2<E, T>& mean, const V2<E, T>& rstd, std::int64_t off_gain, std::int64_t off_bias) {
  if (!edge_input_backward_fused(exec, e.extent(0)))
    throw std::invalid_argument("edge_input_backward: needs a host with 4 networks per thread");
  // The tile widths of the two products: dx's output is 3d wide, dW's Cout.
  const auto run = [&exec, &de, &dh, &dP, &dz, off_w, off_b, &e, &h, &graph, &P, &mean, &rstd, off_gain,
                    off_bias](auto dx_cols, auto dw_cols) {
    edge_input_backward_detail::backward_by_network<E, decltype(dx_cols)::value, decltype(dw_cols)::value>(
        exec, de, dh, dP, dz, off_w, off_b, e, h, graph, P, mean, rstd, off_gain, off_bias);
  };
  linear_detail::with_tile_cols<E>(3 * e.extent(2), [&run, &dz](auto dx_cols) {
    linear_detail::with_tile_cols<E>(dz.extent(2), [&run, dx_cols](auto dw_cols) { run(dx_cols, dw_cols); });
  });
}

}  // namespace hnet::kernels
