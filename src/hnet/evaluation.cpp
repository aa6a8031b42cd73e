#include "hnet/evaluation.hpp"

#include <cmath>
#include <stdexcept>

#include "kernels/generated_mlp.hpp"

namespace hnet {

double target_variance(kernels::InputKind input, kernels::NormKind norm, std::int64_t n) {
  const double pi = 3.14159265358979323846, dn = static_cast<double>(n);
  const bool normal = input == kernels::InputKind::normal;
  switch (norm) {
    case kernels::NormKind::l1: return normal ? dn * (1.0 - 2.0 / pi) : dn / 12.0;
    case kernels::NormKind::l2sq: return normal ? 2.0 * dn : dn * 4.0 / 45.0;
    case kernels::NormKind::linf: return 0.0;
  }
  return 0.0;
}

BatchEvaluation evaluate(const std::vector<HostNetwork>& nets, const EvaluationConfig& config) {
  if (nets.empty()) throw std::invalid_argument("evaluate: no networks");
  const std::int64_t batch = nets.size(), n = nets.front().n, m = nets.front().m;
  const std::int64_t samples = config.samples;
  ExecSpace exec;

  NetworkBatch device_nets(batch, n, m);
  device_nets.upload(nets);
  View3<float> x("hnet::evaluation::x", batch, samples, n);
  View2<float> y("hnet::evaluation::y", batch, samples);
  View3<float> z("hnet::evaluation::z", batch, samples, m);
  View2<float> pred("hnet::evaluation::pred", batch, samples);
  View1<double> loss("hnet::evaluation::loss", batch);

  kernels::TaskDataKeys keys;
  keys.seed = config.seed;
  keys.purpose = kernels::Purpose::evaluation_inputs;
  keys.shared_inputs = true;
  kernels::task_data_forward(exec, x, y, keys, config.input, config.norm);
  kernels::generated_mlp_forward(exec, loss, z, pred, x, y, device_nets.w0, device_nets.b0,
                                 device_nets.w1, device_nets.b1);

  auto h_loss = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), loss);
  auto h_pred = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pred);
  auto h_y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);

  BatchEvaluation out;
  out.targets.assign(h_y.data(), h_y.data() + samples);  // row 0: inputs are shared
  out.target_variance = target_variance(config.input, config.norm, n);
  if (out.target_variance <= 0.0) {
    double mean = 0.0, sq = 0.0;
    for (float t : out.targets) mean += t;
    mean /= samples;
    for (float t : out.targets) sq += (t - mean) * (t - mean);
    out.target_variance = sq / samples;
  }
  for (std::int64_t b = 0; b < batch; ++b) {
    out.mse.push_back(h_loss(b));
    out.normalised.push_back(h_loss(b) / out.target_variance);
    out.predictions.emplace_back(&h_pred(b, 0), &h_pred(b, 0) + samples);
  }
  return out;
}

}  // namespace hnet
