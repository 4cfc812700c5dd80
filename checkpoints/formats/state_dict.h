// StateDict: named tensors, the currency of every weight file format.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace rd {

using StateDict = std::map<std::string, torch::Tensor>;

// safetensors dtype strings <-> torch dtypes (F32, F16, BF16, I64, I32, U8, BOOL).
torch::Dtype dtype_from_safetensors(const std::string& s, const std::string& context);
std::string dtype_to_safetensors(torch::Dtype d);
size_t dtype_size(torch::Dtype d);

}  // namespace rd
