// WriteFile: writes a file durably and atomically. Data goes to a temporary
// file; commit() fsyncs it, renames it over the destination and fsyncs the
// directory, so after a crash a reader sees the old file or the whole new
// one. Errors name the file and the cause; a full disk (ENOSPC/EDQUOT) says so
// with the byte counts. Without commit() the temporary file is removed.
#pragma once
#include <cstdint>
#include <string>

namespace rd {

class WriteFile {
 public:
  // `tmp` is created (truncated); `expected_bytes` only improves messages.
  WriteFile(const std::string& tmp, uint64_t expected_bytes = 0);
  ~WriteFile();
  WriteFile(const WriteFile&) = delete;
  WriteFile& operator=(const WriteFile&) = delete;

  void write(const void* data, uint64_t n);
  void commit(const std::string& final_path);  // fsync, rename, fsync the directory

 private:
  [[noreturn]] void io_error(const char* what, int err);
  std::string tmp_;
  uint64_t expected_ = 0, written_ = 0;
  int fd_ = -1;
};

// fsyncs a directory (after creating or renaming entries in it).
void fsync_directory(const std::string& dir);

}  // namespace rd
