#include "data/lmdb_store.h"

#include <lmdb.h>
#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[4] = {'R', 'D', 'P', 'K'};
constexpr size_t kHeader = 16;
constexpr uint16_t kBlobKind = 0;

void lmdb_check(int rc, const std::string& where, const char* op) {
  if (rc != MDB_SUCCESS) fail(where, ": LMDB ", op, " failed: ", mdb_strerror(rc));
}

uint32_t crc(const void* data, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {  // crc32 takes a uInt length
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    c = crc32(c, p, chunk);
    p += chunk, n -= chunk;
  }
  return static_cast<uint32_t>(c);
}

// Order-dependent digest of a sequence of entry CRCs (manifest checksums).
uint32_t crc_combine(uint32_t acc, uint32_t item) { return crc(&item, 4) ^ (acc * 31u + 7u); }

void put_le(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

std::string envelope(uint16_t kind, const std::string& payload, uint32_t* crc_out) {
  std::string s(kMagic, 4);
  put_le(s, kPackFormatVersion, 2);
  put_le(s, kind, 2);
  put_le(s, payload.size(), 4);
  const uint32_t c = crc(payload.data(), payload.size());
  put_le(s, c, 4);
  s += payload;
  if (crc_out) *crc_out = c;
  return s;
}

// Checks an envelope; returns the payload span and its CRC.
std::pair<const uint8_t*, size_t> open_envelope(const MDB_val& v, uint16_t want_kind,
                                                const std::string& what, uint32_t* crc_out) {
  const auto* p = static_cast<const uint8_t*>(v.mv_data);
  READ_CHECK(v.mv_size >= kHeader && std::memcmp(p, kMagic, 4) == 0, what,
             ": not a packed entry (bad magic)");
  const auto version = get_le(p + 4, 2), kind = get_le(p + 6, 2), size = get_le(p + 8, 4);
  const auto want_crc = static_cast<uint32_t>(get_le(p + 12, 4));
  READ_CHECK(version == static_cast<uint64_t>(kPackFormatVersion), what, ": format version ",
             version, ", this program reads ", kPackFormatVersion, " (re-pack the dataset)");
  READ_CHECK(kind == want_kind, what, ": entry kind ", kind, ", expected ", want_kind);
  READ_CHECK(size == v.mv_size - kHeader, what, ": payload of ", v.mv_size - kHeader,
             " bytes, header says ", size, " (truncated entry)");
  const uint32_t got = crc(p + kHeader, size);
  READ_CHECK(got == want_crc, what, ": checksum mismatch (corrupt entry)");
  if (crc_out) *crc_out = got;
  return {p + kHeader, size};
}

std::string index_key(uint64_t i) {
  std::string k(8, '\0');
  for (int b = 0; b < 8; ++b) k[7 - b] = static_cast<char>((i >> (8 * b)) & 0xff);
  return k;
}

bool pid_alive(long pid) { return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// Removes ".<name>.tmp-<pid>" siblings left by dead writers.
void remove_stale_temporaries(const fs::path& parent, const std::string& name) {
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) return;
  const std::string prefix = "." + name + ".tmp-";
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string f = e.path().filename().string();
    if (f.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(f.c_str() + prefix.size(), nullptr, 10);
    if (!pid_alive(pid)) fs::remove_all(e.path(), ec);
  }
}

}  // namespace

struct PackWriter::Env {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi records = 0, blobs = 0, meta = 0;
};

