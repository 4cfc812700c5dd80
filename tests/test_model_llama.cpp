// LLaMA decoder: parity with every `llama` fixture case (logits, hidden
// states, loss: whatever each case stores), weight loading by name, the
// KV cache, activation checkpointing, bf16, vocabulary resizing.
#include <filesystem>
#include <fstream>
#include <regex>

#include "checkpoints/formats/safetensors.h"
#include "model/llama.h"
#include "model/llama_generate.h"
#include "model/llama_weights.h"
#include "tests/harness/fixtures.h"
#include "checkpoints/formats/load_state_dict.h"
#include "common/error.h"

namespace fs = std::filesystem;
using rd::testing::cases_of_kind;
using rd::testing::FixtureCase;

namespace {

// Compares every expected tensor of the case with what the forward produced;
// an expected tensor this test does not know is a failure (never skipped).
void check_forward_outputs(const FixtureCase& c, const rd::LlamaOutput& out,
                           const std::set<std::string>& handled_elsewhere) {
  std::regex hs(R"(hidden_states_(\d+))");
  int checked = 0;
  for (const auto& [name, want] : c.expected()) {
    if (handled_elsewhere.count(name)) continue;
    SCOPED_TRACE(c.name() + ": " + name);
    std::smatch m;
    if (name == "logits") {
      EXPECT_MATCHES(c, name, out.logits);
    } else if (name == "last_hidden_state") {
      EXPECT_MATCHES(c, name, out.last_hidden_state);
    } else if (name == "loss") {
      EXPECT_MATCHES(c, name, out.loss);
    } else if (std::regex_match(name, m, hs)) {
      size_t i = std::stoul(m[1]);
      ASSERT_LT(i, out.hidden_states.size());
      EXPECT_MATCHES(c, name, out.hidden_states[i]);
    } else {
      ADD_FAILURE() << c.name() << ": expected tensor '" << name << "' is not checked by this test";
      continue;
    }
    ++checked;
  }
  EXPECT_GE(checked, 3) << c.name();
}

}  // namespace

void run_llama_case(const FixtureCase& c);

TEST(LlamaConfig, ParsesFixtureConfigsAndDefaults) {
  for (const auto& c : cases_of_kind("llama")) {
    rd::LlamaConfig cfg = rd::LlamaConfig::from_file(c.file("config"));
    EXPECT_EQ(cfg.head_dim(), c.config().at("head_dim").get<int64_t>()) << c.name();
    EXPECT_EQ(cfg.pad_token_id, c.config().at("pad_token_id").get<int64_t>()) << c.name();
  }
  nlohmann::json j = {{"model_type", "llama"}, {"hidden_size", 64}, {"num_attention_heads", 8},
                      {"num_hidden_layers", 1}, {"intermediate_size", 100}, {"vocab_size", 50},
                      {"pad_token_id", nullptr}};
  rd::LlamaConfig cfg = rd::LlamaConfig::from_json(j, "inline");
  EXPECT_EQ(cfg.num_key_value_heads, 8);  // defaults to heads
  EXPECT_EQ(cfg.rope_theta, 10000.0);     // absent in transformers 4.31 configs
  EXPECT_EQ(cfg.pad_token_id, -1);
  EXPECT_EQ(cfg.eos_token_id, 2);
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_THROW(rd::LlamaConfig::from_json(j, "inline"), rd::Error);
  j["rope_scaling"] = nullptr;
  j["hidden_act"] = "gelu";
  EXPECT_THROW(rd::LlamaConfig::from_json(j, "inline"), rd::Error);
  j["hidden_act"] = "silu";
  j["num_attention_heads"] = 7;
  EXPECT_THROW(rd::LlamaConfig::from_json(j, "inline"), rd::Error);
  // Round trip through to_json.
  rd::LlamaConfig back = rd::LlamaConfig::from_json(rd::LlamaConfig::llama13b().to_json(), "to_json");
  EXPECT_EQ(back.hidden_size, 5120);
  EXPECT_EQ(back.num_hidden_layers, 40);
  EXPECT_EQ(back.rms_norm_eps, 1e-5);
  // Vicuna-7B: 6.74e9 parameters.
  EXPECT_NEAR(rd::LlamaConfig::llama7b().num_parameters() / 1e9, 6.738, 0.001);
  EXPECT_NEAR(rd::LlamaConfig::llama13b().num_parameters() / 1e9, 13.016, 0.001);
}

