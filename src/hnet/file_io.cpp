#include "hnet/file_io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

namespace hnet {

namespace fs = std::filesystem;

namespace {

const char* errno_name(int error) {
  switch (error) {
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EIO: return "EIO";
    case EFBIG: return "EFBIG";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EEXIST: return "EEXIST";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EXDEV: return "EXDEV";
    case EBUSY: return "EBUSY";
    case ESTALE: return "ESTALE";
    case EINVAL: return "EINVAL";
    case ENOLCK: return "ENOLCK";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EWOULDBLOCK: return "EWOULDBLOCK";
    default: return nullptr;
  }
}

// Test-only: HNET_FAULT_IO=ERRNO[@BYTES], see file_io.hpp. Read once; unset, it costs nothing.
struct IoFault {
  int error = 0;
  bool at_open = false;       // EACCES, EROFS: creating a file fails
  std::size_t after = 0;      // bytes this process may write first
};

const IoFault& io_fault() {
  static const IoFault fault = [] {
    IoFault f;
    const char* text = std::getenv("HNET_FAULT_IO");
    if (!text || !*text) return f;
    const std::string all(text);
    const std::size_t at = all.find('@');
    const std::string name = all.substr(0, at);
    const std::pair<const char*, int> known[] = {{"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EIO", EIO},
                                                 {"EFBIG", EFBIG},   {"EACCES", EACCES}, {"EROFS", EROFS}};
    for (const auto& [n, e] : known)
      if (name == n) f.error = e;
    char* end = nullptr;
    const std::string bytes = at == std::string::npos ? "0" : all.substr(at + 1);
    f.after = static_cast<std::size_t>(std::strtoull(bytes.c_str(), &end, 10));
    if (f.error == 0 || bytes.empty() || *end != '\0')
      throw std::runtime_error("HNET_FAULT_IO: cannot read '" + all +
                               "'; expected ERRNO or ERRNO@BYTES, ERRNO one of ENOSPC, EDQUOT, EIO, EFBIG, EACCES, EROFS");
    f.at_open = f.error == EACCES || f.error == EROFS;
    return f;
  }();
  return fault;
}

std::size_t bytes_written = 0;  // by write_file_atomically in this process, for HNET_FAULT_IO

int open_for_writing(const std::string& path, int flags) {
  const IoFault& fault = io_fault();
  if (fault.at_open && bytes_written >= fault.after) {
    errno = fault.error;
    return -1;
  }
  return ::open(path.c_str(), flags | O_CLOEXEC, 0644);
}

// Writes everything or returns false with errno set; counts what it wrote for HNET_FAULT_IO.
bool write_all(int fd, const char* data, std::size_t size) {
  const IoFault& fault = io_fault();
  while (size > 0) {
    std::size_t chunk = std::min<std::size_t>(size, std::size_t{1} << 26);
    bool fail_after_chunk = false;
    if (fault.error && !fault.at_open && bytes_written + chunk > fault.after) {
      chunk = fault.after > bytes_written ? fault.after - bytes_written : 0;  // a disk fills part-way
      fail_after_chunk = true;
    }
    const ssize_t n = chunk > 0 ? ::write(fd, data, chunk) : 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n, size -= static_cast<std::size_t>(n), bytes_written += static_cast<std::size_t>(n);
    if (fail_after_chunk && static_cast<std::size_t>(n) == chunk) {
      errno = fault.error;
      return false;
    }
  }
  return true;
}

void test_write_delay() {
  const char* text = std::getenv("HNET_TEST_WRITE_DELAY_MS");
  if (!text || !*text) return;
  const long ms = std::strtol(text, nullptr, 10);
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void sync_directory(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  const int fd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: some file systems refuse to sync a directory
  ::close(fd);
}

// Removes dir's <name>.tmp.<digits> files of processes no longer running on this host, for the
// names `ours` accepts.
template <class Ours>
void remove_stale(const fs::path& dir, Ours ours, const std::string& prefix, bool report) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::size_t tmp = name.rfind(".tmp.");
    if (tmp == std::string::npos || tmp == 0 || !ours(name.substr(0, tmp))) continue;
    const std::string digits = name.substr(tmp + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
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

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown host";
  return name;
}

}  // namespace

std::string describe_errno(int error) {
  const char* name = errno_name(error);
  return std::string(std::strerror(error)) + " (" + (name ? name : "errno " + std::to_string(error)) + ")";
}

std::string temporary_path(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

void write_file_atomically(const std::string& path, const void* data, std::size_t size) {
  const std::string temporary = temporary_path(path);
  const int fd = open_for_writing(temporary, O_WRONLY | O_CREAT | O_TRUNC);
  if (fd < 0) {
    const int error = errno;
    throw IoError("cannot create " + temporary + " to write " + path + ": " + describe_errno(error), error);
  }
  const char* bytes = static_cast<const char*>(data);
  const std::size_t half = size / 2;
  std::string failed;
  if (!write_all(fd, bytes, half)) failed = "write";
  if (failed.empty()) test_write_delay();
  if (failed.empty() && !write_all(fd, bytes + half, size - half)) failed = "write";
  // Data on stable storage before the rename, so a power cut cannot leave a renamed but empty file.
  if (failed.empty() && ::fsync(fd) != 0) failed = "fsync";
  int error = failed.empty() ? 0 : errno;
  // NFS and some quotas report a failed write only at close.
  if (::close(fd) != 0 && failed.empty()) failed = "close", error = errno;
  if (failed.empty() && std::rename(temporary.c_str(), path.c_str()) != 0) failed = "rename", error = errno;
  if (!failed.empty()) {
    ::unlink(temporary.c_str());
    std::error_code ec;
    const bool previous = fs::exists(path, ec);
    const std::string step = failed == "write" ? "" : " (" + failed + " of " + temporary + ")";
    throw IoError("cannot write " + path + step + ": " + describe_errno(error) + "; " +
                      (previous ? "the previous " + path + " is unchanged" : std::string("nothing was written")),
                  error);
  }
  sync_directory(path);
}

void remove_stale_temporaries(const std::string& path, const std::string& prefix, bool report) {
  const fs::path target(path);
  const std::string file = target.filename().string();
  remove_stale(target.has_parent_path() ? target.parent_path() : fs::path("."),
               [&](const std::string& name) { return name == file; }, prefix, report);
}

void remove_stale_temporaries_in(const std::string& dir, const std::string& prefix, bool report) {
  remove_stale(fs::path(dir), [](const std::string&) { return true; }, prefix, report);
}

FreeSpace free_disk_space(const std::string& dir) {
  if (const char* text = std::getenv("HNET_TEST_FREE_BYTES"); text && *text) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (*end != '\0') throw std::runtime_error(std::string("HNET_TEST_FREE_BYTES=") + text + " is not a byte count");
    return {static_cast<std::size_t>(v), "HNET_TEST_FREE_BYTES, a test-only setting"};
  }
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) return {SIZE_MAX, "unknown: statvfs failed: " + describe_errno(errno)};
  const std::uint64_t bytes = static_cast<std::uint64_t>(s.f_bavail) * static_cast<std::uint64_t>(s.f_frsize);
  return {static_cast<std::size_t>(std::min<std::uint64_t>(bytes, SIZE_MAX)), "statvfs of " + dir};
}

std::string require_writable_directory(const std::string& dir, const std::string& what) {
  std::error_code ec;
  std::string top;
  for (fs::path p = fs::path(dir).lexically_normal(); !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    top = p.string();
    if (p == p.parent_path()) break;
  }
  if (!fs::is_directory(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      throw IoError("cannot create " + what + " " + dir + ": " + describe_errno(ec.value()) +
                        ". Choose a directory that can be created, or create it first.",
                    ec.value());
  }
  // Permissions, read-only mounts and ACLs are only known by trying (root passes access(2) checks).
  const std::string probe = (fs::path(dir) / (".hnet-write-test." + std::to_string(::getpid()))).string();
  const int fd = open_for_writing(probe, O_WRONLY | O_CREAT | O_EXCL);
  if (fd < 0) {
    const int error = errno;
    remove_created_directories(dir, top);
    throw IoError("cannot write in " + what + " " + dir + ": " + describe_errno(error) +
                      ". Choose a writable directory.",
                  error);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return top;
}

void remove_created_directories(const std::string& dir, const std::string& top) {
  if (top.empty()) return;
  std::error_code ec;
  for (fs::path p = fs::path(dir).lexically_normal(); !p.empty(); p = p.parent_path()) {
    if (!fs::remove(p, ec)) return;  // not empty, or gone: stop
    if (p == fs::path(top) || p == p.parent_path()) return;
  }
}

std::string this_process_description() {
  char when[64] = "?";
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  if (::localtime_r(&now, &local)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &local);
  return "host " + host_name() + ", PID " + std::to_string(::getpid()) + ", since " + when;
}

FileLock::FileLock(const std::string& path, const std::string& purpose) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int error = errno;
    throw IoError("cannot create the lock file " + path + ": " + describe_errno(error), error);
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK) {
      char text[512] = {};
      const ssize_t n = ::pread(fd_, text, sizeof text - 1, 0);
      std::string holder = n > 0 ? std::string(text, static_cast<std::size_t>(n)) : "";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error(purpose + " is already being written by another hnet process (" +
                               (holder.empty() ? std::string("it has not named itself yet") : holder) +
                               "; lock " + path + "). Two runs must not write the same files: wait for that run to "
                               "end, stop it, or choose another output.dir.");
    }
    // A file system without locks (some Lustre and NFS mounts): run unguarded, but say so.
    std::fprintf(stderr, "hnet: warning: cannot lock %s (%s): make sure no other run writes %s\n", path.c_str(),
                 describe_errno(error).c_str(), purpose.c_str());
    return;
  }
  // Best effort: the lock holds even if the description cannot be written (a full disk).
  const std::string holder = this_process_description() + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    const ssize_t written = ::pwrite(fd_, holder.data(), holder.size(), 0);
    (void)written;
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the lock
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

}  // namespace hnet
