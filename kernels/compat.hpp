#pragma once
// The one place where Kokkos 3.4 (Debian's trilinos source) and current Kokkos (4.x, 5.x on
// clusters) differ for hnet: math functions, fence labels.
#include <Kokkos_Core.hpp>

namespace hnet::compat {

#if KOKKOS_VERSION >= 30700
#define HNET_KOKKOS_MATH Kokkos
#else
#define HNET_KOKKOS_MATH Kokkos::Experimental
#endif

template <class T> KOKKOS_INLINE_FUNCTION T exp(T x) { return HNET_KOKKOS_MATH::exp(x); }
template <class T> KOKKOS_INLINE_FUNCTION T log(T x) { return HNET_KOKKOS_MATH::log(x); }
template <class T> KOKKOS_INLINE_FUNCTION T sqrt(T x) { return HNET_KOKKOS_MATH::sqrt(x); }
template <class T> KOKKOS_INLINE_FUNCTION T cos(T x) { return HNET_KOKKOS_MATH::cos(x); }
template <class T> KOKKOS_INLINE_FUNCTION T sin(T x) { return HNET_KOKKOS_MATH::sin(x); }
template <class T> KOKKOS_INLINE_FUNCTION T fabs(T x) { return HNET_KOKKOS_MATH::fabs(x); }
template <class T> KOKKOS_INLINE_FUNCTION T log1p(T x) { return HNET_KOKKOS_MATH::log1p(x); }

#undef HNET_KOKKOS_MATH

// Kokkos gained labelled fences in 3.5/3.6; the label then shows up in Kokkos Tools.
template <class ExecSpace>
inline void fence(const ExecSpace& exec, const char* label) {
#if KOKKOS_VERSION >= 30600
  exec.fence(label);
#else
  (void)label;
  exec.fence();
#endif
}

}  // namespace hnet::compat
