#include "hnet/fit.hpp"

#include <cmath>
#include <cstdio>

#include "hnet/evaluation.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/task_config.hpp"
#include "kernels/adam.hpp"
#include "kernels/generated_mlp.hpp"
#include "kernels/random.hpp"
#include "kernels/task_data.hpp"

namespace hnet {

namespace {
// A view's storage as one flat vector, so Adam can run over any parameter tensor.
template <class V>
View1<float> flat(const V& v) {
  return View1<float>(v.data(), v.span());
}
}  // namespace

FitResult fit_directly(const Deck& deck, const FitOptions& o) {
  const std::int64_t B = o.networks, n = o.n, m = n * deck.target.hidden_ratio, S = deck.train.batch_x;
  const EvaluationConfig evaluation = evaluation_config(deck.task);
  ExecSpace exec;

  // Initialisation of model.md §7 for a Linear: uniform ±1/√fan_in weights, zero biases; the
  // output bias starts at E[y] (started at 0 it collapses to the constant predictor).
  std::vector<HostNetwork> start;
  for (std::int64_t b = 0; b < B; ++b) {
    HostNetwork net(n, m);
    const auto key = kernels::make_key(o.seed, kernels::Purpose::initialisation, 1000 + b);
    for (std::int64_t k = 0; k < n * m; ++k) net.w0[k] = static_cast<float>(kernels::uniform(key, k, -1, 1) / std::sqrt(n));
    for (std::int64_t j = 0; j < m; ++j)
      net.w1[j] = static_cast<float>(kernels::uniform(key, n * m + j, -1, 1) / std::sqrt(static_cast<double>(m)));
    net.b1 = static_cast<float>(target_mean(deck.task.input, deck.task.target, n));
    start.push_back(net);
  }
  NetworkBatch params(B, n, m), grads(B, n, m), adam_m(B, n, m), adam_v(B, n, m);
  params.upload(start);
  View3<float> x("hnet::fit::x", B, S, n), z("hnet::fit::z", B, S, m), dz("hnet::fit::dz", B, S, m);
  View2<float> y("hnet::fit::y", B, S), pred("hnet::fit::pred", B, S);
  View1<double> loss("hnet::fit::loss", B), dloss("hnet::fit::dloss", B);
  Kokkos::deep_copy(dloss, 1.0);
  const double variance = target_variance(evaluation.input, evaluation.norm, n);

  for (std::int64_t step = 0; step < o.steps; ++step) {
    kernels::TaskDataKeys keys;
    keys.seed = o.seed, keys.step = static_cast<std::uint64_t>(step);
    kernels::task_data_forward(exec, x, y, keys, evaluation.input, evaluation.norm);
    kernels::generated_mlp_forward(exec, loss, z, pred, x, y, params.w0, params.b0, params.w1, params.b1);
    Kokkos::deep_copy(grads.w0, 0.0f), Kokkos::deep_copy(grads.b0, 0.0f);
    Kokkos::deep_copy(grads.w1, 0.0f), Kokkos::deep_copy(grads.b1, 0.0f);
    kernels::generated_mlp_backward(exec, grads.w0, grads.b0, grads.w1, grads.b1, dloss, x, y, params.w1, z, pred, dz);
    kernels::AdamStep a;
    a.lr = o.lr, a.t = step + 1;
    kernels::adam_update(exec, flat(params.w0), flat(adam_m.w0), flat(adam_v.w0), flat(grads.w0), a);
    kernels::adam_update(exec, flat(params.b0), flat(adam_m.b0), flat(adam_v.b0), flat(grads.b0), a);
    kernels::adam_update(exec, flat(params.w1), flat(adam_m.w1), flat(adam_v.w1), flat(grads.w1), a);
    kernels::adam_update(exec, flat(params.b1), flat(adam_m.b1), flat(adam_v.b1), flat(grads.b1), a);
    if (!o.quiet && ((step + 1) % o.log_every == 0 || step == 0)) {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), loss);
      double mean = 0;
      for (std::int64_t b = 0; b < B; ++b) mean += h(b) / B;
      std::printf("fit n=%lld step %lld/%lld mean training loss %.5g (normalised %.4g)\n", static_cast<long long>(n),
                  static_cast<long long>(step + 1), static_cast<long long>(o.steps), mean, mean / variance);
      std::fflush(stdout);
    }
  }

  FitResult result;
  auto hw0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params.w0);
  auto hb0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params.b0);
  auto hw1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params.w1);
  auto hb1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params.b1);
  for (std::int64_t b = 0; b < B; ++b) {
    HostNetwork net(n, m);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) net.weight0(i, j) = hw0(b, i, j);
    for (std::int64_t j = 0; j < m; ++j) net.b0[j] = hb0(b, j), net.w1[j] = hw1(b, j);
    net.b1 = hb1(b);
    result.networks.push_back(net);
  }
  const BatchEvaluation eval = evaluate(result.networks, evaluation);
  const ClassifierThresholds thresholds = thresholds_from(deck.sweep);
  for (std::int64_t b = 0; b < B; ++b) {
    result.normalised.push_back(eval.normalised[b]);
    result.order.push_back(order_parameters(result.networks[b], thresholds));
    result.classes.push_back(classify(eval.normalised[b], result.order.back(), thresholds));
  }
  return result;
}

}  // namespace hnet
