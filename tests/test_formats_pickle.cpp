// The safe pickle reader: pickles written by CPython (protocols 0, 2, 4, 5;
// bytes embedded below as CPython's pickle.dumps produced them), Python 2
// plain-data pickles from the fixtures, and malformed input (every truncation,
// unknown opcodes, refused globals) giving rd::Error, never a crash.
#include <filesystem>
#include <string>

#include "checkpoints/formats/pickle.h"
#include "common/error.h"
#include "tests/harness/fixtures.h"

namespace fs = std::filesystem;
namespace pk = rd::pickle;
using namespace std::string_literals;

namespace {
std::string unhex(const std::string& h) {
  std::string out;
  for (size_t k = 0; k + 1 < h.size(); k += 2) out += static_cast<char>(std::stoi(h.substr(k, 2), nullptr, 16));
  return out;
}

// pickle.dumps({'a': [1, -2, 300, 70000, -(2**40), 2**63-1, -(2**63)], 'f': 1.5,
//   't': (None, True, False), 'b': b'xy', 'u': 'h\u00e9\u4e2d', 'e': (), 's': {3},
//   'x': 'ab'}, protocol=P)
const char* kP2 =
    "80027d71002858010000006171015d7102284b014afeffffff4d2c014a701101008a060000000000ff8a08ffffffffffffff7f8a"
    "080000000000000080655801000000667103473ff800000000000058010000007471044e88898771055801000000627106635f63"
    "6f646563730a656e636f64650a710758020000007879710858060000006c6174696e31710986710a52710b580100000075710c58"
    "0600000068c3a9e4b8ad710d580100000065710e29580100000073710f635f5f6275696c74696e5f5f0a7365740a71105d71114b"
    "03618571125271135801000000787114580200000061627115752e";
const char* kP4 =
    "8004957c000000000000007d94288c0161945d94284b014afeffffff4d2c014a701101008a060000000000ff8a08ffffffffffff"
    "ff7f8a080000000000000080658c016694473ff80000000000008c0174944e888987948c01629443027879948c0175948c0668c3"
    "a9e4b8ad948c016594298c0173948f94284b03908c0178948c02616294752e";
// pickle.dumps(['h\u00e9 \\u x', 'a\u4e2d'], protocol=0)
const char* kP0 = "286c70300a5668e9205c75303035637520780a70310a6156615c75346532640a70320a612e";

void check_common(const pk::Value& d) {
  ASSERT_TRUE(d.is_dict());
  const auto& a = d.at("a").as_list("a");
  ASSERT_EQ(a.size(), 7u);
  EXPECT_EQ(a[0]->as_int(), 1);
  EXPECT_EQ(a[1]->as_int(), -2);
  EXPECT_EQ(a[2]->as_int(), 300);
  EXPECT_EQ(a[3]->as_int(), 70000);
  EXPECT_EQ(a[4]->as_int(), -(int64_t{1} << 40));
  EXPECT_EQ(a[5]->as_int(), INT64_MAX);
  EXPECT_EQ(a[6]->as_int(), INT64_MIN);
  EXPECT_EQ(d.at("f").as_float(), 1.5);
  const auto& t = d.at("t").as_list("t");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_TRUE(t[0]->is_none());
  EXPECT_TRUE(t[1]->as_bool());
  EXPECT_FALSE(t[2]->as_bool());
  EXPECT_EQ(d.at("u").as_str(), "h\xc3\xa9\xe4\xb8\xad");
  EXPECT_EQ(d.at("e").kind, pk::Kind::Tuple);
  EXPECT_TRUE(d.at("e").items.empty());
  EXPECT_EQ(d.at("x").as_str(), "ab");
  EXPECT_EQ(d.get("missing"), nullptr);
}
}  // namespace

