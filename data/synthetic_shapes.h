// The embedded default's dataset: coloured shapes on textured backgrounds,
// written in the real raw layouts so that read_pack reads them exactly as it
// reads the public datasets (spec/data.md section 1):
//   reason_seg/ReasonSeg/{train,val}/*.jpg + LabelMe .json (reasoning text,
//                                    false-premise QA)
//   refer_seg/refcoco/               instances.json + refs(unc_exclude_unified).p
//   refer_seg/R-refcoco/             same images, with false-premise sentences
//   refer_seg/images/mscoco/images/train2014/*.jpg
//   mapillary/                       config_v2.0.json + label-map PNGs
//   llava_dataset/llava_instruct_150k.json + coco/train2017/*.jpg
// Referring text names colour and shape ("the red triangle"); reasoning text
// describes it ("the shape with three corners").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rd {

struct SynthOptions {
  std::string out_dir;
  int64_t train_images = 400;  // per dataset family
  int64_t val_images = 50;     // ReasonSeg val
  int64_t seed = 1;
  int min_side = 96, max_side = 160;
};

struct SynthShape {
  int kind;   // index into synth_kinds()
  int color;  // index into synth_colors()
  double cx, cy, radius, rotation;
  std::vector<std::pair<double, double>> polygon() const;  // image coordinates
};

struct SynthImage {
  int width = 0, height = 0;
  std::vector<SynthShape> shapes;  // painted in order (later on top)
  std::vector<uint8_t> rgb;        // H x W x 3
  std::vector<uint8_t> label_map;  // H x W: 0 background, 1 + shape kind
};

const std::vector<std::string>& synth_kinds();   // triangle, square, ...
const std::vector<std::string>& synth_colors();  // red, green, ...
std::string describe_kind(int kind);             // "the shape with three corners"

// One image with 1..3 shapes of distinct kinds and colours.
SynthImage make_synth_image(uint64_t seed, int min_side, int max_side);

// Writes every dataset of the layout above under options.out_dir and the
// text corpus (one sentence per line) used to train the tokenizer.
struct SynthSummary {
  int64_t images = 0, files = 0;
  std::string corpus_path;
};
SynthSummary write_synthetic_datasets(const SynthOptions& options);

}  // namespace rd
