#include "data/sample_preview.h"

#include <cstdio>

#include "common/error.h"

namespace rd {
namespace {

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * x);
  return buf;
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string rpad(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

void print_sample(std::ostream& out, int64_t index, const DecoratedSample& s) {
  out << "=== sample " << index << " | family " << s.family << " | dataset " << s.dataset << " | record "
      << s.record << " | image " << s.image.key << " (" << s.image.height << "x" << s.image.width << " HxW)\n";
  out << s.conversations.size() << " conversation(s), " << s.masks.size() << " mask(s)";
  for (size_t m = 0; m < s.masks.size(); ++m)
    out << (m ? ", " : ": ") << s.masks[m].size(0) << "x" << s.masks[m].size(1) << " ("
        << s.masks[m].sum().item<int64_t>() << " px set)";
  out << "\n";
  for (size_t c = 0; c < s.conversations.size(); ++c) {
    out << "--- conversation " << c + 1 << "/" << s.conversations.size() << " | premise " << s.premise[c]
        << " | exists " << (s.exists[c] ? "true" : "false") << " | " << count_of(s.conversations[c], "[SEG]")
        << " [SEG]\n"
        << s.conversations[c] << "\n";
  }
  out << "\n";
}

}  // namespace

std::vector<FamilyShare> preview_samples(const DataSection& data, const PreviewOptions& o, std::ostream& out) {
  READ_CHECK(o.n > 0, "preview: --n must be positive, got ", o.n);
  READ_CHECK(o.epoch >= 0, "preview: the epoch must be >= 0, got ", o.epoch);
  // The trainer's source: same sampler, stores, templates and sample options.
  // Decoration needs no tokenizer (only the text budget, applied later by
  // SampleSource::load, does).
  const SampleSource source(loader_config(data, o.seed), TextEncoder{});
  const MixtureSampler& sampler = source.sampler();
  const std::vector<double> probability = sampler.probabilities();

  out << "preview: samples 0.." << o.n - 1 << " of epoch " << o.epoch << ", seed " << o.seed
      << ", as the training loader draws and decorates them (packed data: " << data.packed_dir
      << ", templates: " << data.templates << ", num_classes_per_sample " << data.num_classes_per_sample
      << ").\n"
      << "The loader also drops conversations longer than the model's text budget (not checked here).\n\n";

  std::vector<FamilyShare> shares;
  for (size_t f = 0; f < sampler.families().size(); ++f) {
    const FamilySpec& spec = sampler.families()[f];
    shares.push_back({spec.name, probability[f], 0, std::vector<int64_t>(spec.datasets.size(), 0)});
  }
  for (int64_t i = 0; i < o.n; ++i) {
    const SampleDraw d = sampler.draw(o.epoch, i);
    ++shares[d.family].drawn;
    ++shares[d.family].drawn_per_dataset[d.dataset];
    if (o.print_samples) print_sample(out, i, source.decorate(o.epoch, i));
  }

  out << "family shares over " << o.n << " draws (configured ratio normalised to 100%):\n"
      << "  " << pad("family", 20) << rpad("ratio", 8) << rpad("configured", 12) << rpad("drawn", 8)
      << rpad("share", 10) << rpad("diff", 10) << "\n";
  for (size_t f = 0; f < shares.size(); ++f) {
    const FamilyShare& s = shares[f];
    const double share = static_cast<double>(s.drawn) / static_cast<double>(o.n);
    char diff[32];
    std::snprintf(diff, sizeof diff, "%+.2f pp", 100.0 * (share - s.configured));
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%g", sampler.families()[f].ratio);
    out << "  " << pad(s.family, 20) << rpad(ratio, 8) << rpad(percent(s.configured), 12)
        << rpad(std::to_string(s.drawn), 8) << rpad(percent(share), 10) << rpad(diff, 10) << "\n";
    out << "      datasets:";
    for (size_t k = 0; k < s.drawn_per_dataset.size(); ++k)
      out << " " << sampler.families()[f].datasets[k] << " " << s.drawn_per_dataset[k];
    out << "\n";
  }
  return shares;
}

}  // namespace rd
