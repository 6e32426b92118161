// A model split by layers over the processes of an MPI job (`mpirun -np K cria run|serve|perplexity|bench
// -m MODEL --split-mode layer [--tensor-split 3,2,...]`). Rank 0 runs the command as usual: it tokenizes,
// samples and serves, and holds the first layers and the token embedding; every other rank holds the next
// contiguous range of layers (the last one also the output head) and its share of the KV cache, and does
// what rank 0's Runner announces (model/pipeline.h), in a loop, until rank 0 ends.
//
// Messages (MPI point to point, tags in pipeline.cpp): rank 0 sends each other rank a load command
// (the file and the rank's layers) and waits for its answer; then one command per forward pass (the
// runner's options, the cache's journal, the batch); hidden rows go rank to rank, logits from the last
// rank to rank 0. A lost rank ends the job: mpirun stops the others, and an MPI error on any rank prints
// what it was and aborts; a wait inside a pass that sees nothing for CRIA_PIPELINE_TIMEOUT seconds
// (default 600) aborts too.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"
#include "model/model.h"

namespace cria::dist {

// Contiguous layer ranges for n_ranks processes: equal shares, or in proportion to `shares`
// (--tensor-split 3,2: as llama.cpp, the i-th value is rank i's part). Every rank needs at least one layer.
Result<std::vector<model::LayerRange>> plan_stages(uint32_t n_layer, int n_ranks, const std::vector<double>& shares);

// "3,2,1" or "3/2/1" (llama.cpp's --tensor-split), non-negative and not all zero.
Result<std::vector<double>> parse_tensor_split(const std::string& text);

// A stage keeps one model and one KV cache at a time: rank 0 may load another model or make another
// cache (each later one replaces the one before on every stage), but not go back to an earlier one; a
// pass of an earlier one ends the job with an error.
//
// Called first thing in main. Outside an MPI job of several processes it does nothing and returns
// nullopt. In one, it initialises MPI; on rank 0 it returns nullopt (the command runs, and pipelined()
// is true); on the other ranks it runs the stage loop and returns the process's exit code.
std::optional<int> start(int argc, char** argv);

// Rank 0 of an MPI job of several processes.
bool pipelined();
int n_ranks();

// --split-mode and --tensor-split, as given (empty if not). Under mpirun, layer (the default) splits the
// model; none and row are refused with a message saying why.
Status configure(const std::string& split_mode, const std::string& tensor_split);

// Rank 0: tells every rank to load its layers of `path` (already open here as `file`), waits until all
// have, and binds its own share with the link to them. Errors name the rank.
Result<std::shared_ptr<const model::Model>> load_stage_model(gguf::File file);

// A line per rank for the load banner: "rank 1: layers 11..21 and the output head".
std::string describe_stages();

// Rank 0, at exit: tells the other ranks to end and finalises MPI (or aborts the job, if it is leaving in
// the middle of a pass). With CRIA_MEMORY_REPORT=1 each rank first prints its resident weight memory and
// rank 0 the time of one hop of a hidden row and of a logits row to rank 1.
void stop(int exit_code);

}  // namespace cria::dist
