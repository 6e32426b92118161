// What a loaded model holds in memory: repacked matrices (the AVX-512 layouts) are read from their copy,
// so the process lets its pages of the file go instead of holding the weights twice; a model bound to a
// range of layers (a pipeline stage) touches only those.
#include <gtest/gtest.h>

#include "model/model.h"

namespace cria::model {
namespace {

const std::string kBundled = CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf";

TEST(ModelMemory, RepackedWeightsAreNotHeldTwice) {
  for (ops::Isa isa : {ops::Isa::Scalar, ops::selected_isa()}) {
    auto model = Model::load(kBundled, isa);
    ASSERT_TRUE(model.ok()) << model.error().message;
    const double weights = static_cast<double>((*model)->weight_bytes());
    const double resident = static_cast<double>((*model)->resident_weight_bytes());
    EXPECT_LE(resident, 1.1 * weights) << "ISA " << static_cast<int>(isa);
  }
}

TEST(ModelMemory, AStageHoldsItsLayersOnly) {
  auto whole = Model::load(kBundled);
  ASSERT_TRUE(whole.ok());
  auto stage = Model::load(kBundled, ops::selected_isa(), {{1, 3}, nullptr});
  ASSERT_TRUE(stage.ok()) << stage.error().message;
  EXPECT_EQ((*stage)->held_layers().begin, 1u);
  EXPECT_EQ((*stage)->held_layers().end, 3u);
  EXPECT_FALSE((*stage)->holds_output());
  EXPECT_TRUE((*stage)->layers()[0].wq.data == nullptr) << "layer 0 is not bound";
  EXPECT_TRUE((*stage)->layers()[1].wq.data != nullptr);
  // Binding touches what a layer needs to be checked and repacked: 2 of 6 layers and no output head.
  EXPECT_LT((*stage)->resident_weight_bytes(), (*whole)->resident_weight_bytes() / 2);
  auto none = Model::load(kBundled, ops::selected_isa(), {{6, 9}, nullptr});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("hold none of the model's 6"), std::string::npos) << none.error().message;
}

}  // namespace
}  // namespace cria::model
