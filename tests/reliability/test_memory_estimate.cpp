// Model<T>::estimate_bytes() is what lets train, sweep and generate refuse a deck before it
// allocates, so it must equal what the constructor really takes: checked against the model's own
// count and, independently, against every allocation Kokkos reports while the model is built.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "hnet/deck.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/memory.hpp"
#include "hnet/model.hpp"

namespace {

// Kokkos Tools callbacks: net bytes allocated in hnet's memory space while they are installed.
struct AllocationProbe {
  static inline std::int64_t net = 0;
  static inline std::int64_t count = 0;
  static bool in_memspace(const Kokkos::Tools::SpaceHandle handle) {
    return std::string(handle.name) == hnet::MemSpace::name();
  }
  static void on_allocate(const Kokkos::Tools::SpaceHandle handle, const char*, const void*, const uint64_t size) {
    if (in_memspace(handle)) net += static_cast<std::int64_t>(size), ++count;
  }
  static void on_deallocate(const Kokkos::Tools::SpaceHandle handle, const char*, const void*, const uint64_t size) {
    if (in_memspace(handle)) net -= static_cast<std::int64_t>(size);
  }
  AllocationProbe() {
    net = 0, count = 0;
    Kokkos::Tools::Experimental::set_allocate_data_callback(&on_allocate);
    Kokkos::Tools::Experimental::set_deallocate_data_callback(&on_deallocate);
  }
  ~AllocationProbe() {
    Kokkos::Tools::Experimental::set_allocate_data_callback(nullptr);
    Kokkos::Tools::Experimental::set_deallocate_data_callback(nullptr);
  }
};

struct Shape {
  std::string deck;
  std::int64_t batch, n, m, samples;
};

template <class T>
void expect_estimate_matches(const Shape& s) {
  const hnet::Deck deck = hnet::parse_deck(s.deck, "<shape>");
  const hnet::HypernetLayout layout = hnet::build_layout(hnet::model_shape(deck));
  std::size_t estimate = 0;
  {
    AllocationProbe probe;
    estimate = hnet::Model<T>::estimate_bytes(layout, s.batch, s.n, s.m, s.samples);
    EXPECT_EQ(AllocationProbe::count, 0) << "estimate_bytes allocated views";
  }
  std::int64_t measured = 0;
  std::size_t workspace = 0;
  {
    AllocationProbe probe;
    hnet::Model<T> model(layout, s.batch, s.n, s.m, s.samples);
    measured = AllocationProbe::net;
    workspace = model.workspace_bytes();
  }
  const std::string what = "deck {" + s.deck + "} batch " + std::to_string(s.batch) + " n " + std::to_string(s.n) +
                           " m " + std::to_string(s.m) + " samples " + std::to_string(s.samples);
  EXPECT_EQ(estimate, workspace) << what;
  EXPECT_EQ(static_cast<std::int64_t>(estimate), measured) << what << ": Kokkos saw a different total";
  EXPECT_GT(estimate, 0u);
}

const Shape kShapes[] = {
    {"", 8, 16, 48, 256},
    {"[model]\nd = 8\nheads = 2\nblocks = 1\nlatent = 2\nidentity_dim = 4\nphi_hidden = 8\nphi_dim = 4\n", 4, 4, 12, 32},
    {"[model]\nreadout = \"edge\"\nprior = \"learned\"\nblocks = 3\n", 3, 5, 7, 17},
    {"[model]\nd = 12\nheads = 3\nsigma = \"softplus\"\nposterior_identity = false\n", 1, 32, 96, 1},
    {"[target]\nhidden_ratio = 1\n[model]\nd = 16\nheads = 4\nprior = \"learned\"\n", 2, 1, 1, 3},
};

}  // namespace

TEST(MemoryEstimate, EqualsWhatTheConstructorAllocatesInFloat) {
  for (const Shape& s : kShapes) expect_estimate_matches<float>(s);
}

TEST(MemoryEstimate, EqualsWhatTheConstructorAllocatesInDouble) {
  for (const Shape& s : kShapes) expect_estimate_matches<double>(s);
}

