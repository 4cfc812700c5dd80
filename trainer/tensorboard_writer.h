// TensorBoard event files (events.out.tfevents.*) of scalar summaries, so
// `tensorboard --logdir` reads the run. The format: TFRecord framing
// (u64 length, masked CRC-32C of the length, the bytes, masked CRC-32C of the
// bytes) around serialized tensorflow.Event protos, which are small enough to
// encode by hand (wall_time = 1 double, step = 2 varint, file_version = 3
// string, summary = 5 { value = 1 { tag = 1 string, simple_value = 2 float } }).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>

namespace rd {

uint32_t crc32c(const void* data, size_t n);

class TensorBoardWriter {
 public:
  explicit TensorBoardWriter(const std::string& logdir);  // creates the event file
  void scalar(const std::string& tag, double value, int64_t step);
  void flush();
  const std::string& path() const { return path_; }

  // Serialized Event protos (exposed for tests).
  static std::string event_file_version(double wall_time);
  static std::string event_scalar(double wall_time, int64_t step, const std::string& tag, float value);

 private:
  void write_record(const std::string& data);
  std::string path_;
  std::ofstream out_;
};

}  // namespace rd
