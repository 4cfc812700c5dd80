// torch.save archives: every fixture file matches LibTorch's own unpickler
// (torch::pickle_load, after rewriting the top-level OrderedDict it cannot
// read into a dict); archives assembled byte by byte (all storage dtypes,
// offsets, strides, nesting, Parameters, shared storages) and archives written
// by torch::pickle_save read back exactly; malformed archives give rd::Error.
#include <filesystem>

#include "tests/harness/errors.h"
#include "checkpoints/formats/torch_save.h"
#include "common/error.h"
#include "tests/formats_test_util.h"
#include "tests/harness/fixtures.h"

namespace fs = std::filesystem;
using namespace rd::testing;

namespace {
using rd::testing::error_of;

std::vector<std::string> fixture_torch_files() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(fixtures_root()))
    if (e.is_regular_file() && (e.path().extension() == ".bin" || e.path().extension() == ".pth"))
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The same archive with data.pkl rewritten for LibTorch's unpickler, which
// cannot build an OrderedDict: the top-level `OrderedDict()` (GLOBAL, BINPUT 0,
// EMPTY_TUPLE, REDUCE) becomes `GLOBAL, BINPUT 0, EMPTY_DICT` (the global stays
// memoized for the tensors' backward hooks), a trailing `_metadata` BUILD state
// is cut off, and TUPLE2 before STOP makes the result (global, dict).
std::string rewrite_for_libtorch(const std::string& file, bool* wrapped) {
  caffe2::serialize::PyTorchStreamReader r(file);
  auto [ptr, n] = r.getRecord("data.pkl");
  std::string pkl(static_cast<const char*>(ptr.get()), n);
  const std::string od = std::string("\x80\x02" "ccollections\nOrderedDict\nq\x00)R", 31);
  *wrapped = pkl.compare(0, od.size(), od) == 0;
  if (*wrapped) {
    pkl = od.substr(0, od.size() - 2) + "}" + pkl.substr(od.size());
    const std::string meta = std::string("X\x09\x00\x00\x00_metadata", 14);
    size_t m = pkl.rfind(meta);
    if (m != std::string::npos) {
      size_t d = pkl.rfind('}', m);  // EMPTY_DICT of the state, then BINPUT/LONG_BINPUT
      EXPECT_TRUE(d != std::string::npos && pkl[d - 1] == 'u' && m - d <= 6) << file;
      pkl = pkl.substr(0, d) + ".";
    }
    pkl = pkl.substr(0, pkl.size() - 1) + "\x86.";
  }
  std::string out = temp_path("libtorch_view.zip").string();
  caffe2::serialize::PyTorchStreamWriter w(out);
  w.writeRecord("data.pkl", pkl.data(), pkl.size());
  for (const std::string& rec : r.getAllRecords()) {
    if (rec.rfind("data/", 0) != 0) continue;
    auto [p, k] = r.getRecord(rec);
    w.writeRecord(rec, p.get(), k);
  }
  w.writeEndOfFile();
  return out;
}

}  // namespace

TEST(TorchSave, EveryFixtureFileMatchesLibTorchsUnpickler) {
  auto files = fixture_torch_files();
  ASSERT_GE(files.size(), 3u);
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    rd::StateDict mine = rd::load_torch_save(file);
    ASSERT_FALSE(mine.empty());
    bool wrapped = false;
    std::string bytes = read_bytes(rewrite_for_libtorch(file, &wrapped));
    c10::IValue v = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    if (wrapped) v = v.toTupleRef().elements().at(1);
    ASSERT_TRUE(v.isGenericDict());
    auto dict = v.toGenericDict();
    EXPECT_EQ(dict.size(), mine.size());
    for (const auto& kv : dict) {
      std::string name = kv.key().toStringRef();
      ASSERT_TRUE(mine.count(name)) << name;
      torch::Tensor want = kv.value().toTensor();
      EXPECT_EQ(mine[name].scalar_type(), want.scalar_type()) << name;
      EXPECT_EQ(mine[name].sizes(), want.sizes()) << name;
      EXPECT_TRUE(torch::equal(mine[name], want)) << name;
    }
  }
}

