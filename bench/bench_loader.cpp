// Loader throughput on COCO-like 640x480 JPEGs generated at startup
// (TurboJPEG, quality 90, 4:2:0):
//  1. the training loader itself (data/train_loader.h): the JPEGs are packed
//     as a ReasonSeg-layout and a LLaVA-Instruct-layout dataset (read_pack's
//     pack_dataset), mixed 1:1, and TrainLoader makes micro-batches of
//     decorated, tokenised (the fixture tokenizer), decoded, SAM (1024) + CLIP
//     (336) preprocessed, collated samples; against decode-only throughput
//     of the same JPEGs through the PrefetchLoader with as many workers;
//  2. per-stage single-thread times;
//  3. decode only vs decode + SAM + CLIP through the PrefetchLoader;
//  4. large (4000x3000, 2250x1500) images with and without DCT-scaled decoding;
//  5. READ's mix: every family of the synthetic layout (data/synthetic_shapes.h:
//     ReasonSeg polygons, refCOCO / R-refCOCO RLE and polygons, Mapillary
//     label-map PNGs, LLaVA-Instruct) at READ's ratios, images 480..640 px a
//     side, against decode-only of exactly the JPEGs the loader draws.
// Rates are given per second of wall time and per second of process CPU time
// (robust on a shared machine).
//
//   bench_loader [workers=2] [items=400] [tokenizer folder] [train|mix]
// ("train": only part 1, "mix": only part 5)
// (run from the project root: the default tokenizer is the fixture's,
// $READ_FIXTURES or ../shared/fixtures, /tokenizer_llama_bpe1000/tokenizer)
#include <turbojpeg.h>
#include <unistd.h>

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "data/clip_preprocess.h"
#include "data/jpeg_decode.h"
#include "data/pack.h"
#include "data/prefetch_loader.h"
#include "data/sam_preprocess.h"
#include "data/synthetic_shapes.h"
#include "data/train_loader.h"
#include "trainer/model_factory.h"
#include "model/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
// CPU seconds of this thread / of the whole process: on a shared machine the
// wall clock also counts other people's work.
double cpu_seconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Photo-like content: smooth illumination, overlapping shapes, fine texture
// and sensor noise (file sizes like COCO's: ~100-200 KB at 640x480, q90).
std::vector<uint8_t> synth_jpeg(int h, int w, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::normal_distribution<float> noise(0.f, 6.f);
  std::vector<float> img(size_t(h) * w * 3);
  float fx[3], fy[3], ph[3];
  for (int c = 0; c < 3; ++c) fx[c] = 2 + 6 * u(rng), fy[c] = 2 + 6 * u(rng), ph[c] = 6.28f * u(rng);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img[(size_t(y) * w + x) * 3 + c] =
            128 + 60 * std::sin(fx[c] * x / w + ph[c]) * std::cos(fy[c] * y / h);
  for (int s = 0; s < 40; ++s) {  // shapes with a texture of their own
    const int cx = int(u(rng) * w), cy = int(u(rng) * h), r = int(10 + u(rng) * w / 6);
    const float col[3] = {255 * u(rng), 255 * u(rng), 255 * u(rng)}, tf = 0.1f + u(rng);
    for (int y = std::max(0, cy - r); y < std::min(h, cy + r); ++y)
      for (int x = std::max(0, cx - r); x < std::min(w, cx + r); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r || s % 2)
          for (int c = 0; c < 3; ++c)
            img[(size_t(y) * w + x) * 3 + c] = col[c] + 25 * std::sin(tf * x + 0.7f * y);
  }
  std::vector<uint8_t> rgb(img.size());
  for (size_t i = 0; i < img.size(); ++i)
    rgb[i] = uint8_t(std::clamp(img[i] + noise(rng), 0.f, 255.f));
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  if (tjCompress2(tj, rgb.data(), w, 0, h, TJPF_RGB, &buf, &size, TJSAMP_420, 90, 0) != 0) {
    std::fprintf(stderr, "tjCompress2: %s\n", tjGetErrorStr2(tj));
    std::exit(1);
  }
  std::vector<uint8_t> out(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  return out;
}

struct Preprocessed {
  torch::Tensor sam, clip;
  rd::SamMaskShape shape;
};

Preprocessed preprocess(const std::vector<uint8_t>& jpeg, const rd::DecodeOptions& decode) {
  static const rd::SamPreprocessConfig sam_cfg;
  static const rd::ClipPreprocessConfig clip_cfg;
  rd::DecodedImage d = rd::decode_image(jpeg.data(), jpeg.size(), "bench", decode);
  rd::SamInput sam = rd::sam_preprocess(d.image, sam_cfg, d.orig_height, d.orig_width);
  torch::Tensor clip = rd::clip_preprocess(d.image, clip_cfg, d.orig_height, d.orig_width);
  return {sam.pixel_values, clip, sam.mask_shape};
}

struct Rate {
  double wall = 0;    // samples per second of wall time
  double cpu = 0;     // samples per second of process CPU time
  double faults = 0;  // minor page faults per sample
};

long minor_faults() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

template <typename T>
Rate loader_rate(const std::function<T(int64_t)>& produce, int workers, int items) {
  rd::PrefetchOptions o;
  o.num_workers = workers;
  o.max_in_flight = 2 * workers + 2;
  o.end = items;
  rd::PrefetchLoader<T> loader(produce, o);
  // The first few items warm up allocators and thread-local decoders.
  for (int i = 0; i < std::min(8, items / 4); ++i) loader.next();
  const int64_t first = loader.next_index();
  auto t0 = Clock::now();
  const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const long f0 = minor_faults();
  while (auto item = loader.next()) {
  }
  const double n = double(items - first);
  return {n / seconds_since(t0), n / (cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0),
          double(minor_faults() - f0) / n};
}

template <typename F>
double ms_per_call(F&& f, int reps) {  // thread CPU time
  f();
  const double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  for (int i = 0; i < reps; ++i) f();
  return 1e3 * (cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0) / reps;
}

// A raw dataset root holding the JPEGs twice: as ReasonSeg (a polygon and
// two queries per image) and as LLaVA-Instruct (a two-round conversation).
void write_raw_root(const std::filesystem::path& root, const std::vector<std::vector<uint8_t>>& jpegs,
                    const std::vector<std::pair<int, int>>& sizes) {
  namespace fs = std::filesystem;
  const fs::path rs = root / "reason_seg/ReasonSeg/train", coco = root / "coco/train2017";
  fs::create_directories(rs);
  fs::create_directories(coco);
  fs::create_directories(root / "llava_dataset");
  nlohmann::json vqa = nlohmann::json::array();
  for (size_t i = 0; i < jpegs.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%012zu", i);
    for (const fs::path& p : {rs / (std::string(name) + ".jpg"), coco / (std::string(name) + ".jpg")})
      std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(jpegs[i].data()), jpegs[i].size());
    const double h = sizes[i].first, w = sizes[i].second;
    nlohmann::json labelme = {
        {"shapes",
         {{{"label", "target"},
           {"points", {{0.2 * w, 0.2 * h}, {0.7 * w, 0.25 * h}, {0.6 * w, 0.8 * h}, {0.25 * w, 0.6 * h}}}}}},
        {"text", {"the thing someone would sit on to rest", "the object closest to the camera"}},
        {"is_sentence", true}};
    std::ofstream(rs / (std::string(name) + ".json")) << labelme.dump();
    vqa.push_back({{"id", name},
                   {"image", std::string(name) + ".jpg"},
                   {"conversations",
                    {{{"from", "human"}, {"value", "<image>\nWhat is on the table?"}},
                     {{"from", "gpt"}, {"value", "There is a blue mug on the wooden table, next to a plate."}},
                     {{"from", "human"}, {"value", "What is the person doing?"}},
                     {{"from", "gpt"}, {"value", "The person is standing on the left, next to the table."}}}}});
  }
  std::ofstream(root / "llava_dataset/llava_instruct_150k.json") << vqa.dump();
}

