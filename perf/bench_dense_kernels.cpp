// Micro-benchmarks of the dense kernels at the quick (B=8, d=32) and paper (B=32, d=64) sizes on
// the n=16, m=48 graph (N=65 nodes, E=816 edges). Edge rows dominate the model's cost, so each
// kernel runs on the edge tensor it sees in a block (model.md §5.1). Run:
//   OMP_NUM_THREADS=2 OMP_PROC_BIND=false build/bin/hnet_bench_dense_kernels
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "hnet/graph.hpp"
#include "kernels/edge_input_backward.hpp"
#include "kernels/edge_input_forward.hpp"
#include "kernels/edge_layernorm.hpp"
#include "kernels/gather.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/linear.hpp"
#include "kernels/pointwise.hpp"

namespace hk = hnet::kernels;

namespace {

constexpr std::int64_t graph_n = 16, graph_m = 48;
using F3 = hnet::View3<float>;
using F2 = hnet::View2<float>;

// Wall time: the OpenMP workers' time is not in the main thread's CPU time.
void sizes(benchmark::internal::Benchmark* b) {
  b->Args({8, 32})->Args({32, 64})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// Edge MLP (3d → 2d → d): both layer shapes, since the first is the model's largest GEMM.
void linear_sizes(benchmark::internal::Benchmark* b) {
  for (const auto& bd : {std::pair<int, int>{8, 32}, std::pair<int, int>{32, 64}})
    b->Args({bd.first, bd.second, 3, 2})->Args({bd.first, bd.second, 2, 1})->Args({bd.first, bd.second, 1, 1});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void set_counters(benchmark::State& state, double flops, double bytes) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

F3 filled3(std::int64_t B, std::int64_t R, std::int64_t C, float value) {
  F3 v("hnet::bench::v3", B, R, C);
  Kokkos::deep_copy(v, value);
  return v;
}
F2 filled2(std::int64_t B, std::int64_t p, float value) {
  F2 v("hnet::bench::v2", B, p);
  Kokkos::deep_copy(v, value);
  return v;
}

// HNET_BENCH_COLD=1: every run starts with cold caches (a buffer three times the L3 written, outside
// the timing), as in a training step, where each kernel's operands come from memory.
bool cold_caches() {
  static const bool cold = std::getenv("HNET_BENCH_COLD") && std::string(std::getenv("HNET_BENCH_COLD")) == "1";
  return cold;
}
void flush_caches(const hnet::ExecSpace& exec) {
  static const hnet::View1<float> buffer("hnet::bench::flush", std::int64_t(24) << 20);  // 96 MiB
  static float value = 0.f;
  Kokkos::deep_copy(exec, buffer, value += 1.f);
  exec.fence();
}

template <class F>
void timed(benchmark::State& state, F&& kernel) {
  hnet::ExecSpace exec;
  kernel(exec);  // first touch and thread start-up outside the timing
  exec.fence();
  for (auto _ : state) {
    if (cold_caches()) {
      state.PauseTiming();
      flush_caches(exec);
      state.ResumeTiming();
    }
    kernel(exec);
    exec.fence();
  }
}

void BM_LayerNormForward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), E = graph_n * graph_m + graph_m, C = 3 * d;
  F3 x = filled3(B, E, C, 0.5f), y = filled3(B, E, C, 0.f);
  F2 mean = filled2(B, E, 0.f), rstd = filled2(B, E, 0.f), P = filled2(B, 2 * C, 1.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::layernorm_forward(exec, y, mean, rstd, x, P, 0, C); });
  set_counters(state, 8.0 * B * E * C, 4.0 * B * (2.0 * E * C + 2.0 * E + 2.0 * C));
}
BENCHMARK(BM_LayerNormForward)->Apply(sizes);

void BM_LayerNormBackward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), E = graph_n * graph_m + graph_m, C = 3 * d;
  F3 x = filled3(B, E, C, 0.5f), dy = filled3(B, E, C, 1.f), dx = filled3(B, E, C, 0.f);
  F2 mean = filled2(B, E, 0.f), rstd = filled2(B, E, 1.f), P = filled2(B, 2 * C, 1.f), dP = filled2(B, 2 * C, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::layernorm_backward(exec, dx, dP, dy, x, P, mean, rstd, 0, C);
  });
  // dx reads x, dy and writes dx; the gain/bias pass reads x and dy again.
  set_counters(state, 16.0 * B * E * C, 4.0 * B * (5.0 * E * C + 4.0 * E + 4.0 * C));
}
BENCHMARK(BM_LayerNormBackward)->Apply(sizes);

