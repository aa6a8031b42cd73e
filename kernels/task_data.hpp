#pragma once
// Task data (model.md §1): inputs x ~ N(0,1) or U[-1,1] and targets ‖x‖₁ (or ‖x‖₂², ‖x‖∞) for a
// batch of B_β networks × B_x inputs. No parameters, so no backward.
#include <cstdint>

#include "kernels/random.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

enum class InputKind : int { normal = 0, uniform = 1 };
enum class NormKind : int { l1 = 0, l2sq = 1, linf = 2 };

struct TaskDataKeys {
  std::uint64_t seed = 0;
  Purpose purpose = Purpose::task_inputs;
  std::uint64_t step = 0;
  // Network b of this batch draws from stream (network_offset + b); with shared_inputs every
  // network sees the inputs of stream network_offset (a fixed evaluation set).
  std::uint64_t network_offset = 0;
  bool shared_inputs = false;
};

namespace task_data_detail {
// x's elements, element s·n + i of network b's stream, a work item per block of `lanes` of them.
template <class ExecSpaceT, class T, class Sample>
void draw_inputs(const ExecSpaceT& exec, const View3<T, typename ExecSpaceT::memory_space>& x, const TaskDataKeys keys,
                 const Sample& sample) {
  constexpr int L = vector_lanes<ExecSpaceT>();
  const std::int64_t count = x.extent(1) * x.extent(2), blocks = (count + L - 1) / L;
  Kokkos::parallel_for(
      "hnet::task_inputs", Kokkos::RangePolicy<ExecSpaceT>(exec, 0, x.extent(0) * blocks),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / blocks;
        const std::uint64_t stream = keys.network_offset + (keys.shared_inputs ? 0 : b);
        const RngKey key = make_key(keys.seed, keys.purpose, keys.step, stream);
        draw_block<L>(&x(b, 0, 0), (flat % blocks) * L, count, key, sample);
      });
}
}  // namespace task_data_detail

// The inputs of every network; the kind is chosen here, since a select inside the loop of draws
// would keep it scalar.
template <class ExecSpaceT, class T>
void draw_task_inputs(const ExecSpaceT& exec, const View3<T, typename ExecSpaceT::memory_space>& x,
                      const TaskDataKeys keys, const InputKind input) {
  if (input == InputKind::normal) {
    const auto sample = KOKKOS_LAMBDA(const RngKey key, const std::uint64_t i) { return static_cast<T>(normal(key, i)); };
    task_data_detail::draw_inputs(exec, x, keys, sample);
  } else {
    const auto sample = KOKKOS_LAMBDA(const RngKey key, const std::uint64_t i) {
      return static_cast<T>(uniform(key, i, -1.0, 1.0));
    };
    task_data_detail::draw_inputs(exec, x, keys, sample);
  }
}

// x: [B][S][n] inputs, y: [B][S] targets. The inputs are drawn in blocks that vectorise, then each
// target is summed over its row in order.
template <class ExecSpaceT, class T>
void task_data_forward(const ExecSpaceT& exec, const View3<T, typename ExecSpaceT::memory_space>& x,
                       const View2<T, typename ExecSpaceT::memory_space>& y, const TaskDataKeys keys,
                       const InputKind input, const NormKind norm) {
  const std::int64_t batch = x.extent(0), samples = x.extent(1), n = x.extent(2);
  draw_task_inputs(exec, x, keys, input);
  Kokkos::parallel_for(
      "hnet::task_data_forward", Kokkos::RangePolicy<ExecSpaceT>(exec, 0, batch * samples),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / samples, s = flat % samples;
        const T* const xs = &x(b, s, 0);
        double target = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
          const double v = static_cast<double>(xs[i]);
          const double a = v < 0 ? -v : v;
          if (norm == NormKind::l1) target += a;
          else if (norm == NormKind::l2sq) target += v * v;
          else target = a > target ? a : target;
        }
        y(b, s) = static_cast<T>(target);
      });
}

}  // namespace hnet::kernels
