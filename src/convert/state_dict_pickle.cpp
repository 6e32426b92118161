// The pickle machine below is a stack machine over plain values. Opcodes are those of protocols 2-5
// that torch.save uses for a state dict; every other opcode is an error. Reading is bounds-checked
// byte by byte, so a truncated or hostile pickle ends in an Error, never a crash.
#include "convert/state_dict_pickle.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <variant>

namespace cria::convert {

namespace {

struct Node;
using NodeP = std::shared_ptr<Node>;

enum class Callable { OrderedDict, RebuildTensor, Storage };
struct Global {
  Callable kind;
  DType storage_dtype = DType::F32;  // for Callable::Storage
};
struct None {};
using Tuple = std::vector<NodeP>;
struct Dict {
  std::vector<std::pair<NodeP, NodeP>> items;
};
struct StorageRef {
  DType dtype;
  std::string key;
  int64_t numel;
};

struct Node {
  std::variant<None, bool, int64_t, std::string, Tuple, Dict, Global, StorageRef, PickledTensor> v;
};

template <class T>
NodeP make(T value) {
  return std::make_shared<Node>(Node{std::move(value)});
}

// A real state dict needs a few thousand stack slots at most; a cap keeps a hostile pickle small.
constexpr size_t kMaxStack = 1u << 20;

Result<Global> resolve_global(const std::string& module, const std::string& name) {
  if (module == "collections" && name == "OrderedDict") return Global{Callable::OrderedDict};
  if (module == "torch._utils" && name == "_rebuild_tensor_v2") return Global{Callable::RebuildTensor};
  if (module == "torch") {
    if (name == "FloatStorage") return Global{Callable::Storage, DType::F32};
    if (name == "HalfStorage") return Global{Callable::Storage, DType::F16};
    if (name == "BFloat16Storage") return Global{Callable::Storage, DType::BF16};
  }
  return make_error("pickle asks for global '" + module + "." + name +
                    "', which is not part of a state dict of F32/F16/BF16 tensors; refusing it (nothing is executed)");
}

class Machine {
 public:
  Machine(std::span<const uint8_t> bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  Result<NodeP> run() {
    while (true) {
      if (pos_ >= bytes_.size()) return fail("pickle ends without STOP (truncated?)");
      op_pos_ = pos_;
      const uint8_t op = bytes_[pos_++];
      if (op == '.') {
        NodeP result;
        if (auto s = pop(result); !s) return s.error();
        return result;
      }
      if (auto s = step(op); !s) return s.error();
      if (stack_.size() > kMaxStack || marks_.size() > kMaxStack) return fail("stack grows past its limit");
    }
  }

 private:
  Error fail(const std::string& why) const {
    return make_error(source_ + ": byte " + std::to_string(op_pos_) + ": " + why);
  }

  Status take(size_t n, const uint8_t*& p) {
    if (n > bytes_.size() - pos_) return fail("pickle is truncated");
    p = bytes_.data() + pos_;
    pos_ += n;
    return Ok{};
  }
  template <class T>
  Status read_le(T& out) {
    out = T{};
    const uint8_t* p = nullptr;
    if (auto s = take(sizeof(T), p); !s) return s;
    std::memcpy(&out, p, sizeof(T));
    return Ok{};
  }
  Status read_line(std::string& out) {
    constexpr size_t kMaxLine = 256;
    for (size_t i = pos_; i < bytes_.size() && i - pos_ <= kMaxLine; ++i) {
      if (bytes_[i] == '\n') {
        out.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), i - pos_);
        pos_ = i + 1;
        return Ok{};
      }
    }
    return fail("GLOBAL name is not a short newline-terminated line");
  }
  Status push_string(size_t n) {
    const uint8_t* p = nullptr;
    if (auto s = take(n, p); !s) return s;
    stack_.push_back(make(std::string(reinterpret_cast<const char*>(p), n)));
    return Ok{};
  }

