// Strict config reading: unknown keys, wrong types, missing keys and files
// produce messages that name the key.
#include <gtest/gtest.h>

#include "common/config_reader.h"

namespace {
struct Optim {
  double lr;
  int warmup;
  std::vector<double> betas;
};

Optim read_optim(rd::ConfigReader r) {
  Optim o;
  o.lr = r.required<double>("lr");
  o.warmup = r.get<int>("warmup_steps", 100);
  o.betas = r.get<std::vector<double>>("betas", {0.9, 0.95});
  return o;
}

std::string error_of(const std::string& yaml) {
  try {
    rd::ConfigReader r(YAML::Load(yaml), "cfg.yaml");
    read_optim(r.child("optim"));
    r.get<std::string>("name", "x");
    r.finish();
  } catch (const rd::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, UnknownKeySuggestsClosest) {
  EXPECT_EQ(error_of("optim: {lr: 1e-4, warmup_stpes: 10}"),
            "cfg.yaml: unknown key 'optim.warmup_stpes'; did you mean 'optim.warmup_steps'?");
  EXPECT_EQ(error_of("optim: {lr: 1}\nzzzzzzzz: 1"), "cfg.yaml: unknown key 'zzzzzzzz'");
}

TEST(Config, WrongTypeNamesKeyTypeAndValue) {
  EXPECT_EQ(error_of("optim: {lr: fast}"),
            "cfg.yaml: key 'optim.lr' expects a number, got 'fast'");
  EXPECT_EQ(error_of("optim: {lr: 1, warmup_steps: 2.5}"),
            "cfg.yaml: key 'optim.warmup_steps' expects an integer, got '2.5'");
  EXPECT_EQ(error_of("optim: {lr: 1, betas: [a, b]}"),
            "cfg.yaml: key 'optim.betas' expects a list of numbers, got '[a, b]'");
}

TEST(Config, MissingRequiredKey) {
  EXPECT_EQ(error_of("optim: {warmup_steps: 3}"),
            "cfg.yaml: missing required key 'optim.lr' (a number)");
}

TEST(Config, MissingFileIsNamed) {
  rd::ConfigReader r(YAML::Load("weights: /nonexistent/sam.pth"), "/tmp/cfg.yaml");
  try {
    r.existing_path("weights");
    FAIL() << "no error";
  } catch (const rd::Error& e) {
    EXPECT_STREQ(e.what(),
                 "/tmp/cfg.yaml: key 'weights' names a path that does not exist: /nonexistent/sam.pth");
  }
  try {
    rd::load_yaml_file("/nonexistent/config.yaml");
    FAIL() << "no error";
  } catch (const rd::Error& e) {
    EXPECT_STREQ(e.what(), "config file not found: /nonexistent/config.yaml");
  }
}

TEST(Config, OverridesAndResolvedPrint) {
  YAML::Node root = YAML::Load("optim: {lr: 1e-4}");
  rd::apply_override(root, "optim.lr=3e-4");
  rd::apply_override(root, "optim.warmup_steps=7");
  rd::ConfigReader r(root, "cfg.yaml");
  Optim o = read_optim(r.child("optim"));
  r.finish();
  EXPECT_DOUBLE_EQ(o.lr, 3e-4);
  EXPECT_EQ(o.warmup, 7);
  EXPECT_NE(r.resolved().find("optim.lr: 3e-4"), std::string::npos) << r.resolved();
  EXPECT_NE(r.resolved().find("optim.betas: [0.9, 0.95]  # default"), std::string::npos) << r.resolved();
  EXPECT_THROW(rd::apply_override(root, "novalue"), rd::Error);
}
