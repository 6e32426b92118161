// The state-dict unpickler on hand-written pickles: what torch.save emits is understood, anything
// else is refused by name, and no truncation or bad reference crashes it.
#include <gtest/gtest.h>

#include <random>

#include "convert/state_dict_pickle.h"

namespace cria::convert {
namespace {

std::span<const uint8_t> as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// {'w': tensor} in the shape torch.save writes: OrderedDict, one BFloat16 storage of 6 elements, a
// 2x3 view at offset 0 with strides (3, 1), then BUILD with the state dict's _metadata.
std::string one_tensor_pickle(const std::string& rebuild_global = "ctorch._utils\n_rebuild_tensor_v2\n") {
  using namespace std::string_literals;
  std::string p = "\x80\x02"s;
  p += "ccollections\nOrderedDict\nq\x00)Rq\x01("s;
  p += "X\x01\x00\x00\x00w"s;
  p += rebuild_global + "q\x02(("s;
  p += "X\x07\x00\x00\x00storage"s + "ctorch\nBFloat16Storage\n"s + "X\x01\x00\x00\x00" "0"s + "X\x03\x00\x00\x00" "cpu"s +
       "K\x06tQ"s;
  p += "K\x00K\x02K\x03\x86K\x03K\x01\x86\x89h\x00)RtR"s;
  p += "u}X\x09\x00\x00\x00_metadata}sb."s;
  return p;
}

TEST(StateDictPickle, ReadsWhatTorchSaveWrites) {
  auto tensors = parse_state_dict_pickle(as_bytes(one_tensor_pickle()), "test.pkl");
  ASSERT_TRUE(tensors.ok()) << tensors.error().message;
  ASSERT_EQ(tensors->size(), 1u);
  const PickledTensor& t = (*tensors)[0];
  EXPECT_EQ(t.name, "w");
  EXPECT_EQ(t.dtype, DType::BF16);
  EXPECT_EQ(t.storage_key, "0");
  EXPECT_EQ(t.storage_numel, 6);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.stride, (std::vector<int64_t>{3, 1}));
}

TEST(StateDictPickle, RefusesGlobalsOutsideTheWhitelist) {
  for (const std::string global : {"cbuiltins\neval\n", "cos\nsystem\n", "ctorch\nload\n", "ctorch._utils\n_rebuild_parameter\n"}) {
    auto r = parse_state_dict_pickle(as_bytes(one_tensor_pickle(global)), "test.pkl");
    ASSERT_FALSE(r.ok()) << global;
    const std::string dotted = global.substr(1, global.find('\n') - 1) + "." +
                               global.substr(global.find('\n') + 1, global.size() - global.find('\n') - 2);
    EXPECT_NE(r.error().message.find("'" + dotted + "'"), std::string::npos) << r.error().message;
  }
}

TEST(StateDictPickle, EveryTruncationIsAnError) {
  const std::string whole = one_tensor_pickle();
  for (size_t n = 0; n < whole.size(); ++n) {
    auto r = parse_state_dict_pickle(as_bytes(whole.substr(0, n)), "test.pkl");
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes accepted";
  }
}

TEST(StateDictPickle, RefusesWhatIsNotAFlatDictOfTensors) {
  EXPECT_FALSE(parse_state_dict_pickle(as_bytes("\x80\x02}."), "p").ok());           // empty dict
  EXPECT_FALSE(parse_state_dict_pickle(as_bytes("\x80\x02K\x01."), "p").ok());       // an int
  EXPECT_FALSE(parse_state_dict_pickle(as_bytes("\x80\x02h\x05."), "p").ok());       // memo never stored
  EXPECT_FALSE(parse_state_dict_pickle(as_bytes("\x80\x02u."), "p").ok());           // SETITEMS without mark
  EXPECT_FALSE(parse_state_dict_pickle(as_bytes(std::string_view("\x80\x02}X\x01\x00\x00\x00kK\x01s.", 13)), "p").ok());  // int value
  auto nested = parse_state_dict_pickle(as_bytes(std::string_view("\x80\x02}X\x01\x00\x00\x00k}s.", 12)), "p");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().message.find("'k' is not a tensor"), std::string::npos) << nested.error().message;
}

// Random byte changes to a real torch.save pickle: each result is a clean error or a parse whose
// tensors still have consistent shapes and strides; nothing crashes (run under ASan in the debug build).
TEST(StateDictPickle, SurvivesByteMutations) {
  const std::string original = one_tensor_pickle();
  std::mt19937 rng(7);
  for (int round = 0; round < 20000; ++round) {
    std::string p = original;
    const int changes = 1 + static_cast<int>(rng() % 3);
    for (int c = 0; c < changes; ++c) p[rng() % p.size()] = static_cast<char>(rng() & 0xff);
    auto r = parse_state_dict_pickle(as_bytes(p), "mutated.pkl");
    if (r.ok()) {
      for (const auto& t : *r) ASSERT_EQ(t.shape.size(), t.stride.size());
    } else {
      ASSERT_EQ(r.error().message.rfind("mutated.pkl", 0), 0u) << r.error().message;
    }
  }
}

}  // namespace
}  // namespace cria::convert
