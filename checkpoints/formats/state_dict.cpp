#include "checkpoints/formats/state_dict.h"

#include "common/error.h"

namespace rd {

torch::Dtype dtype_from_safetensors(const std::string& s, const std::string& context) {
  if (s == "F32") return torch::kFloat32;
  if (s == "F16") return torch::kFloat16;
  if (s == "BF16") return torch::kBFloat16;
  if (s == "F64") return torch::kFloat64;
  if (s == "I64") return torch::kInt64;
  if (s == "I32") return torch::kInt32;
  if (s == "I16") return torch::kInt16;
  if (s == "I8") return torch::kInt8;
  if (s == "U8") return torch::kUInt8;
  if (s == "BOOL") return torch::kBool;
  fail(context, ": unsupported dtype '", s, "'");
}

std::string dtype_to_safetensors(torch::Dtype d) {
  switch (d) {
    case torch::kFloat32: return "F32";
    case torch::kFloat16: return "F16";
    case torch::kBFloat16: return "BF16";
    case torch::kFloat64: return "F64";
    case torch::kInt64: return "I64";
    case torch::kInt32: return "I32";
    case torch::kInt16: return "I16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kBool: return "BOOL";
    default: fail("no safetensors dtype for torch dtype ", c10::toString(d));
  }
}

size_t dtype_size(torch::Dtype d) { return c10::elementSize(d); }

}  // namespace rd
