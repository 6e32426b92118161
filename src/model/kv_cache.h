// The KV cache that all sequences of a Runner share (llama.cpp's unified cache): a fixed number of cells,
// each holding one token's keys and values for every layer (f16 by default; K and V each of any type in
// ops::kv_cache_types(), llama.cpp's -ctk/-ctv), and per sequence the list of its cells
// in position order. A cell can belong to several sequences at once (a forked or shared prompt); it is
// counted, and freed when the last sequence lets go of it.
//
// Finished sequences can leave their cells behind as a prefix for later ones (retain); such prefixes are
// reused by reuse_prefix and evicted least recently used first when cells run out. Running out of cells
// otherwise is an error (decode refuses the batch); nothing is ever overwritten.
//
// Positions of a sequence rise strictly along its list, so the keys a token at position p sees are a
// prefix of the list. Shifting positions (seq_add) is recorded per cell; the Runner re-rotates those keys
// before its next forward pass (pending_shift).
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "model/hparams.h"
#include "quant/type_table.h"

namespace cria::model {

// The element types of the keys and of the values (ops::kv_cache_types()).
struct KvCacheTypes {
  TensorType k = TensorType::F16, v = TensorType::F16;
};

// A cache type's name as llama.cpp's -ctk/-ctv spell it ("q8_0"), and back (case-insensitive); an
// unknown name is an error listing the accepted ones.
std::string kv_cache_type_name(TensorType type);
Result<TensorType> parse_kv_cache_type(std::string_view name);

class KvCache {
 public:
  // Movable, not copyable: a copy would share the original's uid and journal, and a pipeline's stages
  // would then mirror two caches as one.
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;
  KvCache(KvCache&&) = default;
  KvCache& operator=(KvCache&&) = default;

  // n_cells tokens in all, for sequence ids 0 .. n_seq_max - 1. Every layer's row is sized for the layer
  // with the most KV heads. A quantized type needs head rows that are whole blocks (32 elements).
  // `layers`: a pipeline stage's cache holds the keys and values of its own layers only (k(l) and v(l)
  // for l in the range), with the same cells and sequences as every other stage's.
  static Result<KvCache> create(const ModelHparams& hp, int n_cells, int n_seq_max, KvCacheTypes types = {},
                                LayerRange layers = {});

  int n_cells() const { return static_cast<int>(cell_pos_.size()); }
  int n_seq_max() const { return static_cast<int>(seqs_.size()); }
  KvCacheTypes types() const { return types_; }
  int64_t row_elements() const { return row_; }  // values per cell and layer (K or V)
  size_t k_row_bytes() const { return k_row_bytes_; }  // bytes of those, per type
  size_t v_row_bytes() const { return v_row_bytes_; }
  // This layer's keys/values: cell c at byte c * k_row_bytes() / c * v_row_bytes().
  uint8_t* k(int layer) { return k_.data() + held(layer) * n_cells() * k_row_bytes_; }
  uint8_t* v(int layer) { return v_.data() + held(layer) * n_cells() * v_row_bytes_; }
  const uint8_t* k(int layer) const { return k_.data() + held(layer) * n_cells() * k_row_bytes_; }
  const uint8_t* v(int layer) const { return v_.data() + held(layer) * n_cells() * v_row_bytes_; }
  LayerRange layers() const { return {static_cast<uint32_t>(layer_begin_), static_cast<uint32_t>(layer_begin_ + n_layer_)}; }
  // Bytes allocated: the keys, the values, and with the per-cell bookkeeping in all.
  size_t k_bytes() const { return k_.size(); }
  size_t v_bytes() const { return v_.size(); }
  size_t bytes() const;

  // Cells that no sequence and no retained prefix holds.
  int n_free() const { return static_cast<int>(free_.size()); }
  // Cells that can be had for new tokens: the free ones and those only retained prefixes hold.
  int n_available() const;
  int n_retained_prefixes() const { return static_cast<int>(retained_.size()); }

  // One sequence's cells in position order, and their positions and tokens.
  std::span<const int32_t> seq_cells(int seq) const { return seqs_[static_cast<size_t>(seq)]; }
  int seq_length(int seq) const { return static_cast<int>(seqs_[static_cast<size_t>(seq)].size()); }
  int32_t seq_pos_max(int seq) const;  // -1 for an empty sequence
  int32_t cell_pos(int32_t cell) const { return cell_pos_[static_cast<size_t>(cell)]; }
  int32_t cell_token(int32_t cell) const { return cell_token_[static_cast<size_t>(cell)]; }

