#include "hnet/network.hpp"

#include <stdexcept>
#include <string>

namespace hnet {

NetworkBatch::NetworkBatch(std::int64_t batch, std::int64_t n, std::int64_t m)
    : w0("hnet::networks::w0", batch, n, m),
      b0("hnet::networks::b0", batch, m),
      w1("hnet::networks::w1", batch, m),
      b1("hnet::networks::b1", batch) {}

void NetworkBatch::upload(const std::vector<HostNetwork>& nets) {
  const std::int64_t n = w0.extent(1), m = w0.extent(2);
  if (static_cast<std::int64_t>(nets.size()) > size())
    throw std::invalid_argument("NetworkBatch::upload: " + std::to_string(nets.size()) +
                                " networks for " + std::to_string(size()) + " slots");
  auto hw0 = Kokkos::create_mirror_view(w0);
  auto hb0 = Kokkos::create_mirror_view(b0);
  auto hw1 = Kokkos::create_mirror_view(w1);
  auto hb1 = Kokkos::create_mirror_view(b1);
  for (std::size_t b = 0; b < nets.size(); ++b) {
    const HostNetwork& net = nets[b];
    if (net.n != n || net.m != m)
      throw std::invalid_argument("NetworkBatch::upload: network " + std::to_string(b) + " is " +
                                  std::to_string(net.n) + "x" + std::to_string(net.m) +
                                  ", batch is " + std::to_string(n) + "x" + std::to_string(m));
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) hw0(b, i, j) = net.weight0(i, j);
    for (std::int64_t j = 0; j < m; ++j) {
      hb0(b, j) = net.b0[j];
      hw1(b, j) = net.w1[j];
    }
    hb1(b) = net.b1;
  }
  Kokkos::deep_copy(w0, hw0);
  Kokkos::deep_copy(b0, hb0);
  Kokkos::deep_copy(w1, hw1);
  Kokkos::deep_copy(b1, hb1);
}

}  // namespace hnet