TEST(Pickle, Protocol2WithAllowedGlobals) {
  auto allow = pk::allow_globals({"_codecs.encode", "__builtin__.set"});
  pk::Document doc = pk::parse(unhex(kP2), "p2", allow);
  check_common(doc.root());
  const pk::Value& b = doc.root().at("b");  // _codecs.encode('xy', 'latin1')
  EXPECT_EQ(b.global_name(), "_codecs.encode");
  EXPECT_EQ(b.args->items.at(0)->as_str(), "xy");
  const pk::Value& s = doc.root().at("s");  // __builtin__.set([3])
  EXPECT_EQ(s.global_name(), "__builtin__.set");
  EXPECT_EQ(s.args->items.at(0)->as_list().at(0)->as_int(), 3);
}

TEST(Pickle, Protocol2RefusesGlobalsNotAllowed) {
  try {
    pk::parse(unhex(kP2), "p2.pkl");
    FAIL() << "no error";
  } catch (const rd::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("p2.pkl"), std::string::npos) << m;
    EXPECT_NE(m.find("_codecs.encode"), std::string::npos) << m;
    EXPECT_NE(m.find("byte 101 (opcode 0x63 'c')"), std::string::npos) << m;  // offset of the GLOBAL opcode
  }
}

TEST(Pickle, Protocols4And5) {
  std::string p4 = unhex(kP4), p5 = p4;
  p5[1] = 5;
  for (const std::string& bytes : {p4, p5}) {
    pk::Document doc = pk::parse(bytes, "p45");
    check_common(doc.root());
    EXPECT_EQ(doc.root().at("b").as_bytes(), "xy");
    EXPECT_EQ(doc.root().at("b").kind, pk::Kind::Bytes);
    EXPECT_EQ(doc.root().at("s").kind, pk::Kind::Set);
  }
}

TEST(Pickle, Protocol0UnicodeAndTextMemo) {
  pk::Document doc = pk::parse(unhex(kP0), "p0");
  const auto& l = doc.root().as_list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]->as_str(), "h\xc3\xa9 \\u x");
  EXPECT_EQ(l[1]->as_str(), "a\xe4\xb8\xad");
}

TEST(Pickle, HandAssembledMemoSharingAndObjects) {
  // PROTO 2, GLOBAL collections.OrderedDict, EMPTY_TUPLE, REDUCE, MARK,
  // 'k' -> BINPERSID(('s', 7)), 'l' -> [x, x] with x memoized, SETITEMS,
  // BUILD {'m': 1}, STOP.
  std::string b = "\x80\x02" "ccollections\nOrderedDict\n" ")R" "("s;
  b += "X\x01\x00\x00\x00k" "(X\x01\x00\x00\x00sK\x07tQ"s;
  b += "X\x01\x00\x00\x00l" "]" "X\x01\x00\x00\x00x" "r\x05\x00\x00\x00" "a" "j\x05\x00\x00\x00" "a"s;
  b += "u" "}X\x01\x00\x00\x00mK\x01s" "b" "."s;
  pk::Document doc = pk::parse(b, "hand"s, pk::allow_globals({"collections.OrderedDict"}));
  const pk::Value& r = doc.root();
  EXPECT_EQ(r.global_name(), "collections.OrderedDict"s);
  ASSERT_TRUE(r.is_dict());
  ASSERT_EQ(r.as_dict().size(), 2u);
  const pk::Value& k = r.at("k"s);
  ASSERT_EQ(k.kind, pk::Kind::PersistentId);
  EXPECT_EQ(k.pid->items.at(1)->as_int(), 7);
  const auto& l = r.at("l"s).as_list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0], l[1]);  // the memo shares the node
  EXPECT_EQ(r.state->at("m"s).as_int(), 1);
}

TEST(Pickle, TypeErrorsNameWhatWasExpected) {
  pk::Document doc = pk::parse(unhex(kP4), "p4"s);
  try {
    doc.root().at("u"s).as_int("field u"s);
    FAIL();
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("field u: expected int, got str"s), std::string::npos) << e.what();
  }
  EXPECT_THROW(doc.root().at("nope"s), rd::Error);
}