// The gain/bias pass alone (no dx: the first layer norm of a block, whose input needs none).
void BM_LayerNormBackwardGainBias(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), E = graph_n * graph_m + graph_m, C = 3 * d;
  F3 x = filled3(B, E, C, 0.5f), dy = filled3(B, E, C, 1.f);
  F2 mean = filled2(B, E, 0.f), rstd = filled2(B, E, 1.f), P = filled2(B, 2 * C, 1.f), dP = filled2(B, 2 * C, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::layernorm_backward(exec, F3(), dP, dy, x, P, mean, rstd, 0, C);
  });
  set_counters(state, 5.0 * B * E * C, 4.0 * B * (2.0 * E * C + 2.0 * E + 2.0 * C));
}
BENCHMARK(BM_LayerNormBackwardGainBias)->Apply(sizes);

// A linear layer's benchmark arguments {B, d, Cin/d, Cout/d} on the edge rows, with P = [W ; bias].
struct LinearShape {
  std::int64_t B, E, Cin, Cout, p;
  explicit LinearShape(const benchmark::State& state)
      : B(state.range(0)), E(graph_n * graph_m + graph_m), Cin(state.range(2) * state.range(1)),
        Cout(state.range(3) * state.range(1)), p(Cin * Cout + Cout) {}
};

void BM_LinearForward(benchmark::State& state) {
  const LinearShape shape(state);
  const std::int64_t B = shape.B, E = shape.E, Cin = shape.Cin, Cout = shape.Cout, p = shape.p;
  F3 x = filled3(B, E, Cin, 0.5f), y = filled3(B, E, Cout, 0.f);
  F2 P = filled2(B, p, 0.01f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::linear_forward(exec, y, x, P, 0, Cin * Cout, hk::Accumulate::no); });
  set_counters(state, 2.0 * B * E * Cin * Cout, 4.0 * B * (E * Cin + E * Cout + p));
}
BENCHMARK(BM_LinearForward)->Apply(linear_sizes);

// y = residual + x·W + bias: the layers that join a residual stream (the edge MLP's 2d → d).
void BM_LinearForwardResidual(benchmark::State& state) {
  const LinearShape shape(state);
  const std::int64_t B = shape.B, E = shape.E, Cin = shape.Cin, Cout = shape.Cout, p = shape.p;
  F3 x = filled3(B, E, Cin, 0.5f), y = filled3(B, E, Cout, 0.f), residual = filled3(B, E, Cout, 1.f);
  F2 P = filled2(B, p, 0.01f);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::linear_forward(exec, y, x, P, 0, Cin * Cout, hk::Accumulate::no, residual);
  });
  set_counters(state, 2.0 * B * E * Cin * Cout, 4.0 * B * (E * Cin + 2.0 * E * Cout + p));
}
BENCHMARK(BM_LinearForwardResidual)->Apply(linear_sizes);

void BM_LinearBackward(benchmark::State& state) {
  const LinearShape shape(state);
  const std::int64_t B = shape.B, E = shape.E, Cin = shape.Cin, Cout = shape.Cout, p = shape.p;
  F3 x = filled3(B, E, Cin, 0.5f), dy = filled3(B, E, Cout, 1.f), dx = filled3(B, E, Cin, 0.f);
  F2 P = filled2(B, p, 0.01f), dP = filled2(B, p, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::linear_backward(exec, dx, dP, dy, x, P, 0, Cin * Cout); });
  // dx = dy·Wᵀ and dW = xᵀ·dy: two GEMMs of the forward's size, plus the bias sum.
  set_counters(state, 4.0 * B * E * Cin * Cout + 1.0 * B * E * Cout,
               4.0 * B * (2.0 * E * Cin + E * Cout + 3.0 * p));
}
BENCHMARK(BM_LinearBackward)->Apply(linear_sizes);

