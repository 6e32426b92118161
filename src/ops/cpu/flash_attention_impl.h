// Grouped attention for the query heads that share one KV head: the rows of a job are (token, head)
// pairs, and every step runs on vectors across those rows, so a key or value is converted to f32 once
// (from f16 or any other cache type: kv_rows_impl.h) and used by all the rows, with no horizontal sums.
// Keys are visited in tiles of kFlashKeyTile. Two softmaxes (AttentionBatch::online_softmax):
// - online (flash attention, llama.cpp's -fa): per row the running maximum m and sum l are updated per
//   tile and the output rescaled by exp(m_old - m_new); no row ever holds all its scores, and the
//   probabilities stay f32;
// - exact (the default): the scores of all keys are kept (32 rows x n_keys floats), then llama.cpp's
//   softmax without flash attention runs on them, probabilities rounded through f16 after normalising.
//   Its tokens match llama.cpp's where low-bit models sit on near-ties that the rounding decides.
// Each row sees the keys from its token's first key (AttentionBatch::first_key: sliding windows) to its
// own position; the others get probability exactly 0. Tiles start at multiples of kFlashKeyTile from the
// job's lowest first key, so a row's tiles, and its sums, are the same whatever rows share its job (a
// tile a row sees none of leaves its running maximum, sum and output as they were). Soft-capping
// (AttentionBatch::softcap) runs on the scores before the softmax: ops::softcap's std::tanh for the exact
// softmax (llama.cpp's numbers), vec8::tanh for the online one.
//
// Written once against an 8-lane vector type V, which each instruction set supplies (x86: one __m256;
// NEON: two float32x4_t; scalar: eight floats). Everything here is a template on V, so each build's
// instantiation is its own code: no inline function (not even std::fill) is shared across files compiled
// for different instruction sets, where the linker could keep the wrong one.
//
// Numerics: q is rounded through f16 (as the matrix path does), scores are f32, exp is
// vec8::exp_nonpositive.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/fp16.h"
#include "ops/attention.h"
#include "ops/basic_ops.h"
#include "ops/cpu/kv_rows_impl.h"
#include "ops/cpu/vec8_math_impl.h"

