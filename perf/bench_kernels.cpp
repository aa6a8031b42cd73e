// Micro-benchmarks of the kernels with FLOP and byte counters. Run:
//   OMP_NUM_THREADS=2 OMP_PROC_BIND=false build/bin/hnet_bench_kernels
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "kernels/generated_mlp.hpp"
#include "kernels/task_data.hpp"

namespace hk = hnet::kernels;

namespace {

struct MlpBuffers {
  hnet::View3<float> x, z, dz, w0, dw0;
  hnet::View2<float> y, pred, b0, w1, db0, dw1;
  hnet::View1<float> b1, db1;
  hnet::View1<double> loss, dloss;
  MlpBuffers(std::int64_t B, std::int64_t S, std::int64_t n, std::int64_t m)
      : x("x", B, S, n), z("z", B, S, m), dz("dz", B, S, m), w0("w0", B, n, m), dw0("dw0", B, n, m),
        y("y", B, S), pred("pred", B, S), b0("b0", B, m), w1("w1", B, m), db0("db0", B, m), dw1("dw1", B, m),
        b1("b1", B), db1("db1", B), loss("loss", B), dloss("dloss", B) {
    hk::task_data_forward(hnet::ExecSpace(), x, y, hk::TaskDataKeys{}, hk::InputKind::normal, hk::NormKind::l1);
    Kokkos::deep_copy(w0, 0.1f), Kokkos::deep_copy(w1, 0.05f), Kokkos::deep_copy(dloss, 1.0);
  }
};

// Sizes: B_β, B_x, n (m = 3n). The quick deck, the paper-scale deck, the scaling target.
void sizes(benchmark::internal::Benchmark* b) {
  b->Args({8, 256, 16})->Args({32, 1024, 16})->Args({64, 4096, 64})->Unit(benchmark::kMillisecond);
}

void BM_GeneratedMlpForward(benchmark::State& state) {
  const std::int64_t B = state.range(0), S = state.range(1), n = state.range(2), m = 3 * n;
  MlpBuffers buf(B, S, n, m);
  hnet::ExecSpace exec;
  for (auto _ : state) {
    hk::generated_mlp_forward(exec, buf.loss, buf.z, buf.pred, buf.x, buf.y, buf.w0, buf.b0, buf.w1, buf.b1);
    exec.fence();
  }
  const double flops = double(B) * S * (2.0 * n * m + 6.0 * m + 3.0);
  const double bytes = 4.0 * B * (S * n + S * m + S + n * m + 2 * m);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_GeneratedMlpForward)->Apply(sizes);

void BM_GeneratedMlpBackward(benchmark::State& state) {
  const std::int64_t B = state.range(0), S = state.range(1), n = state.range(2), m = 3 * n;
  MlpBuffers buf(B, S, n, m);
  hnet::ExecSpace exec;
  hk::generated_mlp_forward(exec, buf.loss, buf.z, buf.pred, buf.x, buf.y, buf.w0, buf.b0, buf.w1, buf.b1);
  for (auto _ : state) {
    hk::generated_mlp_backward(exec, buf.dw0, buf.db0, buf.dw1, buf.db1, buf.dloss, buf.x, buf.y, buf.w1, buf.z,
                               buf.pred, buf.dz);
    exec.fence();
  }
  const double flops = double(B) * S * (2.0 * n * m + 12.0 * m + 4.0);
  const double bytes = 4.0 * B * (S * n + 3.0 * S * m + 2 * S + 2 * n * m + 4 * m);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_GeneratedMlpBackward)->Apply(sizes);

}  // namespace