// dW and dbias alone (no dx: a layer whose input needs no gradient); dx's share is the difference.
void BM_LinearBackwardWeights(benchmark::State& state) {
  const LinearShape shape(state);
  const std::int64_t B = shape.B, E = shape.E, Cin = shape.Cin, Cout = shape.Cout, p = shape.p;
  F3 x = filled3(B, E, Cin, 0.5f), dy = filled3(B, E, Cout, 1.f);
  F2 P = filled2(B, p, 0.01f), dP = filled2(B, p, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::linear_backward(exec, F3(), dP, dy, x, P, 0, Cin * Cout); });
  set_counters(state, 2.0 * B * E * Cin * Cout + 1.0 * B * E * Cout, 4.0 * B * (E * Cin + E * Cout + 2.0 * p));
}
BENCHMARK(BM_LinearBackwardWeights)->Apply(linear_sizes);

// The narrow ends of the model: a read-out head (n·m rows, d → 1: forward and dW) and the keys of
// the two direction rows (2 rows, d → d: dx, dW).
void BM_LinearReadoutHead(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), R = graph_n * graph_m, p = d + 1;
  F3 x = filled3(B, R, d, 0.5f), y = filled3(B, R, 1, 0.f), dy = filled3(B, R, 1, 1.f);
  F2 P = filled2(B, p, 0.01f), dP = filled2(B, p, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::linear_forward(exec, y, x, P, 0, d, hk::Accumulate::no);
    hk::linear_backward(exec, F3(), dP, dy, x, P, 0, d);
  });
  set_counters(state, 4.0 * B * R * d, 4.0 * B * (2.0 * R * d + 2.0 * R + 3.0 * p));
}
BENCHMARK(BM_LinearReadoutHead)->Apply(sizes);

void BM_LinearDirectionRows(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), R = 2, p = d * d + d;
  F3 x = filled3(B, R, d, 0.5f), dy = filled3(B, R, d, 1.f), dx = filled3(B, R, d, 0.f);
  F2 P = filled2(B, p, 0.01f), dP = filled2(B, p, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::linear_backward(exec, dx, dP, dy, x, P, 0, d * d); });
  set_counters(state, 4.0 * B * R * d * d, 4.0 * B * (3.0 * R * d + 3.0 * p));
}
BENCHMARK(BM_LinearDirectionRows)->Apply(sizes);

// The edge MLP's layers with their swish fused: the forward of 3d → 2d writes swish(y) and its
// slope; the backward of 2d → d takes dx through that slope (model.md §5.1).
void fused_swish_sizes(benchmark::internal::Benchmark* b) {
  b->Args({8, 32, 3, 2})->Args({32, 64, 3, 2})->Args({8, 32, 2, 1})->Args({32, 64, 2, 1});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void BM_LinearForwardSwish(benchmark::State& state) {
  const LinearShape shape(state);
  const std::int64_t B = shape.B, E = shape.E, Cin = shape.Cin, Cout = shape.Cout, p = shape.p;
  F3 x = filled3(B, E, Cin, 0.5f), slope = filled3(B, E, Cout, 0.f), activated = filled3(B, E, Cout, 0.f);
  F2 P = filled2(B, p, 0.01f);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::linear_swish_forward(exec, activated, slope, x, P, 0, Cin * Cout);
  });
  set_counters(state, 2.0 * B * E * Cin * Cout, 4.0 * B * (E * Cin + 2.0 * E * Cout + p));
}
BENCHMARK(BM_LinearForwardSwish)->Apply(fused_swish_sizes);

void BM_LinearBackwardDxSwish(benchmark::State& state) {
  const LinearShape shape(state);
  const std::int64_t B = shape.B, E = shape.E, Cin = shape.Cin, Cout = shape.Cout, p = shape.p;
  F3 x = filled3(B, E, Cin, 0.5f), slope = filled3(B, E, Cin, 0.25f), dy = filled3(B, E, Cout, 1.f),
     dx = filled3(B, E, Cin, 0.f);
  F2 P = filled2(B, p, 0.01f), dP = filled2(B, p, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::linear_backward(exec, dx, dP, dy, x, P, 0, Cin * Cout, hk::Accumulate::no, slope);
  });
  set_counters(state, 4.0 * B * E * Cin * Cout + 1.0 * B * E * Cout,
               4.0 * B * (3.0 * E * Cin + E * Cout + 3.0 * p));
}
BENCHMARK(BM_LinearBackwardDxSwish)->Apply(fused_swish_sizes);

