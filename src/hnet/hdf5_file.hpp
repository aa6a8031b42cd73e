#pragma once
// Writing HDF5 files that are never left half-written: a file is built in memory and written by
// commit() to a temporary file next to the target, which is renamed over it (file_io.hpp; rename
// is atomic on a POSIX file system). A writer destroyed before commit() writes nothing. Every
// HDF5 object is owned by an Hdf5Handle, so no error path leaves one open.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hnet {

// Owns one HDF5 identifier (file, group, dataset, ...) and closes it with its close function.
class Hdf5Handle {
 public:
  Hdf5Handle() = default;
  Hdf5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hdf5Handle();
  Hdf5Handle(Hdf5Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Hdf5Handle& operator=(Hdf5Handle&& other) noexcept;
  Hdf5Handle(const Hdf5Handle&) = delete;
  Hdf5Handle& operator=(const Hdf5Handle&) = delete;

  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }
  herr_t close();  // now, with its status; the destructor then does nothing

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

class Hdf5Writer {
 public:
  // size_hint: the expected size of the file (0: unknown); HDF5's buffer grows in steps of it.
  explicit Hdf5Writer(std::string path, std::size_t size_hint = 0);
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

  // The size of the file as built so far: what commit() would write.
  std::size_t image_bytes();
  // Writes the file to disk and renames it into place; throws (an IoError for the disk's
  // failures, naming the file and the reason) if anything failed, leaving the old file in place.
  void commit();
  const std::string& path() const { return path_; }

 private:
  Hdf5Handle ensure_group(const std::string& path);
  void write_raw(const std::string& name, const std::vector<std::int64_t>& dims, hid_t type, const void* data);
  void write_attribute(const std::string& object, const std::string& name, hid_t type, const void* value);
  Hdf5Handle open_object(const std::string& object);

  std::string path_;
  Hdf5Handle file_;
};

// Reads a whole dataset as doubles (for tests and tools); throws naming the file and dataset.
std::vector<double> read_hdf5_dataset(const std::string& path, const std::string& name,
                                      std::vector<std::int64_t>* dims = nullptr);
// A dataset's dimensions, without reading it; throws naming the file and dataset.
std::vector<std::int64_t> read_hdf5_dims(const std::string& path, const std::string& name);
std::string read_hdf5_string_attribute(const std::string& path, const std::string& object, const std::string& name);
std::int64_t read_hdf5_int_attribute(const std::string& path, const std::string& object, const std::string& name);

}  // namespace hnet