PackWriter::PackWriter(std::string target_dir, RecordKind kind, PackWriterOptions options)
    : target_(fs::path(target_dir).lexically_normal().string()),
      kind_(kind),
      options_(options),
      env_(std::make_unique<Env>()) {
  if (!target_.empty() && target_.back() == '/') target_.pop_back();
  const fs::path target(target_);
  const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  READ_CHECK(options_.overwrite || !fs::exists(target), target_,
             ": already exists (pass --overwrite to replace it)");
  std::error_code ec;
  fs::create_directories(parent, ec);
  READ_CHECK(!ec, parent.string(), ": cannot create (", ec.message(), ")");
  remove_stale_temporaries(parent, target.filename().string());
  temp_dir_ = (parent / ("." + target.filename().string() + ".tmp-" + std::to_string(getpid())))
                  .string();
  fs::remove_all(temp_dir_, ec);
  fs::create_directories(temp_dir_, ec);
  READ_CHECK(!ec, temp_dir_, ": cannot create (", ec.message(), ")");
  lmdb_check(mdb_env_create(&env_->env), temp_dir_, "env_create");
  lmdb_check(mdb_env_set_maxdbs(env_->env, 3), temp_dir_, "set_maxdbs");
  // Address space only: the file grows with the data (no MDB_WRITEMAP).
  lmdb_check(mdb_env_set_mapsize(env_->env, size_t{1} << 40), temp_dir_, "set_mapsize");
  lmdb_check(mdb_env_open(env_->env, temp_dir_.c_str(), MDB_NOSYNC, 0644), temp_dir_, "env_open");
  begin_txn();
  lmdb_check(mdb_dbi_open(env_->txn, "records", MDB_CREATE, &env_->records), temp_dir_, "dbi_open");
  lmdb_check(mdb_dbi_open(env_->txn, "blobs", MDB_CREATE, &env_->blobs), temp_dir_, "dbi_open");
  lmdb_check(mdb_dbi_open(env_->txn, "meta", MDB_CREATE, &env_->meta), temp_dir_, "dbi_open");
}

PackWriter::~PackWriter() {
  if (!done_) abort();
}

void PackWriter::begin_txn() {
  lmdb_check(mdb_txn_begin(env_->env, nullptr, 0, &env_->txn), temp_dir_, "txn_begin");
  txn_count_ = 0;
}

void PackWriter::put(unsigned dbi, const std::string& key, const std::string& value) {
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  lmdb_check(mdb_put(env_->txn, dbi, &k, &v, 0), temp_dir_, "put");
  if (++txn_count_ >= options_.txn_records) {
    lmdb_check(mdb_txn_commit(env_->txn), temp_dir_, "txn_commit");
    env_->txn = nullptr;
    begin_txn();
  }
}

void PackWriter::put_blob(const std::string& key, const std::string& bytes) {
  READ_CHECK(!done_, temp_dir_, ": writer already finished");
  READ_CHECK(!key.empty() && key.size() < 500, "blob key '", key, "' is empty or too long");
  if (!blob_keys_.insert(key).second) return;
  uint32_t c = 0;
  put(env_->blobs, key, envelope(kBlobKind, bytes, &c));
  blob_bytes_ += bytes.size();
}

void PackWriter::put_record(const Record& record) {
  READ_CHECK(!done_, temp_dir_, ": writer already finished");
  READ_CHECK(record_kind(record) == kind_, temp_dir_, ": record of kind ",
             record_kind_name(record_kind(record)), " in a ", record_kind_name(kind_), " store");
  uint32_t c = 0;
  put(env_->records, index_key(num_records_), envelope(static_cast<uint16_t>(kind_),
                                                        encode_record(record), &c));
  records_crc_ = crc_combine(records_crc_, c);
  ++num_records_;
}

nlohmann::json PackWriter::commit(nlohmann::json manifest) {
  READ_CHECK(!done_, temp_dir_, ": writer already finished");
  // Blob checksum over keys in LMDB (sorted) order, as verify() walks them.
  {
    MDB_cursor* cur = nullptr;
    lmdb_check(mdb_cursor_open(env_->txn, env_->blobs, &cur), temp_dir_, "cursor_open");
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
      uint32_t c = 0;
      open_envelope(v, kBlobKind, temp_dir_, &c);
      blobs_crc_ = crc_combine(blobs_crc_, c);
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
  }
  manifest["format_version"] = kPackFormatVersion;
  manifest["record_kind"] = record_kind_name(kind_);
  manifest["counts"]["records"] = num_records_;
  manifest["counts"]["blobs"] = blob_keys_.size();
  manifest["counts"]["blob_bytes"] = blob_bytes_;
  manifest["checksums"] = {{"records_crc32_chain", records_crc_}, {"blobs_crc32_chain", blobs_crc_}};
  const std::string text = manifest.dump(1);
  MDB_val k{8, const_cast<char*>("manifest")};
  MDB_val v{text.size(), const_cast<char*>(text.data())};
  lmdb_check(mdb_put(env_->txn, env_->meta, &k, &v, 0), temp_dir_, "put");
  lmdb_check(mdb_txn_commit(env_->txn), temp_dir_, "txn_commit");
  env_->txn = nullptr;
  lmdb_check(mdb_env_sync(env_->env, 1), temp_dir_, "env_sync");
  mdb_env_close(env_->env);
  env_->env = nullptr;
  fs::remove(fs::path(temp_dir_) / "lock.mdb");  // readers open without a lock file
  {
    std::ofstream f(fs::path(temp_dir_) / "manifest.json");
    f << text << "\n";
    READ_CHECK(f.good(), temp_dir_, "/manifest.json: write failed");
  }
  std::error_code ec;
  const fs::path target(target_);
  fs::path old;
  if (fs::exists(target)) {
    READ_CHECK(options_.overwrite, target_, ": appeared while packing (not replaced)");
    old = target.parent_path() / ("." + target.filename().string() + ".old-" + std::to_string(getpid()));
    fs::remove_all(old, ec);
    fs::rename(target, old, ec);
    READ_CHECK(!ec, target_, ": cannot move the old environment aside (", ec.message(), ")");
  }
  fs::rename(temp_dir_, target, ec);
  READ_CHECK(!ec, temp_dir_, ": cannot rename to ", target_, " (", ec.message(), ")");
  if (!old.empty()) fs::remove_all(old, ec);
  done_ = true;
  return manifest;
}