namespace cria::ops::flash {

// Register blocking: B keys (scores) or B dimensions (outputs) at a time, times RV row vectors. V::kBlock
// is 4 or 2 (it must divide 4: tiles and value rows are padded to multiples of 4).

// Scores of the tile: p[j][r] = scale * (q_r . k_j) for the n_keys4 keys (the tile padded to 4).
template <class V, int RV>
void tile_scores(const float* qt, const float* kf, int head_dim, int n_keys4, float scale, float* p) {
  using T = typename V::T;
  constexpr int B = V::kBlock;
  const T s = V::set1(scale);
  for (int j = 0; j < n_keys4; j += B) {
    T acc[B][RV];
    for (int kk = 0; kk < B; ++kk) {
      for (int rv = 0; rv < RV; ++rv) acc[kk][rv] = V::zero();
    }
    const float* k0 = kf + static_cast<size_t>(j) * head_dim;
    for (int d = 0; d < head_dim; ++d) {
      T q[RV];
      for (int rv = 0; rv < RV; ++rv) q[rv] = V::load(qt + static_cast<size_t>(d) * kFlashRows + 8 * rv);
      for (int kk = 0; kk < B; ++kk) {
        const T kv = V::set1(k0[static_cast<size_t>(kk) * head_dim + d]);
        for (int rv = 0; rv < RV; ++rv) acc[kk][rv] = V::fma(kv, q[rv], acc[kk][rv]);
      }
    }
    for (int kk = 0; kk < B; ++kk) {
      for (int rv = 0; rv < RV; ++rv) V::store(p + static_cast<size_t>(j + kk) * kFlashRows + 8 * rv, V::mul(acc[kk][rv], s));
    }
  }
}

// Where each row of a vector sees key j (first <= j <= pos), s; elsewhere `masked`. Keys from
// `all_past_first` on are past every row's first key, so only the position is compared there.
template <class V>
typename V::T mask_key(typename V::T row_pos, typename V::T row_first, int j, int all_past_first,
                       typename V::T s, typename V::T masked) {
  const typename V::T key = V::set1(static_cast<float>(j));
  if (j < all_past_first) s = V::select_ge(key, row_first, s, masked);
  return V::select_ge(row_pos, key, s, masked);
}

// Soft-capping of the tile's scores with the vector tanh (the online softmax's).
template <class V, int RV>
void tile_softcap(int n_keys, float cap, float* p) {
  using T = typename V::T;
  const T inv = V::set1(1.0f / cap), vcap = V::set1(cap);
  for (int j = 0; j < n_keys; ++j) {
    for (int rv = 0; rv < RV; ++rv) {
      float* pj = p + static_cast<size_t>(j) * kFlashRows + 8 * rv;
      V::store(pj, V::mul(vec8::tanh<V>(V::mul(V::load(pj), inv)), vcap));
    }
  }
}

// Online softmax over the tile's keys j0 .. j0 + n_keys - 1: masks the keys each row does not see, turns
// the scores into exp(s - m_new), and updates m, l and the rescale factor alpha = exp(m_old - m_new).
template <class V, int RV>
void tile_softmax(int j0, int n_keys, float* p, const float* pos, const float* first, int all_past_first,
                  float* m, float* l, float* alpha) {
  using T = typename V::T;
  const T masked = V::set1(-1e30f);
  for (int rv = 0; rv < RV; ++rv) {
    const T row_pos = V::load(pos + 8 * rv), row_first = V::load(first + 8 * rv);
    const T m_old = V::load(m + 8 * rv);
    T m_new = m_old;
    for (int j = 0; j < n_keys; ++j) {
      float* pj = p + static_cast<size_t>(j) * kFlashRows + 8 * rv;
      const T s = mask_key<V>(row_pos, row_first, j0 + j, all_past_first, V::load(pj), masked);
      V::store(pj, s);
      m_new = V::max(m_new, s);
    }
    T sum = V::zero();
    for (int j = 0; j < n_keys; ++j) {
      float* pj = p + static_cast<size_t>(j) * kFlashRows + 8 * rv;
      const T e = mask_key<V>(row_pos, row_first, j0 + j, all_past_first,
                              vec8::exp_nonpositive<V>(V::sub(V::load(pj), m_new)), V::zero());
      V::store(pj, e);
      sum = V::add(sum, e);
    }
    const T a = vec8::exp_nonpositive<V>(V::sub(m_old, m_new));
    V::store(alpha + 8 * rv, a);
    V::store(l + 8 * rv, V::fma(V::load(l + 8 * rv), a, sum));
    V::store(m + 8 * rv, m_new);
  }
}

// llama.cpp's softmax without flash attention, over the stored scores of keys j_begin .. n_keys - 1:
// masked, exp(s - max), scaled by 1 / sum, each probability rounded through f16.
template <class V, int RV>
void exact_softmax(int j_begin, int n_keys, float* p, const float* pos, const float* first,
                   int all_past_first) {
  using T = typename V::T;
  const T masked = V::set1(-1e30f);
  for (int rv = 0; rv < RV; ++rv) {
    const T row_pos = V::load(pos + 8 * rv), row_first = V::load(first + 8 * rv);
    T max = masked;
    for (int j = j_begin; j < n_keys; ++j) {
      const T s = V::load(p + static_cast<size_t>(j) * kFlashRows + 8 * rv);
      max = V::max(max, mask_key<V>(row_pos, row_first, j, all_past_first, s, masked));
    }
    T sum = V::zero();
    for (int j = j_begin; j < n_keys; ++j) {
      float* pj = p + static_cast<size_t>(j) * kFlashRows + 8 * rv;
      const T e = mask_key<V>(row_pos, row_first, j, all_past_first,
                              vec8::exp_nonpositive<V>(V::sub(V::load(pj), max)), V::zero());
      V::store(pj, e);
      sum = V::add(sum, e);
    }
    // Padding rows hold only zeros (a sum of 0); the floor keeps their scale finite.
    const T inv = V::div(V::set1(1.0f), V::max(sum, V::set1(1e-30f)));
    for (int j = j_begin; j < n_keys; ++j) {
      float* pj = p + static_cast<size_t>(j) * kFlashRows + 8 * rv;
      V::store(pj, V::round_f16(V::mul(V::load(pj), inv)));
    }
  }
}

// o[d][r] = alpha[r] * o[d][r] + sum_j p[j][r] * v[j][d].
template <class V, int RV>
void tile_accumulate(const float* p, const float* vf, int hd4, int n_keys, const float* alpha, float* ot) {
  using T = typename V::T;
  constexpr int B = V::kBlock;
  T a[RV];
  for (int rv = 0; rv < RV; ++rv) a[rv] = V::load(alpha + 8 * rv);
  for (int d = 0; d < hd4; d += B) {
    T acc[B][RV];
    for (int dd = 0; dd < B; ++dd) {
      for (int rv = 0; rv < RV; ++rv) {
        acc[dd][rv] = V::mul(V::load(ot + static_cast<size_t>(d + dd) * kFlashRows + 8 * rv), a[rv]);
      }
    }
    for (int j = 0; j < n_keys; ++j) {
      T pj[RV];
      for (int rv = 0; rv < RV; ++rv) pj[rv] = V::load(p + static_cast<size_t>(j) * kFlashRows + 8 * rv);
      const float* vj = vf + static_cast<size_t>(j) * hd4 + d;
      for (int dd = 0; dd < B; ++dd) {
        const T vv = V::set1(vj[dd]);
        for (int rv = 0; rv < RV; ++rv) acc[dd][rv] = V::fma(vv, pj[rv], acc[dd][rv]);
      }
    }
    for (int dd = 0; dd < B; ++dd) {
      for (int rv = 0; rv < RV; ++rv) V::store(ot + static_cast<size_t>(d + dd) * kFlashRows + 8 * rv, acc[dd][rv]);
    }
  }
}

template <class V, int RV, bool kOnline>
void run_job(const AttentionBatch& b, const AttentionJob& job, float* scratch) {
  const int hd = b.head_dim;
  const FlashLayout lay(hd, kOnline ? 0 : job.p0 + job.n_tokens);
  float* qt = scratch + lay.qt;
  float* ot = scratch + lay.ot;
  float* p = scratch + lay.p;
  float* kf = scratch + lay.kf;
  float* vf = scratch + lay.vf;
  float* pos = scratch + lay.pos;
  float* m = scratch + lay.m;
  float* l = scratch + lay.l;
  float* alpha = scratch + lay.alpha;
  float* first = scratch + lay.first;
  const int rows = job.n_heads * job.n_tokens;
  const int n_keys = job.p0 + job.n_tokens;  // the last row sees up to this many keys

  // Rows r = token * n_heads + head; padding rows have position -1, so every key is masked for them.
  // Each query is rounded through f16 (in kf, free until the first tile) and transposed into qt.
  int lowest_first = n_keys, highest_first = 0;
  for (int r = 0; r < 8 * RV; ++r) {
    const bool real = r < rows;
    const int t = job.t0 + r / job.n_heads, head = job.head0 + r % job.n_heads;
    const int first_key = real && b.first_key != nullptr ? b.first_key[t] : 0;
    if (real) {
      lowest_first = first_key < lowest_first ? first_key : lowest_first;
      highest_first = first_key > highest_first ? first_key : highest_first;
    }
    pos[r] = real ? static_cast<float>(job.p0 + r / job.n_heads) : -1.0f;
    first[r] = static_cast<float>(first_key);
    m[r] = -1e30f;
    l[r] = 0;
    float* q16 = kf;
    if (real) {
      const float* q = b.q + (static_cast<size_t>(t) * b.n_head + head) * hd;
      int d = 0;
      for (; d + 8 <= hd; d += 8) V::store(q16 + d, V::round_f16(V::load(q + d)));
      for (; d < hd; ++d) q16[d] = fp16_to_fp32_fast(fp32_to_fp16(q[d]));
    } else {
      for (int d = 0; d < hd; ++d) q16[d] = 0.0f;
    }
    for (int d = 0; d < hd; ++d) qt[static_cast<size_t>(d) * kFlashRows + r] = q16[d];
  }
  for (size_t i = 0; i < static_cast<size_t>(lay.hd4) * kFlashRows; ++i) ot[i] = 0.0f;
  // The tiles before the one holding the lowest first key are seen by no row.
  const int j_begin = lowest_first / kFlashKeyTile * kFlashKeyTile;

  // Where key/value j of the job's key list starts: cache row cells[j], this KV head's part of it.
  const size_t head_offset = static_cast<size_t>(job.kv_head) * hd;
  const size_t k_row = kv::bytes_of<V>(b.k_type, b.kv_stride), k_head = kv::bytes_of<V>(b.k_type, head_offset);
  const size_t v_row = kv::bytes_of<V>(b.v_type, b.kv_stride), v_head = kv::bytes_of<V>(b.v_type, head_offset);
  const auto* k_base = static_cast<const uint8_t*>(b.k) + k_head;
  const auto* v_base = static_cast<const uint8_t*>(b.v) + v_head;
  // Converts rows j0 .. j0 + kt - 1 of the keys (zeros up to kt4) or of the values (zero-padded to hd4).
  auto load_keys = [&](int j0, int kt, int kt4) {
    for (int j = 0; j < kt4; ++j) {
      float* kj = kf + static_cast<size_t>(j) * hd;
      if (j < kt) {
        kv::row_to_f32<V>(b.k_type, k_base + static_cast<size_t>(job.cells[j0 + j]) * k_row, kj, hd);
      } else {
        for (int d = 0; d < hd; ++d) kj[d] = 0.0f;
      }
    }
  };
  auto load_values = [&](int j0, int kt) {
    for (int j = 0; j < kt; ++j) {
      float* vj = vf + static_cast<size_t>(j) * lay.hd4;
      kv::row_to_f32<V>(b.v_type, v_base + static_cast<size_t>(job.cells[j0 + j]) * v_row, vj, hd);
      for (int d = hd; d < lay.hd4; ++d) vj[d] = 0.0f;
    }
  };
  auto tile_size = [n_keys](int j0) { return n_keys - j0 < kFlashKeyTile ? n_keys - j0 : kFlashKeyTile; };

  if constexpr (kOnline) {
    for (int j0 = j_begin; j0 < n_keys; j0 += kFlashKeyTile) {
      const int kt = tile_size(j0), kt4 = (kt + 3) / 4 * 4;
      load_keys(j0, kt, kt4);
      load_values(j0, kt);
      tile_scores<V, RV>(qt, kf, hd, kt4, b.scale, p);
      if (b.softcap > 0.0f) tile_softcap<V, RV>(kt, b.softcap, p);
      tile_softmax<V, RV>(j0, kt, p, pos, first, highest_first, m, l, alpha);
      tile_accumulate<V, RV>(p, vf, lay.hd4, kt, alpha, ot);
    }
  } else {
    // All scores first (tile by tile into the row-long buffer), the softmax, then the values.
    for (int j0 = j_begin; j0 < n_keys; j0 += kFlashKeyTile) {
      const int kt = tile_size(j0), kt4 = (kt + 3) / 4 * 4;
      load_keys(j0, kt, kt4);
      float* pt = p + static_cast<size_t>(j0) * kFlashRows;
      tile_scores<V, RV>(qt, kf, hd, kt4, b.scale, pt);
      for (int j = 0; j < kt && b.softcap > 0.0f; ++j) {
        ops::softcap(pt + static_cast<size_t>(j) * kFlashRows, 8 * RV, b.softcap);
      }
    }
    exact_softmax<V, RV>(j_begin, n_keys, p, pos, first, highest_first);
    for (int r = 0; r < 8 * RV; ++r) {
      alpha[r] = 1.0f;
      l[r] = 1.0f;
    }
    for (int j0 = j_begin; j0 < n_keys; j0 += kFlashKeyTile) {
      const int kt = tile_size(j0);
      load_values(j0, kt);
      tile_accumulate<V, RV>(p + static_cast<size_t>(j0) * kFlashRows, vf, lay.hd4, kt, alpha, ot);
    }
  }

  for (int r = 0; r < rows; ++r) {
    const int t = job.t0 + r / job.n_heads, head = job.head0 + r % job.n_heads;
    float* out = b.out + (static_cast<size_t>(t) * b.n_head + head) * hd;
    const float inv = 1.0f / l[r];
    for (int d = 0; d < hd; ++d) out[d] = ot[static_cast<size_t>(d) * kFlashRows + r] * inv;
  }
}

// The job's rows in vectors of 8: one instantiation per count and softmax.
template <class V, bool kOnline>
void dispatch_rows(const AttentionBatch& b, const AttentionJob& job, float* scratch) {
  switch ((job.n_heads * job.n_tokens + 7) / 8) {
    case 1: run_job<V, 1, kOnline>(b, job, scratch); break;
    case 2: run_job<V, 2, kOnline>(b, job, scratch); break;
    case 3: run_job<V, 3, kOnline>(b, job, scratch); break;
    default: run_job<V, 4, kOnline>(b, job, scratch); break;
  }
}

template <class V>
void attention_job(const AttentionBatch& b, const AttentionJob& job, float* scratch) {
  if (b.online_softmax) {
    dispatch_rows<V, true>(b, job, scratch);
  } else {
    dispatch_rows<V, false>(b, job, scratch);
  }
}

}  // namespace cria::ops::flash
