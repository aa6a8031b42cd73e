#include "hnet/version.hpp"

#include <Kokkos_Core.hpp>
#include <sstream>

#include "hnet/version_config.hpp"
#include "kernels/views.hpp"

namespace hnet {

std::string version_string() {
  return std::string("hnet ") + HNET_VERSION_STRING + " (git " + HNET_GIT_HASH + ")";
}

std::string git_hash() { return HNET_GIT_HASH; }

namespace {
std::string enabled_backends() {
  std::string out;
  auto add = [&out](const char* name) { out += out.empty() ? name : std::string(" ") + name; };
#if defined(KOKKOS_ENABLE_SERIAL)
  add("Serial");
#endif
#if defined(KOKKOS_ENABLE_OPENMP)
  add("OpenMP");
#endif
#if defined(KOKKOS_ENABLE_THREADS)
  add("Threads");
#endif
#if defined(KOKKOS_ENABLE_CUDA)
  add("Cuda");
#endif
#if defined(KOKKOS_ENABLE_HIP)
  add("HIP");
#endif
#if defined(KOKKOS_ENABLE_SYCL)
  add("SYCL");
#endif
  return out;
}
}  // namespace

std::string kokkos_configuration() {
  std::ostringstream out;
  out << "Kokkos " << KOKKOS_VERSION / 10000 << "." << KOKKOS_VERSION / 100 % 100 << "."
      << KOKKOS_VERSION % 100 << "; backends: " << enabled_backends()
      << "; default execution space: " << Kokkos::DefaultExecutionSpace::name()
      << "; hnet execution space: " << ExecSpace::name()
      << " (concurrency " << ExecSpace().concurrency() << ")";
  return out.str();
}

std::string version_report(MPI_Comm comm) {
  int size = 1, length = 0;
  MPI_Comm_size(comm, &size);
  char library[MPI_MAX_LIBRARY_VERSION_STRING];
  MPI_Get_library_version(library, &length);
  std::string mpi(library, static_cast<std::size_t>(length));
  if (const auto cut = mpi.find_first_of(",\n"); cut != std::string::npos) mpi.resize(cut);
  std::ostringstream out;
  out << version_string() << "\n"
      << kokkos_configuration() << "\n"
      << "MPI: " << mpi << "; ranks: " << size << "\n";
  return out.str();
}

}  // namespace hnet