TEST(Pickle, EveryTruncationIsAnError) {
  for (const char* hex : {kP2, kP4, kP0}) {
    std::string full = unhex(hex);
    for (size_t n = 0; n < full.size(); ++n)
      EXPECT_THROW(pk::parse(full.substr(0, n), "cut"s, pk::allow_globals({"_codecs.encode"s, "__builtin__.set"})),
                   rd::Error)
          << n;
  }
}

TEST(Pickle, MalformedInputIsAnError) {
  auto msg = [](const std::string& bytes, const pk::GlobalFilter& allow = pk::allow_no_globals()) {
    try {
      pk::parse(bytes, "bad"s);
    } catch (const rd::Error& e) {
      return std::string(e.what());
    }
    (void)allow;
    return std::string("no error"s);
  };
  EXPECT_NE(msg("\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00ls" "\x85R."s).find("'os.system' is not allowed"s),
            std::string::npos);
  EXPECT_NE(msg("\x80\x04\x8c\x02os\x8c\x06system\x93."s).find("os.system"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02\xff."s).find("opcode 0xff"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02" "i__main__\nX\n."s).find("byte 2"s), std::string::npos);  // INST
  EXPECT_NE(msg("\x80\x02N.junk"s).find("trailing"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02h\x03."s).find("memo key 3"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02" "a."s).find("underflow"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02NN."s).find("STOP with 2 values"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02" "e."s).find("MARK"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02" "NK\x01" "a."s).find("APPEND(S) to a None"s), std::string::npos);
  EXPECT_NE(msg("\x80\x09N."s).find("protocol 9"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02X\xff\xff\xff\xff."s).find("truncated"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."s).find("64 bits"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02" "\x95\xff\xff\xff\xff\xff\xff\xff\x7f" "N."s).find("frame"s), std::string::npos);
  EXPECT_NE(msg("\x80\x02" "]K\x01R."s).find("call of a list"s), std::string::npos);
}

TEST(Pickle, CyclicValuesRenderWithoutHanging) {
  // l = []; l.append(l)
  pk::Document doc = pk::parse(std::string("\x80\x02]q\x00h\x00" "a.", 9), "cycle");
  EXPECT_EQ(doc.root().items.at(0), &doc.root());
  EXPECT_LT(doc.root().repr(1000).size(), 1100u);
}

// refCOCO-style `refs(*).p`: Python 2 pickles (SHORT_BINSTRING keys) and
// Python 3 ones (BINUNICODE) of a list of dicts; sent_ids must name the
// sentences' sent_id in order.
TEST(Pickle, ReferSegRefsFixturesLoad) {
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(rd::testing::fixtures_root())) {
    std::string name = e.path().filename().string();
    if (e.path().extension() != ".p" || name.rfind("refs(", 0) != 0) continue;
    SCOPED_TRACE(e.path().string());
    pk::Document doc = pk::read_file(e.path().string());
    const auto& refs = doc.root().as_list("refs");
    ASSERT_FALSE(refs.empty());
    for (const pk::Value* ref : refs) {
      EXPECT_GE(ref->at("ref_id").as_int("ref_id"), 0);
      EXPECT_GE(ref->at("image_id").as_int("image_id"), 0);
      EXPECT_NE(ref->at("file_name").as_str("file_name").find(".jpg"), std::string::npos);
      const auto& ids = ref->at("sent_ids").as_list("sent_ids");
      const auto& sents = ref->at("sentences").as_list("sentences");
      ASSERT_EQ(ids.size(), sents.size());
      for (size_t k = 0; k < ids.size(); ++k) {
        EXPECT_EQ(sents[k]->at("sent_id").as_int(), ids[k]->as_int());
        EXPECT_FALSE(sents[k]->at("sent").as_str().empty());
        EXPECT_FALSE(sents[k]->at("tokens").as_list().empty());
      }
    }
    ++files;
  }
  EXPECT_GT(files, 0);
}