  // An operand of type T (little-endian), then what the opcode does with it.
  template <class T>
  Status push_int() {
    T v;
    if (auto s = read_le(v); !s) return s;
    stack_.push_back(make(static_cast<int64_t>(v)));
    return Ok{};
  }
  template <class Length>
  Status push_sized_string() {
    Length n;
    if (auto s = read_le(n); !s) return s;
    return push_string(n);
  }
  template <class Index>
  Status memo_op(bool put) {
    Index i;
    if (auto s = read_le(i); !s) return s;
    return put ? memo_put(i) : memo_get(i);
  }

  Status push_global(const std::string& module, const std::string& name) {
    auto global = resolve_global(module, name);
    if (!global) return fail(global.error().message);
    stack_.push_back(make(*global));
    return Ok{};
  }

  Status pop(NodeP& out) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back())) return fail("stack underflow");
    out = std::move(stack_.back());
    stack_.pop_back();
    return Ok{};
  }
  Status pop_to_mark(std::vector<NodeP>& out) {
    if (marks_.empty()) return fail("no MARK to return to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    out.assign(std::make_move_iterator(stack_.begin() + static_cast<ptrdiff_t>(mark)),
               std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return Ok{};
  }
  Status pop_tuple(size_t n) {
    if (stack_.size() < n || (!marks_.empty() && stack_.size() - n < marks_.back())) return fail("stack underflow");
    Tuple t(std::make_move_iterator(stack_.end() - static_cast<ptrdiff_t>(n)), std::make_move_iterator(stack_.end()));
    stack_.resize(stack_.size() - n);
    stack_.push_back(make(std::move(t)));
    return Ok{};
  }
  Status memo_put(uint32_t index) {
    if (stack_.empty()) return fail("memo store from an empty stack");
    memo_[index] = stack_.back();
    return Ok{};
  }
  Status memo_get(uint32_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) return fail("memo slot " + std::to_string(index) + " was never stored");
    stack_.push_back(it->second);
    return Ok{};
  }
  Status set_items(std::vector<NodeP> kv) {
    if (kv.size() % 2 != 0) return fail("SETITEMS with an odd number of values");
    if (stack_.empty()) return fail("SETITEMS without a dict");
    Dict* dict = std::get_if<Dict>(&stack_.back()->v);
    if (dict == nullptr) return fail("SETITEMS on something that is not a dict");
    for (size_t i = 0; i < kv.size(); i += 2) dict->items.emplace_back(std::move(kv[i]), std::move(kv[i + 1]));
    return Ok{};
  }

  Status reduce();
  Status persistent_load();
  Status step(uint8_t op);

  std::span<const uint8_t> bytes_;
  const std::string& source_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::vector<NodeP> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, NodeP> memo_;
};

// Non-negative integers of a tuple, or false.
bool int_tuple(const NodeP& node, std::vector<int64_t>& out) {
  const Tuple* t = std::get_if<Tuple>(&node->v);
  if (t == nullptr) return false;
  out.clear();
  for (const auto& item : *t) {
    const int64_t* v = std::get_if<int64_t>(&item->v);
    if (v == nullptr || *v < 0) return false;
    out.push_back(*v);
  }
  return true;
}

