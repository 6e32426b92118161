// One malformed file per validation rule of the reader, each expecting its own specific message.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <set>

#include "gguf/gguf_bytes.h"
#include "gguf/gguf_reader.h"

namespace cria::gguf {
namespace {

using test::GgufBytes;
using test::GgufSpec;

struct Case {
  const char* name;
  std::function<std::vector<uint8_t>()> make;
  const char* expected;  // substring of the error message
};

std::vector<uint8_t> from_spec(const std::function<void(GgufSpec&)>& change) {
  auto spec = GgufSpec::valid();
  change(spec);
  return spec.build();
}

std::vector<uint8_t> truncated_after(size_t keep) {
  auto bytes = GgufSpec::valid().build();
  bytes.resize(keep);
  return bytes;
}

// Header: magic, version, counts.
GgufBytes header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  GgufBytes b;
  b.u32(0x46554747).u32(version).u64(n_tensors).u64(n_kv);
  return b;
}

std::vector<uint8_t> with_kv(const std::function<void(GgufBytes&)>& record) {
  auto b = header(3, 0, 1);
  record(b);
  return b.bytes;
}

// A valid first key, then the bytes of a second one: the file is long enough to pass the count check.
std::vector<uint8_t> second_kv(const std::function<void(GgufBytes&)>& record) {
  auto b = header(3, 0, 2);
  b.str("first").i32(8).str(std::string(24, 'x'));
  record(b);
  return b.bytes;
}

// Likewise for tensor infos: a valid first record, then a partial second one, and nothing after it.
std::vector<uint8_t> second_tensor(const std::function<void(GgufBytes&)>& record) {
  auto b = header(3, 2, 0);
  b.str(std::string(40, 'f')).u32(1).u64(32).i32(0).u64(0);
  record(b);
  return b.bytes;
}

std::vector<uint8_t> with_tensor(const std::function<void(GgufBytes&)>& record, size_t data = 64) {
  auto b = header(3, 1, 0);
  record(b);
  b.pad(32).zeros(data);
  return b.bytes;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
      {"empty file", [] { return std::vector<uint8_t>{}; }, "too short for a GGUF header"},
      {"bad magic", [] { return from_spec([](GgufSpec& s) { s.magic = 0x4c4d4747; }); }, "bad magic 0x4c4d4747"},
      {"version 0", [] { return from_spec([](GgufSpec& s) { s.version = 0; }); }, "unsupported GGUF version 0"},
      {"version 4", [] { return from_spec([](GgufSpec& s) { s.version = 4; }); }, "unsupported GGUF version 4"},
      {"big-endian", [] { return from_spec([](GgufSpec& s) { s.version = 0x03000000; }); }, "byte-swapped"},
      {"truncated version", [] { return truncated_after(6); }, "header: truncated version"},
      {"truncated tensor count", [] { return truncated_after(12); }, "header: truncated tensor count"},
      {"truncated metadata count", [] { return truncated_after(20); }, "header: truncated metadata count"},
      {"negative tensor count", [] { return header(3, ~0ull, 0).bytes; }, "tensor count 0xffffffffffffffff is negative"},
      {"negative metadata count", [] { return header(3, 0, 1ull << 63).bytes; }, "metadata count 0x8000000000000000 is negative"},
      {"metadata count larger than file", [] { return header(3, 0, 1000000000000ull).bytes; },
       "metadata count 1000000000000 cannot fit"},
      {"tensor count larger than file", [] { return header(3, 1000000000000ull, 0).bytes; },
       "tensor count 1000000000000 cannot fit"},
      {"truncated key length", [] { return second_kv([](GgufBytes& b) { b.raw("\x05\0\0", 3); }); },
       "metadata key #1: truncated string length"},
      {"key longer than file", [] { return with_kv([](GgufBytes& b) { b.u64(1ull << 40).raw("abcdefghij", 10); }); },
       "metadata key #0: string length 1099511627776 runs past the end"},
      {"empty key", [] { return with_kv([](GgufBytes& b) { b.str("").i32(4).u32(1); }); }, "metadata key #0: empty key"},
      {"duplicate key", [] { return from_spec([](GgufSpec& s) { s.kvs.push_back(s.kvs[0]); }); },
       "metadata 'general.architecture': duplicate key"},
      {"unknown value type", [] { return with_kv([](GgufBytes& b) { b.str("k").i32(13).u32(0); }); },
       "metadata 'k': unknown value type 13"},
      {"negative value type", [] { return with_kv([](GgufBytes& b) { b.str("k").i32(-1).u32(0); }); },
       "metadata 'k': unknown value type -1"},
      {"truncated value type", [] { return second_kv([](GgufBytes& b) { b.str("k").raw("\x04", 1); }); },
       "metadata 'k': truncated value type"},
      {"truncated UINT32 value", [] { return with_kv([](GgufBytes& b) { b.str("k").i32(4).raw("\1\2", 2); }); },
       "metadata 'k': truncated UINT32 value"},
      {"truncated BOOL value", [] { return with_kv([](GgufBytes& b) { b.str("k").i32(7); }); },
       "metadata 'k': truncated BOOL value"},
      {"string value longer than file", [] { return with_kv([](GgufBytes& b) { b.str("k").i32(8).u64(99).raw("x", 1); }); },
       "metadata 'k': string length 99 runs past the end"},
      {"nested array", [] { return with_kv([](GgufBytes& b) { b.str("k").i32(9).i32(9).u64(1); }); },
       "metadata 'k': nested arrays are not supported"},
      {"unknown array element type", [] { return with_kv([](GgufBytes& b) { b.str("k").i32(9).i32(42).u64(1); }); },
       "metadata 'k': unknown array element type 42"},
      {"truncated array length", [] { return with_kv([](GgufBytes& b) { b.str("k").i32(9).i32(4).raw("\1", 1); }); },
       "metadata 'k': truncated array length"},
      {"numeric array longer than file",
       [] { return with_kv([](GgufBytes& b) { b.str("k").i32(9).i32(4).u64(1ull << 60).u32(1); }); },
       "metadata 'k': array of 1152921504606846976 elements runs past the end"},
      {"string array longer than file",
       [] { return with_kv([](GgufBytes& b) { b.str("k").i32(9).i32(8).u64(1ull << 40).str("a"); }); },
       "metadata 'k': array of 1099511627776 strings runs past the end"},
      {"string array element past end",
       [] { return with_kv([](GgufBytes& b) { b.str("k").i32(9).i32(8).u64(2).str("a").u64(500).raw("b", 1); }); },
       "metadata 'k'[1]: string length 500 runs past the end"},
      {"alignment not UINT32",
       [] { return from_spec([](GgufSpec& s) { s.kvs[1] = {"general.alignment", 10, std::vector<uint8_t>(8, 0)}; s.kvs[1].value[0] = 32; }); },
       "general.alignment: must be UINT32, found UINT64"},
      {"alignment zero", [] { return from_spec([](GgufSpec& s) { s.kvs[1].value = GgufSpec::u32_value(0); }); },
       "general.alignment: must be a non-zero power of two, found 0"},
      {"alignment not a power of two", [] { return from_spec([](GgufSpec& s) { s.kvs[1].value = GgufSpec::u32_value(48); }); },
       "general.alignment: must be a non-zero power of two, found 48"},
      {"empty tensor name", [] { return from_spec([](GgufSpec& s) { s.tensors[0].name = ""; }); },
       "tensor #0: empty tensor name"},
      {"tensor name too long", [] { return from_spec([](GgufSpec& s) { s.tensors[0].name = std::string(64, 'n'); }); },
       "name is 64 bytes, more than the limit of 63"},
      {"tensor name longer than file", [] { return with_tensor([](GgufBytes& b) { b.u64(1ull << 50); }); },
       "tensor #0 name: string length 1125899906842624 runs past the end"},
      {"n_dims 0", [] { return from_spec([](GgufSpec& s) { s.tensors[0].ne.clear(); }); },
       "tensor 'a.weight': n_dims 0 is not in 1..4"},
      {"n_dims 5", [] { return from_spec([](GgufSpec& s) { s.tensors[0].ne = {8, 2, 1, 1, 1}; }); },
       "tensor 'a.weight': n_dims 5 is not in 1..4"},
      {"negative dimension", [] { return from_spec([](GgufSpec& s) { s.tensors[0].ne = {8, -2}; }); },
       "tensor 'a.weight': dimension 1 is negative (-2)"},
      {"truncated n_dims", [] { return second_tensor([](GgufBytes& b) { b.str("t").raw("\2", 1); }); },
       "tensor 't': truncated n_dims"},
      {"truncated dimension", [] { return second_tensor([](GgufBytes& b) { b.str("t").u32(2).u64(8); }); },
       "tensor 't': truncated dimension 1"},
      {"truncated tensor type", [] { return second_tensor([](GgufBytes& b) { b.str("t").u32(1).u64(8).raw("\0", 1); }); },
       "tensor 't': truncated type"},
      {"truncated data offset", [] { return second_tensor([](GgufBytes& b) { b.str("t").u32(1).u64(8).i32(0).u32(0); }); },
       "tensor 't': truncated data offset"},
      {"unknown tensor type", [] { return from_spec([](GgufSpec& s) { s.tensors[0].type = 99; }); },
       "tensor 'a.weight': unknown tensor type 99"},
      {"negative tensor type", [] { return from_spec([](GgufSpec& s) { s.tensors[0].type = -3; }); },
       "tensor 'a.weight': unknown tensor type -3"},
      {"removed type Q4_2", [] { return from_spec([](GgufSpec& s) { s.tensors[0].type = 4; }); },
       "tensor type 4 (Q4_2) was removed"},
      {"removed type Q4_0_4_4", [] { return from_spec([](GgufSpec& s) { s.tensors[0].type = 31; }); },
       "tensor type 31 (Q4_0_4_4) was removed"},
      {"element count overflow",
       [] { return from_spec([](GgufSpec& s) { s.tensors[0].ne = {1ll << 40, 1ll << 40}; }); },
       "tensor 'a.weight': element count overflows 64 bits"},
      {"byte count overflow", [] { return from_spec([](GgufSpec& s) { s.tensors[0].ne = {1ll << 31, 1ll << 31}; }); },
       "tensor 'a.weight': byte size overflows 64 bits"},
      {"row not a multiple of the block", [] { return from_spec([](GgufSpec& s) { s.tensors[1].ne = {40, 3}; }); },
       "row length 40 is not a multiple of the Q8_0 block size 32"},
      {"duplicate tensor name", [] { return from_spec([](GgufSpec& s) { s.tensors[1].name = "a.weight"; }); },
       "tensor 'a.weight': duplicate tensor name"},
      {"unaligned offset", [] { return from_spec([](GgufSpec& s) { s.tensors[1].offset = 66; }); },
       "tensor 'b.weight': data offset 0x42 is not a multiple of the alignment 32"},
      {"data past end of file", [] { return from_spec([](GgufSpec& s) { s.data_bytes = 100; }); },
       "tensor 'b.weight': data at offset 0x40 with 102 bytes runs past the end of the file"},
      {"offset far past end", [] { return from_spec([](GgufSpec& s) { s.tensors[1].offset = 1ull << 62; }); },
       "tensor 'b.weight': data at offset 0x4000000000000000"},
      {"overlapping tensors", [] { return from_spec([](GgufSpec& s) { s.tensors[1].offset = 32; }); },
       "tensor 'b.weight': data at offset 0x20 overlaps tensor 'a.weight'"},
      {"data section past end",
       [] { auto b = header(3, 1, 0); b.str("t").u32(1).u64(8).i32(0).u64(0); return b.bytes; },
       "data section: starts at"},
  };
  return kCases;
}

TEST(GgufMalformed, EachRuleHasItsOwnError) {
  std::set<std::string> messages;
  for (const auto& c : cases()) {
    const auto bytes = c.make();
    auto file = File::parse(bytes.data(), bytes.size(), "bad.gguf");
    ASSERT_FALSE(file.ok()) << c.name << ": parsed without error";
    const std::string& msg = file.error().message;
    EXPECT_EQ(msg.rfind("bad.gguf: ", 0), 0u) << c.name << ": message does not name the file: " << msg;
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.name << ": expected '" << c.expected << "' in: " << msg;
    messages.insert(msg);
  }
  EXPECT_GE(cases().size(), 30u);
  EXPECT_EQ(messages.size(), cases().size()) << "two malformed files gave the same message";
}

TEST(GgufMalformed, ValidBaseParses) {
  const auto bytes = GgufSpec::valid().build();
  auto file = File::parse(bytes.data(), bytes.size(), "good.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
}

}  // namespace
}  // namespace cria::gguf
