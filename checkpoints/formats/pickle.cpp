#include "checkpoints/formats/pickle.h"

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "common/error.h"

namespace rd::pickle {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
    case Kind::PersistentId: return "persistent id";
  }
  return "?";
}

// ---- Value accessors -------------------------------------------------------

namespace {
[[noreturn]] void wrong(const Value& v, const std::string& what, const char* want) {
  fail(what, ": expected ", want, ", got ", kind_name(v.kind), " ", v.repr(60));
}

void repr_into(const Value& v, std::string& out, size_t max, int depth) {
  if (out.size() > max) return;
  if (depth > 8) {
    out += "...";
    return;
  }
  auto seq = [&](const std::vector<const Value*>& xs, const char* open, const char* close) {
    out += open;
    for (size_t k = 0; k < xs.size() && out.size() <= max; ++k) {
      if (k) out += ", ";
      repr_into(*xs[k], out, max, depth + 1);
    }
    out += close;
  };
  switch (v.kind) {
    case Kind::None: out += "None"; break;
    case Kind::Bool: out += v.b ? "True" : "False"; break;
    case Kind::Int: out += std::to_string(v.i); break;
    case Kind::Float: {
      std::ostringstream os;
      os << v.f;
      out += os.str();
      break;
    }
    case Kind::Str: out += "'" + v.str.substr(0, max) + "'"; break;
    case Kind::Bytes: out += "b'<" + std::to_string(v.str.size()) + " bytes>'"; break;
    case Kind::List: seq(v.items, "[", "]"); break;
    case Kind::Tuple: seq(v.items, "(", ")"); break;
    case Kind::Set: seq(v.items, "{", "}"); break;
    case Kind::Dict:
      out += "{";
      for (size_t k = 0; k < v.entries.size() && out.size() <= max; ++k) {
        if (k) out += ", ";
        repr_into(*v.entries[k].first, out, max, depth + 1);
        out += ": ";
        repr_into(*v.entries[k].second, out, max, depth + 1);
      }
      out += "}";
      break;
    case Kind::Global: out += v.module + "." + v.name; break;
    case Kind::Object:
      if (v.callable) repr_into(*v.callable, out, max, depth + 1);
      if (v.args) repr_into(*v.args, out, max, depth + 1);
      break;
    case Kind::PersistentId:
      out += "persistent_load(";
      if (v.pid) repr_into(*v.pid, out, max, depth + 1);
      out += ")";
      break;
  }
}
}  // namespace

bool Value::as_bool(const std::string& what) const {
  if (kind != Kind::Bool) wrong(*this, what, "bool");
  return b;
}
int64_t Value::as_int(const std::string& what) const {
  if (kind != Kind::Int && kind != Kind::Bool) wrong(*this, what, "int");
  return i;
}
double Value::as_float(const std::string& what) const {
  if (kind == Kind::Float) return f;
  if (kind == Kind::Int) return static_cast<double>(i);
  wrong(*this, what, "float");
}
const std::string& Value::as_str(const std::string& what) const {
  if (kind != Kind::Str) wrong(*this, what, "str");
  return str;
}
const std::string& Value::as_bytes(const std::string& what) const {
  if (kind != Kind::Bytes && kind != Kind::Str) wrong(*this, what, "bytes");
  return str;
}
const std::vector<const Value*>& Value::as_list(const std::string& what) const {
  if (kind != Kind::List && kind != Kind::Tuple) wrong(*this, what, "list or tuple");
  return items;
}
bool Value::is_dict() const {
  return kind == Kind::Dict ||
         (kind == Kind::Object && global_name() == "collections.OrderedDict" && items.empty());
}
const std::vector<std::pair<const Value*, const Value*>>& Value::as_dict(
    const std::string& what) const {
  if (!is_dict()) wrong(*this, what, "dict");
  return entries;
}
const Value* Value::get(const std::string& key) const {
  if (!is_dict()) return nullptr;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)
    if (it->first->kind == Kind::Str && it->first->str == key) return it->second;
  return nullptr;
}
const Value& Value::at(const std::string& key) const {
  if (!is_dict()) wrong(*this, "looking up '" + key + "'", "dict");
  if (const Value* v = get(key)) return *v;
  std::string keys;
  for (size_t k = 0; k < entries.size() && keys.size() < 200; ++k)
    keys += (k ? ", " : "") + entries[k].first->repr(40);
  fail("missing key '", key, "' (keys: ", keys, ")");
}
std::string Value::global_name() const {
  if (kind == Kind::Global) return module + "." + name;
  if (kind == Kind::Object && callable && callable->kind == Kind::Global)
    return callable->global_name();
  return "";
}
std::string Value::repr(size_t max_chars) const {
  std::string out;
  repr_into(*this, out, max_chars, 0);
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "...";
  return out;
}

