// LoRA and PEFT adapters: parity with every `llama_lora` fixture case
// (adapter forward, base forward, merged weights), merge == unmerge, init,
// targeting, adapter save/load round trip and error reporting.
#include <filesystem>
#include <fstream>

#include "checkpoints/formats/safetensors.h"
#include "model/llama.h"
#include "model/llama_weights.h"
#include "model/lora.h"
#include "model/peft_adapter.h"
#include "tests/harness/fixtures.h"
#include "checkpoints/formats/load_state_dict.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace {

rd::LlamaForCausalLM random_lora_model(uint64_t seed, double dropout = 0.0) {
  torch::manual_seed(seed);
  rd::LlamaForCausalLM m(rd::LlamaConfig::tiny(80, 32, 2, 4));
  rd::LoraConfig lc;
  lc.r = 4;
  lc.alpha = 16;
  lc.dropout = dropout;
  rd::apply_lora(*m, lc);
  torch::NoGradGuard g;
  for (auto& [n, l] : rd::lora_layers(*m)) l->lora_B->weight.normal_(0, 0.2);  // as after training
  return m;
}

fs::path temp_dir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("read_lora_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

}  // namespace

void run_lora_case(const rd::testing::FixtureCase& c);

TEST(Lora, EveryFixtureCaseMatches) {
  rd::testing::for_each_case("llama_lora", run_lora_case);
}

void run_lora_case(const rd::testing::FixtureCase& c) {
  {
    rd::LlamaConfig cfg = rd::LlamaConfig::from_file(c.file("base_config"));
    rd::LlamaForCausalLM m(cfg);
    m->eval();
    rd::load_llama_weights(*m, rd::load_state_dict(c.file("base_model_dir")), c.name());
    rd::LlamaInputs in;
    in.input_ids = c.input("input_ids");
    in.attention_mask = c.input("attention_mask");
    in.labels = c.input("labels");
    torch::NoGradGuard g;
    const rd::LlamaOutput base = m->forward(in);

    const rd::LoraConfig lc = rd::load_peft_adapter(*m, c.file("adapter_dir"));
    EXPECT_EQ(lc.r, c.config().at("r").get<int64_t>());
    EXPECT_DOUBLE_EQ(lc.alpha, c.config().at("lora_alpha").get<double>());
    EXPECT_DOUBLE_EQ(lc.scaling(), c.config().at("scaling").get<double>());
    EXPECT_DOUBLE_EQ(lc.dropout, c.config().at("lora_dropout").get<double>());
    EXPECT_EQ(lc.target_modules, c.config().at("target_modules").get<std::vector<std::string>>());
    EXPECT_EQ(rd::lora_layers(*m).size(), static_cast<size_t>(2 * cfg.num_hidden_layers));
    const rd::LlamaOutput out = m->forward(in);

    int checked = 0;
    for (const auto& [name, want] : c.expected()) {
      SCOPED_TRACE(name);
      if (name == "logits") {
        EXPECT_MATCHES(c, name, out.logits);
      } else if (name == "last_hidden_state") {
        EXPECT_MATCHES(c, name, out.last_hidden_state);
      } else if (name == "loss") {
        EXPECT_MATCHES(c, name, out.loss);
      } else if (name == "base_logits") {
        EXPECT_MATCHES(c, name, base.logits);
        EXPECT_GT((base.logits - out.logits).abs().max().item<double>(), 1e-3);  // the adapter matters
      } else if (name.rfind("merged.", 0) == 0) {
        continue;  // below
      } else {
        ADD_FAILURE() << "expected tensor '" << name << "' is not checked by this test";
        continue;
      }
      ++checked;
    }
    EXPECT_GE(checked, 4);

    rd::merge_lora(*m);
    auto params = m->named_parameters();
    for (const auto& [name, want] : c.expected()) {
      if (name.rfind("merged.", 0) != 0) continue;
      const std::string key = name.substr(7);
      ASSERT_TRUE(params.contains(key)) << key;
      EXPECT_MATCHES(c, name, params[key]);
      ++checked;
    }
    const rd::LlamaOutput merged = m->forward(in);
    EXPECT_MATCHES(c, "logits", merged.logits);
    EXPECT_TRUE(torch::allclose(merged.logits, out.logits, 1e-4, 1e-5));
    rd::unmerge_lora(*m);
    EXPECT_TRUE(torch::allclose(m->forward(in).logits, out.logits, 1e-5, 1e-5));
  }
}

