#include "model/kv_cache.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <limits>
#include <new>
#include <string>

#include "core/memory_budget.h"
#include "ops/attention.h"

namespace cria::model {

namespace {

constexpr int32_t kEnd = std::numeric_limits<int32_t>::max();

std::string kv_cache_type_names() {
  std::string names;
  for (TensorType t : ops::kv_cache_types()) names += (names.empty() ? "" : ", ") + kv_cache_type_name(t);
  return names;
}

}  // namespace

std::string kv_cache_type_name(TensorType type) {
  std::string name(traits(type).name);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

Result<TensorType> parse_kv_cache_type(std::string_view name) {
  const TypeTraits* t = find_type(name);
  if (t == nullptr || !ops::is_kv_cache_type(t->type)) {
    return make_error("unknown KV cache type '" + std::string(name) + "' (one of " + kv_cache_type_names() + ")");
  }
  return t->type;
}

Result<KvCache> KvCache::create(const ModelHparams& hp, int n_cells, int n_seq_max, KvCacheTypes types,
                                LayerRange layers) {
  layers = layers.clipped(hp.n_layer);
  if (layers.begin >= layers.end) {
    return make_error("KV cache layers " + std::to_string(layers.begin) + ".." + std::to_string(layers.end) +
                      " hold none of the model's " + std::to_string(hp.n_layer));
  }
  if (n_cells < 1) return make_error("KV cache size " + std::to_string(n_cells) + " must be at least 1 token");
  if (n_seq_max < 1 || n_seq_max > 65536) {
    return make_error("sequence count " + std::to_string(n_seq_max) + " must be between 1 and 65536");
  }
  uint32_t max_kv_heads = 0;
  for (uint32_t h : hp.n_head_kv) max_kv_heads = std::max(max_kv_heads, h);
  for (auto [type, which] : {std::pair{types.k, "K"}, std::pair{types.v, "V"}}) {
    const TypeTraits& t = traits(type);
    if (!ops::is_kv_cache_type(type)) {
      return make_error(std::string(which) + " cache type " + kv_cache_type_name(type) + " is not one a KV cache can hold (" +
                        kv_cache_type_names() + ")");
    }
    if (hp.head_dim % t.block_size != 0) {
      return make_error(std::string(which) + " cache type " + kv_cache_type_name(type) + " stores blocks of " +
                        std::to_string(t.block_size) + " values, and this model's heads have " +
                        std::to_string(hp.head_dim) + "; use f16, bf16 or f32");
    }
  }
  KvCache cache;
  static std::atomic<uint64_t> next_uid{1};
  cache.uid_ = next_uid++;
  cache.layer_begin_ = static_cast<int>(layers.begin);
  cache.n_layer_ = static_cast<int>(layers.end - layers.begin);
  cache.journaling_ = layers.begin == 0 && layers.end < hp.n_layer;
  cache.row_ = static_cast<int64_t>(max_kv_heads) * hp.head_dim;
  cache.types_ = types;
  cache.k_row_bytes_ = ops::kv_row_bytes(types.k, static_cast<size_t>(cache.row_));
  cache.v_row_bytes_ = ops::kv_row_bytes(types.v, static_cast<size_t>(cache.row_));
  const double cells = static_cast<double>(cache.n_layer_) * n_cells;
  const double k_bytes = cells * static_cast<double>(cache.k_row_bytes_);
  const double v_bytes = cells * static_cast<double>(cache.v_row_bytes_);
  if (k_bytes + v_bytes > static_cast<double>(std::numeric_limits<size_t>::max() / 4)) {
    return make_error("a KV cache of " + std::to_string(n_cells) + " tokens is too large to allocate");
  }
  // K and V, the per-cell vectors and the free stack.
  const auto bytes = static_cast<uint64_t>(k_bytes + v_bytes) + static_cast<uint64_t>(n_cells) * (kCellBytes + sizeof(int32_t));
  if (auto s = check_memory(bytes, "a KV cache of " + std::to_string(n_cells) + " tokens", "lower the context size, -c");
      !s) {
    return s.error();
  }
  try {
    cache.k_.assign(static_cast<size_t>(k_bytes), 0);
    cache.v_.assign(static_cast<size_t>(v_bytes), 0);
  } catch (const std::bad_alloc&) {
    return make_error("cannot allocate " + std::to_string(bytes) + " bytes for a KV cache of " +
                      std::to_string(n_cells) + " tokens");
  }
  const size_t n = static_cast<size_t>(n_cells);
  cache.cell_refs_.assign(n, 0);
  cache.cell_retained_.assign(n, 0);
  cache.cell_pos_.assign(n, -1);
  cache.cell_token_.assign(n, -1);
  cache.cell_shift_.assign(n, 0);
  cache.seqs_.resize(static_cast<size_t>(n_seq_max));
  cache.clear();
  return cache;
}

size_t KvCache::bytes() const { return k_.size() + v_.size() + cell_pos_.size() * kCellBytes; }

int KvCache::n_available() const {
  int n = n_free();
  for (size_t c = 0; c < cell_refs_.size(); ++c) n += cell_refs_[c] == 0 && cell_retained_[c] > 0;
  return n;
}

int32_t KvCache::seq_pos_max(int seq) const {
  const auto& cells = seqs_[static_cast<size_t>(seq)];
  return cells.empty() ? -1 : cell_pos_[static_cast<size_t>(cells.back())];
}

Status KvCache::check_seq(int seq) const {
  if (seq < 0 || seq >= n_seq_max()) {
    return make_error("sequence id " + std::to_string(seq) + " is out of range (0.." + std::to_string(n_seq_max() - 1) +
                      ")");
  }
  return Ok{};
}

int32_t KvCache::append(std::span<const int32_t> seqs, int32_t token, int32_t pos) {
  while (free_.empty() && evict_one()) {
  }
  const int32_t cell = free_.back();
  free_.pop_back();
  const size_t c = static_cast<size_t>(cell);
  cell_pos_[c] = pos;
  cell_token_[c] = token;
  cell_shift_[c] = 0;
  cell_refs_[c] = static_cast<int32_t>(seqs.size());
  for (int32_t s : seqs) seqs_[static_cast<size_t>(s)].push_back(cell);
  return cell;
}

void KvCache::release(int32_t cell) {
  const size_t c = static_cast<size_t>(cell);
  if (--cell_refs_[c] == 0 && cell_retained_[c] == 0) {
    cell_shift_[c] = 0;
    free_.push_back(cell);
  }
}

void KvCache::release_retained(int32_t cell) {
  const size_t c = static_cast<size_t>(cell);
  if (--cell_retained_[c] == 0 && cell_refs_[c] == 0) {
    cell_shift_[c] = 0;
    free_.push_back(cell);
  }
}

bool KvCache::evict_one() {
  if (retained_.empty()) return false;
  for (int32_t cell : retained_.back()) release_retained(cell);
  retained_.pop_back();
  return true;
}

Status KvCache::seq_rm(int seq, int32_t p0, int32_t p1) {
  const Outer outer(*this);
  if (seq < 0) {
    for (int s = 0; s < n_seq_max(); ++s) (void)seq_rm(s, p0, p1);
    record(outer, {static_cast<int32_t>(Op::kRm), seq, p0, p1});
    return Ok{};
  }
  if (auto s = check_seq(seq); !s) return s;
  record(outer, {static_cast<int32_t>(Op::kRm), seq, p0, p1});
  if (p1 < 0) p1 = kEnd;
  auto& cells = seqs_[static_cast<size_t>(seq)];
  auto kept = cells.begin();
  for (int32_t cell : cells) {
    const int32_t pos = cell_pos_[static_cast<size_t>(cell)];
    if (pos >= p0 && pos < p1) {
      release(cell);
    } else {
      *kept++ = cell;
    }
  }
  cells.erase(kept, cells.end());
  return Ok{};
}

Status KvCache::seq_cp(int src, int dst, int32_t p0, int32_t p1) {
  const Outer outer(*this);
  if (auto s = check_seq(src); !s) return s;
  if (auto s = check_seq(dst); !s) return s;
  record(outer, {static_cast<int32_t>(Op::kCp), src, dst, p0, p1});
  if (src == dst) return Ok{};
  if (p1 < 0) p1 = kEnd;
  (void)seq_rm(dst, p0, p1);
  std::vector<int32_t> shared;
  for (int32_t cell : seqs_[static_cast<size_t>(src)]) {
    const int32_t pos = cell_pos_[static_cast<size_t>(cell)];
    if (pos >= p0 && pos < p1) {
      shared.push_back(cell);
      ++cell_refs_[static_cast<size_t>(cell)];
    }
  }
  auto& cells = seqs_[static_cast<size_t>(dst)];
  std::vector<int32_t> merged(cells.size() + shared.size());
  std::merge(cells.begin(), cells.end(), shared.begin(), shared.end(), merged.begin(),
             [this](int32_t a, int32_t b) { return cell_pos_[static_cast<size_t>(a)] < cell_pos_[static_cast<size_t>(b)]; });
  cells = std::move(merged);
  return Ok{};
}

Status KvCache::seq_keep(int seq) {
  const Outer outer(*this);
  if (auto s = check_seq(seq); !s) return s;
  record(outer, {static_cast<int32_t>(Op::kKeep), seq});
  for (int s = 0; s < n_seq_max(); ++s) {
    if (s != seq) (void)seq_rm(s, 0, -1);
  }
  return Ok{};
}

void KvCache::clear() {
  const Outer outer(*this);
  record(outer, {static_cast<int32_t>(Op::kClear)});
  for (auto& cells : seqs_) cells.clear();
  retained_.clear();
  std::fill(cell_refs_.begin(), cell_refs_.end(), 0);
  std::fill(cell_retained_.begin(), cell_retained_.end(), 0);
  std::fill(cell_shift_.begin(), cell_shift_.end(), 0);
  free_.resize(cell_pos_.size());
  for (size_t i = 0; i < free_.size(); ++i) free_[i] = static_cast<int32_t>(free_.size() - 1 - i);
  pending_shift_ = false;
}

Result<int32_t> KvCache::copy_cell(int32_t cell) {
  while (free_.empty() && evict_one()) {
  }
  if (free_.empty()) return make_error("the KV cache is full: no cell to copy a shared token into",
                      ErrorKind::kFull);
  const int32_t copy = free_.back();
  free_.pop_back();
  const size_t from = static_cast<size_t>(cell), to = static_cast<size_t>(copy);
  for (int l = layer_begin_; l < layer_begin_ + n_layer_; ++l) {
    std::copy_n(k(l) + from * k_row_bytes_, k_row_bytes_, k(l) + to * k_row_bytes_);
    std::copy_n(v(l) + from * v_row_bytes_, v_row_bytes_, v(l) + to * v_row_bytes_);
  }
  cell_pos_[to] = cell_pos_[from];
  cell_token_[to] = cell_token_[from];
  cell_shift_[to] = cell_shift_[from];
  cell_refs_[to] = 1;
  release(cell);
  return copy;
}

Status KvCache::seq_add(int seq, int32_t p0, int32_t p1, int32_t delta) {
  const Outer outer(*this);
  if (auto s = check_seq(seq); !s) return s;
  if (p1 < 0) p1 = kEnd;
  auto& cells = seqs_[static_cast<size_t>(seq)];
  auto in_range = [&](int32_t cell) {
    const int32_t pos = cell_pos_[static_cast<size_t>(cell)];
    return pos >= p0 && pos < p1;
  };
  // Check first: positions stay non-negative and rising, and shared cells can be copied.
  int64_t previous = -1;
  int shared = 0;
  for (int32_t cell : cells) {
    const int64_t pos = cell_pos_[static_cast<size_t>(cell)] + (in_range(cell) ? int64_t{delta} : 0);
    if (pos <= previous || pos > std::numeric_limits<int32_t>::max() - 1) {
      return make_error("shifting positions [" + std::to_string(p0) + ", " + std::to_string(p1) + ") of sequence " +
                        std::to_string(seq) + " by " + std::to_string(delta) +
                        " would leave its positions out of order or negative");
    }
    previous = pos;
    const size_t c = static_cast<size_t>(cell);
    shared += in_range(cell) && (cell_refs_[c] > 1 || cell_retained_[c] > 0);
  }
  if (delta == 0) return Ok{};
  if (shared > n_available()) {
    return make_error("the KV cache is full: shifting sequence " + std::to_string(seq) + " needs " +
                      std::to_string(shared) + " cells to copy shared tokens into, " + std::to_string(n_available()) +
                      " are available",
                      ErrorKind::kFull);
  }
  record(outer, {static_cast<int32_t>(Op::kAdd), seq, p0, p1, delta});
  for (int32_t& cell : cells) {
    if (!in_range(cell)) continue;
    const size_t c = static_cast<size_t>(cell);
    if (cell_refs_[c] > 1 || cell_retained_[c] > 0) cell = copy_cell(cell).value();
    cell_pos_[static_cast<size_t>(cell)] += delta;
    cell_shift_[static_cast<size_t>(cell)] += delta;
    pending_shift_ = true;
  }
  return Ok{};
}

void KvCache::shift_applied() {
  std::fill(cell_shift_.begin(), cell_shift_.end(), 0);
  pending_shift_ = false;
}

Status KvCache::retain(int seq) {
  const Outer outer(*this);
  if (auto s = check_seq(seq); !s) return s;
  record(outer, {static_cast<int32_t>(Op::kRetain), seq});
  const auto& cells = seqs_[static_cast<size_t>(seq)];
  size_t n = 0;
  while (n < cells.size() && cell_pos_[static_cast<size_t>(cells[n])] == static_cast<int32_t>(n)) ++n;
  if (n > 0) {
    std::vector<int32_t> prefix(cells.begin(), cells.begin() + static_cast<std::ptrdiff_t>(n));
    // A retained prefix that this one extends (the sequence reused it) is no longer needed.
    for (auto it = retained_.begin(); it != retained_.end();) {
      if (it->size() <= prefix.size() && std::equal(it->begin(), it->end(), prefix.begin())) {
        for (int32_t cell : *it) release_retained(cell);
        it = retained_.erase(it);
      } else {
        ++it;
      }
    }
    for (int32_t cell : prefix) ++cell_retained_[static_cast<size_t>(cell)];
    retained_.push_front(std::move(prefix));
  }
  return seq_rm(seq, 0, -1);
}

Result<int> KvCache::reuse_prefix(int seq, std::span<const int32_t> tokens) {
  const Outer outer(*this);
  if (auto s = check_seq(seq); !s) return s.error();
  if (!seqs_[static_cast<size_t>(seq)].empty()) {
    return make_error("sequence " + std::to_string(seq) + " is not empty: a prefix can only start a sequence");
  }
  record(outer, {static_cast<int32_t>(Op::kReuse), seq, static_cast<int32_t>(tokens.size())}, tokens);
  const size_t limit = tokens.empty() ? 0 : tokens.size() - 1;
  // How many of tokens these cells hold at positions 0, 1, 2, ...
  auto common = [&](const std::vector<int32_t>& cells) {
    size_t n = 0;
    while (n < limit && n < cells.size()) {
      const size_t c = static_cast<size_t>(cells[n]);
      if (cell_pos_[c] != static_cast<int32_t>(n) || cell_token_[c] != tokens[n]) break;
      ++n;
    }
    return n;
  };
  const std::vector<int32_t>* best = nullptr;
  size_t best_n = 0;
  for (const auto& cells : seqs_) {
    if (const size_t n = common(cells); n > best_n) best = &cells, best_n = n;
  }
  auto best_retained = retained_.end();
  for (auto it = retained_.begin(); it != retained_.end(); ++it) {
    if (const size_t n = common(*it); n > best_n) best = &*it, best_n = n, best_retained = it;
  }
  if (best == nullptr) return 0;
  auto& cells = seqs_[static_cast<size_t>(seq)];
  cells.assign(best->begin(), best->begin() + static_cast<std::ptrdiff_t>(best_n));
  for (int32_t cell : cells) ++cell_refs_[static_cast<size_t>(cell)];
  if (best_retained != retained_.end()) retained_.splice(retained_.begin(), retained_, best_retained);
  return static_cast<int>(best_n);
}

void KvCache::record(const Outer& outer, std::initializer_list<int32_t> words, std::span<const int32_t> tokens) {
  if (!journaling_ || !outer.outermost()) return;
  journal_.insert(journal_.end(), words);
  journal_.insert(journal_.end(), tokens.begin(), tokens.end());
}

std::vector<int32_t> KvCache::take_journal() {
  std::vector<int32_t> out;
  out.swap(journal_);
  return out;
}

Status KvCache::replay(std::span<const int32_t> journal) {
  size_t i = 0;
  // The next n words, or nullptr when the journal ends first.
  auto take = [&](size_t n) -> const int32_t* {
    if (journal.size() - i < n) return nullptr;
    const int32_t* w = journal.data() + i;
    i += n;
    return w;
  };
  const auto cut_short = [] { return make_error("KV cache journal: an operation is cut short"); };
  while (i < journal.size()) {
    const auto op = static_cast<Op>(journal[i++]);
    const int32_t* w = nullptr;
    Status status = Ok{};
    switch (op) {
      case Op::kRm:
        if (!(w = take(3))) return cut_short();
        status = seq_rm(w[0], w[1], w[2]);
        break;
      case Op::kCp:
        if (!(w = take(4))) return cut_short();
        status = seq_cp(w[0], w[1], w[2], w[3]);
        break;
      case Op::kKeep:
        if (!(w = take(1))) return cut_short();
        status = seq_keep(w[0]);
        break;
      case Op::kClear:
        clear();
        break;
      case Op::kAdd:
        if (!(w = take(4))) return cut_short();
        status = seq_add(w[0], w[1], w[2], w[3]);
        break;
      case Op::kRetain:
        if (!(w = take(1))) return cut_short();
        status = retain(w[0]);
        break;
      case Op::kReuse: {
        if (!(w = take(2)) || w[1] < 0) return cut_short();
        const int32_t seq = w[0];
        const auto n = static_cast<size_t>(w[1]);
        const int32_t* tokens = take(n);
        if (tokens == nullptr) return cut_short();
        if (auto reused = reuse_prefix(seq, std::span<const int32_t>(tokens, n)); !reused) status = reused.error();
        break;
      }
      default:
        return make_error("KV cache journal: unknown operation " + std::to_string(static_cast<int32_t>(op)));
    }
    if (!status) return make_error("KV cache journal: " + status.error().message);
  }
  return Ok{};
}

}  // namespace cria::model
