#pragma once
// A generated (target) network on the host, and a batch of them on the device.
#include <cstdint>
#include <vector>

#include "kernels/views.hpp"

namespace hnet {

struct HostNetwork {
  std::int64_t n = 0, m = 0;
  std::vector<float> w0;  // [n][m], W0[i,j] at i*m + j: edge input i -> hidden j
  std::vector<float> b0;  // [m]
  std::vector<float> w1;  // [m]
  float b1 = 0.0f;

  HostNetwork() = default;
  HostNetwork(std::int64_t inputs, std::int64_t hidden)
      : n(inputs), m(hidden), w0(inputs * hidden, 0.0f), b0(hidden, 0.0f), w1(hidden, 0.0f) {}
  float& weight0(std::int64_t i, std::int64_t j) { return w0[i * m + j]; }
  float weight0(std::int64_t i, std::int64_t j) const { return w0[i * m + j]; }
};

struct NetworkBatch {
  View3<float> w0;
  View2<float> b0, w1;
  View1<float> b1;

  NetworkBatch(std::int64_t batch, std::int64_t n, std::int64_t m);
  std::int64_t size() const { return static_cast<std::int64_t>(b1.extent(0)); }
  // Copies networks into slots 0..nets.size()-1; every network must have this batch's n and m.
  void upload(const std::vector<HostNetwork>& nets);
};

}  // namespace hnet
