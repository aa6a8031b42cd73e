#pragma once
// One call of the generated-MLP kernels with random data, with host mirrors for checks.
#include <cmath>
#include <random>
#include <vector>

#include "kernels/generated_mlp.hpp"

namespace hnet::testing {
namespace hk = hnet::kernels;

// Everything one call of the generated-MLP kernels touches, with host mirrors.
template <class T>
struct MlpCase {
  std::int64_t batch, samples, n, m;
  hnet::View3<T> x, w0, z, dz, dw0;
  hnet::View2<T> y, b0, w1, pred, db0, dw1;
  hnet::View1<T> b1, db1;
  hnet::View1<double> loss, dloss;
  typename hnet::View3<T>::HostMirror hx, hw0;
  typename hnet::View2<T>::HostMirror hy, hb0, hw1;
  typename hnet::View1<T>::HostMirror hb1;

  MlpCase(std::int64_t B, std::int64_t S, std::int64_t N, std::int64_t M, unsigned seed)
      : batch(B), samples(S), n(N), m(M),
        x("x", B, S, N), w0("w0", B, N, M), z("z", B, S, M), dz("dz", B, S, M), dw0("dw0", B, N, M),
        y("y", B, S), b0("b0", B, M), w1("w1", B, M), pred("pred", B, S), db0("db0", B, M), dw1("dw1", B, M),
        b1("b1", B), db1("db1", B), loss("loss", B), dloss("dloss", B) {
    hx = Kokkos::create_mirror_view(x), hw0 = Kokkos::create_mirror_view(w0);
    hy = Kokkos::create_mirror_view(y), hb0 = Kokkos::create_mirror_view(b0);
    hw1 = Kokkos::create_mirror_view(w1), hb1 = Kokkos::create_mirror_view(b1);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    for (std::size_t k = 0; k < hx.size(); ++k) hx.data()[k] = static_cast<T>(normal(rng));
    for (std::size_t k = 0; k < hy.size(); ++k) hy.data()[k] = static_cast<T>(2.0 + normal(rng));
    for (std::size_t k = 0; k < hw0.size(); ++k) hw0.data()[k] = static_cast<T>(0.8 * normal(rng));
    for (std::size_t k = 0; k < hb0.size(); ++k) hb0.data()[k] = static_cast<T>(0.5 * normal(rng));
    for (std::size_t k = 0; k < hw1.size(); ++k) hw1.data()[k] = static_cast<T>(normal(rng));
    for (std::size_t k = 0; k < hb1.size(); ++k) hb1.data()[k] = static_cast<T>(normal(rng));
    upload();
  }
  void upload() {
    Kokkos::deep_copy(x, hx), Kokkos::deep_copy(w0, hw0), Kokkos::deep_copy(y, hy);
    Kokkos::deep_copy(b0, hb0), Kokkos::deep_copy(w1, hw1), Kokkos::deep_copy(b1, hb1);
  }
  std::vector<double> forward() {
    upload();
    hk::generated_mlp_forward(hnet::ExecSpace(), loss, z, pred, x, y, w0, b0, w1, b1);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), loss);
    return std::vector<double>(h.data(), h.data() + batch);
  }
  void backward(const std::vector<double>& upstream) {
    auto h = Kokkos::create_mirror_view(dloss);
    for (std::int64_t b = 0; b < batch; ++b) h(b) = upstream[b];
    Kokkos::deep_copy(dloss, h);
    hk::generated_mlp_backward(hnet::ExecSpace(), dw0, db0, dw1, db1, dloss, x, y, w1, z, pred, dz);
  }
};

// Direct transcription of model.md §2 on the host, in double.
inline double reference_loss(const MlpCase<double>& c, std::int64_t b) {
  double sum = 0;
  for (std::int64_t s = 0; s < c.samples; ++s) {
    double f = c.hb1(b);
    for (std::int64_t j = 0; j < c.m; ++j) {
      double zj = c.hb0(b, j);
      for (std::int64_t i = 0; i < c.n; ++i) zj += c.hx(b, s, i) * c.hw0(b, i, j);
      f += c.hw1(b, j) * zj / (1.0 + std::exp(-zj));
    }
    sum += (f - c.hy(b, s)) * (f - c.hy(b, s));
  }
  return sum / c.samples;
}

template <class V>
std::vector<double> to_host(const V& view) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(h.data(), h.data() + h.size());
}

}  // namespace hnet::testing