TEST(Llama, ParameterNamesAreTheHuggingFaceKeys) {
  rd::LlamaForCausalLM m(rd::LlamaConfig::tiny(40, 32, 2, 4));
  std::set<std::string> names;
  for (const auto& p : m->named_parameters()) names.insert(p.key());
  std::set<std::string> want = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
  for (int i = 0; i < 2; ++i) {
    std::string l = "model.layers." + std::to_string(i) + ".";
    for (const char* s : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                          "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
                          "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight"})
      want.insert(l + s);
  }
  EXPECT_EQ(names, want);
  EXPECT_TRUE(m->named_buffers().is_empty());  // no inv_freq buffer in our state dict
}

TEST(Llama, EveryFixtureCaseMatches) {
  rd::testing::for_each_case("llama", run_llama_case);
}

void run_llama_case(const FixtureCase& c) {
  {
    rd::LlamaConfig cfg = rd::LlamaConfig::from_file(c.file("config"));
    // The folder as a whole (shard by shard), and as one dict: the same weights.
    rd::LlamaForCausalLM m = rd::llama_from_pretrained(c.file("model_dir"));
    m->eval();
    rd::LlamaForCausalLM m2(cfg);
    rd::LoadReport rep = rd::load_llama_weights(*m2, rd::load_state_dict(c.file("model_dir")), c.name());
    EXPECT_EQ(rep.loaded.size(), m->parameters().size());
    for (const auto& p : m2->named_parameters())
      EXPECT_TRUE(torch::equal(p.value(), m->named_parameters()[p.key()])) << p.key();

    rd::LlamaInputs in;
    in.input_ids = c.input("input_ids");
    in.attention_mask = c.input("attention_mask");
    in.labels = c.input("labels");
    in.output_hidden_states = true;
    torch::NoGradGuard g;
    rd::LlamaOutput out = m->forward(in);
    EXPECT_EQ(out.hidden_states.size(), static_cast<size_t>(cfg.num_hidden_layers + 1));
    check_forward_outputs(c, out, {});

    // The inputs_embeds path (LLaVA's splice) gives the same numbers.
    rd::LlamaInputs e = in;
    e.inputs_embeds = m->model->embed_tokens(in.input_ids);
    e.input_ids = torch::Tensor();
    rd::LlamaOutput oe = m->forward(e);
    EXPECT_TRUE(torch::equal(oe.logits, out.logits));
    EXPECT_TRUE(torch::equal(oe.last_hidden_state, out.last_hidden_state));
  }
}

TEST(LlamaWeights, ReportsMissingUnexpectedAndMismatchedKeysByName) {
  rd::LlamaConfig cfg = rd::LlamaConfig::tiny(40, 32, 2, 4);
  rd::LlamaForCausalLM src(cfg), dst(cfg);
  rd::StateDict sd;
  for (const auto& p : src->named_parameters()) sd[p.key()] = p.value().detach().clone();
  // A full, correct dict loads every tensor.
  rd::LoadReport ok = rd::load_llama_weights(*dst, sd, "good");
  EXPECT_TRUE(ok.ok());
  for (const auto& p : dst->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), sd[p.key()])) << p.key();

  // Legacy inv_freq buffers are checked and skipped; wrong ones are an error.
  rd::StateDict legacy = sd;
  legacy["model.layers.1.self_attn.rotary_emb.inv_freq"] = rd::rotary_inv_freq(8, 10000, torch::kCPU);
  EXPECT_TRUE(rd::load_llama_weights(*dst, legacy, "legacy").ok());
  legacy["model.layers.1.self_attn.rotary_emb.inv_freq"] = rd::rotary_inv_freq(8, 10000, torch::kCPU) * 0.5;
  EXPECT_THROW(rd::load_llama_weights(*dst, legacy, "scaled"), rd::Error);

  rd::StateDict bad = sd;
  bad.erase("model.layers.1.mlp.up_proj.weight");
  bad["model.layers.0.self_attn.k_proj.bias"] = torch::zeros({32});
  bad["model.norm.weight"] = torch::ones({31});
  rd::LlamaLoadOptions lenient;
  lenient.strict = false;
  rd::LoadReport r = rd::load_llama_weights(*dst, bad, "bad", lenient);
  EXPECT_EQ(r.missing, std::vector<std::string>{"model.layers.1.mlp.up_proj.weight"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"model.layers.0.self_attn.k_proj.bias"});
  ASSERT_EQ(r.mismatched.size(), 1u);
  EXPECT_NE(r.mismatched[0].find("model.norm.weight"), std::string::npos);
  try {
    rd::load_llama_weights(*dst, bad, "bad.safetensors");
    ADD_FAILURE() << "no error";
  } catch (const rd::Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.layers.0.self_attn.k_proj.bias"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.norm.weight"), std::string::npos) << msg;
  }
  // LLaVA/READ checkpoints: non-LLaMA keys may be ignored on request.
  rd::StateDict llava = sd;
  llava["model.mm_projector.0.weight"] = torch::zeros({4, 4});
  EXPECT_THROW(rd::load_llama_weights(*dst, llava, "llava"), rd::Error);
  rd::LlamaLoadOptions ign;
  ign.ignore_non_llama_keys = true;
  EXPECT_TRUE(rd::load_llama_weights(*dst, llava, "llava", ign).ok());
  llava["model.layers.7.mlp.up_proj.weight"] = torch::zeros({4, 4});  // a layer we do not have
  EXPECT_THROW(rd::load_llama_weights(*dst, llava, "llava", ign), rd::Error);
}