TEST(MemoryEstimate, GrowsWithEverySizeAndSaturatesInsteadOfWrapping) {
  const hnet::HypernetLayout layout = hnet::build_layout(hnet::model_shape(hnet::default_deck()));
  const std::size_t base = hnet::Model<float>::estimate_bytes(layout, 8, 16, 48, 256);
  EXPECT_LT(base, hnet::Model<float>::estimate_bytes(layout, 16, 16, 48, 256));
  EXPECT_LT(base, hnet::Model<float>::estimate_bytes(layout, 8, 32, 96, 256));
  EXPECT_LT(base, hnet::Model<float>::estimate_bytes(layout, 8, 16, 48, 512));
  // The deck's largest sizes: far beyond any machine, and must not wrap round to something small.
  const std::size_t huge = hnet::Model<float>::estimate_bytes(layout, 1 << 20, 2048, 6144, 1 << 20);
  EXPECT_GT(huge, std::size_t{1} << 50);
  const hnet::Deck wide = hnet::parse_deck("[model]\nd = 4096\nheads = 1\nblocks = 64\nlatent = 1024\n", "<wide>");
  const hnet::HypernetLayout wide_layout = hnet::build_layout(hnet::model_shape(wide));
  EXPECT_EQ(hnet::Model<float>::estimate_bytes(wide_layout, 1 << 20, 4096, 4096, 1 << 20), SIZE_MAX);
}

TEST(MemoryEstimate, AvailableMemoryIsMeasuredAndCanBeOverriddenForTests) {
  unsetenv("HNET_TEST_AVAILABLE_BYTES");
  const hnet::AvailableMemory host = hnet::available_host_memory();
  EXPECT_GT(host.bytes, std::size_t{1} << 20);
  EXPECT_FALSE(host.source.empty());
  EXPECT_FALSE(hnet::available_device_memory().source.empty());
  setenv("HNET_TEST_AVAILABLE_BYTES", "12345", 1);
  EXPECT_EQ(hnet::available_host_memory().bytes, 12345u);
  EXPECT_EQ(hnet::available_device_memory().bytes, 12345u);
  setenv("HNET_TEST_AVAILABLE_BYTES", "lots", 1);
  EXPECT_THROW(hnet::available_host_memory(), std::runtime_error);
  unsetenv("HNET_TEST_AVAILABLE_BYTES");
  EXPECT_EQ(hnet::format_bytes(512), "512 B");
  EXPECT_EQ(hnet::format_bytes(3 * 1024 * 1024), "3 MiB (3145728 bytes)");
}

namespace {

// The process's resident anonymous memory on transparent huge pages, in kB; -1 where Linux does
// not say (no /proc/self/smaps_rollup).
long anon_huge_kb() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string key;
  long value = -1;
  while (in >> key) {
    if (key == "AnonHugePages:") {
      in >> value;
      return value;
    }
  }
  return -1;
}

// Whether this kernel gives huge pages to memory that asks for them (THP "always" or "madvise").
bool huge_pages_on_request() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return modes.find("[always]") != std::string::npos || modes.find("[madvise]") != std::string::npos;
}

}  // namespace

TEST(HugePages, AdviceChangesNoValueAndAcceptsAnyRange) {
  hnet::advise_huge_pages(nullptr, 0);
  hnet::advise_huge_pages(nullptr, std::size_t{1} << 30);  // nothing there: ignored
  constexpr std::size_t bytes = std::size_t{64} << 20;    // past glibc's largest mmap threshold: untouched pages
  std::unique_ptr<unsigned char[]> buffer(new unsigned char[bytes]);
  hnet::advise_huge_pages(buffer.get() + 1, 100);  // no whole 2 MiB page inside: nothing to do
  const long before = anon_huge_kb();
  hnet::advise_huge_pages(buffer.get(), bytes);
  for (std::size_t k = 0; k < bytes; ++k) buffer[k] = static_cast<unsigned char>(k * 7);
  std::size_t wrong = 0;
  for (std::size_t k = 0; k < bytes; ++k) wrong += buffer[k] != static_cast<unsigned char>(k * 7);
  EXPECT_EQ(wrong, 0u);
  if (before < 0 || !huge_pages_on_request()) GTEST_SKIP() << "this kernel reports or grants no huge pages";
  // At least one of the 31 whole huge pages inside was granted (without the advice, in "madvise"
  // mode, none is).
  EXPECT_GE(anon_huge_kb() - before, 2048) << "madvise(MADV_HUGEPAGE) gave no huge page";
}
