// read_pack's promises on bad input and interruption, on corrupted copies of
// the public raw_datasets fixture root: each defect fails the pack naming the
// file and the reason; --skip-bad leaves exactly the bad item out and says
// why; an interrupted pack (exception or killed process) leaves no
// environment; a corrupted store entry is caught when read.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "data/lmdb_store.h"
#include "data/pack.h"
#include "tests/harness/fixtures.h"

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class TempRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cases = rd::testing::cases_of_kind("raw_datasets");
    ASSERT_FALSE(cases.empty());
    const auto& c = cases.front();
    base_ = fs::temp_directory_path() / ("read_pack_err_" + std::to_string(getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "D";
    out_ = base_ / "packed";
    fs::create_directories(base_);
    fs::copy(c.path(c.config().at("dataset_root").get<std::string>()), root_, fs::copy_options::recursive);
    for (const auto& e : fs::recursive_directory_iterator(root_))
      fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  }
  void TearDown() override { fs::remove_all(base_); }

  rd::PackOptions options(bool skip_bad = false) const {
    rd::PackOptions o;
    o.root = root_.string(), o.out = out_.string(), o.skip_bad = skip_bad, o.progress = false;
    return o;
  }
  void write(const std::string& rel, const std::string& bytes) {
    std::ofstream f(root_ / rel, std::ios::binary | std::ios::trunc);
    f << bytes;
  }
  std::string read(const std::string& rel) {
    std::ifstream f(root_ / rel, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  json read_json(const std::string& rel) { return json::parse(read(rel)); }

  // Packing fails naming `file` and `reason`, leaving no environment; with
  // skip_bad it succeeds with `fewer` records less and lists the item.
  void expect_bad(const std::string& dataset, const std::string& split, const std::string& file,
                  const std::string& reason, size_t want_records) {
    const auto& ds = rd::find_pack_dataset(dataset);
    try {
      rd::pack_dataset(ds, split, options());
      ADD_FAILURE() << dataset << "/" << split << ": packing bad input did not fail";
    } catch (const rd::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file), std::string::npos) << "message does not name " << file << ": " << msg;
      EXPECT_NE(msg.find(reason), std::string::npos) << "message does not say '" << reason << "': " << msg;
    }
    EXPECT_FALSE(fs::exists(rd::pack_dir(out_.string(), dataset, split))) << "a failed pack left an environment";
    rd::PackReport r = rd::pack_dataset(ds, split, options(/*skip_bad=*/true));
    EXPECT_EQ(r.records, want_records);
    ASSERT_EQ(r.num_bad(), 1u);
    const std::string summary = rd::skip_summary(r);
    EXPECT_NE(summary.find("1 bad input"), std::string::npos) << summary;
    EXPECT_NE(summary.find(file), std::string::npos) << summary;
    EXPECT_NE(summary.find(reason), std::string::npos) << summary;
    rd::PackReader reader(r.dir);
    EXPECT_EQ(reader.size(), want_records);
    EXPECT_EQ(reader.manifest()["counts"]["skipped_bad"], 1);
    reader.verify();
  }

  fs::path base_, root_, out_;
};

const char* kImg101 = "refer_seg/images/mscoco/images/train2014/COCO_train2014_000000000101.jpg";

TEST_F(TempRoot, TruncatedImage) {
  const std::string bytes = read(kImg101);
  write(kImg101, bytes.substr(0, bytes.size() * 2 / 3));
  expect_bad("refcoco", "train", "COCO_train2014_000000000101.jpg", "truncated JPEG", 1);
}

TEST_F(TempRoot, UnreadableImage) {
  write("ade20k/images/training/ADE_train_00000002.jpg", "this is not an image");
  expect_bad("ade20k", "train", "ADE_train_00000002.jpg", "not a JPEG or PNG", 2);
}

TEST_F(TempRoot, MissingImage) {
  fs::remove(root_ / "coco/train2017/000000000285.jpg");
  expect_bad("llava_instruct_150k", "train", "000000000285.jpg", "missing file", 2);
}

TEST_F(TempRoot, MalformedJson) {
  write("reason_seg/ReasonSeg/train/rs_train_0003.json", "{\"shapes\": [ {\"label\": ");
  expect_bad("ReasonSeg", "train", "rs_train_0003.json", "malformed JSON", 2);
}

TEST_F(TempRoot, RefToMissingAnnotation) {
  json inst = read_json("refer_seg/refcoco/instances.json");
  json kept = json::array();
  for (const auto& a : inst["annotations"])
    if (a["id"] != 1005) kept.push_back(a);
  inst["annotations"] = kept;
  write("refer_seg/refcoco/instances.json", inst.dump());
  expect_bad("refcoco", "train", "refs(unc_exclude_unified).p", "points to annotation 1005", 1);
}

TEST_F(TempRoot, PolygonWithTwoPoints) {
  json paco = read_json("vlpart/paco/annotations/paco_lvis_v1_train.json");
  for (auto& a : paco["annotations"])
    if (a["id"] == 8) a["segmentation"] = json::array({json::array({84.0, 30.0, 96.0, 30.0})});
  write("vlpart/paco/annotations/paco_lvis_v1_train.json", paco.dump());
  expect_bad("paco_lvis", "train", "paco_lvis_v1_train.json annotation 8", "polygon with 2 points (< 3)", 2);
}

