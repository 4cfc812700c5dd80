#include "data/synthetic_shapes.h"

#include <png.h>
#include <turbojpeg.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/logging.h"
#include "data/pickle_writer.h"
#include "data/sample_rng.h"

namespace rd {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
struct Rgb {
  int r, g, b;
};
const std::vector<Rgb> kColorValues = {{220, 40, 40},  {40, 170, 60},  {40, 80, 220},
                                       {230, 210, 40}, {150, 60, 180}, {240, 140, 30}};
const int kCircleSegments = 32;

void write_file(const fs::path& p, const void* data, size_t n) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), n);
  READ_CHECK(f, p.string(), ": write failed");
}

void write_json(const fs::path& p, const json& j) {
  std::string s = j.dump();
  write_file(p, s.data(), s.size());
}

void write_jpeg(const fs::path& p, const SynthImage& im) {
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(h, im.rgb.data(), im.width, 0, im.height, TJPF_RGB, &buf, &size, TJSAMP_420,
                       92, TJFLAG_ACCURATEDCT);
  std::string err = rc ? tjGetErrorStr2(h) : "";
  tjDestroy(h);
  READ_CHECK(rc == 0, p.string(), ": JPEG encode failed: ", err);
  write_file(p, buf, size);
  tjFree(buf);
}

void write_png_gray(const fs::path& p, const SynthImage& im) {
  fs::create_directories(p.parent_path());
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = im.width;
  img.height = im.height;
  img.format = PNG_FORMAT_GRAY;
  READ_CHECK(png_image_write_to_file(&img, p.c_str(), 0, im.label_map.data(), im.width, nullptr),
             p.string(), ": PNG encode failed: ", img.message);
}

bool inside(const std::vector<std::pair<double, double>>& poly, double x, double y) {
  bool in = false;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    auto [xi, yi] = poly[i];
    auto [xj, yj] = poly[j];
    if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) in = !in;
  }
  return in;
}

std::string phrase(const SynthShape& s) { return synth_colors()[s.color] + " " + synth_kinds()[s.kind]; }

// A shape (colour + kind) that is not in the image, for false premises.
SynthShape absent_shape(const SynthImage& im, SampleRng& rng) {
  SynthShape a{};
  for (;;) {
    a.kind = static_cast<int>(rng.below(synth_kinds().size()));
    a.color = static_cast<int>(rng.below(synth_colors().size()));
    bool present = false;
    for (const auto& s : im.shapes) present |= s.kind == a.kind || s.color == a.color;
    if (!present) return a;
  }
}

json polygon_json(const SynthShape& s) {
  json pts = json::array();
  for (auto [x, y] : s.polygon()) pts.push_back({std::round(x * 100) / 100, std::round(y * 100) / 100});
  return pts;
}

json coco_segmentation(const SynthShape& s) {
  json flat = json::array();
  for (auto [x, y] : s.polygon()) flat.push_back(std::round(x * 100) / 100), flat.push_back(std::round(y * 100) / 100);
  return json::array({flat});
}

struct Writer {
  const SynthOptions& o;
  fs::path root;
  std::ofstream corpus;
  SynthSummary summary;
  Progress progress;

  Writer(const SynthOptions& opt)
      : o(opt), root(opt.out_dir), progress("read_synth images", opt.train_images * 4 + opt.val_images) {
    fs::create_directories(root);
    summary.corpus_path = (root / "corpus.txt").string();
    corpus.open(summary.corpus_path);
  }

  SynthImage image(uint64_t stream, int64_t i) {
    progress.add();
    ++summary.images;
    return make_synth_image(mix64(o.seed * 1000003 + stream * 7919 + i), o.min_side, o.max_side);
  }

  void text(const std::string& s) { corpus << s << "\n"; }

