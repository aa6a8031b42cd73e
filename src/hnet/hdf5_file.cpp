#include "hnet/hdf5_file.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <utility>

#include "hnet/file_io.hpp"

namespace hnet {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("HDF5: " + what); }

void check(herr_t status, const std::string& what) {
  if (status < 0) fail(what);
}

std::vector<hsize_t> to_hsize(const std::vector<std::int64_t>& dims) {
  return std::vector<hsize_t>(dims.begin(), dims.end());
}

// HDF5 prints its own error stack on failure; hnet reports errors itself, once, with context.
struct QuietErrors {
  QuietErrors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
[[maybe_unused]] const QuietErrors quiet_errors;

}  // namespace

Hdf5Handle::~Hdf5Handle() { close(); }

herr_t Hdf5Handle::close() {
  herr_t status = 0;
  if (id_ >= 0 && close_) status = close_(id_);
  id_ = -1;
  return status;
}

Hdf5Handle& Hdf5Handle::operator=(Hdf5Handle&& other) noexcept {
  if (this != &other) {
    close();
    id_ = std::exchange(other.id_, -1);
    close_ = other.close_;
  }
  return *this;
}

// The file is built in memory (HDF5's core driver without a backing store) and written out by
// write_file_atomically at commit: HDF5 never touches the disk, so a full disk or an I/O error
// is one failed write(2) with its errno, never a half-closed HDF5 file that the library's own
// clean-up at exit would trip over.
Hdf5Writer::Hdf5Writer(std::string path, std::size_t size_hint) : path_(std::move(path)) {
  const Hdf5Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose), fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_obj_track_times(fcpl, false);
  H5Pset_fapl_core(fapl, std::max(size_hint, std::size_t{1} << 20), /*backing_store=*/false);
  file_ = Hdf5Handle(H5Fcreate(temporary_path(path_).c_str(), H5F_ACC_TRUNC, fcpl, fapl), H5Fclose);
  if (!file_.valid()) fail("cannot create " + path_ + " in memory");
}

Hdf5Writer::~Hdf5Writer() = default;

