#include "sharding/flat_buffer.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace rd {

PartitionLayout PartitionLayout::make(
    const std::vector<std::pair<std::string, std::vector<int64_t>>>& params, int world_size) {
  READ_CHECK(world_size >= 1, "partition layout: world size ", world_size);
  PartitionLayout l;
  l.world_size = world_size;
  for (const auto& [name, shape] : params) {
    FlatParam p{name, shape, 1, l.total_numel};
    for (int64_t d : shape) p.numel *= d;
    for (const FlatParam& q : l.params)
      READ_CHECK(q.name != name, "partition layout: parameter '", name, "' appears twice");
    l.total_numel += p.numel;
    l.params.push_back(std::move(p));
  }
  l.partition_numel = (l.total_numel + world_size - 1) / world_size;
  l.padded_numel = l.partition_numel * world_size;
  return l;
}

PartitionLayout PartitionLayout::resharded(int new_world_size) const {
  std::vector<std::pair<std::string, std::vector<int64_t>>> ps;
  for (const FlatParam& p : params) ps.emplace_back(p.name, p.shape);
  return make(ps, new_world_size);
}

const FlatParam& PartitionLayout::param(const std::string& name) const {
  for (const FlatParam& p : params)
    if (p.name == name) return p;
  fail("partition layout has no parameter '", name, "'");
}

bool PartitionLayout::operator==(const PartitionLayout& o) const {
  return world_size == o.world_size && total_numel == o.total_numel &&
         padded_numel == o.padded_numel && partition_numel == o.partition_numel &&
         params == o.params;
}

uint64_t PartitionLayout::fingerprint() const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&h](const void* data, size_t n) {
    for (size_t i = 0; i < n; ++i)
      h = (h ^ static_cast<const unsigned char*>(data)[i]) * 1099511628211ull;
  };
  mix(&world_size, sizeof world_size);
  for (const FlatParam& p : params) {
    mix(p.name.data(), p.name.size() + 1);
    for (int64_t d : p.shape) mix(&d, sizeof d);
    mix("|", 1);
  }
  return h;
}

std::string PartitionLayout::to_json() const {
  nlohmann::json j;
  j["world_size"] = world_size;
  j["total_numel"] = total_numel;
  j["padded_numel"] = padded_numel;
  j["partition_numel"] = partition_numel;
  j["params"] = nlohmann::json::array();
  for (const FlatParam& p : params)
    j["params"].push_back(
        {{"name", p.name}, {"shape", p.shape}, {"offset", p.offset}, {"numel", p.numel}});
  return j.dump();
}

PartitionLayout PartitionLayout::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
    std::vector<std::pair<std::string, std::vector<int64_t>>> ps;
    for (const auto& p : j.at("params"))
      ps.emplace_back(p.at("name").get<std::string>(), p.at("shape").get<std::vector<int64_t>>());
    PartitionLayout l = make(ps, j.at("world_size").get<int>());
    // The stored offsets and sizes must be the ones this code derives.
    for (size_t i = 0; i < l.params.size(); ++i) {
      const auto& p = j["params"][i];
      READ_CHECK(p.at("offset").get<int64_t>() == l.params[i].offset &&
                     p.at("numel").get<int64_t>() == l.params[i].numel,
                 "partition layout: parameter '", l.params[i].name, "' stored at offset ",
                 p.at("offset").get<int64_t>(), " size ", p.at("numel").get<int64_t>(),
                 ", expected offset ", l.params[i].offset, " size ", l.params[i].numel);
    }
    READ_CHECK(j.at("padded_numel").get<int64_t>() == l.padded_numel &&
                   j.at("partition_numel").get<int64_t>() == l.partition_numel,
               "partition layout: stored padded/partition sizes disagree with its parameters");
    return l;
  } catch (const nlohmann::json::exception& e) {
    fail("partition layout JSON: ", e.what());
  }
}

void gather_flat(const PartitionLayout& layout, const std::vector<torch::Tensor>& src,
                 int64_t begin, torch::Tensor dst) {
  READ_CHECK(src.size() == layout.params.size(), "gather_flat: ", src.size(),
             " tensors for a layout of ", layout.params.size());
  READ_CHECK(dst.dim() == 1 && dst.is_contiguous(), "gather_flat: dst must be 1-D contiguous");
  const int64_t end = begin + dst.numel();
  bool zeroed = false;
  if (end > layout.total_numel || begin < 0) {  // padding (or a range outside the parameters)
    dst.zero_();
    zeroed = true;
  }
  torch::NoGradGuard no_grad;
  layout.for_each_piece(begin, end, [&](size_t i, int64_t at, int64_t flat, int64_t n) {
    torch::Tensor out = dst.narrow(0, flat - begin, n);
    if (src[i].defined())
      out.copy_(src[i].reshape(-1).narrow(0, at, n));
    else if (!zeroed)
      out.zero_();
  });
}

void scatter_flat(const PartitionLayout& layout, const torch::Tensor& src, int64_t begin,
                  const std::vector<torch::Tensor>& dst) {
  READ_CHECK(dst.size() == layout.params.size(), "scatter_flat: ", dst.size(),
             " tensors for a layout of ", layout.params.size());
  torch::NoGradGuard no_grad;
  layout.for_each_piece(begin, begin + src.numel(),
                        [&](size_t i, int64_t at, int64_t flat, int64_t n) {
                          READ_CHECK(dst[i].is_contiguous(), "scatter_flat: '",
                                     layout.params[i].name, "' is not contiguous");
                          dst[i].view(-1).narrow(0, at, n).copy_(src.narrow(0, flat - begin, n));
                        });
}

}  // namespace rd