  void reason_seg(const std::string& split, int64_t n, uint64_t stream) {
    for (int64_t i = 0; i < n; ++i) {
      SynthImage im = image(stream, i);
      SampleRng rng(o.seed, static_cast<int64_t>(stream), i);
      const SynthShape& t = im.shapes[rng.below(im.shapes.size())];
      bool sentence = rng.bernoulli(0.5);
      json texts = sentence ? json::array({describe_kind(t.kind), "Which part of the picture is " +
                                                                      describe_kind(t.kind) + "?"})
                            : json::array({phrase(t), "the " + phrase(t)});
      SynthShape a = absent_shape(im, rng);
      json fp = json::array(
          {json::array({"the " + phrase(a), false, "There is no " + phrase(a) + " in this image."}),
           json::array({"Which part of the picture is " + describe_kind(a.kind) + "?", true,
                        "There is no " + describe_kind(a.kind).substr(4) + " in this picture."})});
      json shapes = json::array({{{"label", "target"}, {"points", polygon_json(t)}, {"group_id", nullptr},
                                  {"shape_type", "polygon"}, {"flags", json::object()}}});
      std::string name = "synth_" + split + "_" + std::to_string(i);
      json j = {{"version", "4.5.6"}, {"flags", json::object()}, {"shapes", shapes},
                {"imagePath", name + ".jpg"}, {"imageData", nullptr}, {"imageHeight", im.height},
                {"imageWidth", im.width}, {"text", texts}, {"is_sentence", sentence},
                {"false_premise_QA", fp}};
      fs::path dir = root / "reason_seg" / "ReasonSeg" / split;
      write_jpeg(dir / (name + ".jpg"), im);
      write_json(dir / (name + ".json"), j);
      for (const auto& s : texts) text(s.get<std::string>());
      for (const auto& q : fp) text(q[0].get<std::string>()), text(q[2].get<std::string>());
      summary.files += 2;
    }
  }

  // refCOCO-style instances + refs, and R-refCOCO-style refs with
  // false-premise sentences (exist: false) on the same images.
  void refer_seg(int64_t n, uint64_t stream) {
    json images = json::array(), anns = json::array(), cats = json::array();
    for (size_t k = 0; k < synth_kinds().size(); ++k) cats.push_back({{"id", k + 1}, {"name", synth_kinds()[k]}, {"supercategory", "shape"}});
    PickleList refs, neg_refs;
    int64_t ann_id = 1, ref_id = 0, sent_id = 0;
    for (int64_t i = 0; i < n; ++i) {
      SynthImage im = image(stream, i);
      SampleRng rng(o.seed, static_cast<int64_t>(stream), i);
      const int64_t image_id = i + 1;
      char fname[64];
      std::snprintf(fname, sizeof fname, "COCO_train2014_%012lld.jpg", static_cast<long long>(image_id));
      write_jpeg(root / "refer_seg/images/mscoco/images/train2014" / fname, im);
      ++summary.files;
      images.push_back({{"id", image_id}, {"file_name", fname}, {"height", im.height}, {"width", im.width}});
      for (const auto& s : im.shapes) {
        anns.push_back({{"id", ann_id}, {"image_id", image_id}, {"category_id", s.kind + 1},
                        {"segmentation", coco_segmentation(s)}, {"iscrowd", 0},
                        {"area", M_PI * s.radius * s.radius},
                        {"bbox", {s.cx - s.radius, s.cy - s.radius, 2 * s.radius, 2 * s.radius}}});
        auto sentence = [&](const std::string& sent, int exist) {
          PickleDict d;
          d.set("sent", sent).set("raw", sent).set("sent_id", sent_id++);
          PickleList tokens;
          for (size_t a = 0, b; a < sent.size(); a = b + 1) {
            b = sent.find(' ', a);
            if (b == std::string::npos) b = sent.size();
            tokens.push_back(sent.substr(a, b - a));
          }
          d.set("tokens", tokens);
          if (exist >= 0) d.set("exist", exist == 1);
          text(sent);
          return d;
        };
        auto ref = [&](PickleList sentences) {
          PickleDict r;
          r.set("ref_id", ref_id++).set("ann_id", ann_id).set("category_id", s.kind + 1)
              .set("image_id", image_id).set("split", "train").set("file_name", fname)
              .set("sentences", std::move(sentences));
          return r;
        };
        refs.push_back(ref(PickleList{sentence("the " + phrase(s), -1), sentence(phrase(s), -1)}));
        SynthShape a = absent_shape(im, rng);
        neg_refs.push_back(ref(PickleList{sentence("the " + phrase(s), 1), sentence("the " + phrase(a), 0)}));
        ++ann_id;
      }
    }
    json inst = {{"images", images}, {"annotations", anns}, {"categories", cats}};
    for (const char* ds : {"refcoco", "R-refcoco"}) write_json(root / "refer_seg" / ds / "instances.json", inst);
    write_pickle(root / "refer_seg/refcoco/refs(unc_exclude_unified).p", refs);
    write_pickle(root / "refer_seg/R-refcoco/refs(unc_exclude_unified).p", neg_refs);
    summary.files += 4;
  }

