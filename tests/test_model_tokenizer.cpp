// Tokenizer parity: every `tokenizer` fixture case, ids, pieces, the
// SentencePiece segments and tokenizer_image_token ids, from both the
// READ-saved folder and the LLaVA base folder.
#include "model/tokenizer.h"
#include "tests/harness/fixtures.h"

using rd::Tokenizer;

TEST(Tokenizer, MatchesReferenceOnEveryCase) {
  for (const auto& c : rd::testing::cases_of_kind("tokenizer")) {
    SCOPED_TRACE(c.name());
    std::vector<Tokenizer> toks;
    toks.push_back(Tokenizer::from_folder(c.file("tokenizer")));
    if (c.has_file("tokenizer_base")) toks.push_back(Tokenizer::from_folder(c.file("tokenizer_base")));
    const auto& cfg = c.config();
    for (const auto& tok : toks) {
      EXPECT_EQ(tok.size(), cfg.at("len_tokenizer").get<int64_t>());
      EXPECT_EQ(tok.seg_id(), cfg.at("seg_token_id").get<int64_t>());
      EXPECT_EQ(tok.im_start_id(), cfg.at("im_start_token_id").get<int64_t>());
      EXPECT_EQ(tok.im_end_id(), cfg.at("im_end_token_id").get<int64_t>());
      int n = 0;
      for (const auto& k : c.spec().at("cases")) {
        std::string text = k.at("text");
        SCOPED_TRACE(k.at("name").get<std::string>());
        auto ids = tok.encode(text);
        EXPECT_EQ(ids, k.at("ids").get<std::vector<int64_t>>());
        EXPECT_EQ(tok.pieces(ids), k.at("pieces").get<std::vector<std::string>>());
        if (k.contains("sp_segments"))
          EXPECT_EQ(tok.sentencepiece_segments(text), k.at("sp_segments").get<std::vector<std::string>>());
        if (k.contains("ids_image"))
          EXPECT_EQ(tok.encode_with_image(text), k.at("ids_image").get<std::vector<int64_t>>());
        ++n;
      }
      EXPECT_GT(n, 0);
    }
  }
}

TEST(Tokenizer, DecodeKeepsSegToken) {
  for (const auto& c : rd::testing::cases_of_kind("tokenizer")) {
    Tokenizer tok = Tokenizer::from_folder(c.file("tokenizer"));
    auto ids = tok.encode("Sure, the result is [SEG].");
    EXPECT_EQ(tok.decode(ids), "Sure, the result is[SEG].");
    ids.push_back(tok.eos_id());
    EXPECT_NE(tok.decode(ids).find("[SEG]"), std::string::npos);
  }
}
