// How a pipeline splits a model's layers over the processes: equal shares, --tensor-split proportions,
// and the errors for splits that leave a process without layers.
#include <gtest/gtest.h>

#include "dist/pipeline.h"

namespace cria::dist {
namespace {

std::vector<std::pair<uint32_t, uint32_t>> ranges(const std::vector<model::LayerRange>& stages) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& s : stages) out.emplace_back(s.begin, s.end);
  return out;
}

TEST(PipelinePlan, EqualShares) {
  using R = std::vector<std::pair<uint32_t, uint32_t>>;
  EXPECT_EQ(ranges(*plan_stages(6, 2, {})), (R{{0, 3}, {3, 6}}));
  EXPECT_EQ(ranges(*plan_stages(6, 3, {})), (R{{0, 2}, {2, 4}, {4, 6}}));
  EXPECT_EQ(ranges(*plan_stages(22, 3, {})), (R{{0, 7}, {7, 15}, {15, 22}}));
  EXPECT_EQ(ranges(*plan_stages(5, 5, {})), (R{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}));
  EXPECT_EQ(ranges(*plan_stages(5, 1, {})), (R{{0, 5}}));
}

TEST(PipelinePlan, TensorSplitProportions) {
  using R = std::vector<std::pair<uint32_t, uint32_t>>;
  EXPECT_EQ(ranges(*plan_stages(6, 2, {1, 3})), (R{{0, 2}, {2, 6}}));
  EXPECT_EQ(ranges(*plan_stages(22, 2, {3, 2})), (R{{0, 13}, {13, 22}}));
  // Missing shares are zero, as in llama.cpp: here the third rank would get nothing.
  EXPECT_FALSE(plan_stages(6, 3, {1, 1}).ok());
}

TEST(PipelinePlan, RefusesProcessesWithoutLayers) {
  auto too_many = plan_stages(6, 7, {});
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message.find("each process needs at least one layer"), std::string::npos);
  auto zero = plan_stages(6, 2, {1, 0});
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message.find("rank 1 gets no layers"), std::string::npos) << zero.error().message;
  EXPECT_FALSE(plan_stages(6, 2, {1, 1, 1}).ok()) << "more shares than processes";
}

TEST(PipelinePlan, ParsesTensorSplitAsLlamaCpp) {
  EXPECT_EQ(*parse_tensor_split("3,2"), (std::vector<double>{3, 2}));
  EXPECT_EQ(*parse_tensor_split("0.5/0.25/0.25"), (std::vector<double>{0.5, 0.25, 0.25}));
  for (const char* bad : {"", "3,", "a,b", "-1,2", "0,0", "1,,2", "nan"}) {
    EXPECT_FALSE(parse_tensor_split(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace cria::dist
