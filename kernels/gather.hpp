#pragma once
// Copies and gathers that assemble layer inputs (model.md §5): the edge-update input
// [e ; h_s ; h_t] of §5.1, concatenations such as [h ; ĥ] of §5.3, row ranges, and learned type
// vectors. Each backward is a gather: every gradient element is owned by one work item that
// sums its contributions in a fixed order (incidence order, row order), in double, without atomics.
#include <cstdint>

#include "kernels/graph_views.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

namespace gather_detail {
// Channels per work item in the gathers: each contribution is read as a short contiguous run.
constexpr std::int64_t block = 8;
}  // namespace gather_detail

// g [B][E][3d] = [e[b,edge] ; h[b,source] ; h[b,target]].
template <class E, class T>
void edge_inputs_forward(const E& exec, const V3<E, T>& g, const V3<E, T>& e, const V3<E, T>& h,
                         const GraphViews<typename E::memory_space>& graph) {
  const std::int64_t B = e.extent(0), edges = e.extent(1), d = e.extent(2);
  const auto source = graph.edge_source, target = graph.edge_target;
  Kokkos::parallel_for(
      "hnet::edge_inputs_forward", Kokkos::RangePolicy<E>(exec, 0, B * edges), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / edges, k = flat % edges;
        const std::int64_t s = source(k), t = target(k);
        for (std::int64_t c = 0; c < d; ++c) {
          g(b, k, c) = e(b, k, c);
          g(b, k, d + c) = h(b, s, c);
          g(b, k, 2 * d + c) = h(b, t, c);
        }
      });
}

// de += dg[:, :, 0:d]; dh[v] += Σ over v's incidences (CSR order) of dg[edge, d:2d] where v is the
// source, dg[edge, 2d:3d] where v is the target. Either gradient may be absent.
template <class E, class T>
void edge_inputs_backward(const E& exec, const V3<E, T>& de, const V3<E, T>& dh, const V3<E, T>& dg,
                          const GraphViews<typename E::memory_space>& graph) {
  using gather_detail::block;
  const std::int64_t B = dg.extent(0), edges = dg.extent(1), d = dg.extent(2) / 3;
  if (present(de)) {
    Kokkos::parallel_for(
        "hnet::edge_inputs_backward::de", Kokkos::RangePolicy<E>(exec, 0, B * edges),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / edges, k = flat % edges;
          for (std::int64_t c = 0; c < d; ++c) de(b, k, c) += dg(b, k, c);
        });
  }
  if (present(dh)) {
    const std::int64_t nodes = dh.extent(1), blocks = (d + block - 1) / block;
    const auto offset = graph.incidence_offset, edge = graph.incidence_edge, direction = graph.incidence_direction;
    Kokkos::parallel_for(
        "hnet::edge_inputs_backward::dh", Kokkos::RangePolicy<E>(exec, 0, B * nodes * blocks),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / (nodes * blocks), v = (flat / blocks) % nodes, c0 = (flat % blocks) * block;
          const std::int64_t nc = d - c0 < block ? d - c0 : block;
          double acc[block] = {};
          for (std::int64_t a = offset(v); a < offset(v + 1); ++a) {
            const std::int64_t col = (direction(a) == direction_out ? d : 2 * d) + c0;
            const std::int64_t k = edge(a);
            for (std::int64_t j = 0; j < nc; ++j) acc[j] += static_cast<double>(dg(b, k, col + j));
          }
          for (std::int64_t j = 0; j < nc; ++j) dh(b, v, c0 + j) += static_cast<T>(acc[j]);
        });
  }
}

// y [B][R][Ca+Cb] = [a ; b].
template <class E, class T>
void concat_forward(const E& exec, const V3<E, T>& y, const V3<E, T>& a, const V3<E, T>& b) {
  const std::int64_t B = a.extent(0), R = a.extent(1), ca = a.extent(2), cb = b.extent(2);
  Kokkos::parallel_for(
      "hnet::concat_forward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t n = flat / R, r = flat % R;
        for (std::int64_t c = 0; c < ca; ++c) y(n, r, c) = a(n, r, c);
        for (std::int64_t c = 0; c < cb; ++c) y(n, r, ca + c) = b(n, r, c);
      });
}

