#pragma once
// Helpers for kernel tests: random device views with host access, and flattening to vectors.
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <random>
#include <vector>

namespace hnet::testing {

// Fills a device view with N(mean, scale²) numbers from a fixed seed.
template <class View>
void fill_normal(const View& view, unsigned seed, double scale = 1.0, double mean = 0.0) {
  auto host = Kokkos::create_mirror_view(view);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(mean, scale);
  for (std::size_t k = 0; k < host.span(); ++k) host.data()[k] = static_cast<typename View::value_type>(normal(rng));
  Kokkos::deep_copy(view, host);
}

template <class View>
std::vector<double> to_vector(const View& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.span());
}

template <class View>
void from_vector(const View& view, const std::vector<double>& values) {
  auto host = Kokkos::create_mirror_view(view);
  for (std::size_t k = 0; k < host.span(); ++k) host.data()[k] = static_cast<typename View::value_type>(values[k]);
  Kokkos::deep_copy(view, host);
}

// Rows of d values (c = h·dh + i) in kernels/attention.hpp's head-interleaved order (column i·H + h).
inline std::vector<double> head_interleaved(const std::vector<double>& rows, std::int64_t d, int heads) {
  std::vector<double> out(rows.size());
  const std::int64_t dh = d / heads;
  for (std::size_t r = 0; r < rows.size() / static_cast<std::size_t>(d); ++r)
    for (std::int64_t c = 0; c < d; ++c) out[r * d + (c % dh) * heads + c / dh] = rows[r * d + c];
  return out;
}

// Σ upstream·output: the scalar a gradient check differentiates.
inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

}  // namespace hnet::testing
