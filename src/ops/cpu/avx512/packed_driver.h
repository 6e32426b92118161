// The loop every packed kernel shares: groups of rows outer, tokens inner, so that a group's weights (a
// few KB) stay in L1 while every token of the block passes over them and the token block's activations
// stay in L2. Tokens go kTokens at a time, then half a tile, then one by one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cria::ops {

// tile.template operator()<T>(n_units, group, x_rows[T], act_rows[T], out, out_stride) computes T tokens
// against one group; `act` holds n_units prepared entries per token.
template <int kRows, int kTokens, class Act, class Tile>
void for_each_group_and_token_tile(int64_t n_units, const uint8_t* w, size_t group_bytes, int64_t n_rows,
                                   const uint8_t* x, size_t x_row_bytes, int64_t n_tokens, const Act* act,
                                   float* out, int64_t out_stride, Tile&& tile) {
  for (int64_t g = 0; g < n_rows / kRows; ++g) {
    const uint8_t* group = w + static_cast<size_t>(g) * group_bytes;
    float* out_g = out + g * kRows;
    int64_t t = 0;
    auto run = [&]<int T>() {
      const uint8_t* xt[T];
      const Act* at[T];
      for (int i = 0; i < T; ++i) {
        xt[i] = x + static_cast<size_t>(t + i) * x_row_bytes;
        at[i] = act + (t + i) * n_units;
      }
      tile.template operator()<T>(n_units, group, xt, at, out_g + t * out_stride, out_stride);
      t += T;
    };
    while (t + kTokens <= n_tokens) run.template operator()<kTokens>();
    if (n_tokens - t >= kTokens / 2) run.template operator()<kTokens / 2>();
    while (t < n_tokens) run.template operator()<1>();
  }
}

}  // namespace cria::ops