Hdf5Handle Hdf5Writer::ensure_group(const std::string& path) {
  Hdf5Handle current(H5Gopen2(file_, "/", H5P_DEFAULT), H5Gclose);
  std::size_t start = 0;
  while (start < path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    start = slash == std::string::npos ? path.size() : slash + 1;
    if (part.empty()) continue;
    Hdf5Handle next;
    if (H5Lexists(current, part.c_str(), H5P_DEFAULT) > 0) {
      next = Hdf5Handle(H5Gopen2(current, part.c_str(), H5P_DEFAULT), H5Gclose);
    } else {
      const Hdf5Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
      H5Pset_obj_track_times(gcpl, false);
      next = Hdf5Handle(H5Gcreate2(current, part.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose);
    }
    if (!next.valid()) fail("cannot create group " + path + " in " + path_);
    current = std::move(next);
  }
  return current;
}

void Hdf5Writer::write_raw(const std::string& name, const std::vector<std::int64_t>& dims, hid_t type,
                           const void* data) {
  const std::size_t slash = name.rfind('/');
  const Hdf5Handle group = ensure_group(slash == std::string::npos ? "" : name.substr(0, slash));
  const std::string leaf = slash == std::string::npos ? name : name.substr(slash + 1);
  const auto hdims = to_hsize(dims);
  const Hdf5Handle space(H5Screate_simple(static_cast<int>(hdims.size()), hdims.data(), nullptr), H5Sclose);
  // No modification times in object headers: the same content gives the same bytes.
  const Hdf5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(dcpl, false);
  const Hdf5Handle set(H5Dcreate2(group, leaf.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  const herr_t status = set.valid() ? H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
  check(status, "cannot write dataset " + name + " to " + path_ + " (in memory: out of memory?)");
}

void Hdf5Writer::write(const std::string& name, const std::vector<std::int64_t>& dims, const float* data) {
  write_raw(name, dims, H5T_NATIVE_FLOAT, data);
}
void Hdf5Writer::write(const std::string& name, const std::vector<std::int64_t>& dims, const double* data) {
  write_raw(name, dims, H5T_NATIVE_DOUBLE, data);
}
void Hdf5Writer::write(const std::string& name, const std::vector<std::int64_t>& dims, const std::int64_t* data) {
  write_raw(name, dims, H5T_NATIVE_INT64, data);
}

Hdf5Handle Hdf5Writer::open_object(const std::string& object) {
  Hdf5Handle id(H5Oopen(file_, object.empty() ? "/" : object.c_str(), H5P_DEFAULT), H5Oclose);
  if (!id.valid()) return ensure_group(object);
  return id;
}

void Hdf5Writer::write_attribute(const std::string& object, const std::string& name, hid_t type, const void* value) {
  const Hdf5Handle target = open_object(object);
  const Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  const Hdf5Handle attr(H5Acreate2(target, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const herr_t status = attr.valid() ? H5Awrite(attr, type, value) : -1;
  check(status, "cannot write attribute " + object + "@" + name + " to " + path_);
}

void Hdf5Writer::attribute(const std::string& object, const std::string& name, const std::string& value) {
  const Hdf5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  // Variable-length UTF-8: h5py reads it as str, not bytes.
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  const char* text = value.c_str();
  write_attribute(object, name, type, &text);
}

void Hdf5Writer::attribute(const std::string& object, const std::string& name, double value) {
  write_attribute(object, name, H5T_NATIVE_DOUBLE, &value);
}

void Hdf5Writer::attribute(const std::string& object, const std::string& name, std::int64_t value) {
  write_attribute(object, name, H5T_NATIVE_INT64, &value);
}

std::size_t Hdf5Writer::image_bytes() {
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "cannot flush " + path_ + " in memory");
  const ssize_t size = H5Fget_file_image(file_, nullptr, 0);
  if (size < 0) fail("cannot size the image of " + path_);
  return static_cast<std::size_t>(size);
}

void Hdf5Writer::commit() {
  const std::size_t size = image_bytes();
  // Not a std::vector: its zero fill would be one more pass over a file of hundreds of MB.
  const std::unique_ptr<char[]> image(new char[size]);
  if (H5Fget_file_image(file_, image.get(), size) != static_cast<ssize_t>(size))
    fail("cannot copy the image of " + path_);
  check(file_.close(), "cannot close " + path_ + " in memory");  // frees HDF5's buffer before the write
  write_file_atomically(path_, image.get(), size);
}

std::vector<double> read_hdf5_dataset(const std::string& path, const std::string& name,
                                      std::vector<std::int64_t>* dims) {
  const Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) fail("cannot open " + path + " (missing, truncated or not an HDF5 file)");
  const Hdf5Handle set(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.valid()) fail(path + " has no dataset " + name);
  const Hdf5Handle space(H5Dget_space(set), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> h(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, h.data(), nullptr);
  std::size_t count = 1;
  for (hsize_t v : h) count *= v;
  std::vector<double> values(count);
  check(H5Dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
        "cannot read " + name + " from " + path);
  if (dims) dims->assign(h.begin(), h.end());
  return values;
}

std::vector<std::int64_t> read_hdf5_dims(const std::string& path, const std::string& name) {
  const Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) fail("cannot open " + path + " (missing, truncated or not an HDF5 file)");
  const Hdf5Handle set(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.valid()) fail(path + " has no dataset " + name);
  const Hdf5Handle space(H5Dget_space(set), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> h(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, h.data(), nullptr);
  return std::vector<std::int64_t>(h.begin(), h.end());
}

namespace {

// Opens path's attribute object@name for reading; throws naming the file when either is missing.
std::pair<Hdf5Handle, Hdf5Handle> open_attribute(const std::string& path, const std::string& object,
                                                 const std::string& name) {
  Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) fail("cannot open " + path + " (missing, truncated or not an HDF5 file)");
  Hdf5Handle attr(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) fail(path + " has no attribute " + object + "@" + name);
  return {std::move(file), std::move(attr)};
}

}  // namespace

std::string read_hdf5_string_attribute(const std::string& path, const std::string& object, const std::string& name) {
  const auto [file, attr] = open_attribute(path, object, name);
  const Hdf5Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(memtype, H5T_VARIABLE);
  H5Tset_cset(memtype, H5T_CSET_UTF8);
  char* text = nullptr;
  const herr_t status = H5Aread(attr, memtype, &text);
  std::string value = status >= 0 && text ? text : "";
  if (text) H5free_memory(text);
  check(status, "cannot read attribute " + object + "@" + name + " from " + path + " (expected a string)");
  return value;
}

std::int64_t read_hdf5_int_attribute(const std::string& path, const std::string& object, const std::string& name) {
  const auto [file, attr] = open_attribute(path, object, name);
  const Hdf5Handle stored(H5Aget_type(attr), H5Tclose);
  const bool integer = H5Tget_class(stored) == H5T_INTEGER;
  std::int64_t value = 0;
  const herr_t status = integer ? H5Aread(attr, H5T_NATIVE_INT64, &value) : -1;
  check(status, "cannot read attribute " + object + "@" + name + " from " + path + " (expected an integer)");
  return value;
}

}  // namespace hnet