void BM_SwishForward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), E = graph_n * graph_m + graph_m, C = 2 * d;
  F3 x = filled3(B, E, C, 0.5f), y = filled3(B, E, C, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::swish_forward(exec, y, x); });
  set_counters(state, 4.0 * B * E * C, 8.0 * B * E * C);  // exp counted as one
}
BENCHMARK(BM_SwishForward)->Apply(sizes);

void BM_SwishBackward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), E = graph_n * graph_m + graph_m, C = 2 * d;
  F3 x = filled3(B, E, C, 0.5f), dy = filled3(B, E, C, 1.f), dx = filled3(B, E, C, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::swish_backward(exec, dx, dy, x); });
  set_counters(state, 9.0 * B * E * C, 16.0 * B * E * C);
}
BENCHMARK(BM_SwishBackward)->Apply(sizes);

void BM_EdgeInputsForward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1);
  const auto graph = hnet::build_graph(graph_n, graph_m);
  const std::int64_t N = graph.nodes, E = graph.edges;
  F3 e = filled3(B, E, d, 1.f), h = filled3(B, N, d, 2.f), g = filled3(B, E, 3 * d, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::edge_inputs_forward(exec, g, e, h, graph); });
  set_counters(state, 0.0, 4.0 * B * E * 6.0 * d);
}
BENCHMARK(BM_EdgeInputsForward)->Apply(sizes);

void BM_EdgeInputsBackward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1);
  const auto graph = hnet::build_graph(graph_n, graph_m);
  const std::int64_t N = graph.nodes, E = graph.edges;
  F3 dg = filled3(B, E, 3 * d, 1.f), de = filled3(B, E, d, 0.f), dh = filled3(B, N, d, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::edge_inputs_backward(exec, de, dh, dg, graph); });
  set_counters(state, 3.0 * B * E * d, 4.0 * B * (3.0 * E * d + 2.0 * E * d + 2.0 * N * d));
}
BENCHMARK(BM_EdgeInputsBackward)->Apply(sizes);

// The edge update's input and its layer norm (model.md §5.1): the gather and the layer norm as two
// kernels (g written and read back), then fused (kernels/edge_layernorm.hpp, g only in L1). Bytes:
// what each version must move at least (forward: e, y, and g twice apart; backward: dy, e, de
// twice, and dg twice apart plus g once).
struct EdgeLayerNormCase {
  std::int64_t B, d, E, N, C;
  hnet::Graph graph;
  F3 e, h, g, y, dy, dg, de, dh;
  F2 mean, rstd, P, dP;
  explicit EdgeLayerNormCase(const benchmark::State& state)
      : B(state.range(0)), d(state.range(1)), graph(hnet::build_graph(graph_n, graph_m)) {
    E = graph.edges, N = graph.nodes, C = 3 * d;
    e = filled3(B, E, d, 1.f), h = filled3(B, N, d, 2.f), g = filled3(B, E, C, 0.f), y = filled3(B, E, C, 0.f);
    dy = filled3(B, E, C, 1.f), dg = filled3(B, E, C, 0.f), de = filled3(B, E, d, 0.f), dh = filled3(B, N, d, 0.f);
    mean = filled2(B, E, 0.f), rstd = filled2(B, E, 1.f), P = filled2(B, 2 * C, 1.f), dP = filled2(B, 2 * C, 0.f);
  }
};

void BM_EdgeLayerNormForwardApart(benchmark::State& state) {
  EdgeLayerNormCase c(state);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::edge_inputs_forward(exec, c.g, c.e, c.h, c.graph);
    hk::layernorm_forward(exec, c.y, c.mean, c.rstd, c.g, c.P, 0, c.C);
  });
  set_counters(state, 0.0, 4.0 * c.B * c.E * (c.d + 3.0 * c.C));
}
BENCHMARK(BM_EdgeLayerNormForwardApart)->Apply(sizes);