Status Machine::reduce() {
  NodeP args_node, callable_node;
  if (auto s = pop(args_node); !s) return s;
  if (auto s = pop(callable_node); !s) return s;
  const Global* callable = std::get_if<Global>(&callable_node->v);
  const Tuple* args = std::get_if<Tuple>(&args_node->v);
  if (callable == nullptr || args == nullptr) return fail("REDUCE needs a whitelisted global and an argument tuple");
  if (callable->kind == Callable::OrderedDict) {
    if (!args->empty()) return fail("OrderedDict built from arguments is not supported");
    stack_.push_back(make(Dict{}));
    return Ok{};
  }
  if (callable->kind != Callable::RebuildTensor) return fail("a storage type cannot be called");
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args->size() != 6 && args->size() != 7) return fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
  const StorageRef* storage = std::get_if<StorageRef>(&(*args)[0]->v);
  const int64_t* offset = std::get_if<int64_t>(&(*args)[1]->v);
  PickledTensor t;
  if (storage == nullptr) return fail("_rebuild_tensor_v2: first argument is not a storage");
  if (offset == nullptr || *offset < 0) return fail("_rebuild_tensor_v2: storage offset is not a non-negative integer");
  if (!int_tuple((*args)[2], t.shape) || !int_tuple((*args)[3], t.stride) || t.shape.size() != t.stride.size()) {
    return fail("_rebuild_tensor_v2: size and stride must be tuples of non-negative integers of equal length");
  }
  if (!std::holds_alternative<bool>((*args)[4]->v)) return fail("_rebuild_tensor_v2: requires_grad is not a bool");
  if (!std::holds_alternative<Dict>((*args)[5]->v)) return fail("_rebuild_tensor_v2: backward_hooks is not a dict");
  if (args->size() == 7 && !std::holds_alternative<Dict>((*args)[6]->v) && !std::holds_alternative<None>((*args)[6]->v)) {
    return fail("_rebuild_tensor_v2: metadata is not a dict");
  }
  t.dtype = storage->dtype;
  t.storage_key = storage->key;
  t.storage_numel = storage->numel;
  t.storage_offset = *offset;
  stack_.push_back(make(std::move(t)));
  return Ok{};
}

// torch.save stores each storage as a persistent id ('storage', StorageType, key, location, numel).
Status Machine::persistent_load() {
  NodeP pid_node;
  if (auto s = pop(pid_node); !s) return s;
  const Tuple* pid = std::get_if<Tuple>(&pid_node->v);
  if (pid == nullptr || pid->size() != 5) return fail("persistent id is not a 5-tuple ('storage', type, key, location, numel)");
  const std::string* tag = std::get_if<std::string>(&(*pid)[0]->v);
  const Global* type = std::get_if<Global>(&(*pid)[1]->v);
  const std::string* key = std::get_if<std::string>(&(*pid)[2]->v);
  const int64_t* numel = std::get_if<int64_t>(&(*pid)[4]->v);
  if (tag == nullptr || *tag != "storage") return fail("persistent id does not start with 'storage'");
  if (type == nullptr || type->kind != Callable::Storage) return fail("persistent id does not name a storage type");
  if (key == nullptr || key->empty() || key->size() > 64 || key->find('/') != std::string::npos) {
    return fail("persistent id has no valid storage key");
  }
  if (numel == nullptr || *numel < 0) return fail("persistent id has no valid element count");
  stack_.push_back(make(StorageRef{type->storage_dtype, *key, *numel}));
  return Ok{};
}

