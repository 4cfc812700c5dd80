// The LLaMA tokenizer as READ uses it: transformers 4.31's slow
// LlamaTokenizer in legacy mode (SentencePiece) plus the added tokens [SEG],
// <im_start>, <im_end> (spec/data.md 5.2-5.3).
//
// encode(text) reproduces the reference exactly:
//  1. split on the added/special tokens <s>, </s>, <unk>, [SEG], <im_start>,
//     <im_end> (none is a prefix of another, so leftmost match is longest);
//  2. around [SEG], <im_start>, <im_end> (added as plain strings, not
//     AddedToken objects) Python-whitespace is stripped from the end of the
//     preceding segment and the start of the following one (sequentially, as
//     the reference mutates its list); no stripping around <s>, </s>, <unk>;
//  3. each remaining non-empty segment is encoded by SentencePiece on its
//     own, with its own dummy-prefix "▁" (legacy);
//  4. BOS is prepended, no EOS.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/sentencepiece_library.h"

namespace rd {

// READ's tokens added to LLaMA's vocabulary: [SEG], <im_start>, <im_end>.
constexpr int64_t kReadAddedTokens = 3;

class Tokenizer {
 public:
  static constexpr int64_t kImageTokenIndex = -200;

  // A Hugging Face tokenizer folder (tokenizer.model, optional
  // added_tokens.json). Missing READ tokens are added in the reference's
  // order: [SEG] = vocab, <im_start> = vocab + 1, <im_end> = vocab + 2.
  static Tokenizer from_folder(const std::string& dir);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // tokenizer(text).input_ids
  std::vector<int64_t> encode(const std::string& text, bool add_bos = true) const;
  // tokenizer_image_token: "<image>" -> one kImageTokenIndex, a single BOS.
  std::vector<int64_t> encode_with_image(const std::string& text) const;
  // convert_ids_to_tokens
  std::vector<std::string> pieces(const std::vector<int64_t>& ids) const;
  // Text of generated ids (added tokens kept verbatim, BOS/EOS dropped).
  std::string decode(const std::vector<int64_t>& ids) const;
  // The segments handed to SentencePiece (debug aid; matches sp_segments).
  std::vector<std::string> sentencepiece_segments(const std::string& text) const;

  int64_t size() const;  // len(tokenizer): pieces + added tokens
  int64_t bos_id() const { return 1; }
  int64_t eos_id() const { return 2; }
  int64_t pad_id() const { return 0; }  // pad := unk
  int64_t seg_id() const { return added_.at("[SEG]"); }
  int64_t im_start_id() const { return added_.at("<im_start>"); }
  int64_t im_end_id() const { return added_.at("<im_end>"); }

 private:
  Tokenizer();
  struct Segment {
    std::string text;
    int64_t token_id;  // >= 0: an added/special token; -1: text for SentencePiece
  };
  std::vector<Segment> split(const std::string& text) const;

  std::unique_ptr<SentencePiece> sp_;
  std::map<std::string, int64_t> added_;    // [SEG], <im_start>, <im_end>
  std::map<std::string, int64_t> special_;  // <s>, </s>, <unk>
  std::string dir_;
};

}  // namespace rd
