#include "model/activation_checkpoint.h"

#include <ATen/core/Generator.h>
#include <torch/csrc/autograd/custom_function.h>

#include <mutex>

#include "common/error.h"

namespace rd {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What backward needs besides x: the block, its parameters (the very tensors
// the recomputed graph reads, so autograd::grad can find them) and the RNG
// state at forward time.
struct CheckpointState : torch::CustomClassHolder {
  CheckpointFn fn;
  std::vector<torch::Tensor> params;
  torch::Tensor rng_state;
  c10::Device device = c10::Device(c10::kCPU);
};

at::Generator generator_for(const c10::Device& d) { return at::globalContext().defaultGenerator(d); }

torch::Tensor get_rng(const c10::Device& d) {
  at::Generator g = generator_for(d);
  std::lock_guard<std::mutex> lock(g.mutex());
  return g.get_state();
}

void set_rng(const c10::Device& d, const torch::Tensor& state) {
  at::Generator g = generator_for(d);
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
}

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::TensorList params,
                               c10::intrusive_ptr<CheckpointState> state) {
    (void)params;  // the same tensors are in `state`; passed here so autograd routes their gradients
    state->device = x.device();
    state->rng_state = get_rng(state->device);
    torch::Tensor out = state->fn(x);
    ctx->save_for_backward({x});
    ctx->saved_data["state"] = c10::IValue::make_capsule(state);
    ctx->saved_data["x_requires_grad"] = x.requires_grad();
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto state = c10::static_intrusive_pointer_cast<CheckpointState>(ctx->saved_data["state"].toCapsule());
    const bool x_grad = ctx->saved_data["x_requires_grad"].toBool();
    torch::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(x_grad);

    // Recompute with the forward-time RNG state (fork_rng), then restore.
    torch::Tensor now = get_rng(state->device);
    set_rng(state->device, state->rng_state);
    torch::Tensor out;
    {
      torch::AutoGradMode enable(true);
      out = state->fn(x);
    }
    set_rng(state->device, now);

    std::vector<torch::Tensor> inputs;
    if (x_grad) inputs.push_back(x);
    for (const auto& p : state->params) inputs.push_back(p);
    variable_list grads;
    if (out.requires_grad() && !inputs.empty()) {
      grads = torch::autograd::grad({out}, inputs, {grad_out[0]}, /*retain_graph=*/false,
                                    /*create_graph=*/false, /*allow_unused=*/true);
    } else {
      grads.assign(inputs.size(), torch::Tensor());
    }
    variable_list result;
    size_t i = 0;
    result.push_back(x_grad ? grads[i++] : torch::Tensor());
    for (size_t k = 0; k < state->params.size(); ++k) result.push_back(grads[i++]);
    result.push_back(torch::Tensor());  // the state argument
    return result;
  }
};

}  // namespace

torch::Tensor checkpoint(CheckpointFn fn, const torch::Tensor& x, const std::vector<torch::Tensor>& params) {
  READ_CHECK(fn, "checkpoint: empty function");
  auto state = c10::make_intrusive<CheckpointState>();
  state->fn = std::move(fn);
  for (const auto& p : params)
    if (p.requires_grad()) state->params.push_back(p);
  return CheckpointFunction::apply(x, torch::TensorList(state->params), state);
}

}  // namespace rd