TEST(Llama, PaddingAndPositionConventions) {
  // Right padding does not change the real tokens' outputs; explicit
  // position_ids = arange equal the default.
  torch::manual_seed(0);
  rd::LlamaForCausalLM m(rd::LlamaConfig::tiny(50, 32, 2, 4));
  m->eval();
  torch::NoGradGuard g;
  torch::Tensor ids = torch::randint(1, 50, {1, 7});
  rd::LlamaInputs a;
  a.input_ids = ids;
  rd::LlamaOutput oa = m->forward(a);
  rd::LlamaInputs b;
  b.input_ids = torch::cat({ids, torch::zeros({1, 3}, torch::kInt64)}, 1);
  b.attention_mask = torch::cat({torch::ones({1, 7}), torch::zeros({1, 3})}, 1).to(torch::kBool);
  b.position_ids = torch::arange(10).unsqueeze(0);
  rd::LlamaOutput ob = m->forward(b);
  EXPECT_TRUE(torch::allclose(ob.logits.narrow(1, 0, 7), oa.logits, 1e-5, 1e-5));
  // Left padding with positions from the mask equals the unpadded sequence.
  rd::LlamaInputs l;
  l.input_ids = torch::cat({torch::zeros({1, 3}, torch::kInt64), ids}, 1);
  l.attention_mask = torch::cat({torch::zeros({1, 3}), torch::ones({1, 7})}, 1).to(torch::kInt64);
  l.position_ids = torch::cat({torch::ones({1, 3}, torch::kInt64), torch::arange(7).unsqueeze(0)}, 1);
  rd::LlamaOutput ol = m->forward(l);
  EXPECT_TRUE(torch::allclose(ol.logits.narrow(1, 3, 7), oa.logits, 1e-5, 1e-5));
  EXPECT_TRUE(torch::isfinite(ol.logits).all().item<bool>());  // fully masked pad rows stay finite
}

