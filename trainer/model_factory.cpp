#include "trainer/model_factory.h"

namespace rd {

TextEncoder text_encoder(const Tokenizer& tok) {
  TextEncoder enc;
  enc.encode = [&tok](const std::string& s) { return tok.encode(s); };
  enc.encode_with_image = [&tok](const std::string& s) { return tok.encode_with_image(s); };
  enc.pad_id = tok.pad_id();
  enc.seg_id = tok.seg_id();
  return enc;
}

TrainLoaderConfig train_loader_config(const TrainConfig& c, int rank, int world, const ReadModelConfig& model) {
  TrainLoaderConfig l = loader_config(c.data, static_cast<uint64_t>(c.train.seed));  // data/data_config.h
  l.sam.target_length = static_cast<int>(model.sam.img_size);
  l.clip.shortest_edge = static_cast<int>(model.llava.vision.image_size);
  l.clip.crop_height = l.clip.crop_width = static_cast<int>(model.llava.vision.image_size);
  l.text.model_max_length = c.model.model_max_length;
  l.text.num_patches = model.num_image_tokens();
  l.text.truncation = Truncation::kReservePatches;
  l.micro_batch = c.train.micro_batch_size;
  l.rank = rank;
  l.world = world;
  l.samples_per_epoch = c.samples_per_epoch(world);
  return l;
}

}  // namespace rd