// The loader settings of both TrainLoader parts: packed_dir, mixture,
// `workers` threads, micro-batch 2, the project's templates.
rd::TrainLoaderConfig bench_loader_config(const std::string& packed_dir, std::vector<rd::FamilySpec> mixture,
                                          int workers) {
  rd::TrainLoaderConfig lc;
  lc.packed_dir = packed_dir;
  lc.mixture = std::move(mixture);
  lc.templates_path = "configs/templates/read.yaml";
  lc.micro_batch = 2;
  lc.workers = workers;
  lc.prefetch = 2 * workers + 2;
  return lc;
}

Rate train_loader_rate(const rd::TrainLoaderConfig& config, const rd::TextEncoder& enc, int items) {
  rd::TrainLoader loader(config, enc);
  const int batches = std::max(4, items / int(config.micro_batch));
  for (int i = 0; i < 2; ++i) loader.next();  // warm-up
  auto t0 = Clock::now();
  const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const long f0 = minor_faults();
  for (int i = 0; i < batches; ++i) loader.next();
  const double n = double(batches) * double(config.micro_batch);
  return {n / seconds_since(t0), n / (cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0),
          double(minor_faults() - f0) / n};
}

// Part 1: packs `jpegs` (sizes HxW) and runs the TrainLoader over them,
// against decode-only of the same JPEGs; both DCT settings when they differ.
void train_loader_part(const std::vector<std::vector<uint8_t>>& jpegs, const std::vector<std::pair<int, int>>& sizes,
                       const std::string& label, const rd::TextEncoder& enc, int workers, int items,
                       bool stage_times) {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("bench_loader_" + std::to_string(getpid()));
  fs::remove_all(base);
  write_raw_root(base / "D", jpegs, sizes);
  rd::PackOptions po;
  po.root = (base / "D").string();
  po.out = (base / "packed").string();
  po.progress = false;
  for (const char* ds : {"ReasonSeg", "llava_instruct_150k"})
    rd::pack_dataset(rd::find_pack_dataset(ds), "train", po);
  rd::TrainLoaderConfig lc =
      bench_loader_config(po.out, {{"reason_seg", 1, {"ReasonSeg"}}, {"vqa", 1, {"llava_instruct_150k"}}}, workers);
  if (stage_times) {  // single-thread times of the loader's own steps
    const rd::SampleSource src(lc, enc);
    int64_t k = 0;
    const int reps = std::max(4, 30000 / (sizes[0].first * sizes[0].second / 1000));
    const double decorate = ms_per_call([&] { src.decorate(0, k++); }, reps);
    const double load = ms_per_call([&] { src.load(0, k++); }, reps);
    const double batch = ms_per_call(
        [&] {
          std::vector<rd::LoadedSample> b;
          b.push_back(src.load(0, k++));
          b.push_back(src.load(0, k++));
          src.collate(std::move(b));
        },
        std::max(2, reps / 2));
    std::printf("single thread, train loader (%s): decorate %.2f ms, load (decorate + text budget + decode + "
                "SAM resize + CLIP resize/crop) %.2f ms per sample; collate (normalise into the batch, "
                "tokens, labels, masks) %.2f ms per micro-batch of 2\n",
                label.c_str(), decorate, load, batch - 2 * load);
  }
  const int n = int(jpegs.size());
  const Rate dec = loader_rate<rd::RgbImage>(
      [&](int64_t i) {
        const auto& j = jpegs[size_t(i % n)];
        return rd::decode_image(j.data(), j.size(), "bench").image;
      },
      workers, items);
  std::printf("TrainLoader on %s (ReasonSeg + LLaVA-Instruct 1:1, micro-batch %lld, %d workers, prefetch %d), "
              "%d samples, samples/s wall (per CPU-second):\n",
              label.c_str(), static_cast<long long>(lc.micro_batch), workers, lc.prefetch, items);
  std::printf("  decode only (full resolution, PrefetchLoader):  %7.1f (%7.1f)\n", dec.wall, dec.cpu);
  const bool large = std::max(sizes[0].first, sizes[0].second) >= 2048;
  for (bool dct : large ? std::vector<bool>{false, true} : std::vector<bool>{true}) {
    lc.dct_scaled_decode = dct;
    const Rate train = train_loader_rate(lc, enc, items);
    std::printf("  decorated + preprocessed + collated%s: %7.1f (%7.1f)  ratio %.2f wall, %.2f CPU; %.0f page "
                "faults per sample\n",
                !large ? "            " : dct ? ", DCT-scaled" : ", full decode", train.wall, train.cpu,
                train.wall / dec.wall, train.cpu / dec.cpu, train.faults);
  }
  fs::remove_all(base);
}

