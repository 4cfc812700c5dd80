// A safe reader for the subset of Python's pickle format that torch.save and
// plain-data pickles use (protocols 2-5, incl. Python 2 pickles of plain data
// such as refCOCO's `refs(unc).p`). It builds a value tree and never executes
// anything: GLOBAL/STACK_GLOBAL produce a `Global` node only when the caller's
// allow-list accepts the name, and REDUCE/NEWOBJ produce an `Object` node
// (callable + args) that the caller interprets (e.g. torch_save.cpp turns
// torch._utils._rebuild_tensor_v2 objects into tensors). Unknown opcodes,
// refused globals, truncated or inconsistent input throw rd::Error naming the
// source, the byte offset and the opcode or global.
//
// Usage (plain data):
//   rd::pickle::Document doc = rd::pickle::read_file("refs(unc).p");
//   for (const rd::pickle::Value* ref : doc.root().as_list("refs"))
//     int64_t id = ref->at("ref_id").as_int("ref_id");
//
// Strings: Python 3 `str` (BINUNICODE...) are UTF-8. Python 2 `str`
// (BINSTRING/SHORT_BINSTRING) are kept as their raw bytes, also as Kind::Str
// (they are ASCII/UTF-8 in practice), with `py2_str` set.
// Values live in the Document's arena and are referred to by pointer; memo
// references (GET) share nodes, so the tree is a DAG (a hostile pickle can even
// make it cyclic: recursive consumers should bound their depth).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rd::pickle {

enum class Kind {
  None, Bool, Int, Float, Str, Bytes,
  List, Tuple, Dict, Set,
  Global,        // module + name of an allowed GLOBAL/STACK_GLOBAL
  Object,        // callable(args) from REDUCE/NEWOBJ, + items/entries/state
  PersistentId,  // BINPERSID: `pid` is the persistent id (torch: a storage tuple)
};
const char* kind_name(Kind k);

struct Value {
  Kind kind = Kind::None;
  bool b = false;           // Bool
  int64_t i = 0;            // Int (and Bool as 0/1)
  double f = 0;             // Float
  std::string str;          // Str (UTF-8 / raw py2 bytes), Bytes
  bool py2_str = false;     // Str read from BINSTRING/SHORT_BINSTRING
  std::string module, name; // Global
  // List/Tuple/Set items; Object: items added by APPEND(S).
  std::vector<const Value*> items;
  // Dict entries in pickle order; Object: entries added by SETITEM(S).
  std::vector<std::pair<const Value*, const Value*>> entries;
  const Value* callable = nullptr;  // Object: the Global (or other value) called
  const Value* args = nullptr;      // Object: the argument tuple
  const Value* kwargs = nullptr;    // Object: NEWOBJ_EX keyword arguments
  const Value* state = nullptr;     // Object: BUILD state, if any
  const Value* pid = nullptr;       // PersistentId

  // Checked accessors: throw rd::Error "<what>: expected int, got str 'abc'".
  bool is_none() const { return kind == Kind::None; }
  bool as_bool(const std::string& what = "value") const;
  int64_t as_int(const std::string& what = "value") const;   // Int or Bool
  double as_float(const std::string& what = "value") const;  // Float or Int
  const std::string& as_str(const std::string& what = "value") const;    // Str
  const std::string& as_bytes(const std::string& what = "value") const;  // Bytes or Str
  // List or Tuple items.
  const std::vector<const Value*>& as_list(const std::string& what = "value") const;
  // Dict entries, or those of an Object built by collections.OrderedDict().
  const std::vector<std::pair<const Value*, const Value*>>& as_dict(
      const std::string& what = "value") const;
  bool is_dict() const;
  // Dict lookup by str key (the last one if a key repeats): nullptr if absent.
  const Value* get(const std::string& key) const;
  // Like get, but throws "missing key 'k' (keys: a, b, ...)" when absent.
  const Value& at(const std::string& key) const;
  // "module.name" of a Global, or of an Object's callable when it is a Global.
  std::string global_name() const;
  // A short Python-like rendering for error messages and debugging.
  std::string repr(size_t max_chars = 120) const;
};

// Decides which GLOBAL/STACK_GLOBAL names may appear. Anything refused is an error.
using GlobalFilter = std::function<bool(const std::string& module, const std::string& name)>;
GlobalFilter allow_globals(std::vector<std::string> module_dot_names);  // e.g. {"collections.OrderedDict"}
GlobalFilter allow_no_globals();

class Document {
 public:
  Document();
  ~Document();
  Document(Document&&) noexcept;
  Document& operator=(Document&&) noexcept;

  const Value& root() const { return *root_; }
  const std::string& source() const { return source_; }
  size_t num_values() const;

 private:
  friend class Reader;
  std::string source_;
  std::vector<std::unique_ptr<Value>> arena_;
  const Value* root_ = nullptr;
  friend Document parse(const uint8_t*, size_t, const std::string&, const GlobalFilter&);
};

// Parses one pickle (up to its STOP opcode; trailing bytes are an error).
// `source` names the input in error messages (a file or archive record).
Document parse(const uint8_t* data, size_t size, const std::string& source,
               const GlobalFilter& allow = allow_no_globals());
Document parse(const std::string& bytes, const std::string& source,
               const GlobalFilter& allow = allow_no_globals());
Document read_file(const std::string& path, const GlobalFilter& allow = allow_no_globals());

}  // namespace rd::pickle
