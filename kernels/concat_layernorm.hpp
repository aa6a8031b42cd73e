#pragma once
// A concatenation [a ; b] along the channels (gather.hpp's concat) and its layer norm
// (layernorm.hpp) in one pass, as the latent channel's posterior input LN([state ; encoder state])
// needs (model.md §5.3): the concatenated rows live in a thread's L1, never in memory. At paper
// size [a ; b] is 13 MB per edge level; the two kernels wrote it, read it back and, in the
// backward, wrote and read its gradient as well.
//
// Each row sees the same operations in the same order as in the two kernels, so the bits are
// theirs (the pattern of edge_layernorm.hpp): the forward copies a row's two parts into y and
// normalises it in place; the backward (one work item per network, as
// layernorm_backward_by_network) copies the row again, forms its dx in scratch, adds the gain and
// bias terms and adds dx's two parts to da and db, as concat_backward adds them.
#include <cstdint>

#include "kernels/layernorm.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

namespace concat_layernorm_detail {
template <class T>
KOKKOS_INLINE_FUNCTION void concat_row(T* row, const T* ar, std::int64_t ca, const T* br, std::int64_t cb) {
  for (std::int64_t c = 0; c < ca; ++c) row[c] = ar[c];
  for (std::int64_t c = 0; c < cb; ++c) row[ca + c] = br[c];
}
}  // namespace concat_layernorm_detail

// The fused backward is a layer-norm backward by network: the model fuses where that one runs.
template <class E>
bool concat_layernorm_fused(const E& exec, std::int64_t networks) {
  return layernorm_by_network(exec, networks);
}

// y [B][R][Ca + Cb] = layernorm([a ; b]) with gain at P(b, off_gain + c), bias at P(b, off_bias + c);
// mean, rstd [B][R] saved for the backward.
template <class E, class T>
void concat_layernorm_forward(const E& exec, const V3<E, T>& y, const V2<E, T>& mean, const V2<E, T>& rstd,
                              const V3<E, T>& a, const V3<E, T>& b, const V2<E, T>& P, std::int64_t off_gain,
                              std::int64_t off_bias) {
  const std::int64_t B = a.extent(0), R = a.extent(1), ca = a.extent(2), cb = b.extent(2), C = ca + cb;
  const T inv_c = T(1) / static_cast<T>(C);
  Kokkos::parallel_for(
      "hnet::concat_layernorm_forward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t n = flat / R, r = flat % R;
        T* yr = &y(n, r, 0);
        concat_layernorm_detail::concat_row(yr, &a(n, r, 0), ca, &b(n, r, 0), cb);
        layernorm_detail::normalize_row(yr, mean(n, r), rstd(n, r), yr, &P(n, off_gain), &P(n, off_bias), C, inv_c);
      });
}

// From dy = ∂J/∂y: da += ∂J/∂a, db += ∂J/∂b (either may be absent), and the gain and bias
// gradients += at their offsets in dP. A team (one thread) per network; the model calls it where
// concat_layernorm_fused() holds.
template <class E, class T>
void concat_layernorm_backward(const E& exec, const V3<E, T>& da, const V3<E, T>& db, const V2<E, T>& dP,
                               const V3<E, T>& dy, const V3<E, T>& a, const V3<E, T>& b, const V2<E, T>& P,
                               const V2<E, T>& mean, const V2<E, T>& rstd, std::int64_t off_gain,
                               std::int64_t off_bias) {
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  const std::int64_t B = a.extent(0), R = a.extent(1), ca = a.extent(2), cb = b.extent(2), C = ca + cb;
  const bool with_da = present(da), with_db = present(db);
  const T inv_c = T(1) / static_cast<T>(C);
  // Per network: the gain and bias sums in double, one concatenated row and its dx.
  const std::size_t scratch = scratch_bytes<double>(2 * C) + 2 * scratch_bytes<T>(C);
  Kokkos::parallel_for(
      "hnet::concat_layernorm_backward", Policy(exec, B, 1).set_scratch_size(1, Kokkos::PerTeam(scratch)),
      KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t n = team.league_rank();
        double* const dgain = scratch_array<double>(team, 2 * C);
        double* const dbias = dgain + C;
        T* const xr = scratch_array<T>(team, C);
        T* const dxr = scratch_array<T>(team, C);
        for (std::int64_t c = 0; c < 2 * C; ++c) dgain[c] = 0.0;
        const T* gain = &P(n, off_gain);
        for (std::int64_t r = 0; r < R; ++r) {
          const T mu = mean(n, r), rs = rstd(n, r);
          const T* dyr = &dy(n, r, 0);
          concat_layernorm_detail::concat_row(xr, &a(n, r, 0), ca, &b(n, r, 0), cb);
          layernorm_detail::add_row_dx(dxr, dyr, xr, gain, mu, rs, C, inv_c, false);
          layernorm_detail::add_gain_bias_terms(dgain, dbias, dyr, xr, mu, rs, C);
          if (with_da)
            for (std::int64_t c = 0; c < ca; ++c) da(n, r, c) += dxr[c];
          if (with_db)
            for (std::int64_t c = 0; c < cb; ++c) db(n, r, c) += dxr[ca + c];
        }
        layernorm_detail::add_gain_bias_sums(dP, n, off_gain, off_bias, dgain, dbias, C);
      });
}

}  // namespace hnet::kernels
