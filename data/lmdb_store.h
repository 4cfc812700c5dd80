// The packed store: one LMDB environment per dataset and split
// (<out>/<dataset>/<split>/data.mdb), holding
//   records  index (u64 big-endian) -> envelope(CBOR record)
//   blobs    path relative to the dataset root -> envelope(original file bytes)
//            (images, label-map PNGs; each stored once however many records use it)
//   meta     "manifest" -> JSON (dataset, family, split, source, counts, classes,
//            format version, checksums, skipped items)
// An envelope is magic "RDPK", u16 format version, u16 kind, u32 payload size,
// u32 CRC-32 of the payload, then the payload; every read checks all five.
//
// Writing is atomic: PackWriter fills a hidden temporary environment beside
// the target and renames it into place in commit(); an exception, a failure
// or a killed process leaves no environment at the target path (a later
// writer removes stale temporaries of dead processes).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "data/records.h"

namespace rd {

struct PackWriterOptions {
  bool overwrite = false;  // replace an existing environment at the target
  size_t txn_records = 512;  // records per write transaction
};

class PackWriter {
 public:
  PackWriter(std::string target_dir, RecordKind kind, PackWriterOptions options = {});
  ~PackWriter();  // abort() unless committed
  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;

  bool has_blob(const std::string& key) const { return blob_keys_.count(key) > 0; }
  void put_blob(const std::string& key, const std::string& bytes);  // once per key
  void put_record(const Record& record);                             // next index
  size_t num_records() const { return num_records_; }
  size_t num_blobs() const { return blob_keys_.size(); }
  uint64_t blob_bytes() const { return blob_bytes_; }

  // Adds counts / format / checksums to `manifest`, stores it, and renames the
  // environment into place. Returns the final manifest.
  nlohmann::json commit(nlohmann::json manifest);
  void abort();
  const std::string& temp_dir() const { return temp_dir_; }

 private:
  void begin_txn();
  void put(unsigned dbi, const std::string& key, const std::string& value);
  std::string target_, temp_dir_;
  RecordKind kind_;
  PackWriterOptions options_;
  struct Env;
  std::unique_ptr<Env> env_;
  std::unordered_set<std::string> blob_keys_;
  size_t num_records_ = 0, txn_count_ = 0;
  uint64_t blob_bytes_ = 0;
  uint32_t records_crc_ = 0, blobs_crc_ = 0;
  bool done_ = false;
};

class PackReader {
 public:
  // Opens read-only (no lock file; safe for many processes and threads: get()
  // and blob() may be called concurrently). As LMDB requires, open it in the
  // process that uses it, not before a fork().
  // Throws rd::Error when the directory is not a complete packed environment
  // of this format version.
  explicit PackReader(const std::string& dir);
  ~PackReader();
  PackReader(const PackReader&) = delete;
  PackReader& operator=(const PackReader&) = delete;

  const std::string& dir() const { return dir_; }
  size_t size() const { return size_; }
  RecordKind kind() const { return kind_; }
  const nlohmann::json& manifest() const { return manifest_; }
  Record get(size_t index) const;
  template <typename T>
  T get_as(size_t index) const {
    Record r = get(index);
    if (auto* p = std::get_if<T>(&r)) return std::move(*p);
    throw_wrong_kind(index);
  }
  bool has_blob(const std::string& key) const;
  std::string blob(const std::string& key) const;  // original bytes, checksum verified
  // Reads every record and blob and checks the manifest's counts and checksums.
  void verify() const;

 private:
  [[noreturn]] void throw_wrong_kind(size_t index) const;
  std::string dir_;
  struct Env;
  std::unique_ptr<Env> env_;
  nlohmann::json manifest_;
  size_t size_ = 0;
  RecordKind kind_ = RecordKind::kReasonSeg;
};

}  // namespace rd