// Part 5: READ's family mix on the synthetic datasets. The decode-only
// baseline decodes the JPEGs of the very samples the loader makes, in order.
void read_mix_part(const rd::TextEncoder& enc, int workers, int items) {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("bench_loader_mix_" + std::to_string(getpid()));
  fs::remove_all(base);
  rd::SynthOptions so;
  so.out_dir = (base / "D").string();
  so.train_images = 200;
  so.val_images = 1;
  so.min_side = 480, so.max_side = 640;
  rd::write_synthetic_datasets(so);
  rd::PackOptions po;
  po.root = so.out_dir;
  po.out = (base / "packed").string();
  po.progress = false;
  for (const rd::DatasetSpec& ds : rd::pack_datasets())
    if (ds.present(po.root)) rd::pack_dataset(ds, "train", po);
  // READ's ratios (sem_seg 10, refer 1, neg_refer 1, vqa 1, reason 10; the
  // synthetic layout has no FP-refCOCO for correct_refer_seg's 1).
  rd::TrainLoaderConfig lc = bench_loader_config(po.out,
                                                 {{"sem_seg", 10, {"mapillary"}},
                                                  {"refer_seg", 1, {"refcoco"}},
                                                  {"neg_refer_seg", 1, {"R-refcoco"}},
                                                  {"vqa", 1, {"llava_instruct_150k"}},
                                                  {"reason_seg", 10, {"ReasonSeg"}}},
                                                 workers);
  {  // single thread, per family: decode alone vs a whole sample (load + collate of a batch of 1)
    std::printf("single thread, per family (ms per sample): decode | decorated + preprocessed + collated\n");
    for (const rd::FamilySpec& f : lc.mixture) {
      rd::TrainLoaderConfig one = lc;
      one.mixture = {f};
      const rd::SampleSource src(one, enc);
      int64_t k = 0, d = 0;
      const int reps = std::max(20, items / 10);
      const double decode = ms_per_call(
          [&] {
            const rd::DecoratedSample s = src.decorate(0, d++);
            const std::string j = src.store(s.dataset).blob(s.image.key);
            rd::decode_image(reinterpret_cast<const uint8_t*>(j.data()), j.size(), "bench");
          },
          reps) - ms_per_call([&] { src.decorate(0, d++); }, reps);
      const double whole = ms_per_call(
          [&] {
            std::vector<rd::LoadedSample> b;
            b.push_back(src.load(0, k++));
            src.collate(std::move(b));
          },
          reps);
      std::printf("  %-14s %5.2f | %5.2f\n", f.name.c_str(), decode, whole);
    }
  }
  std::vector<std::string> jpegs;  // the loader's samples 0..items-1 (epoch 0, one rank)
  {
    const rd::SampleSource src(lc, enc);
    for (int64_t i = 0; i < items + 2 * lc.micro_batch; ++i) {
      const rd::DecoratedSample d = src.decorate(0, i);
      jpegs.push_back(src.store(d.dataset).blob(d.image.key));
    }
  }
  const Rate dec = loader_rate<rd::RgbImage>(
      [&](int64_t i) {
        const std::string& j = jpegs[size_t(i)];
        return rd::decode_image(reinterpret_cast<const uint8_t*>(j.data()), j.size(), "bench").image;
      },
      workers, items);
  const Rate train = train_loader_rate(lc, enc, items);
  std::printf("READ mix (synthetic datasets, 480..640 px; reason_seg 10, sem_seg 10 (Mapillary label maps), "
              "refer 1, neg_refer 1, vqa 1; micro-batch 2, %d workers), %d samples, samples/s wall (per "
              "CPU-second):\n",
              workers, items);
  std::printf("  decode only (the same JPEGs in the same order): %7.1f (%7.1f)\n", dec.wall, dec.cpu);
  std::printf("  decorated + preprocessed + collated:            %7.1f (%7.1f)  ratio %.2f wall, %.2f CPU\n",
              train.wall, train.cpu, train.wall / dec.wall, train.cpu / dec.cpu);
  fs::remove_all(base);
}

}  // namespace

