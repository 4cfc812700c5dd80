#include "model/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

namespace {

// Python's str.isspace() code points (what str.strip() removes).
bool is_python_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
         c == 0x202f || c == 0x205f || c == 0x3000;
}

// Length in bytes of the UTF-8 sequence starting with byte b (1 on invalid).
size_t utf8_length(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xe) return 3;
  if ((b >> 3) == 0x1e) return 4;
  return 1;
}

uint32_t utf8_decode(const std::string& s, size_t pos, size_t len) {
  unsigned char b = s[pos];
  if (len == 1) return b;
  uint32_t c = b & (0xff >> (len + 1));
  for (size_t i = 1; i < len; ++i) c = (c << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3f);
  return c;
}

std::string lstrip(const std::string& s) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t len = std::min(utf8_length(s[pos]), s.size() - pos);
    if (!is_python_space(utf8_decode(s, pos, len))) break;
    pos += len;
  }
  return s.substr(pos);
}

std::string rstrip(const std::string& s) {
  // Walk forward remembering where the trailing run of whitespace starts.
  size_t pos = 0, keep = 0;
  while (pos < s.size()) {
    size_t len = std::min(utf8_length(s[pos]), s.size() - pos);
    pos += len;
    if (!is_python_space(utf8_decode(s, pos - len, len))) keep = pos;
  }
  return s.substr(0, keep);
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_folder(const std::string& dir) {
  Tokenizer t;
  t.dir_ = dir;
  fs::path model = fs::path(dir) / "tokenizer.model";
  READ_CHECK(fs::exists(model), "tokenizer folder ", dir, ": no tokenizer.model");
  t.sp_ = std::make_unique<SentencePiece>(model.string());
  const int64_t n = t.sp_->piece_size();
  t.special_ = {{"<unk>", t.sp_->unk_id()}, {"<s>", t.sp_->bos_id()}, {"</s>", t.sp_->eos_id()}};
  READ_CHECK(t.sp_->bos_id() == 1 && t.sp_->eos_id() == 2 && t.sp_->unk_id() == 0, model.string(),
             ": expected LLaMA ids unk 0, bos 1, eos 2");
  fs::path added = fs::path(dir) / "added_tokens.json";
  if (fs::exists(added)) {
    std::ifstream f(added);
    auto j = nlohmann::json::parse(f, nullptr, false);
    READ_CHECK(!j.is_discarded() && j.is_object(), added.string(), ": not a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      READ_CHECK(it.value().is_number_integer(), added.string(), ": id of '", it.key(),
                 "' is not an integer");
      t.added_[it.key()] = it.value().get<int64_t>();
    }
  }
  // READ's init: add_tokens("[SEG]"), then <im_start>, <im_end> (special).
  for (const char* tok : {"[SEG]", "<im_start>", "<im_end>"})
    if (!t.added_.count(tok)) t.added_[tok] = n + static_cast<int64_t>(t.added_.size());
  for (const auto& [tok, id] : t.added_)
    READ_CHECK(id >= n && id < n + static_cast<int64_t>(t.added_.size()), added.string(),
               ": added token '", tok, "' has id ", id, ", expected ", n, "..",
               n + t.added_.size() - 1);
  return t;
}

int64_t Tokenizer::size() const { return sp_->piece_size() + static_cast<int64_t>(added_.size()); }

std::vector<Tokenizer::Segment> Tokenizer::split(const std::string& text) const {
  std::vector<Segment> segs;
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    int64_t id = -1;
    size_t len = 0;
    for (const auto* table : {&special_, &added_})
      for (const auto& [tok, tid] : *table)
        if (text.compare(pos, tok.size(), tok) == 0 && tok.size() > len) id = tid, len = tok.size();
    if (id < 0) {
      ++pos;
      continue;
    }
    if (pos > start) segs.push_back({text.substr(start, pos - start), -1});
    segs.push_back({text.substr(pos, len), id});
    pos = start = pos + len;
  }
  if (start < text.size()) segs.push_back({text.substr(start), -1});
  // Strip whitespace around the added tokens (not around <s>, </s>, <unk>),
  // in list order like the reference, which mutates neighbours in place.
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].token_id < 0 || !added_.count(segs[i].text)) continue;
    if (i + 1 < segs.size() && segs[i + 1].token_id < 0 && !segs[i + 1].text.empty())
      segs[i + 1].text = lstrip(segs[i + 1].text);
    if (i > 0 && segs[i - 1].token_id < 0 && !segs[i - 1].text.empty())
      segs[i - 1].text = rstrip(segs[i - 1].text);
  }
  return segs;
}

std::vector<std::string> Tokenizer::sentencepiece_segments(const std::string& text) const {
  std::vector<std::string> out;
  for (const auto& s : split(text))
    if (s.token_id < 0 && !s.text.empty()) out.push_back(s.text);
  return out;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int64_t> ids;
  if (add_bos) ids.push_back(bos_id());
  for (const auto& s : split(text)) {
    if (s.token_id >= 0) {
      ids.push_back(s.token_id);
    } else if (!s.text.empty()) {
      std::vector<int64_t> piece_ids = sp_->encode(s.text);
      ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
    }
  }
  return ids;
}

std::vector<int64_t> Tokenizer::encode_with_image(const std::string& text) const {
  // mm_utils.tokenizer_image_token: tokenize each chunk between "<image>"
  // (each with its own BOS), keep the first BOS, join with one -200.
  static const std::string kImage = "<image>";
  std::vector<std::string> chunks;
  size_t start = 0;
  for (size_t p; (p = text.find(kImage, start)) != std::string::npos; start = p + kImage.size())
    chunks.push_back(text.substr(start, p - start));
  chunks.push_back(text.substr(start));
  std::vector<int64_t> ids;
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::vector<int64_t> c = encode(chunks[i]);
    if (i == 0) {
      ids = c;
    } else {
      ids.push_back(kImageTokenIndex);
      ids.insert(ids.end(), c.begin() + 1, c.end());  // drop this chunk's BOS
    }
  }
  return ids;
}

std::vector<std::string> Tokenizer::pieces(const std::vector<int64_t>& ids) const {
  std::vector<std::string> out;
  for (int64_t id : ids) {
    std::string p;
    for (const auto& [tok, tid] : added_)
      if (tid == id) p = tok;
    if (p.empty()) {
      READ_CHECK(id >= 0 && id < sp_->piece_size(), "token id ", id, " out of range");
      p = sp_->id_to_piece(id);
    }
    out.push_back(p);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  std::vector<int64_t> run;
  auto flush = [&] {
    if (run.empty()) return;
    out += sp_->decode(run);
    run.clear();
  };
  for (int64_t id : ids) {
    if (id == bos_id() || id == eos_id() || id == kImageTokenIndex) continue;
    bool is_added = false;
    for (const auto& [tok, tid] : added_)
      if (tid == id) {
        flush();
        out += tok;
        is_added = true;
      }
    if (!is_added) run.push_back(id);
  }
  flush();
  return out;
}

}  // namespace rd
