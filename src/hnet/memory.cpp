#include "hnet/memory.hpp"

#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#if defined(KOKKOS_ENABLE_CUDA)
#include <cuda_runtime_api.h>
#endif
#if defined(KOKKOS_ENABLE_HIP)
#include <hip/hip_runtime_api.h>
#endif

#include "hnet/saturating.hpp"
#include "kernels/views.hpp"

namespace hnet {

namespace {

std::optional<std::size_t> parse_bytes(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || text[0] == '-') return std::nullopt;
  while (*end == ' ' || *end == '\n') ++end;
  if (*end != '\0') return std::nullopt;
  return static_cast<std::size_t>(v);
}

std::optional<std::string> read_small_file(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// MemAvailable counts reclaimable page cache, unlike MemFree: what a new allocation can get.
std::optional<std::size_t> meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  unsigned long long kib = 0;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return static_cast<std::size_t>(kib) * 1024;
  }
  return std::nullopt;
}

std::optional<std::size_t> stat_value(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string name;
  unsigned long long value = 0;
  while (in >> name >> value)
    if (name == key) return static_cast<std::size_t>(value);
  return std::nullopt;
}

// A batch job's or container's memory limit (Slurm and Kubernetes set one) is invisible in
// /proc/meminfo, and exceeding it gets the job killed. Limits nest, so every level from this
// process's cgroup up to the root counts; page cache is reclaimable and is not counted as used.
// cgroup v2 (memory.max) and v1 (memory.limit_in_bytes); nothing found means no limit.
std::optional<std::size_t> cgroup_headroom() {
  std::ifstream self("/proc/self/cgroup");
  std::optional<std::size_t> headroom;
  for (std::string line; std::getline(self, line);) {
    const std::size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",", cgroup = line.substr(b + 1);
    const bool v2 = line.compare(0, a, "0") == 0 && controllers == ",,";
    if (!v2 && controllers.find(",memory,") == std::string::npos) continue;
    const std::string base = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
    const char* limit_file = v2 ? "/memory.max" : "/memory.limit_in_bytes";
    const char* usage_file = v2 ? "/memory.current" : "/memory.usage_in_bytes";
    const char* cache_key = v2 ? "file" : "total_cache";
    // Inside a container the mount often starts at the process's own cgroup.
    std::string dir = base + cgroup;
    if (!read_small_file((dir + limit_file).c_str())) dir = base;
    for (;;) {
      const auto limit_text = read_small_file((dir + limit_file).c_str());
      const auto usage_text = read_small_file((dir + usage_file).c_str());
      const auto limit = limit_text ? parse_bytes(*limit_text) : std::nullopt;  // v2 "max": none
      const auto usage = usage_text ? parse_bytes(*usage_text) : std::nullopt;
      if (limit && usage && *limit < (std::size_t{1} << 62)) {  // v1 writes "no limit" as ~2^63
        const std::size_t cache = stat_value(dir + "/memory.stat", cache_key).value_or(0);
        const std::size_t used = *usage > cache ? *usage - cache : 0;
        const std::size_t room = *limit > used ? *limit - used : 0;
        headroom = headroom ? std::min(*headroom, room) : room;
      }
      if (dir.size() <= base.size()) break;
      dir = dir.substr(0, dir.rfind('/'));
    }
  }
  return headroom;
}

std::optional<AvailableMemory> test_override() {
  const char* text = std::getenv("HNET_TEST_AVAILABLE_BYTES");
  if (!text || !*text) return std::nullopt;
  const auto v = parse_bytes(text);
  if (!v) throw std::runtime_error(std::string("HNET_TEST_AVAILABLE_BYTES=") + text + " is not a byte count");
  return AvailableMemory{*v, "HNET_TEST_AVAILABLE_BYTES, a test-only setting"};
}

constexpr bool host_backend = std::is_same<MemSpace, Kokkos::HostSpace>::value;

std::size_t total_bytes(const std::vector<std::pair<std::string, std::size_t>>& parts) {
  std::size_t total = 0;
  for (const auto& part : parts) total = saturating_add(total, part.second);
  return total;
}

std::string describe_parts(const std::vector<std::pair<std::string, std::size_t>>& parts) {
  std::string out;
  for (const auto& [name, bytes] : parts) out += (out.empty() ? "" : "; ") + name + ": " + format_bytes(bytes);
  return out;
}

}  // namespace

void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t huge = std::uintptr_t{2} << 20;
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t begin = (first + huge - 1) & ~(huge - 1), end = (first + bytes) & ~(huge - 1);
  if (data != nullptr && end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data, (void)bytes;
#endif
}

