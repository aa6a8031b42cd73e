#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hnet/hdf5_file.hpp"

namespace fs = std::filesystem;

namespace {
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("hnet_test_hdf5_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}
}  // namespace

TEST(Hdf5, DatasetsAndAttributesRoundTrip) {
  const std::string path = scratch("round_trip.h5").string();
  {
    hnet::Hdf5Writer w(path);
    const float f[6] = {1, 2, 3, 4, 5, 6.5f};
    const double d[2] = {0.1, -1e300};
    const std::int64_t i[3] = {7, -8, 1LL << 40};
    w.write("group/sub/floats", {2, 3}, f);
    w.write("doubles", {2}, d);
    w.write("ints", {3}, i);
    w.attribute("/", "text", std::string("β = 1e-3, UTF-8"));
    w.attribute("group", "value", 2.5);
    w.commit();
  }
  std::vector<std::int64_t> dims;
  const auto f = hnet::read_hdf5_dataset(path, "group/sub/floats", &dims);
  EXPECT_EQ(dims, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(f[5], 6.5);
  EXPECT_EQ(hnet::read_hdf5_dataset(path, "doubles")[1], -1e300);
  EXPECT_EQ(hnet::read_hdf5_dataset(path, "ints")[2], static_cast<double>(1LL << 40));
  EXPECT_EQ(hnet::read_hdf5_string_attribute(path, "/", "text"), "β = 1e-3, UTF-8");
}

TEST(Hdf5, AnUncommittedWriterLeavesNothingBehind) {
  const fs::path path = scratch("abandoned.h5");
  fs::remove(path);
  {
    hnet::Hdf5Writer w(path.string());
    const double d = 1;
    w.write("x", {1}, &d);
  }
  EXPECT_FALSE(fs::exists(path));
  for (const auto& entry : fs::directory_iterator(path.parent_path()))
    EXPECT_EQ(entry.path().string().find("abandoned.h5.tmp"), std::string::npos) << entry.path();
}

TEST(Hdf5, CommitReplacesAnOldFileOnlyWhenComplete) {
  const std::string path = scratch("replace.h5").string();
  const double one = 1, two = 2;
  {
    hnet::Hdf5Writer w(path);
    w.write("x", {1}, &one);
    w.commit();
  }
  {
    hnet::Hdf5Writer w(path);
    w.write("x", {1}, &two);
    // Not committed: the old file must survive untouched.
  }
  EXPECT_EQ(hnet::read_hdf5_dataset(path, "x")[0], 1.0);
}

TEST(Hdf5, MissingTruncatedAndForeignFilesAreNamedInTheError) {
  const std::string missing = scratch("does_not_exist.h5").string();
  try {
    hnet::read_hdf5_dataset(missing, "x");
    FAIL() << "no error for a missing file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does_not_exist.h5"), std::string::npos) << e.what();
  }
  const std::string foreign = scratch("foreign.h5").string();
  std::ofstream(foreign) << "this is not HDF5";
  EXPECT_THROW(hnet::read_hdf5_dataset(foreign, "x"), std::runtime_error);
  const std::string good = scratch("good.h5").string();
  {
    hnet::Hdf5Writer w(good);
    const double d = 3;
    w.write("x", {1}, &d);
    w.commit();
  }
  EXPECT_THROW(hnet::read_hdf5_dataset(good, "y"), std::runtime_error);
}