int main(int argc, char** argv) {
  const int workers = argc > 1 ? std::atoi(argv[1]) : 2;
  const int items = argc > 2 ? std::atoi(argv[2]) : 400;
  const std::string tokenizer_dir =
      argc > 3 ? argv[3] : rd::bench::fixtures_dir() + "/tokenizer_llama_bpe1000/tokenizer";
  at::set_num_threads(1);

  std::vector<std::vector<uint8_t>> jpegs;
  std::vector<std::pair<int, int>> sizes;
  size_t bytes = 0;
  for (int i = 0; i < 16; ++i) {
    sizes.push_back(i % 4 == 3 ? std::pair{640, 480} : std::pair{480, 640});
    jpegs.push_back(synth_jpeg(sizes.back().first, sizes.back().second, 1000 + i));
    bytes += jpegs.back().size();
  }
  std::printf("%zu synthetic JPEGs (3/4 640x480, 1/4 480x640), mean %.0f KB\n", jpegs.size(),
              bytes / 1024.0 / jpegs.size());
  const int n = int(jpegs.size());

  const std::string only = argc > 4 ? argv[4] : "";
  if (only == "mix") {
    const rd::Tokenizer tok = rd::Tokenizer::from_folder(tokenizer_dir);
    read_mix_part(rd::text_encoder(tok), workers, items);
    return 0;
  }
  // 1. The training loader against decode-only: COCO-sized and large photos.
  {
    const rd::Tokenizer tok = rd::Tokenizer::from_folder(tokenizer_dir);
    const rd::TextEncoder enc = rd::text_encoder(tok);
    train_loader_part(jpegs, sizes, "640x480 JPEGs", enc, workers, items, true);
    std::vector<std::vector<uint8_t>> large;
    for (int i = 0; i < 4; ++i) large.push_back(synth_jpeg(1500, 2250, 70 + i));
    train_loader_part(large, std::vector<std::pair<int, int>>(4, {1500, 2250}), "2250x1500 JPEGs", enc, workers,
                      std::max(8, items / 10), true);
  }
  if (only == "train") return 0;

  // Single-thread stage times.
  const rd::SamPreprocessConfig sam_cfg;
  const rd::ClipPreprocessConfig clip_cfg;
  rd::RgbImage img = rd::decode_image(jpegs[0].data(), jpegs[0].size(), "j0").image;
  rd::RgbImage sam_resized = rd::sam_resize(img, sam_cfg);
  const int reps = 30;
  std::printf("single thread, 640x480: decode %.2f ms | SAM resize %.2f ms + normalize/pad %.2f ms"
              " | CLIP resize+crop %.2f ms + normalize %.2f ms\n",
              ms_per_call([&] { rd::decode_image(jpegs[0].data(), jpegs[0].size(), "j0"); }, reps),
              ms_per_call([&] { rd::sam_resize(img, sam_cfg); }, reps),
              ms_per_call([&] { rd::sam_normalize_pad(sam_resized, sam_cfg); }, reps),
              ms_per_call([&] { rd::clip_resize_crop(img, clip_cfg); }, reps),
              ms_per_call([&] {
                rd::clip_normalize(rd::clip_resize_crop(img, clip_cfg), clip_cfg);
              }, reps) - ms_per_call([&] { rd::clip_resize_crop(img, clip_cfg); }, reps));

  const Rate decode_rate = loader_rate<rd::RgbImage>(
      [&](int64_t i) {
        const auto& j = jpegs[size_t(i % n)];
        return rd::decode_image(j.data(), j.size(), "bench").image;
      },
      workers, items);
  const Rate full_rate = loader_rate<Preprocessed>(
      [&](int64_t i) { return preprocess(jpegs[size_t(i % n)], {}); }, workers, items);
  std::printf("PrefetchLoader, %d workers, %d items:\n", workers, items);
  std::printf("  decode only:                  %7.1f samples/s wall, %7.1f per CPU-second, %.0f page "
              "faults per sample\n",
              decode_rate.wall, decode_rate.cpu, decode_rate.faults);
  std::printf("  decode + SAM 1024 + CLIP 336: %7.1f samples/s wall, %7.1f per CPU-second, %.0f page "
              "faults per sample\n",
              full_rate.wall, full_rate.cpu, full_rate.faults);
  std::printf("  ratio preprocessed / decode-only: %.2f wall, %.2f CPU\n",
              full_rate.wall / decode_rate.wall, full_rate.cpu / decode_rate.cpu);

  // Large photos (Mapillary ~4000x3000, SA-1B ~2250x1500): the DCT-scaled
  // decode fast path (not reference-exact, opt-in) decodes at 1/2 scale.
  rd::DecodeOptions fast;
  fast.min_long_side = sam_cfg.target_length;
  fast.min_short_side = clip_cfg.shortest_edge;
  for (auto [h, w] : {std::pair{3000, 4000}, std::pair{1500, 2250}}) {
    std::vector<std::vector<uint8_t>> large = {synth_jpeg(h, w, 7), synth_jpeg(h, w, 8)};
    const int large_items = std::max(8, items * 480 * 640 / (h * w) / 2);
    const Rate dec = loader_rate<rd::RgbImage>(
        [&](int64_t i) {
          const auto& j = large[size_t(i % 2)];
          return rd::decode_image(j.data(), j.size(), "bench").image;
        },
        workers, large_items);
    const Rate exact = loader_rate<Preprocessed>(
        [&](int64_t i) { return preprocess(large[size_t(i % 2)], {}); }, workers, large_items);
    const Rate quick = loader_rate<Preprocessed>(
        [&](int64_t i) { return preprocess(large[size_t(i % 2)], fast); }, workers, large_items);
    std::printf("%dx%d JPEGs (%.0f KB), %d items, samples/s wall (per CPU-second):\n", w, h,
                large[0].size() / 1024.0, large_items);
    std::printf("  decode only (full resolution):        %6.1f (%6.1f)\n", dec.wall, dec.cpu);
    std::printf("  decode + SAM + CLIP, exact:           %6.1f (%6.1f)  ratio %.2f wall, %.2f CPU\n",
                exact.wall, exact.cpu, exact.wall / dec.wall, exact.cpu / dec.cpu);
    std::printf("  decode + SAM + CLIP, DCT-scaled 1/2:  %6.1f (%6.1f)  ratio %.2f wall, %.2f CPU\n",
                quick.wall, quick.cpu, quick.wall / dec.wall, quick.cpu / dec.cpu);
  }
  {
    const rd::Tokenizer tok = rd::Tokenizer::from_folder(tokenizer_dir);
    read_mix_part(rd::text_encoder(tok), workers, items);
  }
  return 0;
}
