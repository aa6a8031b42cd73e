// Micro-benchmarks of the graph kernels (attention, latent channel, read-out, β conditioning) at
// the quick deck and the paper-scale deck, on G(16, 48). Run:
//   OMP_NUM_THREADS=2 OMP_PROC_BIND=false build/bin/hnet_bench_graph_kernels
// FLOP counts are the multiply-adds of each formula (a transcendental counts as one); byte counts
// are compulsory traffic (every array read or written once), so GB/s understates gathers that
// re-read rows from cache.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "hnet/graph.hpp"
#include "kernels/attention.hpp"
#include "kernels/beta_conditioning.hpp"
#include "kernels/latent.hpp"
#include "kernels/readout.hpp"

namespace hk = hnet::kernels;

namespace {

using V1 = hnet::View1<float>;
using V2 = hnet::View2<float>;
using V3 = hnet::View3<float>;

struct Size {
  const char* name;
  std::int64_t B, d, H, k, p;
};
// The quick CPU deck and the paper-scale deck; p is the hypernetwork's parameter count at each.
constexpr Size kSizes[] = {{"quick", 8, 32, 4, 4, 73000}, {"paper", 32, 64, 4, 8, 500000}};
constexpr std::int64_t kN = 16, kM = 48;

const Size& size_of(benchmark::State& state) {
  const Size& s = kSizes[state.range(0)];
  state.SetLabel(s.name);
  return s;
}

void counters(benchmark::State& state, double flops, double bytes) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void both_sizes(benchmark::internal::Benchmark* b) { b->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond); }

struct AttentionBuffers {
  hnet::Graph graph = hnet::build_graph(kN, kM);
  std::int64_t B, N, E, d;
  V3 q, kx, vx, ky, vy, kd, vd, out, alpha, dscore, dout, dq, dkx, dvx, dky, dvy, dkd, dvd;
  explicit AttentionBuffers(const Size& s) : B(s.B), N(graph.nodes), E(graph.edges), d(s.d) {
    for (V3* v : {&q, &kx, &vx, &out, &dout, &dq, &dkx, &dvx}) *v = V3("hnet::bench::node", B, N, d);
    for (V3* v : {&ky, &vy, &dky, &dvy}) *v = V3("hnet::bench::edge", B, E, d);
    for (V3* v : {&kd, &vd, &dkd, &dvd}) *v = V3("hnet::bench::direction", B, 2, d);
    alpha = V3("hnet::bench::alpha", B, 2 * E, s.H), dscore = V3("hnet::bench::dscore", B, 2 * E, s.H);
    Kokkos::deep_copy(q, 0.1f), Kokkos::deep_copy(kx, 0.2f), Kokkos::deep_copy(ky, -0.1f), Kokkos::deep_copy(vx, 0.3f);
    Kokkos::deep_copy(dout, 1.0f);
  }
  void forward(const hnet::ExecSpace& exec, int heads) {
    hk::attention_forward(exec, out, alpha, {q, kx, vx, ky, vy, kd, vd}, graph, heads);
  }
};

void BM_AttentionForward(benchmark::State& state) {
  const Size& s = size_of(state);
  AttentionBuffers buf(s);
  hnet::ExecSpace exec;
  for (auto _ : state) {
    buf.forward(exec, s.H);
    exec.fence();
  }
  const double inc = 2.0 * buf.E;
  counters(state, s.B * inc * 8.0 * s.d, 4.0 * s.B * (4.0 * buf.N * s.d + 2.0 * buf.E * s.d + 2.0 * inc * s.H));
}
BENCHMARK(BM_AttentionForward)->Apply(both_sizes);

