#pragma once
#include <mpi.h>

#include <string>

namespace hnet {

std::string version_string();  // "hnet 0.1.0 (git abc123)"
std::string git_hash();
// Kokkos version, enabled backends, default and hnet execution spaces, thread count.
std::string kokkos_configuration();
// Everything `hnet --version` prints: the two above plus the MPI library and size.
std::string version_report(MPI_Comm comm);

}  // namespace hnet