std::string format_bytes(std::size_t bytes) {
  if (bytes == SIZE_MAX) return "more than 16 EiB";
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 6) v /= 1024.0, ++u;
  char buf[64];
  if (u == 0) std::snprintf(buf, sizeof buf, "%zu B", bytes);
  else std::snprintf(buf, sizeof buf, "%.3g %s (%zu bytes)", v, units[u], bytes);
  return buf;
}

AvailableMemory available_host_memory() {
  if (auto forced = test_override()) return *forced;
  AvailableMemory a;
  if (const auto v = meminfo_available()) {
    a = {*v, "MemAvailable in /proc/meminfo"};
  } else {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    a = {pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : SIZE_MAX,
         "physical memory (sysconf)"};
  }
  if (const auto headroom = cgroup_headroom(); headroom && *headroom < a.bytes)
    a = {*headroom, "the memory limit of this process's cgroup, less what it uses"};
  return a;
}

AvailableMemory available_device_memory() {
  if (auto forced = test_override()) return *forced;
  if (host_backend) return available_host_memory();
  std::size_t free_bytes = 0, total_bytes = 0;
#if defined(KOKKOS_ENABLE_CUDA)
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
    return {free_bytes, "free memory of this rank's GPU (cudaMemGetInfo)"};
#elif defined(KOKKOS_ENABLE_HIP)
  if (hipMemGetInfo(&free_bytes, &total_bytes) == hipSuccess)
    return {free_bytes, "free memory of this rank's GPU (hipMemGetInfo)"};
#endif
  (void)free_bytes, (void)total_bytes;
  return {SIZE_MAX, "unknown for this backend (not checked)"};
}

void require_memory(const MemoryNeed& need, const std::string& what, const std::string& advice, MPI_Comm comm) {
  // On a host backend the "device" is host memory too.
  std::vector<std::pair<std::string, std::size_t>> host_parts = need.host;
  if (host_backend) host_parts.insert(host_parts.begin(), need.device.begin(), need.device.end());
  const std::size_t host_bytes = total_bytes(host_parts), device_bytes = total_bytes(need.device);

  // Ranks on one node share its memory: add up their needs, and measure once per node so that
  // every rank of the node compares against the same number.
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_rank = 0, node_size = 1;
  MPI_Comm_rank(node, &node_rank);
  MPI_Comm_size(node, &node_size);
  double node_host = static_cast<double>(host_bytes);  // double: a sum of saturated sizes must not wrap
  MPI_Allreduce(MPI_IN_PLACE, &node_host, 1, MPI_DOUBLE, MPI_SUM, node);
  AvailableMemory host;
  unsigned long long host_available = 0;
  if (node_rank == 0) host = available_host_memory(), host_available = host.bytes;
  MPI_Bcast(&host_available, 1, MPI_UNSIGNED_LONG_LONG, 0, node);
  int source_length = static_cast<int>(host.source.size());
  MPI_Bcast(&source_length, 1, MPI_INT, 0, node);
  host.source.resize(source_length);
  MPI_Bcast(host.source.data(), source_length, MPI_CHAR, 0, node);
  host.bytes = static_cast<std::size_t>(host_available);
  MPI_Comm_free(&node);

  std::string problem;
  if (node_host > static_cast<double>(host.bytes)) {
    const std::string ranks = node_size == 1 ? "this run" : "the " + std::to_string(node_size) + " ranks on this node";
    const std::string total =
        node_host >= static_cast<double>(SIZE_MAX) ? format_bytes(SIZE_MAX) : format_bytes(static_cast<std::size_t>(node_host));
    problem = what + ": not enough memory: " + ranks + " would need " + total + (node_size == 1 ? "" : " in all") +
              " [" + (node_size == 1 ? "" : "this rank: ") + describe_parts(host_parts) + "], but only " +
              format_bytes(host.bytes) + " is available (" + host.source + ")";
  }
  if (problem.empty() && !host_backend) {
    const AvailableMemory device = available_device_memory();
    if (device_bytes > device.bytes)
      problem = what + ": not enough device memory: this rank would need " + format_bytes(device_bytes) + " [" +
                describe_parts(need.device) + "], but only " + format_bytes(device.bytes) + " is available (" +
                device.source + ")";
  }
  int failed = problem.empty() ? 0 : 1;
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, comm);
  if (!failed) return;
  if (problem.empty()) problem = what + ": not enough memory on another node (its ranks report the sizes)";
  throw std::runtime_error(problem + ". Nothing was allocated. " + advice);
}

}  // namespace hnet