void BM_AttentionBackward(benchmark::State& state) {
  const Size& s = size_of(state);
  AttentionBuffers buf(s);
  hnet::ExecSpace exec;
  buf.forward(exec, s.H);
  for (auto _ : state) {
    hk::attention_backward(exec, {buf.dq, buf.dkx, buf.dvx, buf.dky, buf.dvy, buf.dkd, buf.dvd}, buf.dout,
                           {buf.q, buf.kx, buf.vx, buf.ky, buf.vy, buf.kd, buf.vd}, buf.alpha, buf.dscore, buf.graph, s.H);
    exec.fence();
  }
  const double inc = 2.0 * buf.E;
  counters(state, s.B * inc * 16.0 * s.d, 4.0 * s.B * (10.0 * buf.N * s.d + 6.0 * buf.E * s.d + 3.0 * inc * s.H));
}
BENCHMARK(BM_AttentionBackward)->Apply(both_sizes);

// One latent level on every node and edge of the graph.
struct LatentBuffers {
  std::int64_t B, R, k;
  V3 post, prior, z, sigma, eps, dz, dpost, dprior;
  hnet::View2<double> kl_rows;
  hnet::View1<double> dkl;
  hnet::View3<double> exp_rho;  // the forward's exp(−|ρ|), kept for the backward as the model does
  hk::LatentOptions options;
  explicit LatentBuffers(const Size& s)
      : B(s.B),
        R(kN + kM + 1 + kN * kM + kM),
        k(s.k),
        post("hnet::bench::post", B, R, 2 * k),
        prior("hnet::bench::prior", B, R, 2 * k),
        z("hnet::bench::z", B, R, k),
        sigma("hnet::bench::sigma", B, R, k),
        eps("hnet::bench::eps", B, R, k),
        dz("hnet::bench::dz", B, R, k),
        dpost("hnet::bench::dpost", B, R, 2 * k),
        dprior("hnet::bench::dprior", B, R, 2 * k),
        kl_rows("hnet::bench::kl_rows", B, R),
        dkl("hnet::bench::dkl", B),
        exp_rho("hnet::bench::exp_rho", B, R, k) {
    Kokkos::deep_copy(post, 0.5f), Kokkos::deep_copy(dz, 1.0f), Kokkos::deep_copy(dkl, 1e-3);
    options.seed = 1, options.step = 2;
  }
};

void BM_LatentForward(benchmark::State& state) {
  const Size& s = size_of(state);
  LatentBuffers buf(s);
  hnet::ExecSpace exec;
  for (auto _ : state) {
    hk::latent_forward(exec, buf.z, buf.kl_rows, buf.sigma, buf.eps, buf.post, V3(), buf.options, buf.exp_rho);
    exec.fence();
  }
  const double elements = double(buf.B) * buf.R * buf.k;
  counters(state, elements * 40.0, elements * 4.0 * 5.0 + 8.0 * buf.B * buf.R);
}
BENCHMARK(BM_LatentForward)->Apply(both_sizes);

void BM_LatentBackward(benchmark::State& state) {
  const Size& s = size_of(state);
  LatentBuffers buf(s);
  hnet::ExecSpace exec;
  hk::latent_forward(exec, buf.z, buf.kl_rows, buf.sigma, buf.eps, buf.post, V3(), buf.options, buf.exp_rho);
  for (auto _ : state) {
    hk::latent_backward(exec, buf.dpost, V3(), buf.dz, buf.dkl, buf.post, V3(), buf.sigma, buf.eps, buf.options,
                        buf.exp_rho);
    exec.fence();
  }
  const double elements = double(buf.B) * buf.R * buf.k;
  counters(state, elements * 30.0, elements * 4.0 * 8.0);
}
BENCHMARK(BM_LatentBackward)->Apply(both_sizes);

