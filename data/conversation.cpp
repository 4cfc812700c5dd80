#include "data/conversation.h"

#include "common/error.h"

namespace rd {
namespace {
const std::string kImage = "<image>";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
    s.replace(p, from.size(), to);
  return s;
}

// Python str.strip() for the ASCII whitespace LLaVA texts carry.
std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}
}  // namespace

std::string render_llava_v1(const std::vector<ChatTurn>& turns, const LlavaV1Template& t) {
  std::string out = t.system + t.sep;
  for (const auto& turn : turns) {
    const std::string& role = turn.from_user ? t.user : t.assistant;
    if (turn.text.empty()) {
      out += role + ":";
    } else {
      out += role + ": " + turn.text + (turn.from_user ? t.sep : t.sep2);
    }
  }
  return out;
}

std::string render_single_turn(const std::string& question, const std::string& answer,
                               const LlavaV1Template& t) {
  return render_llava_v1({{true, kImage + "\n" + question}, {false, answer}}, t);
}

std::vector<ChatTurn> vqa_turns(const std::vector<std::pair<std::string, std::string>>& from_value) {
  std::vector<ChatTurn> turns;
  for (const auto& [from, value0] : from_value) {
    READ_CHECK(from == "human" || from == "gpt", "VQA turn: unknown speaker '", from, "'");
    if (turns.empty() && from == "gpt") continue;  // a leading gpt turn is dropped
    std::string value = value0;
    if (value.find(kImage) != std::string::npos)
      value = strip(kImage + "\n" + strip(replace_all(value, kImage, "")));
    turns.push_back({from == "human", value});
  }
  return turns;
}

std::string replace_image_tokens(const std::string& conversation) {
  return replace_all(conversation, kImage, "<im_start>" + kImage + "<im_end>");
}

}  // namespace rd