GlobalFilter allow_globals(std::vector<std::string> names) {
  std::set<std::string> allowed(names.begin(), names.end());
  return [allowed](const std::string& module, const std::string& name) {
    return allowed.count(module + "." + name) > 0;
  };
}
GlobalFilter allow_no_globals() {
  return [](const std::string&, const std::string&) { return false; };
}

// ---- Document --------------------------------------------------------------

Document::Document() = default;
Document::~Document() = default;
Document::Document(Document&&) noexcept = default;
Document& Document::operator=(Document&&) noexcept = default;
size_t Document::num_values() const { return arena_.size(); }

// ---- Reader ----------------------------------------------------------------

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, Document& doc, const GlobalFilter& allow)
      : p_(data), n_(size), doc_(doc), allow_(allow) {}

  void run();

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0, op_pos_ = 0;
  uint8_t op_ = 0;
  Document& doc_;
  const GlobalFilter& allow_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;

  template <typename... Parts>
  [[noreturn]] void error(const Parts&... parts) const {
    std::string c = (op_ >= 0x20 && op_ < 0x7f) ? std::string(" '") + static_cast<char>(op_) + "'" : "";
    fail(doc_.source_, ": pickle byte ", op_pos_, " (opcode 0x", hex(op_), c, "): ", parts...);
  }
  static std::string hex(uint8_t b) {
    const char* d = "0123456789abcdef";
    return std::string{d[b >> 4], d[b & 15]};
  }

  Value* make(Kind k) {
    doc_.arena_.push_back(std::make_unique<Value>());
    doc_.arena_.back()->kind = k;
    return doc_.arena_.back().get();
  }
  const uint8_t* take(uint64_t count) {
    if (count > n_ - pos_) error("truncated: needs ", count, " more bytes, ", n_ - pos_, " left");
    const uint8_t* at = p_ + pos_;
    pos_ += count;
    return at;
  }
  uint64_t le(int bytes) {
    const uint8_t* b = take(bytes);
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | b[k];
    return v;
  }
  std::string line() {  // up to '\n' (protocol-0 arguments)
    const void* nl = std::memchr(p_ + pos_, '\n', n_ - pos_);
    if (!nl) error("truncated: missing end of line");
    size_t len = static_cast<const uint8_t*>(nl) - (p_ + pos_);
    std::string s(reinterpret_cast<const char*>(take(len)), len);
    ++pos_;
    return s;
  }
  Value* pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      error("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      error("stack underflow");
    return stack_.back();
  }
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) error("no MARK on the stack");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> out(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return out;
  }
  void push(Value* v) { stack_.push_back(v); }
  void push_str(Kind k, uint64_t len, bool py2 = false) {
    Value* v = make(k);
    v->str.assign(reinterpret_cast<const char*>(take(len)), len);
    v->py2_str = py2;
    push(v);
  }
  void push_int(int64_t x) {
    Value* v = make(Kind::Int);
    v->i = x;
    push(v);
  }
  void push_long(uint64_t len);
  void push_global(const std::string& module, const std::string& name);
  void memo_put(uint64_t idx) { memo_[idx] = top(); }
  void memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) error("memo key ", idx, " was never stored");
    push(it->second);
  }
  Value* tuple_of(std::vector<Value*> xs) {
    Value* t = make(Kind::Tuple);
    t->items.assign(xs.begin(), xs.end());
    return t;
  }
  void append(Value* target, const std::vector<Value*>& xs) {
    if (target->kind != Kind::List && target->kind != Kind::Object)
      error("APPEND(S) to a ", kind_name(target->kind));
    target->items.insert(target->items.end(), xs.begin(), xs.end());
  }
  void set_items(Value* target, const std::vector<Value*>& kv) {
    if (target->kind != Kind::Dict && target->kind != Kind::Object)
      error("SETITEM(S) on a ", kind_name(target->kind));
    if (kv.size() % 2) error("SETITEMS with an odd number of values");
    for (size_t k = 0; k < kv.size(); k += 2) target->entries.emplace_back(kv[k], kv[k + 1]);
  }
  void unicode_escape(const std::string& raw);
};