void PackWriter::abort() {
  if (env_ && env_->txn) mdb_txn_abort(env_->txn), env_->txn = nullptr;
  if (env_ && env_->env) mdb_env_close(env_->env), env_->env = nullptr;
  std::error_code ec;
  if (!temp_dir_.empty()) fs::remove_all(temp_dir_, ec);
  done_ = true;
}

// ---------------------------------------------------------------------------

struct PackReader::Env {
  MDB_env* env = nullptr;
  MDB_dbi records = 0, blobs = 0, meta = 0;
};

namespace {
// A read-only transaction for the scope of one read.
struct ReadTxn {
  MDB_txn* txn = nullptr;
  ReadTxn(MDB_env* env, const std::string& where) {
    lmdb_check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), where, "txn_begin");
  }
  ~ReadTxn() { mdb_txn_abort(txn); }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
};
}  // namespace

PackReader::PackReader(const std::string& dir) : dir_(dir), env_(std::make_unique<Env>()) {
  READ_CHECK(fs::exists(fs::path(dir) / "data.mdb"), dir,
             ": not a packed dataset (no data.mdb; run read_pack first)");
  lmdb_check(mdb_env_create(&env_->env), dir, "env_create");
  mdb_env_set_maxdbs(env_->env, 3);
  // Map only what the file holds (LMDB raises a too-small size to the used
  // size), not the writer's 1 TiB address-space reservation.
  mdb_env_set_mapsize(env_->env, 1);
  const int rc = mdb_env_open(env_->env, dir.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS | MDB_NORDAHEAD, 0644);
  if (rc != MDB_SUCCESS) {
    mdb_env_close(env_->env);
    env_->env = nullptr;
    lmdb_check(rc, dir, "env_open");
  }
  {
    MDB_txn* txn = nullptr;
    lmdb_check(mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn), dir, "txn_begin");
    int r1 = mdb_dbi_open(txn, "records", 0, &env_->records);
    int r2 = mdb_dbi_open(txn, "blobs", 0, &env_->blobs);
    int r3 = mdb_dbi_open(txn, "meta", 0, &env_->meta);
    MDB_val k{8, const_cast<char*>("manifest")}, v;
    int r4 = r3 == MDB_SUCCESS ? mdb_get(txn, env_->meta, &k, &v) : r3;
    std::string text = r4 == MDB_SUCCESS ? std::string(static_cast<const char*>(v.mv_data), v.mv_size) : "";
    MDB_stat st{};
    if (r1 == MDB_SUCCESS) mdb_stat(txn, env_->records, &st);
    mdb_txn_commit(txn);  // keeps the DBI handles
    READ_CHECK(r1 == MDB_SUCCESS && r2 == MDB_SUCCESS && r4 == MDB_SUCCESS, dir,
               ": incomplete packed dataset (missing tables or manifest)");
    manifest_ = nlohmann::json::parse(text, nullptr, false);
    READ_CHECK(!manifest_.is_discarded() && manifest_.is_object(), dir, ": manifest is not valid JSON");
    READ_CHECK(manifest_.value("format_version", -1) == kPackFormatVersion, dir,
               ": format version ", manifest_.value("format_version", -1), ", this program reads ",
               kPackFormatVersion, " (re-pack the dataset)");
    READ_CHECK(manifest_.contains("counts") && manifest_["counts"].is_object(), dir,
               ": manifest has no counts");
    size_ = manifest_["counts"].value("records", size_t{0});
    READ_CHECK(size_ == st.ms_entries, dir, ": manifest says ", size_, " records, the table has ",
               st.ms_entries);
    const std::string kind = manifest_.value("record_kind", "");
    bool known = false;
    for (int k = 1; k <= 5; ++k)
      if (kind == record_kind_name(static_cast<RecordKind>(k))) kind_ = static_cast<RecordKind>(k), known = true;
    READ_CHECK(known, dir, ": unknown record kind '", kind, "'");
  }
}