  // Mapillary-style label maps: names from config_v2.0.json, index == value.
  void sem_seg(int64_t n, uint64_t stream) {
    json labels = json::array({{{"readable", "Background"}, {"name", "background"}, {"color", {0, 0, 0}},
                                {"instances", false}, {"evaluate", true}}});
    for (const auto& k : synth_kinds())
      labels.push_back({{"readable", k}, {"name", "shape--" + k}, {"color", {255, 255, 255}},
                        {"instances", true}, {"evaluate", true}});
    write_json(root / "mapillary/config_v2.0.json", {{"labels", labels}});
    for (int64_t i = 0; i < n; ++i) {
      SynthImage im = image(stream, i);
      std::string name = "synth_" + std::to_string(i);
      write_jpeg(root / "mapillary/training/images" / (name + ".jpg"), im);
      write_png_gray(root / "mapillary/training/v2.0/labels" / (name + ".png"), im);
      summary.files += 2;
    }
    for (const auto& k : synth_kinds()) text(k), text("the " + k);
  }

  void vqa(int64_t n, uint64_t stream) {
    json items = json::array();
    const char* counts[] = {"zero", "one", "two", "three"};
    for (int64_t i = 0; i < n; ++i) {
      SynthImage im = image(stream, i);
      SampleRng rng(o.seed, static_cast<int64_t>(stream), i);
      char fname[32];
      std::snprintf(fname, sizeof fname, "%012lld.jpg", static_cast<long long>(900000 + i));
      write_jpeg(root / "coco/train2017" / fname, im);
      ++summary.files;
      const SynthShape& s = im.shapes[rng.below(im.shapes.size())];
      std::string n_shapes = counts[im.shapes.size()];
      json conv = json::array({
          {{"from", "human"}, {"value", "<image>\nHow many shapes are in the image?"}},
          {{"from", "gpt"}, {"value", "There " + std::string(im.shapes.size() == 1 ? "is " : "are ") + n_shapes +
                                          (im.shapes.size() == 1 ? " shape." : " shapes.")}},
          {{"from", "human"}, {"value", "What colour is the " + synth_kinds()[s.kind] + "?"}},
          {{"from", "gpt"}, {"value", "The " + synth_kinds()[s.kind] + " is " + synth_colors()[s.color] + "."}}});
      items.push_back({{"id", std::string(fname).substr(0, 12)}, {"image", fname}, {"conversations", conv}});
      for (const auto& t : conv) text(t["value"].get<std::string>());
    }
    write_json(root / "llava_dataset/llava_instruct_150k.json", items);
    ++summary.files;
  }
};
}  // namespace

const std::vector<std::string>& synth_kinds() {
  static const std::vector<std::string> k = {"triangle", "square", "pentagon", "hexagon", "circle", "star"};
  return k;
}

const std::vector<std::string>& synth_colors() {
  static const std::vector<std::string> c = {"red", "green", "blue", "yellow", "purple", "orange"};
  return c;
}

