// SentencePiece, reached through model/sentencepiece/shim.cpp loaded in its
// own symbol scope (see the note there on the protobuf clash with LibTorch).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rd {

class SentencePiece {
 public:
  explicit SentencePiece(const std::string& model_path);
  ~SentencePiece();
  SentencePiece(const SentencePiece&) = delete;
  SentencePiece& operator=(const SentencePiece&) = delete;

  int piece_size() const;
  int unk_id() const;
  int bos_id() const;
  int eos_id() const;
  std::vector<int64_t> encode(const std::string& text) const;
  std::string id_to_piece(int64_t id) const;
  std::string decode(const std::vector<int64_t>& ids) const;

 private:
  void* handle_ = nullptr;
};

}  // namespace rd