struct ReadoutBuffers {
  std::int64_t B, d;
  V3 w0, raw_w0, raw_w1, raw_b0, raw_b1, bil_a, bil_b, dw0, draw_w0, draw_w1, draw_b0, draw_b1, dbil_a, dbil_b;
  V2 b0, w1, P, db0, dw1, dP;
  V1 b1, db1;
  explicit ReadoutBuffers(const Size& s)
      : B(s.B),
        d(s.d),
        w0("hnet::bench::w0", B, kN, kM),
        raw_w0("hnet::bench::raw_w0", B, kN * kM, 1),
        raw_w1("hnet::bench::raw_w1", B, kM, 1),
        raw_b0("hnet::bench::raw_b0", B, kM, 1),
        raw_b1("hnet::bench::raw_b1", B, 1, 1),
        bil_a("hnet::bench::bil_a", B, kN + kM + 1, d),
        bil_b("hnet::bench::bil_b", B, kN + kM + 1, d),
        dw0("hnet::bench::dw0", B, kN, kM),
        draw_w0("hnet::bench::draw_w0", B, kN * kM, 1),
        draw_w1("hnet::bench::draw_w1", B, kM, 1),
        draw_b0("hnet::bench::draw_b0", B, kM, 1),
        draw_b1("hnet::bench::draw_b1", B, 1, 1),
        dbil_a("hnet::bench::dbil_a", B, kN + kM + 1, d),
        dbil_b("hnet::bench::dbil_b", B, kN + kM + 1, d),
        b0("hnet::bench::b0", B, kM),
        w1("hnet::bench::w1", B, kM),
        P("hnet::bench::P", B, 4),
        db0("hnet::bench::db0", B, kM),
        dw1("hnet::bench::dw1", B, kM),
        dP("hnet::bench::dP", B, 4),
        b1("hnet::bench::b1", B),
        db1("hnet::bench::db1", B) {
    Kokkos::deep_copy(bil_a, 0.1f), Kokkos::deep_copy(bil_b, 0.2f), Kokkos::deep_copy(dw0, 1.0f);
  }
};

void BM_ReadoutForward(benchmark::State& state) {
  const Size& s = size_of(state);
  ReadoutBuffers buf(s);
  hnet::ExecSpace exec;
  for (auto _ : state) {
    hk::readout_forward(exec, {buf.w0, buf.b0, buf.w1, buf.b1},
                        {buf.raw_w0, buf.raw_w1, buf.raw_b0, buf.raw_b1, buf.bil_a, buf.bil_b}, buf.P, 0);
    exec.fence();
  }
  counters(state, double(s.B) * kN * kM * (2.0 * s.d + 3.0), 4.0 * s.B * (2.0 * kN * kM + (kN + kM) * s.d + 4.0 * kM));
}
BENCHMARK(BM_ReadoutForward)->Apply(both_sizes);

void BM_ReadoutBackward(benchmark::State& state) {
  const Size& s = size_of(state);
  ReadoutBuffers buf(s);
  hnet::ExecSpace exec;
  for (auto _ : state) {
    hk::readout_backward(exec, {buf.draw_w0, buf.draw_w1, buf.draw_b0, buf.draw_b1, buf.dbil_a, buf.dbil_b}, buf.dP,
                         {buf.dw0, buf.db0, buf.dw1, buf.db1},
                         {buf.raw_w0, buf.raw_w1, buf.raw_b0, buf.raw_b1, buf.bil_a, buf.bil_b}, buf.P, 0);
    exec.fence();
  }
  counters(state, double(s.B) * kN * kM * (6.0 * s.d + 4.0),
           4.0 * s.B * (4.0 * kN * kM + 3.0 * (kN + kM) * s.d + 8.0 * kM));
}
BENCHMARK(BM_ReadoutBackward)->Apply(both_sizes);

// φ MLP of model.md §6: 1 → 64 → 64 → 16.
struct PhiBuffers {
  hk::PhiLayout layout = hk::packed_phi_layout(64, 64, 16);
  std::int64_t B;
  V1 Q, dQ, u;
  V2 phi, a1, a2, dphi;
  explicit PhiBuffers(const Size& s)
      : B(s.B),
        Q("hnet::bench::Q", layout.b3 + layout.dphi),
        dQ("hnet::bench::dQ", layout.b3 + layout.dphi),
        u("hnet::bench::u", B),
        phi("hnet::bench::phi", B, layout.dphi),
        a1("hnet::bench::a1", B, layout.h1),
        a2("hnet::bench::a2", B, layout.h2),
        dphi("hnet::bench::dphi", B, layout.dphi) {
    Kokkos::deep_copy(Q, 0.05f), Kokkos::deep_copy(u, 0.3f), Kokkos::deep_copy(dphi, 1.0f);
  }
  double matmul_flops() const { return 2.0 * B * (layout.h1 + layout.h1 * layout.h2 + layout.h2 * layout.dphi); }
};

