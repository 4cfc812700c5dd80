#include "trainer/tensorboard_writer.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace rd {
namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> t = [] {
    std::array<uint32_t, 256> tab{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;  // Castagnoli
      tab[i] = c;
    }
    return tab;
  }();
  return t;
}

uint32_t masked_crc(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) out.push_back(static_cast<char>((v & 0x7f) | 0x80)), v >>= 7;
  out.push_back(static_cast<char>(v));
}

void tag(std::string& out, int field, int wire) { varint(out, (static_cast<uint64_t>(field) << 3) | wire); }

void bytes_field(std::string& out, int field, const std::string& s) {
  tag(out, field, 2);
  varint(out, s.size());
  out += s;
}

template <typename T>
void fixed_field(std::string& out, int field, T v) {
  tag(out, field, sizeof(T) == 8 ? 1 : 5);
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian host
  out.append(b, sizeof(T));
}

double now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  const auto& t = crc_table();
  uint32_t c = 0xffffffffu;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) c = t[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string TensorBoardWriter::event_file_version(double wall_time) {
  std::string e;
  fixed_field(e, 1, wall_time);
  bytes_field(e, 3, "brain.Event:2");
  return e;
}

std::string TensorBoardWriter::event_scalar(double wall_time, int64_t step, const std::string& name, float value) {
  std::string v;
  bytes_field(v, 1, name);
  fixed_field(v, 2, value);
  std::string summary;
  bytes_field(summary, 1, v);
  std::string e;
  fixed_field(e, 1, wall_time);
  tag(e, 2, 0);
  varint(e, static_cast<uint64_t>(step));
  bytes_field(e, 5, summary);
  return e;
}

TensorBoardWriter::TensorBoardWriter(const std::string& logdir) {
  std::filesystem::create_directories(logdir);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  path_ = logdir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now())) + "." + host;
  out_.open(path_, std::ios::binary | std::ios::app);
  READ_CHECK(out_, path_, ": cannot open for writing");
  write_record(event_file_version(now()));
  flush();
}

void TensorBoardWriter::write_record(const std::string& data) {
  uint64_t len = data.size();
  char header[12];
  std::memcpy(header, &len, 8);
  uint32_t lc = masked_crc(header, 8);
  std::memcpy(header + 8, &lc, 4);
  uint32_t dc = masked_crc(data.data(), data.size());
  out_.write(header, 12);
  out_.write(data.data(), data.size());
  out_.write(reinterpret_cast<const char*>(&dc), 4);
}

void TensorBoardWriter::scalar(const std::string& name, double value, int64_t step) {
  write_record(event_scalar(now(), step, name, static_cast<float>(value)));
}

void TensorBoardWriter::flush() {
  out_.flush();
  READ_CHECK(out_, path_, ": write failed");
}

}  // namespace rd