Status Machine::step(uint8_t op) {
  switch (op) {
    case 0x80: {  // PROTO
      uint8_t version;
      if (auto s = read_le(version); !s) return s;
      if (version < 2 || version > 5) return fail("pickle protocol " + std::to_string(version) + " is not supported");
      return Ok{};
    }
    case 0x95: {  // FRAME: a length hint only
      uint64_t ignored;
      return read_le(ignored);
    }
    case 'c': {  // GLOBAL
      std::string module, name;
      if (auto s = read_line(module); !s) return s;
      if (auto s = read_line(name); !s) return s;
      return push_global(module, name);
    }
    case 0x93: {  // STACK_GLOBAL
      NodeP name, module;
      if (auto s = pop(name); !s) return s;
      if (auto s = pop(module); !s) return s;
      const std::string* m = std::get_if<std::string>(&module->v);
      const std::string* n = std::get_if<std::string>(&name->v);
      if (m == nullptr || n == nullptr) return fail("STACK_GLOBAL needs two strings");
      return push_global(*m, *n);
    }
    case 'q': return memo_op<uint8_t>(true);    // BINPUT
    case 'r': return memo_op<uint32_t>(true);   // LONG_BINPUT
    case 0x94:  // MEMOIZE
      return memo_put(static_cast<uint32_t>(memo_.size()));
    case 'h': return memo_op<uint8_t>(false);   // BINGET
    case 'j': return memo_op<uint32_t>(false);  // LONG_BINGET
    case '(':  // MARK
      marks_.push_back(stack_.size());
      return Ok{};
    case ')':  // EMPTY_TUPLE
      stack_.push_back(make(Tuple{}));
      return Ok{};
    case 't': {  // TUPLE
      Tuple items;
      if (auto s = pop_to_mark(items); !s) return s;
      stack_.push_back(make(std::move(items)));
      return Ok{};
    }
    case 0x85: return pop_tuple(1);  // TUPLE1
    case 0x86: return pop_tuple(2);  // TUPLE2
    case 0x87: return pop_tuple(3);  // TUPLE3
    case '}':  // EMPTY_DICT
      stack_.push_back(make(Dict{}));
      return Ok{};
    case 's': {  // SETITEM
      std::vector<NodeP> kv(2);
      if (auto s = pop(kv[1]); !s) return s;
      if (auto s = pop(kv[0]); !s) return s;
      return set_items(std::move(kv));
    }
    case 'u': {  // SETITEMS
      std::vector<NodeP> kv;
      if (auto s = pop_to_mark(kv); !s) return s;
      return set_items(std::move(kv));
    }
    case 'b': {  // BUILD: a state dict's OrderedDict carries _metadata (module versions), not needed
      NodeP state;
      if (auto s = pop(state); !s) return s;
      if (stack_.empty() || !std::holds_alternative<Dict>(stack_.back()->v)) return fail("BUILD on something that is not a dict");
      return Ok{};
    }
    case 'R': return reduce();
    case 'Q': return persistent_load();  // BINPERSID
    case 'N':
      stack_.push_back(make(None{}));
      return Ok{};
    case 0x88:
    case 0x89:  // NEWTRUE, NEWFALSE
      stack_.push_back(make(op == 0x88));
      return Ok{};
    case 'K': return push_int<uint8_t>();   // BININT1
    case 'M': return push_int<uint16_t>();  // BININT2
    case 'J': return push_int<int32_t>();   // BININT
    case 0x8a: {  // LONG1: little-endian two's complement of n bytes
      uint8_t n = 0;
      const uint8_t* p = nullptr;
      if (auto s = read_le(n); !s) return s;
      if (n > 8) return fail("integer of " + std::to_string(n) + " bytes is too large");
      if (auto s = take(n, p); !s) return s;
      uint64_t v = 0;
      for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
      if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
      stack_.push_back(make(static_cast<int64_t>(v)));
      return Ok{};
    }
    case 'X': return push_sized_string<uint32_t>();  // BINUNICODE
    case 0x8c:                                      // SHORT_BINUNICODE
    case 'U': return push_sized_string<uint8_t>();  // SHORT_BINSTRING
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      return fail(std::string("opcode ") + hex + " is not one a state dict of tensors needs; refusing the pickle");
    }
  }
}

}  // namespace

Result<std::vector<PickledTensor>> parse_state_dict_pickle(std::span<const uint8_t> bytes, const std::string& source) {
  Machine machine(bytes, source);
  auto root = machine.run();
  if (!root) return root.error();
  const Dict* dict = std::get_if<Dict>(&(*root)->v);
  if (dict == nullptr) return make_error(source + ": the pickle is not a dict of tensors");
  std::vector<PickledTensor> tensors;
  for (const auto& [key, value] : dict->items) {
    const std::string* name = std::get_if<std::string>(&key->v);
    const PickledTensor* tensor = std::get_if<PickledTensor>(&value->v);
    if (name == nullptr) return make_error(source + ": a state dict key is not a string");
    if (tensor == nullptr) return make_error(source + ": entry '" + *name + "' is not a tensor (a nested dict?)");
    tensors.push_back(*tensor);
    tensors.back().name = *name;
  }
  if (tensors.empty()) return make_error(source + ": the state dict holds no tensors");
  return tensors;
}

}  // namespace cria::convert