TEST(Lora, FreshAdapterIsANoOpWithPeftInit) {
  torch::manual_seed(10);
  rd::LlamaForCausalLM m(rd::LlamaConfig::tiny(80, 32, 3, 4));
  m->eval();
  torch::Tensor ids = torch::randint(1, 80, {2, 7});
  rd::LlamaInputs in;
  in.input_ids = ids;
  torch::Tensor before = m->forward(in).logits.detach();
  std::vector<std::string> names = rd::apply_lora(*m, rd::LoraConfig{});
  std::vector<std::string> want;
  for (int i = 0; i < 3; ++i)
    for (const char* p : {"q_proj", "v_proj"}) want.push_back("model.layers." + std::to_string(i) + ".self_attn." + p);
  EXPECT_EQ(names, want);  // default: q_proj and v_proj of the LLM only
  EXPECT_TRUE(torch::equal(m->forward(in).logits.detach(), before));
  auto params = m->named_parameters();
  torch::Tensor A = params["model.layers.1.self_attn.q_proj.lora_A.weight"];
  torch::Tensor B = params["model.layers.1.self_attn.q_proj.lora_B.weight"];
  EXPECT_EQ(A.sizes(), (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(B.sizes(), (std::vector<int64_t>{32, 8}));
  EXPECT_EQ(B.abs().max().item<float>(), 0.0f);
  // kaiming_uniform(a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  const double bound = 1.0 / std::sqrt(32.0);
  EXPECT_LE(A.abs().max().item<double>(), bound);
  EXPECT_GT(A.abs().max().item<double>(), 0.8 * bound);
  EXPECT_NEAR(A.std().item<double>(), bound / std::sqrt(3.0), 0.2 * bound);
  EXPECT_TRUE(params.contains("model.layers.1.self_attn.q_proj.weight"));
  EXPECT_FALSE(params.contains("model.layers.1.self_attn.k_proj.lora_A.weight"));
}

TEST(Lora, LinearComputesWxPlusScaledBAx) {
  torch::manual_seed(11);
  rd::LoraLinear l(6, 5);
  l->enable_lora(3, 12, 0.0);
  {
    torch::NoGradGuard g;
    l->lora_B->weight.normal_();
  }
  torch::Tensor x = torch::randn({4, 6});
  torch::Tensor want = x.matmul(l->weight.t()) + x.matmul(l->lora_A->weight.t()).matmul(l->lora_B->weight.t()) * 4.0;
  EXPECT_TRUE(torch::allclose(l(x), want, 1e-5, 1e-6));
  EXPECT_DOUBLE_EQ(l->scaling(), 4.0);
}

TEST(Lora, MergedOutputsEqualUnmerged) {
  rd::LlamaForCausalLM m = random_lora_model(12);
  m->eval();
  torch::NoGradGuard g;
  rd::LlamaInputs in;
  in.input_ids = torch::randint(1, 80, {2, 9});
  torch::Tensor w0 = m->model->layer(0)->self_attn->q_proj->weight.clone();
  torch::Tensor unmerged = m->forward(in).logits;
  rd::merge_lora(*m);
  EXPECT_TRUE(m->model->layer(0)->self_attn->q_proj->merged());
  EXPECT_FALSE(torch::allclose(m->model->layer(0)->self_attn->q_proj->weight, w0));
  torch::Tensor merged = m->forward(in).logits;
  EXPECT_TRUE(torch::allclose(merged, unmerged, 1e-5, 1e-5)) << (merged - unmerged).abs().max().item<float>();
  rd::merge_lora(*m);  // idempotent
  EXPECT_TRUE(torch::allclose(m->forward(in).logits, unmerged, 1e-5, 1e-5));
  rd::unmerge_lora(*m);
  EXPECT_TRUE(torch::allclose(m->model->layer(0)->self_attn->q_proj->weight, w0, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(m->forward(in).logits, unmerged, 1e-5, 1e-5));
}

TEST(Lora, DropoutOnlyInTraining) {
  rd::LlamaForCausalLM m = random_lora_model(13, 0.5);
  rd::LlamaInputs in;
  in.input_ids = torch::randint(1, 80, {1, 8});
  torch::NoGradGuard g;
  m->train();
  EXPECT_FALSE(torch::equal(m->forward(in).logits, m->forward(in).logits));
  m->eval();
  EXPECT_TRUE(torch::equal(m->forward(in).logits, m->forward(in).logits));
}

TEST(Lora, TargetingFollowsPeftAndReadRules) {
  rd::LoraConfig c;
  EXPECT_TRUE(c.targets("model.layers.3.self_attn.q_proj"));
  EXPECT_TRUE(c.targets("model.layers.3.self_attn.v_proj"));
  EXPECT_FALSE(c.targets("model.layers.3.self_attn.k_proj"));
  EXPECT_FALSE(c.targets("model.layers.3.self_attn.q_proj.lora_A"));
  // READ excludes the other components' attention layers.
  EXPECT_FALSE(c.targets("model.visual_model.mask_decoder.transformer.layers.0.self_attn.q_proj"));
  EXPECT_FALSE(c.targets("model.vision_tower.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj"));
  c.target_modules = {"model.layers.0.self_attn.q_proj"};
  EXPECT_TRUE(c.targets("model.layers.0.self_attn.q_proj"));
  EXPECT_FALSE(c.targets("model.layers.10.self_attn.q_proj"));
  c.target_regex = R"(.*layers\.1\d*\.self_attn\.(q|v)_proj)";  // peft: a string is a full-match regex
  EXPECT_TRUE(c.targets("model.layers.12.self_attn.v_proj"));
  EXPECT_FALSE(c.targets("model.layers.2.self_attn.v_proj"));
  rd::LlamaForCausalLM m(rd::LlamaConfig::tiny(40, 32, 2, 4));
  rd::LoraConfig none;
  none.target_modules = {"nothing"};
  EXPECT_THROW(rd::apply_lora(*m, none), rd::Error);
}

TEST(Lora, TrainableSetIsLoraPlusRequestedModules) {
  rd::LlamaForCausalLM m = random_lora_model(14);
  int64_t n = rd::set_lora_trainable(*m, {"model.embed_tokens.", "lm_head."});
  int64_t want = 0;
  for (const auto& p : m->named_parameters()) {
    const bool train = rd::is_lora_parameter(p.key()) || p.key() == "model.embed_tokens.weight" ||
                       p.key() == "lm_head.weight";
    EXPECT_EQ(p.value().requires_grad(), train) << p.key();
    if (train) want += p.value().numel();
  }
  EXPECT_EQ(n, want);
  EXPECT_EQ(n, 2 * 80 * 32 + 2 * 2 * (4 * 32 + 32 * 4));
}

TEST(PeftAdapter, SaveLoadRoundTripWithPeftNames) {
  rd::LlamaForCausalLM a = random_lora_model(15);
  a->eval();
  rd::LoraConfig lc;
  lc.r = 4;
  lc.alpha = 16;
  lc.dropout = 0.0;
  fs::path dir = temp_dir("rt");
  rd::save_peft_adapter(dir.string(), *a, lc, "base");
  rd::StateDict raw = rd::load_safetensors((dir / "adapter_model.safetensors").string());
  EXPECT_EQ(raw.size(), 8u);
  EXPECT_TRUE(raw.count("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(raw.count("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"));
  rd::LoraConfig back = rd::read_peft_adapter_config(dir.string());
  EXPECT_EQ(back.r, 4);
  EXPECT_EQ(back.alpha, 16);
  EXPECT_EQ(back.target_modules, lc.target_modules);

  // A second model with the same base weights and the loaded adapter gives the same logits.
  torch::manual_seed(15);
  rd::LlamaForCausalLM b(rd::LlamaConfig::tiny(80, 32, 2, 4));
  b->eval();
  rd::load_peft_adapter(*b, dir.string());
  rd::LlamaInputs in;
  in.input_ids = torch::randint(1, 80, {2, 6});
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::equal(a->forward(in).logits, b->forward(in).logits));

  // The DeepSpeed spelling '.lora_A.default.weight' is read too.
  rd::StateDict dflt;
  for (auto& [k, t] : raw) {
    std::string key = k;
    key.replace(key.rfind(".weight"), 7, ".default.weight");
    dflt[key] = t;
  }
  rd::StateDict ours = rd::peft_to_module_names(dflt, "zero_to_fp32");
  EXPECT_TRUE(ours.count("model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_THROW(rd::peft_to_module_names({{"model.layers.0.self_attn.q_proj.lora_A.weight", torch::zeros({1})}}, "x"),
               rd::Error);
  fs::remove_all(dir);
}

TEST(PeftAdapter, MismatchedAdaptersAreReportedByName) {
  rd::LlamaForCausalLM a = random_lora_model(16);
  rd::LoraConfig lc;
  lc.r = 4;
  fs::path dir = temp_dir("bad");
  rd::save_peft_adapter(dir.string(), *a, lc);
  rd::StateDict raw = rd::load_safetensors((dir / "adapter_model.safetensors").string());
  const std::string gone = "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight";
  raw.erase(gone);
  raw["base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"] = torch::zeros({4, 32});
  rd::save_safetensors((dir / "adapter_model.safetensors").string(), raw);
  rd::LlamaForCausalLM b(rd::LlamaConfig::tiny(80, 32, 2, 4));
  try {
    rd::load_peft_adapter(*b, dir.string());
    ADD_FAILURE() << "no error";
  } catch (const rd::Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("missing " + gone), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"),
              std::string::npos)
        << msg;
  }
  // A rank that disagrees with the config is a shape mismatch naming the key.
  std::ofstream(dir / "adapter_config.json")
      << R"({"peft_type": "LORA", "r": 2, "lora_alpha": 16, "lora_dropout": 0.0, "bias": "none",
             "target_modules": ["q_proj", "v_proj"]})";
  try {
    rd::load_peft_adapter(*b, dir.string());
    ADD_FAILURE() << "no error";
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("shape mismatch base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"),
              std::string::npos)
        << e.what();
  }
  std::ofstream(dir / "adapter_config.json") << R"({"peft_type": "LORA", "r": 4, "lora_alpha": 16, "bias": "all",
                                                   "target_modules": ["q_proj"]})";
  EXPECT_THROW(rd::read_peft_adapter_config(dir.string()), rd::Error);
  // A field of the wrong type names the file and the key.
  std::ofstream(dir / "adapter_config.json") << R"({"peft_type": "LORA", "r": "4", "lora_alpha": 16,
                                                   "target_modules": ["q_proj"]})";
  try {
    rd::read_peft_adapter_config(dir.string());
    ADD_FAILURE() << "a string rank was accepted";
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("adapter_config.json: key 'r'"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}
