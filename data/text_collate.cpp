#include "data/text_collate.h"

#include <algorithm>

#include "common/error.h"
#include "data/conversation.h"

namespace rd {
namespace {
std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t p; (p = s.find(sep, start)) != std::string::npos; start = p + sep.size())
    out.push_back(s.substr(start, p - start));
  out.push_back(s.substr(start));
  return out;
}
}  // namespace

std::vector<int64_t> mask_labels(const std::string& conversation, const std::vector<int64_t>& ids,
                                 const TextEncoder& enc, std::vector<LabelRound>* rounds) {
  const LlavaV1Template t;
  const std::string sep = t.sep + t.assistant + ": ";
  const bool has_image = conversation.find("<image>") != std::string::npos;
  auto count = [&](const std::string& s) {
    return static_cast<int64_t>((has_image ? enc.encode_with_image(s) : enc.encode(s)).size());
  };
  std::vector<int64_t> target = ids;
  int64_t total_len = std::count_if(ids.begin(), ids.end(), [&](int64_t i) { return i != enc.pad_id; });
  const int64_t n = static_cast<int64_t>(target.size());
  auto ignore = [&](int64_t from, int64_t to) {
    for (int64_t i = std::max<int64_t>(from, 0); i < std::min(to, n); ++i) target[i] = kIgnoreIndex;
  };
  int64_t cur_len = 1;
  ignore(0, cur_len);
  for (const std::string& round : split(conversation, t.sep2)) {
    if (round.empty()) break;
    std::vector<std::string> parts = split(round, sep);
    READ_CHECK(parts.size() == 2, "conversation round has ", parts.size(),
               " parts around '", sep, "' (expected 2): ", round.substr(0, 200));
    // round_len counts the round's own BOS, which stands for the </s> the split removed.
    int64_t round_len = count(round);
    int64_t instruction_len = count(parts[0] + sep) - 2;
    if (rounds) rounds->push_back({cur_len, round_len, instruction_len});
    ignore(cur_len, cur_len + instruction_len);
    cur_len += round_len;
  }
  ignore(cur_len, n);
  READ_CHECK(cur_len == total_len, "label masking: rounds cover ", cur_len, " tokens but the row has ",
             total_len, ": ", conversation.substr(0, 200));
  return target;
}

int64_t max_text_tokens(const TextCollateOptions& o) {
  return o.truncation == Truncation::kReference255 ? o.model_max_length - 255
                                                   : o.model_max_length - (o.num_patches - 1);
}

TextBatch collate_text(const std::vector<std::string>& conversation_list, const TextEncoder& enc,
                       const TextCollateOptions& options) {
  std::vector<std::vector<int64_t>> ids;
  for (const auto& c : conversation_list) ids.push_back(enc.encode_with_image(replace_image_tokens(c)));
  return collate_text(conversation_list, std::move(ids), enc, options);
}

TextBatch collate_text(const std::vector<std::string>& conversation_list, std::vector<std::vector<int64_t>> ids,
                       const TextEncoder& enc, const TextCollateOptions& options) {
  READ_CHECK(!conversation_list.empty(), "collate_text: no conversations");
  READ_CHECK(ids.size() == conversation_list.size(), "collate_text: ", ids.size(), " id rows for ",
             conversation_list.size(), " conversations");
  int64_t longest = 0;
  for (const auto& row : ids) longest = std::max<int64_t>(longest, row.size());
  const int64_t n = static_cast<int64_t>(ids.size());
  TextBatch b;
  b.untruncated_len = longest;
  b.input_ids = torch::full({n, longest}, enc.pad_id, torch::kInt64);
  b.labels = torch::full({n, longest}, kIgnoreIndex, torch::kInt64);
  auto ids_acc = b.input_ids.accessor<int64_t, 2>();
  auto lab_acc = b.labels.accessor<int64_t, 2>();
  for (int64_t r = 0; r < n; ++r) {
    const int64_t len = static_cast<int64_t>(ids[r].size());
    const int64_t start = options.left_padding ? longest - len : 0;
    for (int64_t j = 0; j < len; ++j) ids_acc[r][start + j] = ids[r][j];
    if (options.left_padding) continue;  // generation batches carry no labels
    // Labels are computed on the padded row, as the reference does.
    std::vector<int64_t> padded(ids_acc[r].data(), ids_acc[r].data() + longest);
    std::vector<int64_t> lab = mask_labels(replace_image_tokens(conversation_list[r]), padded, enc);
    for (int64_t j = 0; j < longest; ++j) lab_acc[r][j] = lab[j];
  }
  const int64_t limit = max_text_tokens(options);
  if (longest > limit && !options.left_padding) {
    if (options.truncation == Truncation::kReservePatches && enc.seg_id >= 0) {
      int64_t lost = b.input_ids.slice(1, limit).eq(enc.seg_id).sum().item<int64_t>();
      READ_CHECK(lost == 0, "collate_text: truncating to ", limit, " tokens would cut ", lost,
                 " [SEG] token(s); drop over-long conversations before collating");
    }
    b.input_ids = b.input_ids.slice(1, 0, limit).contiguous();
    b.labels = b.labels.slice(1, 0, limit).contiguous();
    b.truncated = true;
  }
  b.attention_masks = b.input_ids.ne(enc.pad_id);
  return b;
}

}  // namespace rd