TEST(TorchSave, HandAssembledArchiveAllDtypesViewsAndNesting) {
  const std::vector<std::pair<std::string, torch::Dtype>> types = {
      {"FloatStorage", torch::kFloat32}, {"HalfStorage", torch::kFloat16},
      {"BFloat16Storage", torch::kBFloat16}, {"DoubleStorage", torch::kFloat64},
      {"LongStorage", torch::kInt64}, {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16}, {"CharStorage", torch::kInt8},
      {"ByteStorage", torch::kUInt8}, {"BoolStorage", torch::kBool}};
  PickleWriter p;
  std::map<std::string, std::string> records;
  std::map<std::string, torch::Tensor> want;
  p.global("collections", "OrderedDict").op(')').op('R').mark();
  for (size_t k = 0; k < types.size(); ++k) {
    auto [type, dtype] = types[k];
    torch::Tensor storage = torch::arange(12).remainder(7).sub(3).to(dtype);
    std::string key = std::to_string(k);
    records[key] = tensor_bytes(storage);
    // a transposed view with an offset, and the whole storage
    p.str("t." + type).tensor(type, key, 12, 2, {3, 2}, {1, 3});
    want["t." + type] = storage.as_strided({3, 2}, {1, 3}, 2);
    p.str("whole." + type).tensor(type, key, 12, 0, {12}, {1});
    want["whole." + type] = storage;
  }
  // nested: {"nest": {"list": [tensor, 5, (None, 'x')], "p": Parameter(tensor)}, "epoch": 3}
  torch::Tensor s = torch::randn({6});
  records["s"] = tensor_bytes(s);
  p.str("nest").op('}').mark();
  p.str("list").op(']').mark().tensor("FloatStorage", "s", 6, 1, {2, 2}, {2, 1});
  p.integer(5).op('N').str("x").op('\x86').op('e');
  p.str("p").global("torch._utils", "_rebuild_parameter").mark().tensor("FloatStorage", "s", 6, 0, {6}, {1});
  p.op('\x88').global("collections", "OrderedDict").op(')').op('R').op('t').op('R');
  p.op('u');
  p.str("epoch").integer(3).op('u');
  want["nest.list.0"] = s.as_strided({2, 2}, {2, 1}, 1);
  want["nest.p"] = s;
  std::string file = temp_path("hand.pth").string();
  write_torch_archive(file, p.done(), records);

  rd::TorchSaveContents c = rd::TorchSaveFile(file).contents();
  EXPECT_EQ(c.tensors.size(), want.size());
  for (const auto& [name, t] : want) {
    ASSERT_TRUE(c.tensors.count(name)) << name;
    const torch::Tensor& got = c.tensors.at(name);
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, t)) << name;
    EXPECT_TRUE(got.is_contiguous()) << name;
  }
  EXPECT_EQ(c.other.at("nest.list.1"), "5");
  EXPECT_EQ(c.other.at("nest.list.2.0"), "None");
  EXPECT_EQ(c.other.at("nest.list.2.1"), "'x'");
  EXPECT_EQ(c.other.at("epoch"), "3");
  // Tensors never share memory, even when they share a storage in the file.
  std::set<void*> ptrs;
  for (const auto& [name, t] : c.tensors) EXPECT_TRUE(ptrs.insert(t.data_ptr()).second) << name;
}

TEST(TorchSave, ReadsWhatLibTorchPickleSaveWrites) {
  c10::Dict<std::string, at::Tensor> d;
  d.insert("f32", torch::randn({3, 4}));
  d.insert("bf16", torch::randn({5}).to(torch::kBFloat16));
  d.insert("f16", torch::randn({2, 2}).to(torch::kFloat16));
  d.insert("i64", torch::arange(10));
  d.insert("u8", torch::arange(7).to(torch::kUInt8));
  d.insert("bool", torch::rand({4}).gt(0.5));
  d.insert("view", torch::arange(20, torch::kFloat32).reshape({4, 5}).t().slice(0, 1, 4));
  d.insert("scalar", torch::tensor(2.5));
  std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
  std::string file = temp_path("pickle_save.pt").string();
  write_bytes(file, std::string(bytes.begin(), bytes.end()));
  rd::StateDict got = rd::load_torch_save(file);
  ASSERT_EQ(got.size(), d.size());
  for (const auto& kv : d) {
    const torch::Tensor& t = got.at(kv.key());
    EXPECT_EQ(t.scalar_type(), kv.value().scalar_type()) << kv.key();
    EXPECT_TRUE(torch::equal(t, kv.value())) << kv.key();
  }
}

