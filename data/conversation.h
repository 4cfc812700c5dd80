// llava_v1 conversations (spec/data.md 5.1, 2.5): rendering the prompt
// string a sample's question/answer turns become.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace rd {

struct ChatTurn {
  bool from_user;    // USER (human) or ASSISTANT (gpt)
  std::string text;  // empty = open answer (inference): renders "ASSISTANT:"
};

struct LlavaV1Template {
  std::string system =
      "A chat between a curious human and an artificial intelligence assistant. The assistant "
      "gives helpful, detailed, and polite answers to the human's questions.";
  std::string user = "USER", assistant = "ASSISTANT";
  std::string sep = " ", sep2 = "</s>";
};

// system + sep, then "ROLE: msg" + sep (user) or + sep2 (assistant).
std::string render_llava_v1(const std::vector<ChatTurn>& turns, const LlavaV1Template& t = {});

// One question/answer round; the question is prefixed with "<image>\n".
std::string render_single_turn(const std::string& question, const std::string& answer,
                               const LlavaV1Template& t = {});

// LLaVA-Instruct item -> turns (preprocess_multimodal): a turn holding
// "<image>" becomes "<image>\n" + the rest (stripped); a leading gpt turn is
// dropped. `from` is "human" or "gpt".
std::vector<ChatTurn> vqa_turns(const std::vector<std::pair<std::string, std::string>>& from_value);

// use_mm_start_end: "<image>" -> "<im_start><image><im_end>".
std::string replace_image_tokens(const std::string& conversation);

}  // namespace rd
