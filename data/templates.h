// Question/answer template sets (spec/data.md 2.1), loaded from YAML and
// validated: every short/long answer holds exactly one [SEG], negative and
// correction answers hold none, placeholders are where they must be.
#pragma once
#include <string>
#include <vector>

namespace rd {

struct TemplateSet {
  std::vector<std::string> short_questions, long_questions;
  std::vector<std::string> short_answers, long_answers;
  std::vector<std::string> negative_answers, correction_answers;

  static TemplateSet load(const std::string& yaml_path);
};

// Replaces every occurrence of "{key}" with value.
std::string fill_template(std::string text, const std::string& key, const std::string& value);

}  // namespace rd
