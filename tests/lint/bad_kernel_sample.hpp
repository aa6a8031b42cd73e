#pragma once
// Input of ctest hnet_lint_kernel_rules_self_test: kernel code that breaks every rule of
// tests/lint/kernel_rules.py once or more, next to code that follows them. Each line that must be
// rejected says so with a lint-expect marker; the self-test passes only if exactly those lines
// are flagged, so it proves both that every rule can fail and that legitimate code passes.
// Never compiled or included: it only has to look like kernels/*.hpp.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "kernels/compat.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

template <class E, class T>
void bad_launches(const E& exec, const V1<E, T>& y, const V1<E, T>& x) {
  const std::int64_t n = x.extent(0);
  Kokkos::parallel_for(Kokkos::RangePolicy<E>(exec, 0, n), KOKKOS_LAMBDA(const std::int64_t i) {  // lint-expect: kernel-label
    y(i) = x(i);
  });
  Kokkos::parallel_for("scale", Kokkos::RangePolicy<E>(exec, 0, n), KOKKOS_LAMBDA(const std::int64_t i) {  // lint-expect: kernel-label
    y(i) = 2 * x(i);
  });
  double sum = 0;
  Kokkos::parallel_reduce(
      "hnet::bad_launches::sum", Kokkos::RangePolicy<E>(exec, 0, n),
      KOKKOS_LAMBDA(const std::int64_t i, double& acc) {
        acc += std::exp(x(i));  // lint-expect: host-call
        acc += sqrt(x(i));      // lint-expect: host-call
        acc += ::log(x(i));     // lint-expect: host-call
        printf("%g\n", acc);    // lint-expect: host-call
        if (acc < 0) throw 1;   // lint-expect: host-call
        std::vector<T> scratch(4);  // lint-expect: host-call
        T* p = new T[4];        // lint-expect: host-call
        p[0] = static_cast<T>(malloc(8) != nullptr);  // lint-expect: host-call
      },
      sum);
  Kokkos::parallel_scan("hnet:bad_scan", n, KOKKOS_LAMBDA(const std::int64_t i, T& partial, const bool last) {  // lint-expect: kernel-label
    partial += x(i);
    if (last) y(i) = partial;
  });
  const std::string label = "hnet::from_a_variable";
  Kokkos::parallel_for(label, n, KOKKOS_LAMBDA(const std::int64_t i) { y(i) = 0; });  // lint-expect: kernel-label
  auto host_lambda = [=](std::int64_t i) { return x(i); };  // lint-expect: default-capture
  auto by_reference = [&, n]() { return n; };               // lint-expect: default-capture
  (void)host_lambda, (void)by_reference;
}

struct BadFunctor {
  V1<Kokkos::DefaultExecutionSpace, float> y;
  float scale = 2;
  void run(std::int64_t n) {
    Kokkos::parallel_for("hnet::bad_functor", n, KOKKOS_CLASS_LAMBDA(const std::int64_t i) { y(i) *= scale; });  // lint-expect: class-lambda
    Kokkos::parallel_for("hnet::bad_functor::this", n, KOKKOS_LAMBDA(const std::int64_t i) {
      this->y(i) = 0;  // lint-expect: this-in-kernel
    });
  }
};

template <class T>
KOKKOS_INLINE_FUNCTION T bad_device_function(T v) {
  std::printf("%g\n", static_cast<double>(v));  // lint-expect: host-call
  return std::tanh(v);                          // lint-expect: host-call
}

inline void bad_views(std::int64_t n) {
  View1<float> unlabelled("", n);                                  // lint-expect: view-label
  View2<float> wrong("theta", n, n), right("hnet::sample::right", n, n), also_wrong("grad", n);  // lint-expect: view-label, view-label
  auto tmp = Kokkos::View<double*>("tmp", n);                      // lint-expect: view-label
  using Host = Kokkos::View<int*, Kokkos::HostSpace>;
  Host h(Kokkos::view_alloc(Kokkos::WithoutInitializing, "scratch"), n);  // lint-expect: view-label
  Host h2(Kokkos::view_alloc(Kokkos::WithoutInitializing, "hnet::sample::h2"), n);
  (void)unlabelled, (void)wrong, (void)right, (void)also_wrong, (void)tmp, (void)h, (void)h2;
}

// Everything below follows the rules and must not be flagged.
template <class E, class T>
void good_launches(const E& exec, const V1<E, T>& y, const V1<E, T>& x, T* raw, std::int64_t n) {
  // Strings and comments never count: "std::exp(x) [=] this printf(" and std::exp(x) [&] this.
  Kokkos::parallel_for(
      "hnet::good_launches", Kokkos::RangePolicy<E>(exec, 0, n), KOKKOS_LAMBDA(const std::int64_t i) {
        const std::size_t k = static_cast<std::size_t>(i);
        y(i) = compat::exp(x(i)) + Kokkos::Experimental::sqrt(x(i)) + raw[k] + T(std::int64_t(i) % 2);
        y.data()[0] += 0;  // a member call named like nothing host-only
      });
  using Policy = Kokkos::TeamPolicy<E>;
  Kokkos::parallel_for("hnet::good_launches::team", Policy(exec, n, Kokkos::AUTO),
                       KOKKOS_LAMBDA(const typename Policy::member_type& team) {
                         // Nested patterns take no label.
                         Kokkos::parallel_for(Kokkos::TeamThreadRange(team, 4), [&](const int j) { (void)j; });  // lint-expect: default-capture
                       });
  View1<T, typename E::memory_space> unmanaged(raw, n);
  View1<T, typename E::memory_space> copy(y);
  View1<T, typename E::memory_space> empty;
  (void)unmanaged, (void)copy, (void)empty;
}

// A device-side object: `this` in its own member functions is the object itself.
struct GoodAccumulator {
  double total = 0;
  KOKKOS_INLINE_FUNCTION void add(double v) { this->total += v; }
};

}  // namespace hnet::kernels