void BM_EdgeLayerNormForwardFused(benchmark::State& state) {
  EdgeLayerNormCase c(state);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::edge_inputs_layernorm_forward(exec, c.y, c.mean, c.rstd, c.e, c.h, c.graph, c.P, 0, c.C);
  });
  set_counters(state, 0.0, 4.0 * c.B * c.E * (c.d + c.C));
}
BENCHMARK(BM_EdgeLayerNormForwardFused)->Apply(sizes);

void BM_EdgeLayerNormBackwardApart(benchmark::State& state) {
  EdgeLayerNormCase c(state);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::layernorm_backward(exec, c.dg, c.dP, c.dy, c.g, c.P, c.mean, c.rstd, 0, c.C, hk::Accumulate::no);
    hk::edge_inputs_backward(exec, c.de, c.dh, c.dg, c.graph);
  });
  set_counters(state, 0.0, 4.0 * c.B * c.E * (4.0 * c.C + 2.0 * c.d));
}
BENCHMARK(BM_EdgeLayerNormBackwardApart)->Apply(sizes);

void BM_EdgeLayerNormBackwardFused(benchmark::State& state) {
  EdgeLayerNormCase c(state);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::edge_inputs_layernorm_backward(exec, c.de, c.dh, c.dP, c.dy, c.e, c.h, c.graph, c.P, c.mean, c.rstd, 0,
                                       c.C);
  });
  set_counters(state, 0.0, 4.0 * c.B * c.E * (c.C + 3.0 * c.d));
}
BENCHMARK(BM_EdgeLayerNormBackwardFused)->Apply(sizes);

// The edge input, its layer norm and the first edge-MLP layer (3d → 2d, swish), each way: the
// fused kernels (edge_input_forward.hpp, edge_input_backward.hpp; 4 networks per thread) against
// the kernels they replace. FLOPs: the layer's products (one forward, two backward).
struct EdgeInputLayerCase : EdgeLayerNormCase {
  std::int64_t Cout, off_w, off_b;
  F3 activated, slope, dz;
  F2 Pl, dPl;
  explicit EdgeInputLayerCase(const benchmark::State& state) : EdgeLayerNormCase(state), Cout(2 * d) {
    off_w = 2 * C, off_b = off_w + C * Cout;
    activated = filled3(B, E, Cout, 0.f), slope = filled3(B, E, Cout, 0.f), dz = filled3(B, E, Cout, 1.f);
    Pl = filled2(B, off_b + Cout, 0.01f), dPl = filled2(B, off_b + Cout, 0.f);
  }
  double layer_flops() const { return 2.0 * B * E * C * Cout; }
  bool fused(benchmark::State& state) const {
    if (hk::edge_input_backward_fused(hnet::ExecSpace(), B)) return true;
    state.SkipWithError("the fused kernels need 4 networks per thread");
    return false;
  }
};

void BM_EdgeInputLayerForwardApart(benchmark::State& state) {
  EdgeInputLayerCase c(state);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::edge_inputs_layernorm_forward(exec, c.y, c.mean, c.rstd, c.e, c.h, c.graph, c.Pl, 0, c.C);
    hk::linear_swish_forward(exec, c.activated, c.slope, c.y, c.Pl, c.off_w, c.off_b);
  });
  set_counters(state, c.layer_flops(), 0.0);
}
BENCHMARK(BM_EdgeInputLayerForwardApart)->Apply(sizes);

void BM_EdgeInputLayerForwardFused(benchmark::State& state) {
  EdgeInputLayerCase c(state);
  if (!c.fused(state)) return;
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::edge_input_forward(exec, c.activated, c.slope, c.mean, c.rstd, c.e, c.h, c.graph, c.Pl, 0, c.C, c.off_w,
                           c.off_b);
  });
  set_counters(state, c.layer_flops(), 0.0);
}
BENCHMARK(BM_EdgeInputLayerForwardFused)->Apply(sizes);

void BM_EdgeInputLayerBackwardApart(benchmark::State& state) {
  EdgeInputLayerCase c(state);
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::linear_backward(exec, c.dg, c.dPl, c.dz, c.y, c.Pl, c.off_w, c.off_b, hk::Accumulate::no);
    hk::edge_inputs_layernorm_backward(exec, c.de, c.dh, c.dPl, c.dg, c.e, c.h, c.graph, c.Pl, c.mean, c.rstd, 0,
                                       c.C);
  });
  set_counters(state, 2.0 * c.layer_flops(), 0.0);
}
BENCHMARK(BM_EdgeInputLayerBackwardApart)->Apply(sizes);

