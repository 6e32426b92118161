// The loop every row-major GEMM build shares (x86/gemm_x86_impl.h, neon/gemm_neon_impl.h): whole tiles
// of kRows weight rows x kTokens tokens first, then the rows and tokens that do not fill a tile as
// 1-row or 1-token tiles. Each output is one tile's (row, token) result, so the split never changes it.
//
// Tile::template run<R, T>(n, block_bytes, w, x, out) computes out[r][t] = dot(w[r], x[t]) for R rows
// and T tokens of n elements; block_bytes is the weight bytes per 256-element block (0 when n < 256).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cria::ops {

template <class Tile, int R, int T>
void gemm_tile(int64_t n, const uint8_t* w, size_t w_row_bytes, int64_t r0, const uint8_t* x, size_t x_row_bytes,
               int64_t t0, float* out, int64_t out_stride) {
  const uint8_t* wr[R];
  const uint8_t* xt[T];
  for (int r = 0; r < R; ++r) wr[r] = w + (r0 + r) * w_row_bytes;
  for (int t = 0; t < T; ++t) xt[t] = x + (t0 + t) * x_row_bytes;
  const size_t block_bytes = n >= 256 ? w_row_bytes / static_cast<size_t>(n / 256) : 0;
  float tile[R][T];
  Tile::template run<R, T>(n, block_bytes, wr, xt, tile);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[(t0 + t) * out_stride + r0 + r] = tile[r][t];
}

// Tiles of R rows x kTokens tokens over the whole call, then the rows and tokens left as 1-row or 1-token
// tiles.
template <class Tile, int R, int kTokens>
void tiles_of_rows(int64_t n, const uint8_t* w, size_t w_row_bytes, int64_t n_rows, const uint8_t* x,
                   size_t x_row_bytes, int64_t n_tokens, float* out, int64_t out_stride) {
  const int64_t full_rows = n_rows / R * R;
  const int64_t full_tokens = n_tokens / kTokens * kTokens;
  for (int64_t r = 0; r < full_rows; r += R) {
    for (int64_t t = 0; t < full_tokens; t += kTokens) {
      gemm_tile<Tile, R, kTokens>(n, w, w_row_bytes, r, x, x_row_bytes, t, out, out_stride);
    }
    for (int64_t t = full_tokens; t < n_tokens; ++t) {
      gemm_tile<Tile, R, 1>(n, w, w_row_bytes, r, x, x_row_bytes, t, out, out_stride);
    }
  }
  for (int64_t r = full_rows; r < n_rows; ++r) {
    for (int64_t t = 0; t < full_tokens; t += kTokens) {
      gemm_tile<Tile, 1, kTokens>(n, w, w_row_bytes, r, x, x_row_bytes, t, out, out_stride);
    }
    for (int64_t t = full_tokens; t < n_tokens; ++t) {
      gemm_tile<Tile, 1, 1>(n, w, w_row_bytes, r, x, x_row_bytes, t, out, out_stride);
    }
  }
}

// A GemmFn (ops/kernels.h) over tiles of one build's Tile; a call with fewer than kTokens tokens
// (generation) runs tiles of kRowsSingle rows instead (a build with registers to spare when a tile has
// one token).
template <class Tile, int kRows, int kTokens, int kRowsSingle = kRows>
void tiled_gemm(int64_t n, const uint8_t* w, size_t w_row_bytes, int64_t n_rows, const uint8_t* x,
                size_t x_row_bytes, int64_t n_tokens, float* out, int64_t out_stride) {
  if constexpr (kRowsSingle != kRows) {
    if (n_tokens < kTokens) {
      tiles_of_rows<Tile, kRowsSingle, kTokens>(n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, out,
                                                out_stride);
      return;
    }
  }
  tiles_of_rows<Tile, kRows, kTokens>(n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, out, out_stride);
}

}  // namespace cria::ops
