#include "checkpoints/formats/write_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace rd {

WriteFile::WriteFile(const std::string& tmp, uint64_t expected_bytes)
    : tmp_(tmp), expected_(expected_bytes) {
  fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  READ_CHECK(fd_ >= 0, tmp, ": cannot create: ", std::strerror(errno));
}

WriteFile::~WriteFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void WriteFile::io_error(const char* what, int err) {
  ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  if (err == ENOSPC || err == EDQUOT)
    fail(tmp_, ": disk full (", std::strerror(err), ") during ", what, " after ", written_,
         " of ", expected_, " bytes; free space and retry");
  fail(tmp_, ": ", what, " failed after ", written_, " bytes: ", std::strerror(err));
}

void WriteFile::write(const void* data, uint64_t n) {
  READ_CHECK(fd_ >= 0, tmp_, ": write after commit");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t k = ::write(fd_, p, n > (1u << 30) ? (1u << 30) : n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) io_error("write", errno);
    if (k == 0) io_error("write", ENOSPC);
    p += k;
    n -= static_cast<uint64_t>(k);
    written_ += static_cast<uint64_t>(k);
  }
}

void WriteFile::commit(const std::string& final_path) {
  READ_CHECK(fd_ >= 0, tmp_, ": committed twice");
  if (::fsync(fd_) != 0) io_error("fsync", errno);
  if (::close(fd_) != 0) {
    int err = errno;
    fd_ = -1;
    ::unlink(tmp_.c_str());
    fail(tmp_, ": close failed: ", std::strerror(err));
  }
  fd_ = -1;
  if (std::rename(tmp_.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_.c_str());
    fail("cannot rename ", tmp_, " to ", final_path, ": ", std::strerror(err));
  }
  std::filesystem::path dir = std::filesystem::path(final_path).parent_path();
  fsync_directory(dir.empty() ? "." : dir.string());
}

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  READ_CHECK(fd >= 0, dir, ": cannot open directory to fsync: ", std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  READ_CHECK(rc == 0 || err == EINVAL, dir, ": fsync of directory failed: ", std::strerror(err));
}

}  // namespace rd
