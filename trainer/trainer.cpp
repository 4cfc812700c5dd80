#include "trainer/trainer.h"

#include <chrono>
#include <filesystem>

#include "checkpoints/checkpoint_model.h"
#include "common/error.h"
#include "common/logging.h"
#include "data/conversation.h"
#include "trainer/model_factory.h"

namespace rd {
namespace fs = std::filesystem;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The global CPU generator's state (LoRA dropout, new-row init), which
// checkpoints keep per rank.
torch::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}
void set_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}
}  // namespace

Trainer::Trainer(const TrainConfig& config, Communicator& comm)
    : config_(config), comm_(comm), device_(comm.device()), tokenizer_(Tokenizer::from_folder(config.model.tokenizer_dir)) {
  torch::manual_seed(config.train.seed);  // same initial weights on every rank (also broadcast by ZeRO)
  model_ = make_read_model(config.model, tokenizer_);
  // Working weights in the compute precision (the reference's DeepSpeed bf16
  // engine casts the whole module); the ZeRO optimizer keeps fp32 masters.
  model_->to(device_, config.model.precision == "bf16" ? torch::kBFloat16 : torch::kFloat32);
  auto params = model_->set_trainable();
  ZeroConfig zc;
  zc.stage = static_cast<int>(config.optim.zero_stage);
  zc.bucket_elements = config.optim.bucket_elements;
  zc.adamw.beta1 = config.optim.betas[0];
  zc.adamw.beta2 = config.optim.betas[1];
  zc.adamw.eps = config.optim.eps;
  zc.adamw.weight_decay = config.optim.weight_decay;
  zc.max_grad_norm = config.optim.grad_clip;
  optimizer_ = std::make_unique<ZeroOptimizer>(comm_, params, zc);
  schedule_ = LrSchedule::make(config.optim.schedule, config.optim.lr, config.optim.warmup_steps, config.total_steps());

  checkpoints_ = std::make_unique<CheckpointManager>(config.train.output_dir + "/checkpoints", comm,
                                                     static_cast<int>(config.train.keep_last));
  if (config.train.save_best)
    best_ = std::make_unique<CheckpointManager>(config.train.output_dir + "/best", comm, /*keep_last=*/1);
  SamplerState start = resume();
  TrainLoaderConfig lc = train_loader_config(config, comm.rank(), comm.world_size(),
                                             model_->read_config());
  loader_ = std::make_unique<TrainLoader>(lc, text_encoder(tokenizer_), start);
  validation_ = std::make_unique<ValidationSet>(config, model_->read_config(), text_encoder(tokenizer_));
  if (comm.rank() == 0) log_ = std::make_unique<MetricsLog>(config.train.output_dir);
  int64_t trainable = 0, total = 0;
  for (const auto& p : model_->parameters()) total += p.numel();
  for (const auto& [n, p] : params) trainable += p.numel();
  LOG(INFO) << "model: " << total << " parameters, " << trainable << " trainable ("
            << params.size() << " tensors); ZeRO stage " << zc.stage << " on " << comm.world_size()
            << " rank(s); optimizer state " << optimizer_->memory().optimizer_states() << " bytes on this rank";
}

SamplerState Trainer::resume() {
  std::optional<CheckpointLoad> c = checkpoints_->load_latest(optimizer_->layout());
  if (!c) return {};
  load_trainable_weights(*model_, c->trainable, c->dir);
  optimizer_->load_local_state(c->shard);
  if (c->rng_state.defined()) set_cpu_rng_state(c->rng_state);
  step_ = c->step;
  best_giou_ = c->trainer_state.value("best_giou", -1.0);
  SamplerState s{c->trainer_state.at("epoch").get<int64_t>(), c->trainer_state.at("cursor").get<int64_t>()};
  LOG(INFO) << "resumed from " << c->dir << " at step " << step_ << (c->resharded ? " (re-sharded)" : "");
  return s;
}

void Trainer::save_checkpoint(CheckpointManager& to) {
  CheckpointSave s;
  s.step = step_;
  SamplerState st = loader_->state();
  s.trainer_state = {{"epoch", st.epoch}, {"cursor", st.cursor}, {"best_giou", best_giou_},
                     {"lr", schedule_.at(step_)}};
  for (const auto& [name, p] : model_->trainable_parameters()) s.trainable[name] = p;
  s.shard = optimizer_->local_state();
  s.rng_state = cpu_rng_state();
  s.config_yaml = "# " + config_.path + " as this run read it (command-line overrides applied)\n" + config_.yaml;
  s.tokenizer_dir = config_.model.tokenizer_dir;
  to.save(s);
}

