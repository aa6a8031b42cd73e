#pragma once
// Files on disk with every failure named: the file, and the operating system's reason. Results,
// checkpoints, sweeps and drawings are written whole to <file>.tmp.<pid> and renamed over the
// target, so a full disk, an I/O error or a kill leaves the previous complete file in place.
// Output directories are checked before a run spends anything, and a job's files have one writer
// at a time (FileLock).
#include <cstddef>
#include <stdexcept>
#include <string>

namespace hnet {

// An operating-system failure on a file; what() names the file and the reason.
class IoError : public std::runtime_error {
 public:
  IoError(const std::string& message, int error) : std::runtime_error(message), error_(error) {}
  int error() const { return error_; }

 private:
  int error_;
};

// "No space left on device (ENOSPC)".
std::string describe_errno(int error);

// <path>.tmp.<pid>: where this process writes path before renaming it into place.
std::string temporary_path(const std::string& path);

// Writes size bytes to path atomically: to temporary_path(path) in full, fsync'ed, closed, then
// renamed over path and the directory synced (best effort: some file systems refuse). On any
// failure the temporary is removed, path is left as it was, and an IoError names path and the
// reason. Test-only: HNET_FAULT_IO=ERRNO[@BYTES] (ENOSPC, EDQUOT, EIO, EFBIG, EACCES, EROFS)
// makes the write that would take this process past BYTES bytes in all fail with that error
// (EACCES and EROFS: the next file's creation), as a full, broken or read-only disk would.
// HNET_TEST_WRITE_DELAY_MS=N sleeps N ms halfway through every file, so a kill can land there.
void write_file_atomically(const std::string& path, const void* data, std::size_t size);
inline void write_file_atomically(const std::string& path, const std::string& contents) {
  write_file_atomically(path, contents.data(), contents.size());
}

// A writer killed between creating <file>.tmp.<pid> and renaming it into place leaves the
// temporary behind. Nothing reads those, but they hold disk space and look like results: this
// removes path's, except any whose process is still alive on this host (a writer running right
// now). Names not of the form <file>.tmp.<digits> are not write_file_atomically's and are kept.
// With report, each removal is printed on stdout after the prefix.
void remove_stale_temporaries(const std::string& path, const std::string& prefix, bool report);
// The same for every file of a directory that only one writer uses (a job's saved models).
void remove_stale_temporaries_in(const std::string& dir, const std::string& prefix, bool report);

// Bytes an unprivileged writer may still use on the file system holding dir (statvfs f_bavail).
// Test-only: HNET_TEST_FREE_BYTES replaces the measured value.
struct FreeSpace {
  std::size_t bytes = 0;
  std::string source;  // where the number came from, for messages
};
FreeSpace free_disk_space(const std::string& dir);

// Creates dir and its parents if missing and checks that a file can be created in it. Throws an
// IoError naming dir, `what` (e.g. "output.dir") and the reason. Returns the topmost directory it
// created ("" if dir existed), for remove_created_directories.
std::string require_writable_directory(const std::string& dir, const std::string& what);
// Undoes require_writable_directory for a run refused afterwards: removes dir and its parents up
// to `top`, as long as they are empty.
void remove_created_directories(const std::string& dir, const std::string& top);

// An exclusive lock (flock) on path, created if missing, held while the object lives. The
// operating system releases it when the process ends in any way, so a killed holder never blocks
// its own restart. The holder writes `holder` (host, PID, command) into the file so that a
// refused process can name it. The file itself stays: removing it could let a third process lock
// a new file while the second still holds the old one.
class FileLock {
 public:
  FileLock() = default;
  // Throws IoError when the file cannot be created, std::runtime_error naming the holder (from the
  // file) and `purpose` when another process holds the lock.
  FileLock(const std::string& path, const std::string& purpose);
  ~FileLock();
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// "host h, PID p": how a lock file describes this process.
std::string this_process_description();

}  // namespace hnet
