// TensorBoard event files: CRC-32C against its published check value, and
// the framing / protobuf bytes of a scalar event decoded back by hand.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "trainer/tensorboard_writer.h"

TEST(TensorBoard, Crc32cCheckValue) {
  EXPECT_EQ(rd::crc32c("123456789", 9), 0xE3069283u);  // RFC 3720 check value
}

TEST(TensorBoard, ScalarEventBytes) {
  std::string e = rd::TensorBoardWriter::event_scalar(1.5, 300, "loss", 0.25f);
  // wall_time: field 1, wire type 1 (0x09) + 8 bytes
  ASSERT_EQ(static_cast<uint8_t>(e[0]), 0x09);
  double wt;
  std::memcpy(&wt, e.data() + 1, 8);
  EXPECT_EQ(wt, 1.5);
  // step: field 2 varint (0x10), 300 = 0xAC 0x02
  EXPECT_EQ(static_cast<uint8_t>(e[9]), 0x10);
  EXPECT_EQ(static_cast<uint8_t>(e[10]), 0xAC);
  EXPECT_EQ(static_cast<uint8_t>(e[11]), 0x02);
  // summary: field 5 length-delimited (0x2A), value (0x0A), tag "loss", simple_value 0x15 + float
  EXPECT_EQ(static_cast<uint8_t>(e[12]), 0x2A);
  EXPECT_NE(e.find(std::string("\x0a\x04loss\x15", 7)), std::string::npos);
  float v;
  std::memcpy(&v, e.data() + e.size() - 4, 4);
  EXPECT_EQ(v, 0.25f);
}

TEST(TensorBoard, FileIsFramedRecords) {
  std::string dir = std::filesystem::temp_directory_path() / ("read_tb_" + std::to_string(::getpid()));
  std::string path;
  {
    rd::TensorBoardWriter w(dir);
    w.scalar("train/loss", 1.0, 1);
    w.scalar("train/loss", 0.5, 2);
    w.flush();
    path = w.path();
  }
  std::ifstream f(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), {});
  size_t pos = 0;
  int records = 0;
  while (pos < all.size()) {
    uint64_t len;
    std::memcpy(&len, all.data() + pos, 8);
    ASSERT_LE(pos + 12 + len + 4, all.size());
    pos += 12 + len + 4;
    ++records;
  }
  EXPECT_EQ(records, 3);  // file_version + 2 scalars
  std::filesystem::remove_all(dir);
}
