// Throughput of the packing path: COCO polygon -> mask (pycocotools port),
// ReasonSeg LabelMe mask (OpenCV port), and read_pack on the public
// raw_datasets fixture (records/s, MB/s) plus random record reads.
//   build/bench_pack [fixtures_root]   (default $READ_FIXTURES, else ../shared/fixtures)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "bench/bench_util.h"
#include "data/lmdb_store.h"
#include "data/mask_coco.h"
#include "data/mask_reason.h"
#include "data/pack.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int main(int argc, char** argv) {
  const std::string fixtures = argc > 1 ? argv[1] : rd::bench::fixtures_dir();
  // A 60-vertex polygon on a 480x640 image (a typical COCO instance).
  std::vector<double> xy;
  for (int i = 0; i < 60; ++i) {
    const double a = 2 * M_PI * i / 60, r = 120 + 30 * std::sin(5 * a);
    xy.push_back(320 + r * std::cos(a) + 0.37), xy.push_back(240 + r * std::sin(a) + 0.61);
  }
  rd::CocoSegmentation seg;
  seg.kind = rd::CocoSegmentation::kPolygons;
  seg.polygons = {xy};
  int n = 0;
  auto t0 = Clock::now();
  size_t sink = 0;
  while (since(t0) < 1.0) sink += rd::segmentation_mask(seg, 480, 640)[240 * 640 + 320], ++n;
  std::printf("coco polygon (60 pts) -> 480x640 mask: %.1f us\n", 1e6 * since(t0) / n);
  std::vector<rd::LabelMeShape> shapes = {{"target", xy}, {"ignore", {300, 200, 340, 200, 340, 260, 300, 260}}};
  n = 0, t0 = Clock::now();
  while (since(t0) < 1.0) sink += rd::reason_seg_mask(shapes, 480, 640).mask[0], ++n;
  std::printf("reason_seg mask (2 shapes) 480x640: %.1f us\n", 1e6 * since(t0) / n);

  const std::string root = fixtures + "/raw_datasets_public/datasets-public";
  const std::string out = (fs::temp_directory_path() / "bench_pack_out").string();
  fs::remove_all(out);
  rd::PackOptions o;
  o.root = root, o.out = out, o.progress = false, o.overwrite = true;
  size_t records = 0;
  uint64_t bytes = 0;
  const int reps = 5;
  t0 = Clock::now();
  for (int r = 0; r < reps; ++r)
    for (const auto& ds : rd::pack_datasets())
      if (ds.present(root))
        for (const auto& split : ds.splits(root)) {
          auto rep = rd::pack_dataset(ds, split, o);
          records += rep.records;
          bytes += rep.manifest["counts"]["blob_bytes"].get<uint64_t>();
        }
  const double s = since(t0);
  std::printf("read_pack all on the fixture root (x%d): %zu records in %.2f s = %.0f records/s, %.2f MB/s of image bytes\n",
              reps, records, s, records / s, bytes / s / 1e6);
  rd::PackReader reader(rd::pack_dir(out, "refcoco", "train"));
  std::mt19937 rng(0);
  n = 0, t0 = Clock::now();
  while (since(t0) < 1.0) {
    auto rec = reader.get_as<rd::ReferSegRecord>(rng() % reader.size());
    sink += reader.blob(rec.image.key).size(), ++n;
  }
  std::printf("random record + image read (refcoco/train): %.1f us\n", 1e6 * since(t0) / n);
  fs::remove_all(out);
  return sink == 42 ? 1 : 0;
}