TEST(Llama, LossIgnoresMinus100AndIsZeroWithoutTargets) {
  torch::manual_seed(1);
  torch::Tensor logits = torch::randn({2, 5, 11});
  torch::Tensor labels = torch::randint(0, 11, {2, 5});
  labels[0][1] = -100;
  labels[1][4] = -100;
  torch::Tensor want = torch::nn::functional::cross_entropy(
      logits.narrow(1, 0, 4).reshape({-1, 11}), labels.narrow(1, 1, 4).reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
  EXPECT_TRUE(torch::allclose(rd::causal_lm_loss(logits, labels), want));
  torch::Tensor none = torch::full({2, 5}, -100, torch::kInt64);
  EXPECT_EQ(rd::causal_lm_loss(logits, none).item<float>(), 0.0f);
}

TEST(Llama, KvCacheGreedyGenerationEqualsRecompute) {
  torch::manual_seed(2);
  rd::LlamaConfig cfg = rd::LlamaConfig::tiny(64, 32, 3, 4);
  cfg.num_key_value_heads = 2;  // grouped-query attention path too
  rd::LlamaForCausalLM m(cfg);
  m->eval();
  rd::GreedyOptions o;
  o.max_new_tokens = 12;
  o.eos_token_id = -1;  // run all steps
  o.collect_hidden = true;
  torch::Tensor ids = torch::randint(3, 64, {2, 6});
  torch::Tensor mask = torch::ones({2, 6}, torch::kInt64);
  ids[1][0] = 0, ids[1][1] = 0, mask[1][0] = 0, mask[1][1] = 0;  // left padding on row 1
  o.use_cache = true;
  rd::GreedyResult cached = rd::greedy_generate(*m, ids, torch::Tensor(), mask, o);
  o.use_cache = false;
  rd::GreedyResult full = rd::greedy_generate(*m, ids, torch::Tensor(), mask, o);
  EXPECT_EQ(cached.tokens.sizes(), (std::vector<int64_t>{2, 12}));
  EXPECT_TRUE(torch::equal(cached.tokens, full.tokens)) << cached.tokens << full.tokens;
  EXPECT_EQ(cached.hidden.sizes(), (std::vector<int64_t>{2, 6 + 12 - 1, 32}));
  EXPECT_TRUE(torch::allclose(cached.hidden, full.hidden, 1e-5, 1e-5))
      << (cached.hidden - full.hidden).abs().amax(-1);
  // The embeddings prompt (LLaVA) gives the same tokens.
  torch::Tensor embeds;
  {
    torch::NoGradGuard g;
    embeds = m->model->embed_tokens(ids);
  }
  o.use_cache = true;
  rd::GreedyResult by_embeds = rd::greedy_generate(*m, torch::Tensor(), embeds, mask, o);
  EXPECT_TRUE(torch::equal(by_embeds.tokens, cached.tokens));
  // Greedy choice: each token is the argmax of a full forward's last logits.
  {
    torch::NoGradGuard g;
    rd::LlamaInputs in;
    in.input_ids = torch::cat({ids.narrow(0, 0, 1), cached.tokens.narrow(0, 0, 1).narrow(1, 0, 11)}, 1);
    torch::Tensor pred = m->forward(in).logits.argmax(-1).narrow(1, 5, 12);
    EXPECT_TRUE(torch::equal(pred, cached.tokens.narrow(0, 0, 1)));
  }
  // eos stops a row: later tokens are pad, and generation ends when all rows stopped.
  o.eos_token_id = cached.tokens[0][3].item<int64_t>();
  o.pad_token_id = 0;
  rd::GreedyResult stopped = rd::greedy_generate(*m, ids.narrow(0, 0, 1), torch::Tensor(), torch::Tensor(), o);
  int64_t first = 0;
  while (cached.tokens[0][first].item<int64_t>() != o.eos_token_id) ++first;
  EXPECT_EQ(stopped.tokens.size(1), first + 1);
}

TEST(Llama, ActivationCheckpointingGivesIdenticalGradients) {
  torch::manual_seed(3);
  rd::LlamaConfig cfg = rd::LlamaConfig::tiny(64, 32, 3, 4);
  rd::LlamaForCausalLM m(cfg);
  rd::LoraConfig lc;
  lc.r = 4;
  lc.dropout = 0.3;  // dropout must replay the same mask in the recompute
  rd::apply_lora(*m, lc);
  {
    torch::NoGradGuard g;
    for (auto& [n, l] : rd::lora_layers(*m)) l->lora_B->weight.normal_(0, 0.1);
  }
  rd::set_lora_trainable(*m, {"model.embed_tokens.", "lm_head."});
  m->train();
  torch::Tensor ids = torch::randint(1, 64, {2, 9});
  torch::Tensor labels = ids.clone();
  labels[0][0] = -100;
  auto run = [&](bool ckpt) {
    m->model->set_gradient_checkpointing(ckpt);
    m->zero_grad();
    torch::manual_seed(77);
    rd::LlamaInputs in;
    in.inputs_embeds = m->model->embed_tokens(ids);  // LLaVA path: the grad flows into embed_tokens
    in.labels = labels;
    torch::Tensor loss = m->forward(in).loss;
    loss.backward();
    std::map<std::string, torch::Tensor> g;
    for (const auto& p : m->named_parameters())
      if (p.value().requires_grad()) g[p.key()] = p.value().grad().clone();
    return std::make_pair(loss.item<double>(), g);
  };
  auto [l0, g0] = run(false);
  auto [l1, g1] = run(true);
  EXPECT_EQ(l0, l1);
  ASSERT_EQ(g0.size(), g1.size());
  ASSERT_GT(g0.size(), 6u);
  for (const auto& [k, g] : g0) {
    ASSERT_TRUE(g1[k].defined()) << k;
    EXPECT_GT(g.abs().sum().item<double>(), 0) << k;
    EXPECT_TRUE(torch::allclose(g1[k], g, 1e-6, 1e-7)) << k << " max diff "
                                                        << (g1[k] - g).abs().max().item<double>();
  }
  // Frozen base weights get no gradient either way.
  EXPECT_FALSE(m->model->layer(0)->self_attn->k_proj->weight.grad().defined());
}

TEST(Llama, Bf16ForwardIsCloseToFloat32) {
  torch::manual_seed(4);
  rd::LlamaForCausalLM m(rd::LlamaConfig::tiny(96, 64, 2, 4));
  m->eval();
  torch::NoGradGuard g;
  torch::Tensor ids = torch::randint(1, 96, {2, 12});
  rd::LlamaInputs in;
  in.input_ids = ids;
  rd::LlamaOutput f32 = m->forward(in);
  m->to(torch::kBFloat16);
  rd::LlamaOutput bf = m->forward(in);
  EXPECT_EQ(bf.logits.scalar_type(), torch::kFloat32);  // logits are upcast as in HF
  EXPECT_EQ(bf.last_hidden_state.scalar_type(), torch::kBFloat16);
  // Stated tolerance: bf16 has an 8-bit mantissa (rel. step 2^-8 = 0.0039);
  // through 2 layers the logits stay within 0.05 absolute of float32 (logit
  // scale ~1) and the hidden state within 5% of its scale.
  const double dl = (bf.logits - f32.logits).abs().max().item<double>();
  const double dh = (bf.last_hidden_state.to(torch::kFloat32) - f32.last_hidden_state).abs().max().item<double>();
  const double sh = f32.last_hidden_state.abs().max().item<double>();
  std::cout << "bf16 vs fp32: max |dlogits| " << dl << " (max |logit| " << f32.logits.abs().max().item<double>()
            << "), max |dhidden| " << dh << " (max |hidden| " << sh << ")\n";
  EXPECT_LT(dl, 0.05);
  EXPECT_LT(dh, 0.05 * sh);
  EXPECT_TRUE(torch::equal(bf.logits.argmax(-1), f32.logits.argmax(-1)) ||
              (bf.logits.argmax(-1) != f32.logits.argmax(-1)).sum().item<int64_t>() <= 1);
}

TEST(Llama, ResizeTokenEmbeddingsKeepsOldRowsAndDrawsNewOnes) {
  torch::manual_seed(5);
  rd::LlamaForCausalLM m(rd::LlamaConfig::tiny(2000, 32, 1, 4));
  torch::Tensor e0 = m->model->embed_tokens->weight.detach().clone();
  torch::Tensor h0 = m->lm_head->weight.detach().clone();
  m->resize_token_embeddings(2003 + 3000);
  EXPECT_EQ(m->config().vocab_size, 5003);
  EXPECT_EQ(m->model->embed_tokens->weight.sizes(), (std::vector<int64_t>{5003, 32}));
  EXPECT_EQ(m->lm_head->weight.sizes(), (std::vector<int64_t>{5003, 32}));
  EXPECT_TRUE(torch::equal(m->model->embed_tokens->weight.narrow(0, 0, 2000), e0));
  EXPECT_TRUE(torch::equal(m->lm_head->weight.narrow(0, 0, 2000), h0));
  torch::Tensor fresh = m->model->embed_tokens->weight.narrow(0, 2000, 3003);
  EXPECT_NEAR(fresh.std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(fresh.mean().item<double>(), 0.0, 0.001);
  EXPECT_NEAR(m->lm_head->weight.narrow(0, 2000, 3003).std().item<double>(), 0.02, 0.001);
  // Names and the parameter list are unchanged; the model runs with new ids.
  std::set<std::string> names;
  for (const auto& p : m->named_parameters()) names.insert(p.key());
  EXPECT_TRUE(names.count("model.embed_tokens.weight") && names.count("lm_head.weight"));
  rd::LlamaInputs in;
  in.input_ids = torch::tensor({{1, 4999, 5002}}, torch::kInt64);
  EXPECT_EQ(m->forward(in).logits.size(2), 5003);
  in.input_ids = torch::tensor({{5003}}, torch::kInt64);
  EXPECT_THROW(m->forward(in), rd::Error);
  // Before resizing the pad row (id 0) gets no gradient (padding_idx); after
  // HF 4.31's resize it does.
  rd::LlamaForCausalLM fresh_model(rd::LlamaConfig::tiny(50, 32, 1, 4));
  auto pad_row_grad = [](rd::LlamaForCausalLM& mm) {
    mm->zero_grad();
    rd::LlamaInputs li;
    li.input_ids = torch::tensor({{0, 5, 0, 7}}, torch::kInt64);
    li.labels = torch::tensor({{0, 5, 0, 7}}, torch::kInt64);
    mm->forward(li).loss.backward();
    return mm->model->embed_tokens->weight.grad()[0].abs().sum().item<double>();
  };
  EXPECT_EQ(pad_row_grad(fresh_model), 0.0);
  fresh_model->resize_token_embeddings(53);
  EXPECT_GT(pad_row_grad(fresh_model), 0.0);
}