void BM_EdgeInputLayerBackwardFused(benchmark::State& state) {
  EdgeInputLayerCase c(state);
  if (!c.fused(state)) return;
  timed(state, [&](const hnet::ExecSpace& exec) {
    hk::edge_input_backward(exec, c.de, c.dh, c.dPl, c.dz, c.off_w, c.off_b, c.e, c.h, c.graph, c.Pl, c.mean, c.rstd,
                            0, c.C);
  });
  set_counters(state, 2.0 * c.layer_flops(), 0.0);
}
BENCHMARK(BM_EdgeInputLayerBackwardFused)->Apply(sizes);

// [e ; ê] for the edge posterior (model.md §5.3).
void BM_ConcatForward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), E = graph_n * graph_m + graph_m;
  F3 a = filled3(B, E, d, 1.f), b = filled3(B, E, d, 2.f), y = filled3(B, E, 2 * d, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::concat_forward(exec, y, a, b); });
  set_counters(state, 0.0, 4.0 * B * E * 4.0 * d);
}
BENCHMARK(BM_ConcatForward)->Apply(sizes);

void BM_ConcatBackward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), E = graph_n * graph_m + graph_m;
  F3 da = filled3(B, E, d, 0.f), db = filled3(B, E, d, 0.f), dy = filled3(B, E, 2 * d, 1.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::concat_backward(exec, da, db, dy); });
  set_counters(state, 2.0 * B * E * d, 4.0 * B * E * 6.0 * d);
}
BENCHMARK(BM_ConcatBackward)->Apply(sizes);

// The hidden-node rows of the node states (the rows b0 is read from, model.md §5.4).
void BM_CopyRowsForward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), N = graph_n + graph_m + 1;
  F3 src = filled3(B, N, d, 1.f), dst = filled3(B, graph_m, d, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::copy_rows_forward(exec, dst, src, graph_n); });
  set_counters(state, 0.0, 4.0 * B * graph_m * 2.0 * d);
}
BENCHMARK(BM_CopyRowsForward)->Apply(sizes);

void BM_CopyRowsBackward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1), N = graph_n + graph_m + 1;
  F3 dsrc = filled3(B, N, d, 0.f), ddst = filled3(B, graph_m, d, 1.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::copy_rows_backward(exec, dsrc, ddst, graph_n); });
  set_counters(state, 1.0 * B * graph_m * d, 4.0 * B * graph_m * 3.0 * d);
}
BENCHMARK(BM_CopyRowsBackward)->Apply(sizes);

// The decoder's starting edge states S_type(e) (model.md §5.3): two edge types.
void BM_TypeEmbeddingForward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1);
  const auto graph = hnet::build_graph(graph_n, graph_m);
  const std::int64_t E = graph.edges;
  F3 y = filled3(B, E, d, 0.f);
  F2 P = filled2(B, 2 * d, 1.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::type_embedding_forward(exec, y, graph.edge_type, P, 0, false); });
  set_counters(state, 0.0, 4.0 * B * E * (d + 1.0));
}
BENCHMARK(BM_TypeEmbeddingForward)->Apply(sizes);

void BM_TypeEmbeddingBackward(benchmark::State& state) {
  const std::int64_t B = state.range(0), d = state.range(1);
  const auto graph = hnet::build_graph(graph_n, graph_m);
  const std::int64_t E = graph.edges;
  F3 dy = filled3(B, E, d, 1.f);
  F2 dP = filled2(B, 2 * d, 0.f);
  timed(state, [&](const hnet::ExecSpace& exec) { hk::type_embedding_backward(exec, dP, dy, graph.edge_type, 0, 2); });
  // dy is read once; every (network, type, 8-channel block) work item scans the whole type array.
  set_counters(state, 1.0 * B * E * d, 4.0 * B * (E * d + 2.0 * E * (d / 8) + 2.0 * d));
}
BENCHMARK(BM_TypeEmbeddingBackward)->Apply(sizes);

}  // namespace
