#pragma once
// How much memory a run may use, and the refusal of runs that would not fit before anything is
// allocated: host memory (/proc/meminfo, capped by the cgroup limits batch systems and
// containers set), device memory (cudaMemGetInfo/hipMemGetInfo), summed over the ranks of a node.
#include <mpi.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace hnet {

// Memory the workspaces can draw on. Host backends: MemAvailable from /proc/meminfo (else
// physical pages × page size), capped by the memory limit of the process's cgroup (v1 or v2, as
// batch systems and containers set); every rank on a node shares it.
// CUDA/HIP: free memory of the rank's device (cudaMemGetInfo/hipMemGetInfo). The test-only
// variable HNET_TEST_AVAILABLE_BYTES replaces the measured value, so tests can hit the limit.
struct AvailableMemory {
  std::size_t bytes = 0;
  std::string source;  // where the number came from, for messages
};
AvailableMemory available_host_memory();
AvailableMemory available_device_memory();  // the host's memory on host backends
std::string format_bytes(std::size_t bytes);

// Asks the kernel to back the host memory [data, data + bytes) with transparent huge pages (the
// whole 2 MiB pages inside it), before anything touches it. A training step streams gigabytes of
// activations through memory, and with 4 KiB pages every few kilobytes of a kernel's operands cost
// a TLB miss (quick step 32.8 -> 29 ms with huge pages, perf/README.md). A hint: where the kernel
// has THP off, or on systems without madvise, nothing changes, and no value ever does.
void advise_huge_pages(void* data, std::size_t bytes);

// What one rank will allocate, in named parts, on the device and on the host.
struct MemoryNeed {
  std::vector<std::pair<std::string, std::size_t>> device, host;
};
// Throws std::runtime_error, on every rank of `comm` alike, when the needs of the ranks that share
// memory exceed what is available; the message gives both sizes, the parts and `advice`.
// Collective over `comm`; call it before allocating.
void require_memory(const MemoryNeed& need, const std::string& what, const std::string& advice, MPI_Comm comm);

}  // namespace hnet
