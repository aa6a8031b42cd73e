// Prints a digest of everything the kernels compute for a fixed problem. ctest runs it at
// 1 and 2 OpenMP threads (and twice at 2) and requires the same digest: results must not
// depend on the thread count.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "kernels/generated_mlp.hpp"
#include "kernels/task_data.hpp"

namespace {
std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t k = 0; k < bytes; ++k) h = (h ^ p[k]) * 0x100000001B3ULL;
  return h;
}
template <class V>
std::uint64_t digest(std::uint64_t h, const V& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return fnv1a(h, host.data(), host.size() * sizeof(typename V::value_type));
}
}  // namespace

int main(int argc, char** argv) {
  setenv("OMP_PROC_BIND", "false", 0);
  Kokkos::ScopeGuard guard(argc, argv);
  namespace hk = hnet::kernels;
  const std::int64_t B = 6, S = 257, n = 16, m = 48;
  hnet::ExecSpace exec;
  hnet::View3<float> x("x", B, S, n), z("z", B, S, m), dz("dz", B, S, m), w0("w0", B, n, m), dw0("dw0", B, n, m);
  hnet::View2<float> y("y", B, S), pred("pred", B, S), b0("b0", B, m), w1("w1", B, m), db0("db0", B, m), dw1("dw1", B, m);
  hnet::View1<float> b1("b1", B), db1("db1", B);
  hnet::View1<double> loss("loss", B), dloss("dloss", B);
  hk::TaskDataKeys keys;
  keys.seed = 3;
  keys.step = 5;
  hk::task_data_forward(exec, x, y, keys, hk::InputKind::normal, hk::NormKind::l1);
  const auto key = hk::make_key(9, hk::Purpose::test_data);
  Kokkos::parallel_for(
      "hnet::probe::parameters", Kokkos::RangePolicy<hnet::ExecSpace>(exec, 0, B), KOKKOS_LAMBDA(const std::int64_t b) {
        for (std::int64_t k = 0; k < n * m; ++k) w0(b, k / m, k % m) = static_cast<float>(0.5 * hk::normal(key, b * 10000 + k));
        for (std::int64_t j = 0; j < m; ++j) {
          b0(b, j) = static_cast<float>(0.1 * hk::normal(key, b * 10000 + 5000 + j));
          w1(b, j) = static_cast<float>(0.2 * hk::normal(key, b * 10000 + 6000 + j));
        }
        b1(b) = 10.0f;
        dloss(b) = 1.0 + 0.1 * b;
      });
  hk::generated_mlp_forward(exec, loss, z, pred, x, y, w0, b0, w1, b1);
  hk::generated_mlp_backward(exec, dw0, db0, dw1, db1, dloss, x, y, w1, z, pred, dz);
  std::uint64_t h = 0xCBF29CE484222325ULL;
  h = digest(h, x), h = digest(h, y), h = digest(h, loss), h = digest(h, pred);
  h = digest(h, dw0), h = digest(h, db0), h = digest(h, dw1), h = digest(h, db1);
  std::printf("digest %016llx concurrency %d\n", static_cast<unsigned long long>(h),
              static_cast<int>(exec.concurrency()));
  return 0;
}
