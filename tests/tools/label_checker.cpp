// A Kokkos Tools library that checks, while hnet runs, that every kernel it launches and every
// View it allocates carries an "hnet::" label (architecture.md: labels are what Kokkos Tools,
// Nsight Systems and rocprof show, so an unlabelled kernel is anonymous in every profile).
// The lint test reads the source; this sees what actually runs, including labels built at run
// time and launches the source scanner cannot attribute.
//
// Load it with KOKKOS_PROFILE_LIBRARY=<path> (Kokkos 3.x) or KOKKOS_TOOLS_LIBS=<path> (4.x).
// At Kokkos::finalize it writes $HNET_LABEL_CHECK_DIR/labels.<pid>.txt (default directory: the
// working directory), one line per distinct name:
//   kernel      ok|UNLABELLED  <launches>     <name>
//   allocation  ok|UNLABELLED  <allocations>  <label>
//
// What counts as labelled, precisely:
//   kernels     - names starting "hnet::" (and longer than that);
//               - "Kokkos::View::initialization [L]" and "Kokkos::View::destruction [L]" (Kokkos
//                 names its own View fill/destroy kernels so; 4.x may add " via memset") when the
//                 View label L itself counts as labelled (below): the label is hnet's, the
//                 kernel is Kokkos' bookkeeping for it;
//               - "Kokkos::ViewFill-<N>D" and "Kokkos::ViewCopy-<N>D": the kernels behind
//                 Kokkos::deep_copy, which takes no label, so hnet cannot name them;
//               Everything else is UNLABELLED: an unlabelled parallel_* shows up under its
//               functor's mangled type name, an empty label as "", and names of other libraries
//               (any KokkosBlas call, say) are flagged so that someone decides.
//   allocations - labels starting "hnet::"; Kokkos' mirrors of such Views ("<label>_mirror")
//                 start with it too;
//               - labels starting "Kokkos::": Kokkos' own buffers (e.g. 4.x GPU scratch);
//               - "[unlabeled]" while a labelled kernel is being launched: the label Kokkos'
//                 memory spaces report for their own label-less allocate(size), which Kokkos
//                 3.4's OpenMP backend uses to grow its thread-team scratch when a TeamPolicy
//                 kernel starts. It is recorded as "[unlabeled] during <kernel>". hnet never
//                 calls a memory space's allocate itself, so "[unlabeled]" outside a launch, ""
//                 and every other label are UNLABELLED.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unistd.h>

namespace {

// The C interface of Kokkos Tools (Kokkos_Profiling_C_Interface.h), stable since Kokkos 3.0.
// Declared here so that the library needs no Kokkos headers and can be loaded by any backend.
struct SpaceHandle {
  char name[64];
};
struct DeviceInfo {
  std::size_t deviceID;
};

struct Record {
  std::mutex mutex;
  std::map<std::string, std::uint64_t> kernels, allocations;
  std::uint64_t next_id = 0;
  std::string launching;  // the kernel between its begin and end callbacks, if any
};
Record& record() {
  static Record r;
  return r;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool hnet_label(const std::string& label) { return starts_with(label, "hnet::") && label.size() > 6; }

bool labelled_allocation(const std::string& label) {
  return hnet_label(label) || starts_with(label, "Kokkos::") || starts_with(label, "[unlabeled] during hnet::");
}

bool labelled_kernel(const std::string& name) {
  if (starts_with(name, "hnet::")) return name.size() > 6;
  for (const char* prefix : {"Kokkos::View::initialization [", "Kokkos::View::destruction ["}) {
    if (!starts_with(name, prefix)) continue;
    const std::size_t open = std::strlen(prefix) - 1, close = name.rfind(']');
    return close != std::string::npos && close > open &&
           hnet_label(name.substr(open + 1, close - open - 1));
  }
  return starts_with(name, "Kokkos::ViewFill-") || starts_with(name, "Kokkos::ViewCopy-");
}

void begin_kernel(const char* name, std::uint64_t* id) {
  Record& r = record();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.launching = name ? name : "";
  ++r.kernels[r.launching];
  *id = r.next_id++;
}

void end_kernel() {
  Record& r = record();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.launching.clear();
}

}  // namespace

extern "C" {

void kokkosp_init_library(int, std::uint64_t, std::uint32_t, DeviceInfo*) {}

void kokkosp_begin_parallel_for(const char* name, std::uint32_t, std::uint64_t* id) { begin_kernel(name, id); }
void kokkosp_end_parallel_for(std::uint64_t) { end_kernel(); }
void kokkosp_begin_parallel_reduce(const char* name, std::uint32_t, std::uint64_t* id) { begin_kernel(name, id); }
void kokkosp_end_parallel_reduce(std::uint64_t) { end_kernel(); }
void kokkosp_begin_parallel_scan(const char* name, std::uint32_t, std::uint64_t* id) { begin_kernel(name, id); }
void kokkosp_end_parallel_scan(std::uint64_t) { end_kernel(); }

void kokkosp_allocate_data(SpaceHandle, const char* label, const void*, std::uint64_t) {
  Record& r = record();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::string name = label ? label : "";
  if (name == "[unlabeled]" && !r.launching.empty()) name += " during " + r.launching;
  ++r.allocations[name];
}
void kokkosp_deallocate_data(SpaceHandle, const char*, const void*, std::uint64_t) {}

void kokkosp_finalize_library() {
  Record& r = record();
  std::lock_guard<std::mutex> lock(r.mutex);
  const char* dir = std::getenv("HNET_LABEL_CHECK_DIR");
  const std::string path = std::string(dir && *dir ? dir : ".") + "/labels." + std::to_string(getpid()) + ".txt";
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (!out) {
    std::fprintf(stderr, "label_checker: cannot write %s\n", path.c_str());
    return;
  }
  std::fprintf(out, "# Kokkos Tools label check of process %ld (tests/tools/label_checker.cpp)\n",
               static_cast<long>(getpid()));
  for (const auto& [name, count] : r.kernels)
    std::fprintf(out, "kernel\t%s\t%llu\t%s\n", labelled_kernel(name) ? "ok" : "UNLABELLED",
                 static_cast<unsigned long long>(count), name.c_str());
  for (const auto& [label, count] : r.allocations)
    std::fprintf(out, "allocation\t%s\t%llu\t%s\n", labelled_allocation(label) ? "ok" : "UNLABELLED",
                 static_cast<unsigned long long>(count), label.c_str());
  std::fclose(out);
}

}  // extern "C"
