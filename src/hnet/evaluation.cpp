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

Evaluator::Evaluator(const EvaluationConfig& config, std::int64_t batch, std::int64_t n, std::int64_t m)
    : config_(config),
      nets_(batch, n, m),
      x_("hnet::evaluation::x", batch, config.samples, n),
      z_("hnet::evaluation::z", batch, config.samples, m),
      y_("hnet::evaluation::y", batch, config.samples),
      pred_("hnet::evaluation::pred", batch, config.samples),
      loss_("hnet::evaluation::loss", batch) {
  kernels::TaskDataKeys keys;
  keys.seed = config.seed;
  keys.purpose = kernels::Purpose::evaluation_inputs;
  keys.shared_inputs = true;
  kernels::task_data_forward(ExecSpace(), x_, y_, keys, config.input, config.norm);
}

BatchEvaluation evaluate(const std::vector<HostNetwork>& nets, const EvaluationConfig& config) {
  if (nets.empty()) throw std::invalid_argument("evaluate: no networks");
  return Evaluator(config, static_cast<std::int64_t>(nets.size()), nets.front().n, nets.front().m).run(nets);
}

BatchEvaluation Evaluator::run(const std::vector<HostNetwork>& nets) {
  if (nets.empty()) throw std::invalid_argument("evaluate: no networks");
  const std::int64_t batch = nets.size(), n = x_.extent(2), samples = config_.samples;
  nets_.upload(nets);
  kernels::generated_mlp_forward(ExecSpace(), loss_, z_, pred_, x_, y_, nets_.w0, nets_.b0, nets_.w1, nets_.b1);
  auto h_loss = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), loss_);
  auto h_pred = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pred_);
  auto h_y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y_);

  BatchEvaluation out;
  out.targets.assign(h_y.data(), h_y.data() + samples);  // row 0: inputs are shared
  out.target_variance = target_variance(config_.input, config_.norm, n);
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
