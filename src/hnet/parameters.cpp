#include "hnet/parameters.hpp"

#include <cmath>
#include <stdexcept>

#include "kernels/random.hpp"

namespace hnet {

std::int64_t ParameterTable::add(const std::string& name, std::vector<std::int64_t> shape, InitRule init,
                                 double value, double value2, std::int64_t fan_in) {
  TensorInfo t;
  t.name = name;
  t.size = 1;
  for (std::int64_t s : shape) t.size *= s;
  t.shape = std::move(shape);
  t.offset = size_;
  t.init = init;
  t.value = value, t.value2 = value2, t.fan_in = fan_in;
  size_ += t.size;
  tensors_.push_back(std::move(t));
  return tensors_.back().offset;
}

const TensorInfo& ParameterTable::find(const std::string& name) const {
  for (const TensorInfo& t : tensors_)
    if (t.name == name) return t;
  throw std::out_of_range("no parameter tensor named '" + name + "'");
}

namespace {
template <class T>
void initialise_table(const std::vector<TensorInfo>& tensors, T* values, std::uint64_t seed, std::uint64_t stream) {
  for (std::size_t index = 0; index < tensors.size(); ++index) {
    const TensorInfo& t = tensors[index];
    const auto key = kernels::make_key(seed, kernels::Purpose::initialisation, stream, index);
    for (std::int64_t k = 0; k < t.size; ++k) {
      double v = 0.0;
      switch (t.init) {
        case InitRule::zeros: v = 0.0; break;
        case InitRule::ones: v = 1.0; break;
        case InitRule::constant: v = t.value; break;
        case InitRule::split_constant: v = k < t.size / 2 ? t.value : t.value2; break;
        case InitRule::uniform_fan_in: {
          const double bound = 1.0 / std::sqrt(static_cast<double>(t.fan_in));
          v = kernels::uniform(key, k, -bound, bound);
          break;
        }
        case InitRule::uniform_symmetric: v = kernels::uniform(key, k, -t.value, t.value); break;
        case InitRule::normal: v = t.value * kernels::normal(key, k); break;
      }
      values[t.offset + k] = static_cast<T>(v);
    }
  }
}
}  // namespace

void ParameterTable::initialise(float* values, std::uint64_t seed, std::uint64_t stream) const {
  initialise_table(tensors_, values, seed, stream);
}
void ParameterTable::initialise(double* values, std::uint64_t seed, std::uint64_t stream) const {
  initialise_table(tensors_, values, seed, stream);
}

}  // namespace hnet
