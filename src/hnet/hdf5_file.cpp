#include "hnet/hdf5_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace hnet {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("HDF5: " + what); }

// Data and directory entry on stable storage, so a power cut after the rename cannot leave a
// renamed but empty file where the previous complete one was.
bool sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

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
const QuietErrors quiet_errors;

}  // namespace

Hdf5Writer::Hdf5Writer(std::string path)
    : path_(std::move(path)), temporary_(path_ + ".tmp." + std::to_string(::getpid())) {
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_obj_track_times(fcpl, false);
  file_ = H5Fcreate(temporary_.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  if (file_ < 0) fail("cannot create " + temporary_ + " (does the directory exist and is it writable?)");
}

Hdf5Writer::~Hdf5Writer() {
  if (file_ >= 0) H5Fclose(file_);
  if (!committed_) std::remove(temporary_.c_str());
}

hid_t Hdf5Writer::ensure_group(const std::string& path) {
  hid_t current = H5Gopen2(file_, "/", H5P_DEFAULT);
  std::size_t start = 0;
  while (start < path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    start = slash == std::string::npos ? path.size() : slash + 1;
    if (part.empty()) continue;
    hid_t next = -1;
    if (H5Lexists(current, part.c_str(), H5P_DEFAULT) > 0) {
      next = H5Gopen2(current, part.c_str(), H5P_DEFAULT);
    } else {
      hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
      H5Pset_obj_track_times(gcpl, false);
      next = H5Gcreate2(current, part.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
      H5Pclose(gcpl);
    }
    H5Gclose(current);
    if (next < 0) fail("cannot create group " + path + " in " + temporary_);
    current = next;
  }
  return current;
}

void Hdf5Writer::write_raw(const std::string& name, const std::vector<std::int64_t>& dims, hid_t type,
                           const void* data) {
  const std::size_t slash = name.rfind('/');
  hid_t group = ensure_group(slash == std::string::npos ? "" : name.substr(0, slash));
  const std::string leaf = slash == std::string::npos ? name : name.substr(slash + 1);
  const auto hdims = to_hsize(dims);
  hid_t space = H5Screate_simple(static_cast<int>(hdims.size()), hdims.data(), nullptr);
  // No modification times in object headers: the same content gives the same bytes.
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl, false);
  hid_t set = H5Dcreate2(group, leaf.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  herr_t status = set < 0 ? -1 : H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (set >= 0) H5Dclose(set);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Gclose(group);
  check(status, "cannot write dataset " + name + " to " + temporary_);
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

hid_t Hdf5Writer::open_object(const std::string& object) {
  hid_t id = H5Oopen(file_, object.empty() ? "/" : object.c_str(), H5P_DEFAULT);
  if (id < 0) id = ensure_group(object);
  return id;
}

void Hdf5Writer::attribute(const std::string& object, const std::string& name, const std::string& value) {
  hid_t target = open_object(object);
  hid_t type = H5Tcopy(H5T_C_S1);
  // Variable-length UTF-8: h5py reads it as str, not bytes.
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  const char* text = value.c_str();
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(target, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t status = attr < 0 ? -1 : H5Awrite(attr, type, &text);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space), H5Tclose(type), H5Oclose(target);
  check(status, "cannot write attribute " + object + "@" + name);
}

void Hdf5Writer::attribute(const std::string& object, const std::string& name, double value) {
  hid_t target = open_object(object);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(target, name.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t status = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_DOUBLE, &value);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space), H5Oclose(target);
  check(status, "cannot write attribute " + object + "@" + name);
}

void Hdf5Writer::attribute(const std::string& object, const std::string& name, std::int64_t value) {
  hid_t target = open_object(object);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(target, name.c_str(), H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t status = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_INT64, &value);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space), H5Oclose(target);
  check(status, "cannot write attribute " + object + "@" + name);
}

void Hdf5Writer::commit() {
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) fail("cannot flush " + temporary_);
  if (H5Fclose(file_) < 0) fail("cannot close " + temporary_);
  file_ = -1;
  if (!sync_path(temporary_, O_RDONLY)) fail("cannot sync " + temporary_ + " to disk");
  if (std::rename(temporary_.c_str(), path_.c_str()) != 0) fail("cannot rename " + temporary_ + " to " + path_);
  committed_ = true;
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  sync_path(parent.empty() ? "." : parent.string(), O_RDONLY | O_DIRECTORY);  // best effort: some file systems refuse
}

void remove_stale_temporaries(const std::string& path, const std::string& prefix, bool report) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string stem = target.filename().string() + ".tmp.";
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= stem.size() || name.compare(0, stem.size(), stem) != 0) continue;
    const std::string digits = name.substr(stem.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::strtol(digits.c_str(), nullptr, 10);
    if (pid == static_cast<long>(::getpid())) continue;
    if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;  // still running
    stale.push_back(it->path());
  }
  for (const fs::path& file : stale) {
    std::error_code removed;
    if (fs::remove(file, removed) && report)
      std::printf("%sremoved %s, left by a writer that did not finish\n", prefix.c_str(), file.string().c_str());
  }
}

std::vector<double> read_hdf5_dataset(const std::string& path, const std::string& name,
                                      std::vector<std::int64_t>* dims) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) fail("cannot open " + path + " (missing, truncated or not an HDF5 file)");
  hid_t set = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (set < 0) {
    H5Fclose(file);
    fail(path + " has no dataset " + name);
  }
  hid_t space = H5Dget_space(set);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> h(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, h.data(), nullptr);
  std::size_t count = 1;
  for (hsize_t v : h) count *= v;
  std::vector<double> values(count);
  const herr_t status = H5Dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Sclose(space), H5Dclose(set), H5Fclose(file);
  check(status, "cannot read " + name + " from " + path);
  if (dims) dims->assign(h.begin(), h.end());
  return values;
}

namespace {

// Opens path's attribute object@name for reading (file and attribute, both to be closed by the
// caller); throws naming the file when either is missing.
std::pair<hid_t, hid_t> open_attribute(const std::string& path, const std::string& object, const std::string& name) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) fail("cannot open " + path + " (missing, truncated or not an HDF5 file)");
  hid_t attr = H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) {
    H5Fclose(file);
    fail(path + " has no attribute " + object + "@" + name);
  }
  return {file, attr};
}

}  // namespace

std::string read_hdf5_string_attribute(const std::string& path, const std::string& object, const std::string& name) {
  const auto [file, attr] = open_attribute(path, object, name);
  hid_t memtype = H5Tcopy(H5T_C_S1);
  H5Tset_size(memtype, H5T_VARIABLE);
  H5Tset_cset(memtype, H5T_CSET_UTF8);
  char* text = nullptr;
  const herr_t status = H5Aread(attr, memtype, &text);
  std::string value = status >= 0 && text ? text : "";
  if (text) H5free_memory(text);
  H5Tclose(memtype), H5Aclose(attr), H5Fclose(file);
  check(status, "cannot read attribute " + object + "@" + name + " from " + path + " (expected a string)");
  return value;
}

std::int64_t read_hdf5_int_attribute(const std::string& path, const std::string& object, const std::string& name) {
  const auto [file, attr] = open_attribute(path, object, name);
  hid_t stored = H5Aget_type(attr);
  const bool integer = H5Tget_class(stored) == H5T_INTEGER;
  std::int64_t value = 0;
  const herr_t status = integer ? H5Aread(attr, H5T_NATIVE_INT64, &value) : -1;
  H5Tclose(stored), H5Aclose(attr), H5Fclose(file);
  check(status, "cannot read attribute " + object + "@" + name + " from " + path + " (expected an integer)");
  return value;
}

}  // namespace hnet
