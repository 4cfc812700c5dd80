// Conversation parity: llava_v1 rendering, tokenisation, label masking,
// padding and truncation equal to every `conversation` fixture case.
#include "common/error.h"
#include "data/conversation.h"
#include "data/text_collate.h"
#include "model/tokenizer.h"
#include "tests/harness/fixtures.h"

using nlohmann::json;

namespace {
rd::TextEncoder encoder_of(const rd::Tokenizer& tok) {
  rd::TextEncoder enc;
  enc.encode = [&tok](const std::string& s) { return tok.encode(s); };
  enc.encode_with_image = [&tok](const std::string& s) { return tok.encode_with_image(s); };
  enc.pad_id = tok.pad_id();
  enc.seg_id = tok.seg_id();
  return enc;
}

torch::Tensor tensor_of(const json& rows, torch::Dtype dtype) {
  std::vector<torch::Tensor> out;
  for (const auto& r : rows) {
    if (dtype == torch::kBool) {
      std::vector<int64_t> v;
      for (const auto& x : r) v.push_back(x.get<bool>());
      out.push_back(torch::tensor(v).to(torch::kBool));
    } else {
      out.push_back(torch::tensor(r.get<std::vector<int64_t>>()));
    }
  }
  return torch::stack(out);
}
}  // namespace

TEST(Conversation, CollateMatchesReference) {
  for (const auto& c : rd::testing::cases_of_kind("conversation")) {
    SCOPED_TRACE(c.name());
    rd::Tokenizer tok = rd::Tokenizer::from_folder(c.file("tokenizer"));
    rd::TextEncoder enc = encoder_of(tok);
    const json& cfg = c.config();
    const json& want = c.spec().at("expected");

    std::vector<std::string> conversations;
    std::vector<int64_t> offset{0};
    for (const auto& s : c.spec().at("inputs").at("samples")) {
      for (const auto& conv : s.at("conversations")) conversations.push_back(conv);
      offset.push_back(conversations.size());
      if (s.contains("vqa_item")) {  // rendering from the raw LLaVA-Instruct item
        std::vector<std::pair<std::string, std::string>> turns;
        for (const auto& t : s.at("vqa_item").at("conversations")) turns.emplace_back(t.at("from"), t.at("value"));
        EXPECT_EQ(rd::render_llava_v1(rd::vqa_turns(turns)), s.at("conversations")[0].get<std::string>());
      }
    }
    EXPECT_EQ(offset, want.at("offset").get<std::vector<int64_t>>());
    for (size_t i = 0; i < conversations.size(); ++i)
      EXPECT_EQ(rd::replace_image_tokens(conversations[i]), want.at("conversation_list")[i].get<std::string>());

    rd::TextCollateOptions opt;
    opt.model_max_length = cfg.at("model_max_length");
    opt.truncation = rd::Truncation::kReference255;  // reproduce the reference's cut
    ASSERT_EQ(rd::max_text_tokens(opt), cfg.at("truncate_len").get<int64_t>());
    rd::TextBatch b = rd::collate_text(conversations, enc, opt);
    EXPECT_TRUE(torch::equal(b.input_ids, tensor_of(want.at("input_ids"), torch::kInt64)));
    EXPECT_TRUE(torch::equal(b.labels, tensor_of(want.at("labels"), torch::kInt64)));
    EXPECT_TRUE(torch::equal(b.attention_masks, tensor_of(want.at("attention_masks"), torch::kBool)));
    EXPECT_EQ(b.untruncated_len, want.at("untruncated_len").get<int64_t>());
    EXPECT_EQ(b.truncated, want.at("truncated").get<bool>());

    for (size_t r = 0; r < conversations.size(); ++r) {
      std::vector<rd::LabelRound> rounds;
      std::string conv = rd::replace_image_tokens(conversations[r]);
      auto ids = tok.encode_with_image(conv);
      rd::mask_labels(conv, ids, enc, &rounds);
      const json& wr = want.at("rows")[r].at("rounds");
      ASSERT_EQ(rounds.size(), wr.size()) << "row " << r;
      for (size_t k = 0; k < rounds.size(); ++k) {
        EXPECT_EQ(rounds[k].cur_len, wr[k].at("cur_len").get<int64_t>());
        EXPECT_EQ(rounds[k].round_len, wr[k].at("round_len").get<int64_t>());
        EXPECT_EQ(rounds[k].instruction_len, wr[k].at("instruction_len").get<int64_t>());
      }
    }

    rd::TextCollateOptions left = opt;
    left.left_padding = true;
    rd::TextBatch lb = rd::collate_text(conversations, enc, left);
    EXPECT_TRUE(torch::equal(lb.input_ids, tensor_of(want.at("left_padding").at("input_ids"), torch::kInt64)));
    EXPECT_TRUE(torch::equal(lb.attention_masks,
                             tensor_of(want.at("left_padding").at("attention_masks"), torch::kBool)));
  }
}

// Our truncation never silently cuts a [SEG]: it reserves num_patches - 1
// positions for the image and refuses a cut through a [SEG].
TEST(Conversation, TruncationNeverCutsSeg) {
  for (const auto& c : rd::testing::cases_of_kind("conversation")) {
    rd::Tokenizer tok = rd::Tokenizer::from_folder(c.file("tokenizer"));
    rd::TextEncoder enc = encoder_of(tok);
    std::string seg = rd::render_single_turn("What is the cat?", "Sure, it is [SEG].");
    std::string vqa = rd::render_single_turn(std::string(300, 'a'), "No.");
    rd::TextCollateOptions opt;
    opt.num_patches = 16;
    int64_t seg_len = tok.encode_with_image(rd::replace_image_tokens(seg)).size();
    opt.model_max_length = seg_len + 15;  // the SEG row fits exactly
    rd::TextBatch b = rd::collate_text({seg, vqa}, enc, opt);
    EXPECT_TRUE(b.truncated);
    EXPECT_EQ(b.input_ids.size(1), seg_len);
    EXPECT_EQ(b.input_ids.eq(tok.seg_id()).sum().item<int64_t>(), 1);
    opt.model_max_length -= 5;  // now the cut would remove "[SEG] . </s>"
    try {
      rd::collate_text({seg, vqa}, enc, opt);
      ADD_FAILURE() << "no error";
    } catch (const rd::Error& e) {
      EXPECT_NE(std::string(e.what()).find("[SEG]"), std::string::npos) << e.what();
    }
    break;
  }
}