void Reader::push_long(uint64_t len) {
  const uint8_t* b = take(len);
  if (len > 8) {
    // Accept over-long encodings of small numbers (sign-extension bytes only).
    uint8_t ext = (b[len - 1] & 0x80) ? 0xff : 0;
    for (uint64_t k = 8; k < len; ++k)
      if (b[k] != ext) error("integer of ", len, " bytes does not fit in 64 bits");
    if (((b[7] & 0x80) ? 0xff : 0) != ext) error("integer does not fit in 64 bits");
    len = 8;
  }
  uint64_t v = 0;
  for (int k = static_cast<int>(len) - 1; k >= 0; --k) v = (v << 8) | b[k];
  if (len > 0 && len < 8 && (b[len - 1] & 0x80)) v |= ~uint64_t{0} << (8 * len);  // sign-extend
  int64_t s;
  std::memcpy(&s, &v, 8);
  push_int(s);
}

void Reader::push_global(const std::string& module, const std::string& name) {
  if (!allow_(module, name)) error("global '", module, ".", name, "' is not allowed");
  Value* g = make(Kind::Global);
  g->module = module;
  g->name = name;
  push(g);
}

// UNICODE (protocol 0): raw-unicode-escape; \uXXXX and \UXXXXXXXX escapes,
// every other byte is a Latin-1 code point. Output is UTF-8.
void Reader::unicode_escape(const std::string& raw) {
  Value* v = make(Kind::Str);
  auto put = [&](uint32_t c) {
    std::string& o = v->str;
    if (c < 0x80) {
      o += static_cast<char>(c);
    } else if (c < 0x800) {
      o += static_cast<char>(0xc0 | (c >> 6));
      o += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      o += static_cast<char>(0xe0 | (c >> 12));
      o += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      o += static_cast<char>(0x80 | (c & 0x3f));
    } else {
      o += static_cast<char>(0xf0 | (c >> 18));
      o += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
      o += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      o += static_cast<char>(0x80 | (c & 0x3f));
    }
  };
  for (size_t k = 0; k < raw.size(); ++k) {
    unsigned char c = raw[k];
    if (c == '\\' && k + 1 < raw.size() && (raw[k + 1] == 'u' || raw[k + 1] == 'U')) {
      size_t digits = raw[k + 1] == 'u' ? 4 : 8;
      if (k + 2 + digits > raw.size()) error("truncated \\u escape in UNICODE");
      uint32_t cp = 0;
      for (size_t d = 0; d < digits; ++d) {
        char h = raw[k + 2 + d];
        int x = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        if (x < 0) error("bad \\u escape in UNICODE");
        cp = cp * 16 + x;
      }
      if (cp > 0x10ffff) error("code point out of range in UNICODE");
      put(cp);
      k += 1 + digits;
    } else {
      put(c);
    }
  }
  push(v);
}

