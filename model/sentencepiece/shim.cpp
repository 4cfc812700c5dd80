// A C interface over libsentencepiece, built as its own shared library and
// loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) by model/tokenizer.cpp.
//
// Why: Debian's libsentencepiece bundles and exports its own copy of
// protobuf-lite, while LibTorch pulls in libprotobuf.so.32. Linked into one
// process they interpose each other's symbols and the process crashes in
// protobuf's static initialisers before main(). Loading SentencePiece in its
// own lookup scope keeps the two protobufs apart.
#include <sentencepiece_processor.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {

void* rd_sp_load(const char* path, char* err, int err_len) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  auto status = sp->Load(path);
  if (!status.ok()) {
    std::strncpy(err, status.ToString().c_str(), err_len - 1);
    err[err_len - 1] = 0;
    delete sp;
    return nullptr;
  }
  return sp;
}

void rd_sp_free(void* h) { delete static_cast<sentencepiece::SentencePieceProcessor*>(h); }

int rd_sp_piece_size(void* h) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(h)->GetPieceSize();
}

int rd_sp_special_id(void* h, int which) {  // 0 unk, 1 bos, 2 eos
  auto* sp = static_cast<sentencepiece::SentencePieceProcessor*>(h);
  return which == 0 ? sp->unk_id() : which == 1 ? sp->bos_id() : sp->eos_id();
}

// Encodes text; writes up to `cap` ids, returns the count (or -1 on error).
int rd_sp_encode(void* h, const char* text, int len, int* out, int cap) {
  std::vector<int> ids;
  auto status = static_cast<sentencepiece::SentencePieceProcessor*>(h)->Encode(
      std::string(text, len), &ids);
  if (!status.ok()) return -1;
  for (int i = 0; i < static_cast<int>(ids.size()) && i < cap; ++i) out[i] = ids[i];
  return static_cast<int>(ids.size());
}

// Writes the piece of `id` (NUL-terminated); returns its length.
int rd_sp_id_to_piece(void* h, int id, char* out, int cap) {
  std::string p = static_cast<sentencepiece::SentencePieceProcessor*>(h)->IdToPiece(id);
  std::strncpy(out, p.c_str(), cap - 1);
  out[cap - 1] = 0;
  return static_cast<int>(p.size());
}

// Decodes ids to text; returns the full length (text truncated to cap - 1).
int rd_sp_decode(void* h, const int* ids, int n, char* out, int cap) {
  std::string s;
  static_cast<sentencepiece::SentencePieceProcessor*>(h)->Decode(std::vector<int>(ids, ids + n), &s);
  std::strncpy(out, s.c_str(), cap - 1);
  out[cap - 1] = 0;
  return static_cast<int>(s.size());
}

}  // extern "C"
