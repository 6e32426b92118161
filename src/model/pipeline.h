// What a Runner needs from the other processes when a model is split by layers over several of them (a
// pipeline: `mpirun -np K cria ... --split-mode layer`; the MPI side is src/dist). Stage 0 drives: it
// tokenizes, samples and calls decode; each stage holds a contiguous range of layers and its own share of
// the KV cache. A pass goes: stage 0 announces the batch (and the cache operations made since the last
// pass), then each micro-batch's hidden rows go stage to stage, and the last stage sends the logits back
// to stage 0. The model layer only sees this interface, not MPI.
//
// A link's calls do not return errors: a lost stage ends every process (the MPI side prints what happened
// and aborts the job), since no stage can go on without the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "model/batch.h"

namespace cria::model {

// What the other stages need to mirror stage 0's runner and cache for one pass.
struct PassHeader {
  uint64_t cache_uid = 0;  // KvCache::uid(): a new one means a new cache
  int32_t n_cells = 0, n_seq_max = 0, k_type = 0, v_type = 0;
  int32_t n_batch = 0, n_threads = 0, max_keys = 0, flash_attn = 0, batch_invariant = 0;
};

class PipelineLink {
 public:
  virtual ~PipelineLink() = default;
  virtual int stage() const = 0;
  virtual int n_stages() const = 0;
  bool first() const { return stage() == 0; }
  bool last() const { return stage() == n_stages() - 1; }

  // Stage 0, before its forward pass: the pass's header, the cache's journal and the batch, to every stage.
  virtual void announce(const PassHeader& header, std::span<const int32_t> journal, const Batch& batch) = 0;
  // Micro-batch `micro`'s hidden rows: from the stage before (waits), to the stage after (returns at once;
  // the rows must stay untouched until finish()).
  virtual void receive_hidden(int micro, std::span<float> rows) = 0;
  virtual void send_hidden(int micro, std::span<const float> rows) = 0;
  // Micro-batch `micro`'s logits rows: the last stage sends them to stage 0 (returns at once), stage 0
  // receives them (waits).
  virtual void send_logits(int micro, std::span<const float> rows) = 0;
  virtual void receive_logits(int micro, std::span<float> rows) = 0;
  // Called between layers: lets sends under way move on while this stage computes (an MPI library moves
  // a large message only inside its own calls).
  virtual void progress() = 0;
  // The end of a pass: every send has left.
  virtual void finish() = 0;
};

}  // namespace cria::model