TEST_F(TempRoot, CorruptLabelPng) {
  const std::string rel = "cocostuff/train2017/000000000285.png";
  const std::string png = read(rel);
  write(rel, png.substr(0, png.size() / 2));
  expect_bad("cocostuff", "train", "000000000285.png", "PNG", 2);
}

// An EXIF-rotated image in a COCO-style dataset: the record keeps the
// rotation when the json's size is the rotated one, drops it when the json's
// size is the stored one (annotations in stored coordinates), and the item is
// bad input when neither matches.
TEST_F(TempRoot, ExifOrientationAgainstAnnotationSize) {
  const std::string img104 = "refer_seg/images/mscoco/images/train2014/COCO_train2014_000000000104.jpg";
  // 160x120 (WxH) stored, EXIF orientation 6: displayed 120 wide, 160 high.
  write(img104, read("reason_seg/ReasonSeg/train/rs_train_0002.jpg"));
  const auto& ds = rd::find_pack_dataset("refcoco");
  auto image_of_104 = [&](const rd::PackReport& r) {
    rd::PackReader reader(r.dir);
    for (size_t i = 0; i < reader.size(); ++i) {
      auto rec = reader.get_as<rd::ReferSegRecord>(i);
      if (rec.image_id == 104) return rec.image;
    }
    ADD_FAILURE() << "image 104 not packed";
    return rd::ImageRef{};
  };
  auto set_size = [&](int64_t h, int64_t w) {
    json inst = read_json("refer_seg/refcoco/instances.json");
    for (auto& im : inst["images"])
      if (im["id"] == 104) im["height"] = h, im["width"] = w;
    write("refer_seg/refcoco/instances.json", inst.dump());
  };
  rd::PackOptions o = options();
  o.overwrite = true;
  set_size(120, 160);  // the stored size (instances.json as it is)
  rd::ImageRef a = image_of_104(rd::pack_dataset(ds, "test", o));
  EXPECT_EQ(a.orientation, 1);
  EXPECT_EQ(a.height, 120);
  EXPECT_EQ(a.width, 160);
  set_size(160, 120);  // the displayed size
  rd::ImageRef b = image_of_104(rd::pack_dataset(ds, "test", o));
  EXPECT_EQ(b.orientation, 6);
  EXPECT_EQ(b.height, 160);
  EXPECT_EQ(b.width, 120);
  set_size(100, 100);  // neither
  try {
    rd::pack_dataset(ds, "test", o);
    ADD_FAILURE() << "size mismatch not reported";
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("the annotations are for 100x100"), std::string::npos) << e.what();
  }
}

TEST_F(TempRoot, FailureMidwayLeavesNoEnvironment) {
  rd::PackOptions o = options();
  o.on_record = [](size_t n) {
    if (n == 2) rd::fail("injected failure after 2 records");
  };
  EXPECT_THROW(rd::pack_dataset(rd::find_pack_dataset("refcoco"), "test", o), rd::Error);
  EXPECT_FALSE(fs::exists(rd::pack_dir(out_.string(), "refcoco", "test")));
  for (const auto& e : fs::directory_iterator(out_ / "refcoco"))
    ADD_FAILURE() << "left behind: " << e.path().string();
}

TEST_F(TempRoot, KilledProcessLeavesNoEnvironment) {
  const std::string target = rd::pack_dir(out_.string(), "ReasonSeg", "train");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    rd::PackOptions o = options();
    o.on_record = [](size_t n) {
      if (n == 1) raise(SIGKILL);
    };
    try {
      rd::pack_dataset(rd::find_pack_dataset("ReasonSeg"), "train", o);
    } catch (...) {
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child was not killed mid-pack";
  EXPECT_FALSE(fs::exists(target)) << "a killed pack left an environment";
  EXPECT_THROW(rd::PackReader{target}, rd::Error);
  // The next run replaces the dead writer's temporary and completes.
  rd::PackReport r = rd::pack_dataset(rd::find_pack_dataset("ReasonSeg"), "train", options());
  EXPECT_EQ(r.records, 3u);
  for (const auto& e : fs::directory_iterator(fs::path(target).parent_path()))
    EXPECT_EQ(e.path().filename().string(), "train") << "stale temporary left: " << e.path().string();
}

TEST_F(TempRoot, ExistingEnvironmentNeedsOverwrite) {
  const auto& ds = rd::find_pack_dataset("pascal_part");
  rd::pack_dataset(ds, "train", options());
  EXPECT_THROW(rd::pack_dataset(ds, "train", options()), rd::Error);
  rd::PackOptions o = options();
  o.overwrite = true;
  EXPECT_EQ(rd::pack_dataset(ds, "train", o).records, 2u);
  rd::PackReader(rd::pack_dir(out_.string(), "pascal_part", "train")).verify();
}

TEST_F(TempRoot, CorruptStoreEntryIsDetected) {
  rd::PackReport r = rd::pack_dataset(rd::find_pack_dataset("refcoco"), "val", options());
  ASSERT_EQ(r.records, 1u);
  const fs::path data = fs::path(r.dir) / "data.mdb";
  std::string bytes;
  {
    std::ifstream f(data, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  const size_t at = bytes.find("person under umbrella");  // inside record 0's CBOR payload
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'P';
  {
    std::ofstream f(data, std::ios::binary | std::ios::trunc);
    f << bytes;
  }
  rd::PackReader reader(r.dir);
  try {
    reader.get(0);
    ADD_FAILURE() << "corrupt record read without error";
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
  }
  EXPECT_THROW(reader.verify(), rd::Error);
}

}  // namespace
