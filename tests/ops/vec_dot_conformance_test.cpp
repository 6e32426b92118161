// Kernel conformance: every dot-product kernel against the same definition. For each weight type that
// scalar_vec_dot supports (walking the type table), random weight rows and random activations x:
//   vec_dot(w, Q(x)) == sum over e of dequantize(w)[e] * dequantize(Q(x))[e]   (in f64)
// with Q the weight type's activation format (vec_dot_type), within 1e-4 of sum |w·x| (the size of the
// terms, so cancellation in the sum does not make the bound meaningless). SIMD kernels are checked the
// same way against this reference later.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "ops/vec_dot.h"
#include "quant/type_table.h"
#include "test_support.h"

namespace cria {
namespace {

struct Kernel {
  const TypeTraits* weight;
  const TypeTraits* act;
  ops::VecDotFn fn;
};

std::vector<Kernel> kernels() {
  std::vector<Kernel> out;
  for (const auto& t : all_types()) {
    if (auto fn = ops::scalar_vec_dot(t.type)) out.push_back({&t, &traits(t.vec_dot_type), fn});
  }
  return out;
}

std::vector<float> decode(const TypeTraits& t, const uint8_t* data, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  t.dequantize(data, y.data(), n);
  return y;
}

// A random weight row of n elements. Block types: random bytes, each block redrawn until it decodes to
// finite values of magnitude <= 1e6 (random f16 scales can be NaN, inf or huge). Plain float types:
// Gaussian values stored by the type's own conversion.
std::vector<uint8_t> random_row(const TypeTraits& t, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> row(row_bytes(t, n));
  if (t.block_size == 1) {
    t.quantize(test::gaussian(static_cast<size_t>(n), static_cast<uint32_t>(rng())).data(), row.data(), n);
    return row;
  }
  for (int64_t b = 0; b < n / t.block_size; ++b) {
    uint8_t* block = row.data() + b * t.block_bytes;
    for (bool ok = false; !ok;) {
      for (size_t i = 0; i < t.block_bytes; ++i) block[i] = static_cast<uint8_t>(rng());
      ok = true;
      for (float v : decode(t, block, t.block_size)) ok = ok && std::isfinite(v) && std::fabs(v) <= 1e6f;
    }
  }
  return row;
}

// Pairs with Q8_1 activations (Q4_1, Q5_1) add m_w * s_x per block, where s_x = f16(d_f32 * sum q_x) is
// rounded separately from d_x = f16(d_f32) (FORMATS.md 2.3): the kernel may differ from the dequantized
// dot by up to 2^-10 |m_w * s_x| per block, plus an f16 subnormal step. m_w is the f16 at byte 2 of the
// weight block (FORMATS.md 2.3); s_x the f16 at byte 2 of the Q8_1 block.
double q8_1_sum_allowance(const Kernel& k, const uint8_t* w, const uint8_t* x, int64_t n) {
  if (k.act->type != TensorType::Q8_1) return 0.0;
  double allowance = 0.0;
  for (int64_t b = 0; b < n / 32; ++b) {
    uint16_t m, s;
    std::memcpy(&m, w + b * k.weight->block_bytes + 2, 2);
    std::memcpy(&s, x + b * 36 + 2, 2);
    allowance += std::fabs(static_cast<double>(fp16_to_fp32(m))) *
                 (std::fabs(static_cast<double>(fp16_to_fp32(s))) * 0x1p-10 + 0x1p-24);
  }
  return allowance;
}

TEST(KernelConformance, EveryBlockTypeInModelFilesHasAScalarKernel) {
  for (const auto& t : all_types()) {
    const bool integer_or_f64 = t.block_size == 1 && t.type != TensorType::F32 && t.type != TensorType::F16 &&
                                t.type != TensorType::BF16;
    if (!t.in_model_files || integer_or_f64) continue;
    EXPECT_NE(ops::scalar_vec_dot(t.type), nullptr) << t.name;
  }
}

TEST(KernelConformance, ScalarVecDotMatchesDequantizedDotInF64) {
  const auto all = kernels();
  ASSERT_GE(all.size(), 24u);
  for (const auto& k : all) {
    SCOPED_TRACE(std::string(k.weight->name) + " x " + std::string(k.act->name));
    ASSERT_NE(k.act->quantize, nullptr);
    ASSERT_NE(k.act->dequantize, nullptr);
    ASSERT_NE(k.weight->dequantize, nullptr);
    // Block counts per row, in units of the activation block (so 32-element types get odd counts too).
    const int64_t unit = std::max(k.weight->block_size, k.act->block_size > 1 ? k.act->block_size : 256);
    std::mt19937 rng(static_cast<uint32_t>(k.weight->type) + 17u);
    for (const int64_t blocks : {1, 2, 3, 8}) {
      const int64_t n = blocks * unit;
      const int rows = blocks % 2 == 0 ? 3 : 5;
      const std::vector<float> x = test::gaussian(static_cast<size_t>(n), static_cast<uint32_t>(rng()));
      std::vector<uint8_t> xq(row_bytes(*k.act, n));
      k.act->quantize(x.data(), xq.data(), n);
      const std::vector<float> xd = decode(*k.act, xq.data(), n);
      for (int r = 0; r < rows; ++r) {
        const std::vector<uint8_t> w = random_row(*k.weight, n, rng);
        const std::vector<float> wd = decode(*k.weight, w.data(), n);
        double ref = 0.0, magnitude = 0.0;
        for (int64_t e = 0; e < n; ++e) {
          const double p = static_cast<double>(wd[e]) * static_cast<double>(xd[e]);
          ref += p;
          magnitude += std::fabs(p);
        }
        ASSERT_GT(magnitude, 0.0);
        const double got = k.fn(n, w.data(), xq.data());
        const double tolerance = 1e-4 * magnitude + q8_1_sum_allowance(k, w.data(), xq.data(), n);
        EXPECT_NEAR(got, ref, tolerance)
            << blocks << " blocks, row " << r << " (sum |w*x| = " << magnitude << ")";
      }
    }
  }
}

// An activation that is 1 at element e of one block and 0 elsewhere, with scale 1, in the activation
// format; the plain float formats go through their own conversion (1.0 and 0.0 are exact in all).
std::vector<uint8_t> one_hot(const TypeTraits& act, int64_t n, int64_t e) {
  std::vector<uint8_t> x(row_bytes(act, n), 0);
  const uint16_t one_f16 = 0x3C00;
  const float one = 1.0f;
  switch (act.type) {
    case TensorType::Q8_0:
      std::memcpy(&x[(e / 32) * 34], &one_f16, 2);
      x[(e / 32) * 34 + 2 + e % 32] = 1;
      break;
    case TensorType::Q8_1:
      std::memcpy(&x[(e / 32) * 36], &one_f16, 2);
      std::memcpy(&x[(e / 32) * 36 + 2], &one_f16, 2);  // s = d * sum(q) = 1
      x[(e / 32) * 36 + 4 + e % 32] = 1;
      break;
    case TensorType::Q8_K: {
      uint8_t* b = &x[(e / 256) * 292];
      std::memcpy(b, &one, 4);
      b[4 + e % 256] = 1;
      const int16_t bsum = 1;
      std::memcpy(b + 260 + 2 * ((e % 256) / 16), &bsum, 2);
      break;
    }
    default: {
      std::vector<float> v(static_cast<size_t>(n), 0.0f);
      v[static_cast<size_t>(e)] = 1.0f;
      act.quantize(v.data(), x.data(), n);
    }
  }
  return x;
}

// With a unit activation each kernel's float work is a single rounding of an exact integer-times-scale
// product, the same one the decoder performs (FORMATS.md 2.4 and 2.6: every product of an f16 scale, an
// integer sub-scale and a quant has at most 24 significant bits). So vec_dot must reproduce each decoded
// weight exactly; this pins down the unpack functions element by element.
TEST(KernelConformance, UnitActivationReproducesEachDecodedWeightExactly) {
  for (const auto& k : kernels()) {
    SCOPED_TRACE(std::string(k.weight->name));
    std::mt19937 rng(static_cast<uint32_t>(k.weight->type) + 99u);
    const int64_t n = std::max<int64_t>(k.weight->block_size, k.act->block_size) * 2;
    for (int trial = 0; trial < 3; ++trial) {
      const std::vector<uint8_t> w = random_row(*k.weight, n, rng);
      const std::vector<float> wd = decode(*k.weight, w.data(), n);
      for (int64_t e = 0; e < n; ++e) {
        const std::vector<uint8_t> x = one_hot(*k.act, n, e);
        ASSERT_EQ(k.fn(n, w.data(), x.data()), wd[e]) << "element " << e << ", trial " << trial;
      }
    }
  }
}

}  // namespace
}  // namespace cria