  // Takes a free cell (evicting retained prefixes, least recently used first, if none is free) for a
  // token at `pos` and appends it to each listed sequence. The caller has checked n_available() and the
  // sequences' positions (Runner::decode does).
  int32_t append(std::span<const int32_t> seqs, int32_t token, int32_t pos);

  // llama.cpp's sequence operations. p1 < 0 means "to the end"; seq < 0 in seq_rm means every sequence.
  Status seq_rm(int seq, int32_t p0, int32_t p1);  // forgets positions [p0, p1)
  // dst's positions [p0, p1) become src's cells there (shared, not copied).
  Status seq_cp(int src, int dst, int32_t p0, int32_t p1);
  Status seq_keep(int seq);  // every other sequence is cleared
  void clear();              // every sequence and retained prefix
  // Adds delta to the positions in [p0, p1); the keys are re-rotated at the next decode. A cell another
  // sequence shares is first copied. Fails, changing nothing, if positions would not stay rising and
  // non-negative, or if there is no cell for a copy.
  Status seq_add(int seq, int32_t p0, int32_t p1, int32_t delta);

  // Prefix reuse. retain(seq) ends the sequence but keeps its cells from position 0 on as a prefix that
  // later sequences may reuse; reuse_prefix(seq, tokens) gives the empty sequence seq the longest prefix
  // of tokens (at most tokens.size() - 1, so that one token is left to evaluate) that a live sequence or a
  // retained prefix holds at positions 0, 1, 2, ..., and returns how many tokens it reused.
  Status retain(int seq);
  Result<int> reuse_prefix(int seq, std::span<const int32_t> tokens);

  // Whether some cells' keys must be rotated by shift(cell) (non-zero) before the next forward pass;
  // the Runner does it and then calls shift_applied().
  bool pending_shift() const { return pending_shift_; }
  int32_t shift(int32_t cell) const { return cell_shift_[static_cast<size_t>(cell)]; }
  void shift_applied();

  Status check_seq(int seq) const;

  // Pipelines (src/dist). Every stage's cache must see the same sequence operations in the same order,
  // so the first stage's cache (layers from 0, not all of them) records each operation a caller makes;
  // take_journal() hands over what was recorded since the last call, and replay() applies it to another
  // stage's cache. Cells are placed by the Runner on every stage alike, so the caches stay equal.
  bool journaling() const { return journaling_; }
  std::vector<int32_t> take_journal();
  Status replay(std::span<const int32_t> journal);
  // A number no other cache of this process has: a stage mirrors one cache at a time, and knows by it
  // when the first stage has started another.
  uint64_t uid() const { return uid_; }

 private:
  KvCache() = default;
  // Counts nested operations (seq_keep calls seq_rm): only the outermost one is recorded.
  struct Outer {
    explicit Outer(KvCache& c) : cache(c) { ++cache.depth_; }
    ~Outer() { --cache.depth_; }
    bool outermost() const { return cache.depth_ == 1; }
    KvCache& cache;
  };
  enum class Op : int32_t { kRm = 1, kCp, kKeep, kClear, kAdd, kRetain, kReuse };
  void record(const Outer& outer, std::initializer_list<int32_t> words, std::span<const int32_t> tokens = {});
  size_t held(int layer) const { return static_cast<size_t>(layer - layer_begin_); }

  void release(int32_t cell);           // one live holder fewer
  void release_retained(int32_t cell);  // one retained holder fewer
  bool evict_one();
  Result<int32_t> copy_cell(int32_t cell);

  int layer_begin_ = 0, n_layer_ = 0;  // the layers held
  int64_t row_ = 0;
  KvCacheTypes types_;
  size_t k_row_bytes_ = 0, v_row_bytes_ = 0;
  std::vector<uint8_t> k_, v_;           // [layer][cell][row bytes]
  static constexpr size_t kCellBytes = 5 * sizeof(int32_t);  // the five per-cell vectors below (bytes())
  std::vector<int32_t> cell_refs_;       // live sequences holding the cell
  std::vector<int32_t> cell_retained_;   // retained prefixes holding it
  std::vector<int32_t> cell_pos_, cell_token_, cell_shift_;
  std::vector<int32_t> free_;            // a stack
  std::vector<std::vector<int32_t>> seqs_;
  std::list<std::vector<int32_t>> retained_;  // most recently used first
  bool pending_shift_ = false;
  bool journaling_ = false;
  int depth_ = 0;
  std::vector<int32_t> journal_;
  uint64_t uid_ = 0;
};

}  // namespace cria::model