// da += dy[:, :, 0:Ca], db += dy[:, :, Ca:]; either may be absent.
template <class E, class T>
void concat_backward(const E& exec, const V3<E, T>& da, const V3<E, T>& db, const V3<E, T>& dy) {
  const std::int64_t B = dy.extent(0), R = dy.extent(1);
  const std::int64_t ca = present(da) ? std::int64_t(da.extent(2)) : 0;
  const std::int64_t cb = present(db) ? std::int64_t(db.extent(2)) : 0;
  const std::int64_t split = dy.extent(2) - cb;  // = Ca, also when da is absent
  Kokkos::parallel_for(
      "hnet::concat_backward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t n = flat / R, r = flat % R;
        for (std::int64_t c = 0; c < ca; ++c) da(n, r, c) += dy(n, r, c);
        for (std::int64_t c = 0; c < cb; ++c) db(n, r, c) += dy(n, r, split + c);
      });
}

// dst[b][r][c] = src[b][row0 + r][c] for r < dst.extent(1).
template <class E, class T>
void copy_rows_forward(const E& exec, const V3<E, T>& dst, const V3<E, T>& src, std::int64_t row0) {
  const std::int64_t B = dst.extent(0), R = dst.extent(1), C = dst.extent(2);
  Kokkos::parallel_for(
      "hnet::copy_rows_forward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / R, r = flat % R;
        for (std::int64_t c = 0; c < C; ++c) dst(b, r, c) = src(b, row0 + r, c);
      });
}

// dsrc[b][row0 + r] += ddst[b][r].
template <class E, class T>
void copy_rows_backward(const E& exec, const V3<E, T>& dsrc, const V3<E, T>& ddst, std::int64_t row0) {
  const std::int64_t B = ddst.extent(0), R = ddst.extent(1), C = ddst.extent(2);
  Kokkos::parallel_for(
      "hnet::copy_rows_backward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / R, r = flat % R;
        for (std::int64_t c = 0; c < C; ++c) dsrc(b, row0 + r, c) += ddst(b, r, c);
      });
}

// y[b][r][c] = (or +=) P(b, off + types(r)·C + c): one learned vector per node or edge type.
template <class E, class T>
void type_embedding_forward(const E& exec, const V3<E, T>& y, const V1<E, int>& types, const V2<E, T>& P,
                            std::int64_t off, bool accumulate) {
  const std::int64_t B = y.extent(0), R = y.extent(1), C = y.extent(2);
  Kokkos::parallel_for(
      "hnet::type_embedding_forward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / R, r = flat % R;
        const std::int64_t base = off + static_cast<std::int64_t>(types(r)) * C;
        for (std::int64_t c = 0; c < C; ++c) {
          if (accumulate)
            y(b, r, c) += P(b, base + c);
          else
            y(b, r, c) = P(b, base + c);
        }
      });
}

// dP(b, off + t·C + c) += Σ_{r: types(r) = t} dy[b][r][c], rows in order, for t < num_types.
template <class E, class T>
void type_embedding_backward(const E& exec, const V2<E, T>& dP, const V3<E, T>& dy, const V1<E, int>& types,
                             std::int64_t off, std::int64_t num_types) {
  using gather_detail::block;
  const std::int64_t B = dy.extent(0), R = dy.extent(1), C = dy.extent(2), blocks = (C + block - 1) / block;
  Kokkos::parallel_for(
      "hnet::type_embedding_backward", Kokkos::RangePolicy<E>(exec, 0, B * num_types * blocks),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (num_types * blocks), t = (flat / blocks) % num_types;
        const std::int64_t c0 = (flat % blocks) * block, nc = C - c0 < block ? C - c0 : block;
        double acc[block] = {};
        for (std::int64_t r = 0; r < R; ++r) {
          if (types(r) != t) continue;
          for (std::int64_t j = 0; j < nc; ++j) acc[j] += static_cast<double>(dy(b, r, c0 + j));
        }
        for (std::int64_t j = 0; j < nc; ++j) dP(b, off + t * C + c0 + j) += static_cast<T>(acc[j]);
      });
}

}  // namespace hnet::kernels