std::string describe_kind(int kind) {
  static const char* d[] = {"the shape with three corners", "the shape with four equal sides",
                            "the shape with five corners", "the shape with six corners",
                            "the round shape without corners", "the shape that looks like a star"};
  return d[kind];
}

std::vector<std::pair<double, double>> SynthShape::polygon() const {
  std::vector<std::pair<double, double>> p;
  const std::string& k = synth_kinds()[kind];
  int n = k == "circle" ? kCircleSegments : k == "star" ? 10 : kind + 3;
  for (int i = 0; i < n; ++i) {
    double a = rotation + 2 * M_PI * i / n;
    double r = (k == "star" && i % 2) ? radius * 0.45 : radius;
    p.emplace_back(cx + r * std::cos(a), cy + r * std::sin(a));
  }
  return p;
}

SynthImage make_synth_image(uint64_t seed, int min_side, int max_side) {
  SampleRng rng(seed, 0, 0);
  SynthImage im;
  im.width = min_side + static_cast<int>(rng.below(max_side - min_side + 1));
  im.height = min_side + static_cast<int>(rng.below(max_side - min_side + 1));
  const double side = std::min(im.width, im.height);
  const int n = 1 + static_cast<int>(rng.below(3));
  std::vector<int64_t> kinds = rng.select(synth_kinds().size(), n);
  std::vector<int64_t> colors = rng.select(synth_colors().size(), n);
  for (int i = 0; i < n; ++i) {
    for (int attempt = 0; attempt < 50; ++attempt) {  // place without overlap
      SynthShape s{static_cast<int>(kinds[i]), static_cast<int>(colors[i]), 0, 0,
                   side * (0.16 + 0.14 * rng.uniform()), 2 * M_PI * rng.uniform()};
      s.cx = s.radius + rng.uniform() * (im.width - 2 * s.radius);
      s.cy = s.radius + rng.uniform() * (im.height - 2 * s.radius);
      bool clear = true;
      for (const auto& o : im.shapes)
        clear &= std::hypot(o.cx - s.cx, o.cy - s.cy) > o.radius + s.radius + 2;
      if (clear) {
        im.shapes.push_back(s);
        break;
      }
    }
  }
  int base = 90 + static_cast<int>(rng.below(90));
  im.rgb.resize(static_cast<size_t>(im.width) * im.height * 3);
  im.label_map.assign(static_cast<size_t>(im.width) * im.height, 0);
  std::vector<std::vector<std::pair<double, double>>> polys;
  for (const auto& s : im.shapes) polys.push_back(s.polygon());
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      size_t i = static_cast<size_t>(y) * im.width + x;
      int noise = static_cast<int>(rng.below(21)) - 10;
      Rgb c{base + noise, base + noise, base + noise};
      for (size_t k = 0; k < polys.size(); ++k)
        if (inside(polys[k], x + 0.5, y + 0.5)) {
          c = kColorValues[im.shapes[k].color];
          c.r += noise, c.g += noise, c.b += noise;
          im.label_map[i] = static_cast<uint8_t>(1 + im.shapes[k].kind);
        }
      im.rgb[3 * i] = static_cast<uint8_t>(std::clamp(c.r, 0, 255));
      im.rgb[3 * i + 1] = static_cast<uint8_t>(std::clamp(c.g, 0, 255));
      im.rgb[3 * i + 2] = static_cast<uint8_t>(std::clamp(c.b, 0, 255));
    }
  return im;
}

SynthSummary write_synthetic_datasets(const SynthOptions& o) {
  Writer w(o);
  w.reason_seg("train", o.train_images, 1);
  w.reason_seg("val", o.val_images, 2);
  w.refer_seg(o.train_images, 3);
  w.sem_seg(o.train_images, 4);
  w.vqa(o.train_images, 5);
  w.progress.finish();
  return w.summary;
}

}  // namespace rd
