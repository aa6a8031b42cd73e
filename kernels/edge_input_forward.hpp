#pragma once
// The forward of the edge update's MLP in one pass (model.md §5.1): the edge input
// g = [e ; h_s ; h_t], its layer norm y (edge_layernorm.hpp), the first layer with its swish,
// z = y·W + bias, swish(z) and swish′(z) (linear.hpp's linear_swish_forward), and, when asked,
// the second layer joining the edge stream, e_mid = e + swish(z)·W₂ + bias₂ (linear_forward with a
// residual). A thread takes a network and forms y a tile of MR rows at a time in scratch, multiplies
// the tile by W while it is in L1, then the tile's rows of swish(z), just written, by W₂: y (20 MB
// per block at paper size) is never in memory, and swish(z) is not read back from memory. Its
// backward (edge_input_backward.hpp) rebuilds y's rows from the saved mean and rstd.
//
// The bits are those of the kernels run apart: each row is gathered and normalised in place by
// the same functions as in edge_inputs_layernorm_forward, and each output tile is the same
// tile_product with the same TileOut as in linear_swish_forward and linear_forward.
//
// Where edge_input_backward_fused() holds (the host, 4 networks per thread); elsewhere the model
// runs the kernels apart and keeps y.
#include <cstdint>
#include <stdexcept>

#include "kernels/edge_input_backward.hpp"
#include "kernels/edge_layernorm.hpp"
#include "kernels/linear.hpp"

namespace hnet::kernels {

// The edge MLP's second layer for edge_input_forward: out = residual + swish(z)·W₂ + bias₂, W₂ at
// P(b, off_w) ([Cout][Cout₂]), bias₂ at off_b (none when off_b < 0); residual shaped and strided like
// out. Absent (no out): edge_input_forward stops at swish(z).
template <class E, class T>
struct EdgeMlpSecondLayer {
  V3<E, T> out, residual;
  std::int64_t off_w = -1, off_b = -1;
};

namespace edge_input_forward_detail {

template <class E, int NR, int NR2, class T>
void forward_by_network(const E& exec, const V3<E, T>& activated, const V3<E, T>& slope, const V2<E, T>& mean,
                        const V2<E, T>& rstd, const V3<E, T>& e, const V3<E, T>& h,
                        const GraphViews<typename E::memory_space>& graph, const V2<E, T>& P, std::int64_t off_gain,
                        std::int64_t off_bias, std::int64_t off_w, std::int64_t off_b,
                        const EdgeMlpSecondLayer<E, T>& second) {
  using linear_detail::clamp_tile;
  constexpr int MR = linear_detail::Tile<E>::rows;
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  const std::int64_t B = e.extent(0), edges = e.extent(1), d = e.extent(2), C = 3 * d, Cout = slope.extent(2);
  const std::int64_t out_stride = slope.stride_1();
  const V3<E, T> out2 = second.out, residual = second.residual;
  const bool with_second = present(out2);
  const std::int64_t Cout2 = with_second ? out2.extent(2) : 0, out2_stride = with_second ? out2.stride_1() : 0;
  const std::int64_t off_w2 = second.off_w, off_b2 = second.off_b;
  const T inv_c = T(1) / static_cast<T>(C);
  const auto source = graph.edge_source, target = graph.edge_target;
  Kokkos::parallel_for(
      "hnet::edge_input_forward",
      Policy(exec, B, 1).set_scratch_size(1, Kokkos::PerTeam(scratch_bytes<T>(MR * C))),
      KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank();
        T* const rows = scratch_array<T>(team, MR * C);  // the tile's rows of y
        const T* const gain = &P(b, off_gain);
        const T* const bias = &P(b, off_bias);
        for (std::int64_t r0 = 0; r0 < edges; r0 += MR) {
          const std::int64_t nr = clamp_tile(edges - r0, MR);
          for (std::int64_t rr = 0; rr < nr; ++rr) {
            const std::int64_t k = r0 + rr;
            T* const yr = rows + rr * C;
            edge_layernorm_detail::gather_row(yr, &e(b, k, 0), &h(b, source(k), 0), &h(b, target(k), 0), d);
            layernorm_detail::normalize_row(yr, mean(b, k), rstd(b, k), yr, gain, bias, C, inv_c);
          }
          for (std::int64_t o0 = 0; o0 < Cout; o0 += NR) {
            const linear_detail::TileOut<T> to{&slope(b, r0, o0), out_stride, off_b >= 0 ? &P(b, off_b + o0) : nullptr,
                                               false, nullptr, &activated(b, r0, o0)};
            linear_detail::tile_product<MR, NR>(rows, C, 1, &P(b, off_w) + o0, Cout, C, nr, clamp_tile(Cout - o0, NR),
                                                to);
          }
          if (!with_second) continue;
          for (std::int64_t o0 = 0; o0 < Cout2; o0 += NR2) {
            const linear_detail::TileOut<T> to{&out2(b, r0, o0), out2_stride, off_b2 >= 0 ? &P(b, off_b2 + o0) : nullptr,
                                               false, &residual(b, r0, o0)};
            linear_detail::tile_product<MR, NR2>(&activated(b, r0, 0), out_stride, 1, &P(b, off_w2) + o0, Cout2, Cout,
                                                 nr, clamp_tile(Cout2 - o0, NR2), to);
          }
        }
      });
}

}  // namespace edge_input_forward_detail

// With g = [e ; h_s ; h_t] and y = layernorm(g) (gain at P(b, off_gain + c), bias at off_bias + c;
// mean, rstd [B][E] saved for the backward), z = y·W + bias (W at P(b, off_w), [3d][Cout]; the
// bias at off_b, none when off_b < 0): activated = swish(z), slope = swish′(z), as
// linear_swish_forward writes them, and the second layer when `second` has an output. Only where
// edge_input_backward_fused() holds.
template <class E, class T>
void edge_input_forward(const E& exec, const V3<E, T>& activated, const V3<E, T>& slope, const V2<E, T>& mean,
                        const V2<E, T>& rstd, const V3<E, T>& e, const V3<E, T>& h,
                        const GraphViews<typename E::memory_space>& graph, const V2<E, T>& P, std::int64_t off_gain,
                        std::int64_t off_bias, std::int64_t off_w, std::int64_t off_b,
                        const EdgeMlpSecondLayer<E, T>& second = {}) {
  if (!edge_input_backward_fused(exec, e.extent(0)))
    throw std::invalid_argument("edge_input_forward: needs a host with 4 networks per thread");
  if (present(second.out) && second.residual.stride_1() != second.out.stride_1())
    throw std::invalid_argument("edge_input_forward: the residual must be strided like the output");
  // Tile widths: the first layer's Cout; the second layer's (any width when there is none).
  const std::int64_t cout2 = present(second.out) ? second.out.extent(2) : slope.extent(2);
  const auto run = [&exec, &activated, &slope, &mean, &rstd, &e, &h, &graph, &P, off_gain, off_bias, off_w, off_b,
                    &second](auto cols, auto cols2) {
    edge_input_forward_detail::forward_by_network<E, decltype(cols)::value, decltype(cols2)::value>(
        exec, activated, slope, mean, rstd, e, h, graph, P, off_gain, off_bias, off_w, off_b, second);
  };
  linear_detail::with_tile_cols<E>(slope.extent(2), [&run, cout2](auto cols) {
    linear_detail::with_tile_cols<E>(cout2, [&run, cols](auto cols2) { run(cols, cols2); });
  });
}

}  // namespace hnet::kernels
