#pragma once
// Pointwise functions shared by the kernels. The logistic function is evaluated so that exp never
// overflows, for float and double alike.
#include "kernels/compat.hpp"

namespace hnet::kernels {

template <class T>
KOKKOS_INLINE_FUNCTION T sigmoid(T z) {
  if (z >= T(0)) return T(1) / (T(1) + compat::exp(-z));
  const T e = compat::exp(z);
  return e / (T(1) + e);
}

template <class T>
KOKKOS_INLINE_FUNCTION T swish(T z) {
  return z * sigmoid(z);
}

// d/dz [z σ(z)] = σ(z) (1 + z (1 − σ(z)))
template <class T>
KOKKOS_INLINE_FUNCTION T swish_derivative(T z) {
  const T s = sigmoid(z);
  return s * (T(1) + z * (T(1) - s));
}

}  // namespace hnet::kernels
