#pragma once
// Writing HDF5 files that are never left half-written: everything goes to a temporary file next
// to the target, which is renamed over it only after a successful close (rename is atomic on a
// POSIX file system). A writer destroyed before commit() removes its temporary file.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hnet {

class Hdf5Writer {
 public:
  explicit Hdf5Writer(std::string path);
  ~Hdf5Writer();
  Hdf5Writer(const Hdf5Writer&) = delete;
  Hdf5Writer& operator=(const Hdf5Writer&) = delete;

  // Groups are created on demand from a '/'-separated dataset or group path.
  void write(const std::string& name, const std::vector<std::int64_t>& dims, const float* data);
  void write(const std::string& name, const std::vector<std::int64_t>& dims, const double* data);
  void write(const std::string& name, const std::vector<std::int64_t>& dims, const std::int64_t* data);
  void attribute(const std::string& object, const std::string& name, const std::string& value);
  void attribute(const std::string& object, const std::string& name, double value);
  void attribute(const std::string& object, const std::string& name, std::int64_t value);

  // Closes the file and renames it into place; throws if anything failed.
  void commit();
  const std::string& path() const { return path_; }

 private:
  hid_t ensure_group(const std::string& path);
  void write_raw(const std::string& name, const std::vector<std::int64_t>& dims, hid_t type, const void* data);
  hid_t open_object(const std::string& object);

  std::string path_, temporary_;
  hid_t file_ = -1;
  bool committed_ = false;
};

// A writer killed between creating <file>.tmp.<pid> and renaming it into place leaves the
// temporary behind. Nothing reads those, but they hold disk space and look like results: this
// removes path's, except any whose process is still alive on this host (a writer running right
// now). Names not of the form <file>.tmp.<digits> are not Hdf5Writer's and are kept. With
// report, each removal is printed on stdout after the prefix.
void remove_stale_temporaries(const std::string& path, const std::string& prefix, bool report);

// Reads a whole dataset as doubles (for tests and tools); throws naming the file and dataset.
std::vector<double> read_hdf5_dataset(const std::string& path, const std::string& name,
                                      std::vector<std::int64_t>* dims = nullptr);
std::string read_hdf5_string_attribute(const std::string& path, const std::string& object, const std::string& name);
std::int64_t read_hdf5_int_attribute(const std::string& path, const std::string& object, const std::string& name);

}  // namespace hnet