void Reader::run() {
  for (;;) {
    op_pos_ = pos_;
    if (pos_ >= n_) error("truncated: no STOP opcode before the end of the data");
    op_ = p_[pos_++];
    switch (op_) {
      case 0x80: {  // PROTO
        uint64_t proto = le(1);
        if (proto > 5) error("unsupported pickle protocol ", proto);
        break;
      }
      case 0x95: {  // FRAME: framing is advisory; the length must fit
        uint64_t len = le(8);
        if (len > n_ - pos_) error("truncated: frame of ", len, " bytes, ", n_ - pos_, " left");
        break;
      }
      case '.': {  // STOP
        if (stack_.size() != 1 || !marks_.empty())
          error("STOP with ", stack_.size(), " values and ", marks_.size(), " marks on the stack");
        if (pos_ != n_) error(n_ - pos_, " trailing bytes after STOP");
        doc_.root_ = stack_.back();
        return;
      }
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;                             // POP
      case '1': pop_mark(); break;                        // POP_MARK
      case '2': push(top()); break;                       // DUP
      case 'N': push(make(Kind::None)); break;
      case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
        Value* v = make(Kind::Bool);
        v->b = op_ == 0x88;
        v->i = v->b;
        push(v);
        break;
      }
      case 'J': {  // BININT: signed 32-bit
        uint32_t u = static_cast<uint32_t>(le(4));
        int32_t s;
        std::memcpy(&s, &u, 4);
        push_int(s);
        break;
      }
      case 'K': push_int(static_cast<int64_t>(le(1))); break;  // BININT1
      case 'M': push_int(static_cast<int64_t>(le(2))); break;  // BININT2
      case 0x8a: push_long(le(1)); break;                       // LONG1
      case 0x8b: {                                              // LONG4
        uint64_t len = le(4);
        if (len & 0x80000000u) error("negative LONG4 length");
        push_long(len);
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const uint8_t* b = take(8);
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | b[k];
        Value* v = make(Kind::Float);
        std::memcpy(&v->f, &u, 8);
        push(v);
        break;
      }
      case 'X': push_str(Kind::Str, le(4)); break;                 // BINUNICODE
      case 0x8c: push_str(Kind::Str, le(1)); break;                // SHORT_BINUNICODE
      case 0x8d: push_str(Kind::Str, le(8)); break;                // BINUNICODE8
      case 'V': unicode_escape(line()); break;                     // UNICODE
      case 'T': {                                                  // BINSTRING (py2 str)
        uint64_t len = le(4);
        if (len & 0x80000000u) error("negative BINSTRING length");
        push_str(Kind::Str, len, true);
        break;
      }
      case 'U': push_str(Kind::Str, le(1), true); break;   // SHORT_BINSTRING (py2 str)
      case 'B': push_str(Kind::Bytes, le(4)); break;       // BINBYTES
      case 'C': push_str(Kind::Bytes, le(1)); break;       // SHORT_BINBYTES
      case 0x8e: push_str(Kind::Bytes, le(8)); break;      // BINBYTES8
      case ']': push(make(Kind::List)); break;             // EMPTY_LIST
      case '}': push(make(Kind::Dict)); break;             // EMPTY_DICT
      case ')': push(tuple_of({})); break;                 // EMPTY_TUPLE
      case 0x8f: push(make(Kind::Set)); break;             // EMPTY_SET
      case 'l': {                                          // LIST
        Value* v = make(Kind::List);
        auto xs = pop_mark();
        v->items.assign(xs.begin(), xs.end());
        push(v);
        break;
      }
      case 't': push(tuple_of(pop_mark())); break;  // TUPLE
      case 0x85: push(tuple_of({pop()})); break;    // TUPLE1
      case 0x86: {                                  // TUPLE2
        Value* b = pop();
        Value* a = pop();
        push(tuple_of({a, b}));
        break;
      }
      case 0x87: {  // TUPLE3
        Value* c = pop();
        Value* b = pop();
        Value* a = pop();
        push(tuple_of({a, b, c}));
        break;
      }
      case 0x91: {  // FROZENSET
        Value* v = make(Kind::Set);
        auto xs = pop_mark();
        v->items.assign(xs.begin(), xs.end());
        push(v);
        break;
      }
      case 'd': {  // DICT
        Value* v = make(Kind::Dict);
        set_items(v, pop_mark());
        push(v);
        break;
      }
      case 'a': {  // APPEND
        Value* x = pop();
        append(top(), {x});
        break;
      }
      case 'e': {  // APPENDS
        auto xs = pop_mark();
        append(top(), xs);
        break;
      }
      case 0x90: {  // ADDITEMS
        auto xs = pop_mark();
        Value* s = top();
        if (s->kind != Kind::Set) error("ADDITEMS to a ", kind_name(s->kind));
        s->items.insert(s->items.end(), xs.begin(), xs.end());
        break;
      }
      case 's': {  // SETITEM
        Value* v = pop();
        Value* k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {  // SETITEMS
        auto kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case 'p': {  // PUT (text index)
        std::string s = line();
        char* end = nullptr;
        unsigned long long idx = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || *end) error("bad PUT index '", s, "'");
        memo_put(idx);
        break;
      }
      case 'g': {  // GET (text index)
        std::string s = line();
        char* end = nullptr;
        unsigned long long idx = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || *end) error("bad GET index '", s, "'");
        memo_get(idx);
        break;
      }
      case 'q': memo_put(le(1)); break;            // BINPUT
      case 'r': memo_put(le(4)); break;            // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;    // MEMOIZE
      case 'h': memo_get(le(1)); break;            // BINGET
      case 'j': memo_get(le(4)); break;            // LONG_BINGET
      case 'c': {                                  // GLOBAL "module\nname\n"
        std::string module = line();
        std::string name = line();
        push_global(module, name);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop();
        Value* module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str)
          error("STACK_GLOBAL needs two str, got ", kind_name(module->kind), " and ",
                kind_name(name->kind));
        push_global(module->str, name->str);
        break;
      }
      case 'R': case 0x81: case 0x92: {  // REDUCE, NEWOBJ, NEWOBJ_EX
        Value* kwargs = op_ == 0x92 ? pop() : nullptr;
        Value* args = pop();
        Value* callable = pop();
        if (callable->kind != Kind::Global)
          error("call of a ", kind_name(callable->kind), " (only allowed globals can be called)");
        if (args->kind != Kind::Tuple) error("call arguments are a ", kind_name(args->kind), ", not a tuple");
        Value* o = make(Kind::Object);
        o->callable = callable;
        o->args = args;
        o->kwargs = kwargs;
        push(o);
        break;
      }
      case 'b': {  // BUILD
        Value* state = pop();
        Value* o = top();
        if (o->kind != Kind::Object) error("BUILD on a ", kind_name(o->kind));
        o->state = state;
        break;
      }
      case 'Q': {  // BINPERSID
        Value* v = make(Kind::PersistentId);
        v->pid = pop();
        push(v);
        break;
      }
      default:
        error("unsupported or unknown opcode");
    }
  }
}

Document parse(const uint8_t* data, size_t size, const std::string& source, const GlobalFilter& allow) {
  Document doc;
  doc.source_ = source;
  Reader(data, size, doc, allow).run();
  return doc;
}

Document parse(const std::string& bytes, const std::string& source, const GlobalFilter& allow) {
  return parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), source, allow);
}

Document read_file(const std::string& path, const GlobalFilter& allow) {
  std::ifstream f(path, std::ios::binary);
  READ_CHECK(f, path, ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  READ_CHECK(!f.bad(), path, ": read error");
  return parse(ss.str(), path, allow);
}

}  // namespace rd::pickle
