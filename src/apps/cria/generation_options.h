// The flags every model-running command shares, with llama.cpp's names: threads, context, batch, seed and
// the sampler chain. One place registers and checks them for `run` and `chat`.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "grammar/gbnf.h"
#include "model/kv_cache.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace cria::cli {

// -ctk / -ctv (--cache-type-k / --cache-type-v): the KV cache's types by llama.cpp's names.
struct CacheTypeFlags {
  std::string k = "f16", v = "f16";
};
void add_cache_type_flags(CLI::App* cmd, CacheTypeFlags& flags);
// The types, or an error naming the bad flag and the accepted names.
Result<model::KvCacheTypes> cache_types(const CacheTypeFlags& flags);
// llama.cpp's report of the cache's size on stderr (unless logs are off):
// "<who>: KV self size = 8.00 MiB, K (q8_0): 4.00 MiB, V (q8_0): 4.00 MiB".
void print_kv_cache_size(const char* who, const model::KvCache& cache);

struct GenerationFlags {
  int threads = 0;
  int ctx = 0;
  int batch = 512;
  bool flash_attn = false;
  CacheTypeFlags cache_types;
  int64_t seed = -1;
  sampling::SamplingParams sampling;
  std::string sampler_error;  // a bad --samplers / --sampling-seq, reported by check_generation_flags
  bool breakers_given = false;  // the first --dry-sequence-breaker replaces the defaults
  std::string grammar, grammar_file;  // --grammar TEXT, --grammar-file FILE (GBNF)
  std::string json_schema, json_schema_file;  // -j TEXT|@FILE, -jf FILE (JSON Schema)
};

void add_generation_flags(CLI::App* cmd, GenerationFlags& flags);
// An empty string when the values are usable, else the message naming the bad flag.
std::string check_generation_flags(const GenerationFlags& flags);
// The most threads any command starts: 4 per logical CPU, and never fewer than this. Far above what
// helps (one per core), low enough that a typo such as -t 100000 cannot exhaust the process table.
constexpr int kMinThreadCap = 64;
int thread_cap();
// An empty string when `threads` (0: the default) is usable, else the message naming `flag`; above the
// CPU count a one-line warning on stderr.
std::string check_thread_count(int threads, const char* flag);
// The grammar of --grammar, --grammar-file, --json-schema or --json-schema-file (nullptr when none is
// given), or an error naming the flag (with the grammar's line and column, or the schema's keyword).
Result<std::shared_ptr<const grammar::Grammar>> grammar_of(const GenerationFlags& flags);
// Constrains the sampler by the grammar (if any), with the tokenizer's token texts and end tokens.
void constrain(sampling::Sampler& sampler, const std::shared_ptr<const grammar::Grammar>& grammar,
               const tokenizer::Tokenizer& tok);
// The sampler parameters with the seed applied (-1: a random seed).
sampling::SamplingParams seeded_sampling(const GenerationFlags& flags);

}  // namespace cria::cli
