#include "data/templates.h"

#include "common/config_reader.h"
#include "common/error.h"

namespace rd {
namespace {
size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

std::vector<std::string> read_list(ConfigReader& r, const char* key, size_t seg_count,
                                   std::vector<std::string> required_placeholders) {
  auto list = r.required<std::vector<std::string>>(key);
  READ_CHECK(!list.empty(), r.source(), ": '", key, "' is empty");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string& t = list[i];
    READ_CHECK(count_of(t, "[SEG]") == seg_count, r.source(), ": ", key, "[", i, "] must hold ",
               seg_count, " [SEG] token(s): \"", t, "\"");
    for (const auto& p : required_placeholders)
      READ_CHECK(t.find(p) != std::string::npos, r.source(), ": ", key, "[", i, "] lacks ", p,
                 ": \"", t, "\"");
  }
  return list;
}
}  // namespace

TemplateSet TemplateSet::load(const std::string& yaml_path) {
  ConfigReader r(load_yaml_file(yaml_path), yaml_path);
  TemplateSet t;
  t.short_questions = read_list(r, "short_questions", 0, {"{class_name}"});
  t.long_questions = read_list(r, "long_questions", 0, {"{sent}"});
  t.short_answers = read_list(r, "short_answers", 1, {});
  t.long_answers = read_list(r, "long_answers", 1, {});
  t.negative_answers = read_list(r, "negative_answers", 0, {});
  t.correction_answers = read_list(r, "correction_answers", 0, {"{class_name}", "{gt_name}"});
  r.finish();
  return t;
}

std::string fill_template(std::string text, const std::string& key, const std::string& value) {
  const std::string pat = "{" + key + "}";
  for (size_t p = 0; (p = text.find(pat, p)) != std::string::npos; p += value.size())
    text.replace(p, pat.size(), value);
  return text;
}

}  // namespace rd
