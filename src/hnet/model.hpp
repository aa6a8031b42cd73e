#pragma once
// The β-conditioned graph hypernetwork (model.md §3–§7) assembled from the kernels: one forward
// pass from θ to the generated networks, their task loss and D_KL, and the objective; one
// backward pass from the objective to dθ. Templated on the scalar so the whole model can be
// checked against finite differences in double.
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hnet/deck.hpp"
#include "hnet/graph.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/memory.hpp"
#include "hnet/network.hpp"
#include "kernels/task_data.hpp"
#include "kernels/views.hpp"

namespace hnet {

struct StepInputs {
  std::vector<double> log10_beta;   // one per local network
  std::uint64_t seed = 1;           // run seed: task data and latent noise
  std::uint64_t step = 0;
  std::uint64_t network_offset = 0; // global index of the first local network (data parallelism)
  std::int64_t batch_total = 0;     // networks in the whole step (all ranks); 0 = local batch
  bool use_mean = false;            // posterior mean instead of a sample
  bool shift_identity = false;      // identity_draw = shifted: draw the index offsets (training)
  double kl_factor = 1.0;           // KL warm-up factor
  Objective objective = Objective::log_sum;
};

struct StepResult {
  std::vector<double> loss, kl, normalised, objective_terms;  // per local network
  double objective = 0.0;  // this rank's share: Σ_local term / batch_total
};

template <class T>
class Model {
 public:
  // A workspace for `batch` networks of input size n (hidden m) trained on `samples` inputs each.
  Model(const HypernetLayout& layout, std::int64_t batch, std::int64_t n, std::int64_t m, std::int64_t samples,
        kernels::InputKind input = kernels::InputKind::normal, kernels::NormKind norm = kernels::NormKind::l1);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // θ → P(β) → networks → loss, D_KL, objective. With evaluate_task false, stops after the
  // read-out (generation only) and reports D_KL alone.
  StepResult forward(const View1<T>& theta, const StepInputs& inputs, bool evaluate_task = true);
  // dθ += dJ/dθ for the last forward (which must have evaluated the task).
  void backward(const View1<T>& theta, const View1<T>& dtheta);

  // The generated networks of the last forward, on the host.
  std::vector<HostNetwork> networks() const;
  // FLOPs counted in the last forward (linear layers, attention, φ and P(β), generated networks);
  // a backward costs about twice as much.
  double forward_flops() const;
  // Bytes of device memory the workspace holds: every view the constructor made, as Kokkos
  // allocated it.
  std::size_t workspace_bytes() const;
  // What the constructor with these sizes would allocate, to the byte, without allocating
  // (saturates at SIZE_MAX): runs are refused before they exhaust memory.
  static std::size_t estimate_bytes(const HypernetLayout& layout, std::int64_t batch, std::int64_t n, std::int64_t m,
                                    std::int64_t samples);

  std::int64_t batch() const;
  const HypernetLayout& layout() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class Model<float>;
extern template class Model<double>;

// u ∈ [−1, 1] of model.md §6: the β encoding over the full training range.
double beta_encoding(double log10_beta, double lo, double hi);

}  // namespace hnet
