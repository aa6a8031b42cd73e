#pragma once
// The named tensor table of one flat parameter vector: every tensor has a name, a shape, an
// offset and an initialisation rule. The table is what HDF5 results and checkpoints export, so
// a saved vector can be read back by name.
#include <cstdint>
#include <string>
#include <vector>

namespace hnet {

enum class InitRule {
  zeros,
  ones,
  constant,          // every element = value
  split_constant,    // first half = value, second half = value2 (posterior heads: μ then ρ)
  uniform_fan_in,    // U(−1/√fan_in, 1/√fan_in)
  uniform_symmetric, // U(−value, value)
  normal,            // N(0, value²)
};

struct TensorInfo {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;
  std::int64_t size = 0;
  InitRule init = InitRule::zeros;
  double value = 0.0, value2 = 0.0;
  std::int64_t fan_in = 1;
};

class ParameterTable {
 public:
  // Appends a tensor and returns its offset.
  std::int64_t add(const std::string& name, std::vector<std::int64_t> shape, InitRule init, double value = 0.0,
                   double value2 = 0.0, std::int64_t fan_in = 1);
  std::int64_t size() const { return size_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo& find(const std::string& name) const;  // throws std::out_of_range
  // Fills values[0, size()) by each tensor's rule from the counter-based generator (seed, tensor index).
  void initialise(float* values, std::uint64_t seed, std::uint64_t stream) const;
  void initialise(double* values, std::uint64_t seed, std::uint64_t stream) const;

 private:
  std::vector<TensorInfo> tensors_;
  std::int64_t size_ = 0;
};

}  // namespace hnet