namespace {
std::string load_error(const std::string& pkl, const std::map<std::string, std::string>& records) {
  std::string file = temp_path("bad.pth").string();
  write_torch_archive(file, pkl, records);
  return error_of([&] { rd::load_torch_save(file); });
}
}  // namespace

TEST(TorchSave, MalformedPicklesAndStorages) {
  std::string f32x4 = tensor_bytes(torch::zeros({4}));
  auto one = [](const std::function<void(PickleWriter&)>& body) {
    PickleWriter p;
    p.op('}').str("w");
    body(p);
    p.op('s');
    return p.done();
  };
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.tensor("FloatStorage", "0", 4, 0, {5}, {1}); }), {{"0", f32x4}})
                .find("reaches past its storage"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.tensor("FloatStorage", "0", 4, 3, {2}, {1}); }), {{"0", f32x4}})
                .find("reaches past"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.tensor("FloatStorage", "0", 4, 0, {2, 2}, {-1, 1}); }), {{"0", f32x4}})
                .find("out of range"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.tensor("FloatStorage", "0", 4, 0, {2}, {1, 1}); }), {{"0", f32x4}})
                .find("1 sizes but 2 strides"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.tensor("FloatStorage", "0", 8, 0, {8}, {1}); }), {{"0", f32x4}})
                .find("truncated?"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.tensor("FloatStorage", "9", 4, 0, {4}, {1}); }), {{"0", f32x4}})
                .find("missing storage record 'data/9'"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.tensor("ComplexFloatStorage", "0", 2, 0, {2}, {1}); }),
                       {{"0", f32x4}}).find("torch.ComplexFloatStorage"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) {
              p.tensor("FloatStorage", "0", 4, 0, {1ll << 40, 1ll << 40}, {0, 0});
            }), {{"0", f32x4}}).find("too many elements"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.global("os", "system").str("ls").op('\x85').op('R'); }), {})
                .find("global 'os.system' is not allowed"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.global("builtins", "eval"); }), {}).find("builtins.eval"),
            std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) { p.op('\xfe'); }), {}).find("opcode 0xfe"), std::string::npos);
  EXPECT_NE(load_error(one([](PickleWriter& p) {
              for (int k = 0; k < 100000; ++k) p.global("torch._utils", "_rebuild_parameter").mark();
              p.tensor("FloatStorage", "0", 4, 0, {4}, {1});
              for (int k = 0; k < 100000; ++k) p.op('\x88').op('N').op('t').op('R');
            }), {{"0", f32x4}}).find("levels"), std::string::npos);
  std::string cyclic = PickleWriter().op(']').op('q').op('\x00').op('h').op('\x00').op('a').done();
  EXPECT_NE(load_error(cyclic, {}).find("nesting deeper than 64"), std::string::npos);
  EXPECT_NE(load_error(PickleWriter().op('}').str("a").integer(1).op('s').str("a").integer(2).op('s').done(), {})
                .find("occurs twice"), std::string::npos);
}

TEST(TorchSave, TruncatedAndCorruptedArchivesNeverCrash) {
  PickleWriter p;
  p.global("collections", "OrderedDict").op(')').op('R').str("w").tensor("FloatStorage", "0", 64, 0, {8, 8}, {8, 1});
  p.op('s');
  std::string file = temp_path("good.pth").string();
  torch::Tensor w = torch::randn({8, 8});
  write_torch_archive(file, p.done(), {{"0", tensor_bytes(w)}});
  ASSERT_TRUE(torch::equal(rd::load_torch_save(file).at("w"), w));
  const std::string good = read_bytes(file);
  std::string bad = temp_path("mangled.pth").string();
  int errors = 0;
  for (size_t n = 0; n < good.size(); n += 7) {
    write_bytes(bad, good.substr(0, n));
    std::string e = error_of([&] { rd::load_torch_save(bad); });
    EXPECT_NE(e, "no error") << "truncated at " << n;
    EXPECT_NE(e.find(bad), std::string::npos) << e;
    ++errors;
  }
  for (size_t n = 0; n < good.size(); n += 5) {  // flipped bytes: loads or a clean rd::Error
    std::string m = good;
    m[n] = static_cast<char>(m[n] ^ 0x5a);
    write_bytes(bad, m);
    try {
      rd::load_torch_save(bad);
    } catch (const rd::Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 10);
  write_bytes(bad, "not a zip at all");
  EXPECT_NE(error_of([&] { rd::load_torch_save(bad); }).find("not a torch.save zip archive"), std::string::npos);
}
