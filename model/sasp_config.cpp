// SaspConfig: YAML reading and validation.
#include "common/config_reader.h"
#include "common/error.h"
#include "model/sasp.h"

namespace rd {

std::string to_string(SaspConfig::Variant v) {
  return v == SaspConfig::Variant::kCode ? "code" : "paper";
}

SaspConfig::Variant parse_sasp_variant(const std::string& s) {
  if (s == "code") return SaspConfig::Variant::kCode;
  if (s == "paper") return SaspConfig::Variant::kPaper;
  fail("SasP: variant must be \"code\" or \"paper\", got \"", s, "\"");
}

static void validate(const SaspConfig& c, const std::string& where) {
  READ_CHECK(c.num_points >= 0, where, "num_points must be >= 0, got ", c.num_points);
  READ_CHECK(c.down_sample >= 1, where, "down_sample must be >= 1, got ", c.down_sample);
  READ_CHECK(c.target_size >= 1, where, "target_size must be >= 1, got ", c.target_size);
  READ_CHECK(c.variant != SaspConfig::Variant::kCode || (c.t_neg < c.t_pos),
             where, "t_neg (", c.t_neg, ") must be below t_pos (", c.t_pos, ")");
  READ_CHECK(c.eps >= 0, where, "eps must be >= 0, got ", c.eps);
}

SaspConfig SaspConfig::read(ConfigReader& r) {
  SaspConfig c;
  c.num_points = r.get<long long>("num_points", c.num_points);
  c.t_pos = r.get<double>("t_pos", c.t_pos);
  c.t_neg = r.get<double>("t_neg", c.t_neg);
  c.down_sample = r.get<long long>("down_sample", c.down_sample);
  c.target_size = r.get<long long>("target_size", c.target_size);
  c.variant = parse_sasp_variant(r.get<std::string>("variant", to_string(c.variant)));
  c.eps = r.get<double>("eps", c.eps);
  c.window_radius = r.get<long long>("window_radius", c.window_radius);
  r.finish();
  validate(c, r.source() + ": sasp: ");
  return c;
}

int64_t SaspConfig::effective_window_radius() const {
  if (window_radius < 0) return -1;
  if (window_radius > 0) return window_radius;
  // exp(1 - d^2) < e^-99 beyond 10 px; for exp(-d) the mass beyond 28 px is
  // ~2*pi*e*29*e^-28 < 1e-9 of the total.
  return variant == Variant::kCode ? 10 : 28;
}

}  // namespace rd