void BM_PhiForward(benchmark::State& state) {
  const Size& s = size_of(state);
  PhiBuffers buf(s);
  hnet::ExecSpace exec;
  for (auto _ : state) {
    hk::phi_forward(exec, buf.phi, buf.a1, buf.a2, buf.u, buf.Q, buf.layout);
    exec.fence();
  }
  counters(state, buf.matmul_flops(), 4.0 * (buf.Q.size() + s.B * (1.0 + 64 + 64 + 16)));
}
BENCHMARK(BM_PhiForward)->Apply(both_sizes);

void BM_PhiBackward(benchmark::State& state) {
  const Size& s = size_of(state);
  PhiBuffers buf(s);
  hnet::ExecSpace exec;
  hk::phi_forward(exec, buf.phi, buf.a1, buf.a2, buf.u, buf.Q, buf.layout);
  for (auto _ : state) {
    hk::phi_backward(exec, buf.dQ, buf.dphi, buf.u, buf.Q, buf.a1, buf.a2, buf.layout);
    exec.fence();
  }
  // The re-formed hidden gradients (no scratch) cost far more than the two products themselves.
  const auto& L = buf.layout;
  const double reformed = 2.0 * s.B * L.h2 * L.dphi * (L.h1 + 1 + L.h1);
  counters(state, 2.0 * buf.matmul_flops() + reformed, 4.0 * (3.0 * buf.Q.size() + s.B * (1.0 + 64 + 64 + 16)));
}
BENCHMARK(BM_PhiBackward)->Apply(both_sizes);

struct GenerateBuffers {
  std::int64_t B, p, dphi = 16;
  V2 P, U, phi, dP, dU, dphi_grad;
  V1 P0, dP0;
  hnet::View3<double> dphi_partials;
  explicit GenerateBuffers(const Size& s)
      : B(s.B),
        p(s.p),
        P("hnet::bench::P", B, p),
        U("hnet::bench::U", p, dphi),
        phi("hnet::bench::phi", B, dphi),
        dP("hnet::bench::dP", B, p),
        dU("hnet::bench::dU", p, dphi),
        dphi_grad("hnet::bench::dphi", B, dphi),
        P0("hnet::bench::P0", p),
        dP0("hnet::bench::dP0", p),
        dphi_partials("hnet::bench::dphi_partials", B, hk::generate_parameters_chunks(p), dphi) {
    Kokkos::deep_copy(U, 1e-3f), Kokkos::deep_copy(phi, 0.5f), Kokkos::deep_copy(dP, 1e-2f);
  }
};

void BM_GenerateParametersForward(benchmark::State& state) {
  const Size& s = size_of(state);
  GenerateBuffers buf(s);
  hnet::ExecSpace exec;
  for (auto _ : state) {
    hk::generate_parameters_forward(exec, buf.P, buf.P0, buf.U, buf.phi);
    exec.fence();
  }
  counters(state, 2.0 * s.B * s.p * buf.dphi, 4.0 * s.p * (buf.dphi + 1.0 + s.B));
}
BENCHMARK(BM_GenerateParametersForward)->Apply(both_sizes);

void BM_GenerateParametersBackward(benchmark::State& state) {
  const Size& s = size_of(state);
  GenerateBuffers buf(s);
  hnet::ExecSpace exec;
  for (auto _ : state) {
    hk::generate_parameters_backward(exec, buf.dP0, buf.dU, buf.dphi_grad, buf.dP, buf.U, buf.phi, buf.dphi_partials);
    exec.fence();
  }
  counters(state, 4.0 * s.B * s.p * buf.dphi + s.B * s.p, 4.0 * s.p * (3.0 * buf.dphi + 2.0 + s.B));
}
BENCHMARK(BM_GenerateParametersBackward)->Apply(both_sizes);

}  // namespace