PackReader::~PackReader() {
  if (env_ && env_->env) mdb_env_close(env_->env);
}

Record PackReader::get(size_t index) const {
  READ_CHECK(index < size_, dir_, ": record ", index, " out of range (", size_, " records)");
  const std::string what = dir_ + " record " + std::to_string(index);
  ReadTxn t(env_->env, dir_);
  const std::string key = index_key(index);
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  const int rc = mdb_get(t.txn, env_->records, &k, &v);
  READ_CHECK(rc == MDB_SUCCESS, what, ": missing (", mdb_strerror(rc), ")");
  auto [p, n] = open_envelope(v, static_cast<uint16_t>(kind_), what, nullptr);
  return decode_record(kind_, p, n, what);
}

bool PackReader::has_blob(const std::string& key) const {
  ReadTxn t(env_->env, dir_);
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  return mdb_get(t.txn, env_->blobs, &k, &v) == MDB_SUCCESS;
}

std::string PackReader::blob(const std::string& key) const {
  const std::string what = dir_ + " blob '" + key + "'";
  ReadTxn t(env_->env, dir_);
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  const int rc = mdb_get(t.txn, env_->blobs, &k, &v);
  READ_CHECK(rc == MDB_SUCCESS, what, ": missing (", mdb_strerror(rc), ")");
  auto [p, n] = open_envelope(v, kBlobKind, what, nullptr);
  return std::string(reinterpret_cast<const char*>(p), n);
}

void PackReader::verify() const {
  ReadTxn t(env_->env, dir_);
  uint32_t rec_chain = 0, blob_chain = 0;
  size_t n_blob = 0;
  for (size_t i = 0; i < size_; ++i) {
    const std::string key = index_key(i), what = dir_ + " record " + std::to_string(i);
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    READ_CHECK(mdb_get(t.txn, env_->records, &k, &v) == MDB_SUCCESS, what, ": missing");
    uint32_t c = 0;
    auto [p, n] = open_envelope(v, static_cast<uint16_t>(kind_), what, &c);
    decode_record(kind_, p, n, what);
    rec_chain = crc_combine(rec_chain, c);
  }
  MDB_cursor* cur = nullptr;
  lmdb_check(mdb_cursor_open(t.txn, env_->blobs, &cur), dir_, "cursor_open");
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    uint32_t c = 0;
    open_envelope(v, kBlobKind, dir_ + " blob '" + std::string(static_cast<const char*>(k.mv_data), k.mv_size) + "'", &c);
    blob_chain = crc_combine(blob_chain, c);
    ++n_blob;
  }
  mdb_cursor_close(cur);
  const auto& cs = manifest_["checksums"];
  READ_CHECK(n_blob == manifest_["counts"].value("blobs", size_t{0}), dir_, ": ", n_blob,
             " blobs, manifest says ", manifest_["counts"].value("blobs", size_t{0}));
  READ_CHECK(rec_chain == cs.value("records_crc32_chain", 0u), dir_, ": record checksum chain mismatch");
  READ_CHECK(blob_chain == cs.value("blobs_crc32_chain", 0u), dir_, ": blob checksum chain mismatch");
}

void PackReader::throw_wrong_kind(size_t index) const {
  fail(dir_, ": record ", index, " is a ", record_kind_name(kind_), " record");
}

}  // namespace rd