Trainer::StepStats Trainer::train_step() {
  StepStats s;
  model_->train();
  // GPU dropout draws from the device generator, whose state checkpoints do
  // not hold: seed it from (seed, step, rank) so a resumed run draws the same.
  if (device_.is_cuda())
    torch::cuda::manual_seed(static_cast<uint64_t>(config_.train.seed) * 1000003u +
                             static_cast<uint64_t>(step_) * comm_.world_size() + comm_.rank());
  const int64_t accum = config_.train.grad_accumulation;
  // Loss parts summed on the device (no host sync per micro-step), averaged
  // over micro-steps and ranks once, for the log line.
  torch::Tensor parts = torch::zeros({4}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
  for (int64_t m = 0; m < accum; ++m) {
    ReadBatch batch = loader_->next().to(device_);
    ReadForwardOutput out = model_->forward_batch(batch);
    (out.losses.loss / static_cast<double>(accum)).backward();
    optimizer_->accumulate();
    const ReadLosses& l = out.losses;
    parts += torch::stack({l.loss, l.ce_loss, l.mask_bce_loss, l.mask_dice_loss}).detach().to(torch::kFloat64);
  }
  s.lr = schedule_.at(step_);
  ZeroStepResult r = optimizer_->step(s.lr);
  optimizer_->zero_grad();
  s.grad_norm = r.grad_norm;
  comm_.all_reduce(parts);
  parts = parts.cpu() / static_cast<double>(accum * comm_.world_size());
  s.loss = parts[0].item<double>(), s.ce = parts[1].item<double>();
  s.bce = parts[2].item<double>(), s.dice = parts[3].item<double>();
  ++step_;
  return s;
}

void Trainer::log_step(const StepStats& s, double seconds) {
  if (!log_) return;
  const int64_t total = config_.total_steps();
  const double samples = config_.train.micro_batch_size * config_.train.grad_accumulation * comm_.world_size();
  char line[320];
  std::snprintf(line, sizeof line,
                "step %lld/%lld  loss %.4f (ce %.4f bce %.4f dice %.4f)  lr %.3g  grad_norm %.3f  %.1f samples/s  ETA %.0fs",
                static_cast<long long>(step_), static_cast<long long>(total), s.loss, s.ce, s.bce, s.dice, s.lr,
                s.grad_norm, samples / seconds, seconds * (total - step_));
  if (step_ % config_.train.log_every == 0 || step_ == total) LOG(INFO) << line;
  log_->scalars(step_, {{"train/loss", s.loss},
                        {"train/ce_loss", s.ce},
                        {"train/mask_bce_loss", s.bce},
                        {"train/mask_dice_loss", s.dice},
                        {"train/lr", s.lr},
                        {"train/grad_norm", s.grad_norm},
                        {"train/samples_per_second", samples / seconds}});
}

SegmentationMetrics Trainer::validate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  SegmentationMetrics local;
  for (int64_t i = comm_.rank(); i < validation_->size(); i += comm_.world_size()) {
    ValidationItem item = validation_->get(i);
    ReadForwardOutput out = model_->forward_batch(item.batch.to(device_));
    const torch::Tensor logits = out.pred_masks.at(0).cpu();
    for (int64_t q = 0; q < logits.size(0); ++q) local.add(logits[q].gt(0), item.ground_truth[q]);
  }
  torch::Tensor v = torch::tensor(local.to_vector(), torch::kFloat64).to(device_);
  comm_.all_reduce(v);
  v = v.cpu();
  std::vector<double> vals(v.data_ptr<double>(), v.data_ptr<double>() + 4);
  return SegmentationMetrics::from_vector(vals);
}

void Trainer::report(const SegmentationMetrics& m) {
  LOG(INFO) << "validation at step " << step_ << ": gIoU " << m.giou() << " cIoU " << m.ciou() << " ("
            << m.queries() << " queries)";
  if (log_) log_->scalars(step_, {{"val/giou", m.giou()}, {"val/ciou", m.ciou()}});
  if (m.giou() <= best_giou_) return;
  best_giou_ = m.giou();
  if (log_) log_->note("best", {{"step", step_}, {"giou", m.giou()}, {"ciou", m.ciou()}});
  if (best_ && step_ > 0) {
    save_checkpoint(*best_);
    LOG(INFO) << "best gIoU so far: checkpoint in " << config_.train.output_dir << "/best";
  }
}

SegmentationMetrics Trainer::run() {
  const int64_t total = config_.total_steps();
  const int64_t first_step = step_;
  const SegmentationMetrics first = validate();
  report(first);
  if (step_ >= total) {
    LOG(INFO) << "already trained to step " << step_ << " (" << config_.train.output_dir
              << "/checkpoints/latest); nothing to do";
    return first;
  }
  while (step_ < total) {
    auto t0 = std::chrono::steady_clock::now();
    StepStats s = train_step();
    log_step(s, seconds_since(t0));
    if (config_.train.val_every > 0 && step_ % config_.train.val_every == 0 && step_ < total) report(validate());
    if (config_.train.ckpt_every > 0 && step_ % config_.train.ckpt_every == 0 && step_ < total)
      save_checkpoint(*checkpoints_);
  }
  SegmentationMetrics final_metrics = validate();
  report(final_metrics);  // before the last save, so that it holds the final best gIoU
  save_checkpoint(*checkpoints_);
  LOG(INFO) << "validation gIoU " << first.giou() << " at step " << first_step << " -> " << final_metrics.giou()
            << " at step " << step_ << " (cIoU " << first.ciou() << " -> " << final_metrics.ciou() << ")";
  return final_metrics;
}

}  // namespace rd
