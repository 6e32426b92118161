/* cria's C API: load a GGUF Llama-family model, tokenize, render its chat template, and run batches of
 * tokens from any number of sequences through one KV cache, with llama.cpp's sampler chain.
 *
 * Conventions
 * - Handles are opaque; each *_create / *_load has a matching *_free, which accepts NULL.
 * - Every fallible function returns a cria_status. On failure cria_last_error() holds a one-line message
 *   for the calling thread (it names the file, value or limit at fault); a later failure replaces it,
 *   successful calls leave it as it is. No C++ exception ever crosses this interface.
 * - NULL handles and pointers are CRIA_ERROR_INVALID_ARGUMENT, never a crash. Getters that return a
 *   value (cria_model_n_vocab, ...) return -1 for a NULL handle and set the message.
 * - Functions that fill a caller's buffer take its capacity and always store the size needed in
 *   *n_out (for text: bytes without the terminating NUL, which is written when there is room for it).
 *   A NULL buffer with capacity 0 asks for the size only and succeeds; a buffer that is too small is
 *   CRIA_ERROR_BUFFER_TOO_SMALL and nothing is written.
 * - One handle must not be used by two threads at once; different handles may (a model is read-only
 *   and may be shared by any number of contexts on any threads).
 */
#ifndef CRIA_CRIA_H
#define CRIA_CRIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define CRIA_API __attribute__((visibility("default")))
#else
#define CRIA_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t cria_token;
typedef int32_t cria_pos;
typedef int32_t cria_seq_id;

typedef enum cria_status {
  CRIA_OK = 0,
  CRIA_ERROR_INVALID_ARGUMENT = 1, /* a NULL pointer, an id or size out of range, a malformed batch */
  CRIA_ERROR_IO = 2,               /* a file that cannot be opened or read */
  CRIA_ERROR_INVALID_MODEL = 3,    /* not a GGUF file, damaged, or a model cria cannot run */
  CRIA_ERROR_CONTEXT_FULL = 4,     /* the KV cache has no cells left for the batch (nothing changed) */
  CRIA_ERROR_BUFFER_TOO_SMALL = 5, /* the caller's buffer is smaller than *n_out says is needed */
  CRIA_ERROR_TEMPLATE = 6,         /* no chat template, or it failed to render (raise_exception, limits) */
  CRIA_ERROR_OUT_OF_MEMORY = 7,
  CRIA_ERROR_INTERNAL = 8          /* a bug in cria: please report the message */
} cria_status;

typedef struct cria_model cria_model;
typedef struct cria_context cria_context;
typedef struct cria_batch cria_batch;
typedef struct cria_sampler cria_sampler;

/* ---- library ---- */

CRIA_API const char* cria_version(void);                  /* "0.1.0" */
CRIA_API const char* cria_last_error(void);               /* "" when this thread has had no failure */
CRIA_API const char* cria_status_name(cria_status status); /* "CRIA_ERROR_IO", ... */

/* ---- model: weights, tokenizer and chat template of one GGUF file ---- */

typedef struct cria_model_params {
  /* Matmul kernels' instruction set: "scalar", "avx2", "avx512", "neon", "neondot"; NULL: the best
   * this CPU has. */
  const char* isa;
} cria_model_params;

CRIA_API cria_model_params cria_model_default_params(void);
/* params may be NULL (defaults). The file is mapped, not copied. */
CRIA_API cria_status cria_model_load(const char* path, const cria_model_params* params, cria_model** out);
/* Contexts and samplers keep what they need: a model may be freed before them. */
CRIA_API void cria_model_free(cria_model* model);

CRIA_API int32_t cria_model_n_vocab(const cria_model* model);
CRIA_API int32_t cria_model_n_ctx_train(const cria_model* model);
CRIA_API int32_t cria_model_n_embd(const cria_model* model);
CRIA_API int32_t cria_model_n_layer(const cria_model* model);
CRIA_API cria_token cria_token_bos(const cria_model* model); /* -1 when the vocabulary has none */
CRIA_API cria_token cria_token_eos(const cria_model* model);
CRIA_API bool cria_token_is_eog(const cria_model* model, cria_token token); /* end of generation */

/* Text to tokens, exactly as llama.cpp tokenizes. add_special adds BOS/EOS as the vocabulary asks;
 * parse_special lets control tokens written in the text (e.g. "</s>") become their ids. */
CRIA_API cria_status cria_tokenize(const cria_model* model, const char* text, size_t text_len, bool add_special,
                                   bool parse_special, cria_token* tokens, size_t capacity, size_t* n_out);
/* One token's bytes (a piece may be part of a UTF-8 character); control tokens are empty unless special. */
CRIA_API cria_status cria_token_to_piece(const cria_model* model, cria_token token, bool special, char* buf,
                                         size_t capacity, size_t* n_out);
/* Tokens to text. remove_special drops a leading BOS and trailing EOS the vocabulary adds;
 * unparse_special renders control tokens as their text. */
CRIA_API cria_status cria_detokenize(const cria_model* model, const cria_token* tokens, size_t n_tokens,
                                     bool remove_special, bool unparse_special, char* buf, size_t capacity,
                                     size_t* n_out);

/* ---- chat templates ---- */

typedef struct cria_chat_message {
  const char* role; /* "system", "user", "assistant", ... */
  const char* content;
} cria_chat_message;

/* Renders a conversation as Hugging Face's apply_chat_template does. tmpl: NULL for the model's own
 * template (tokenizer.chat_template), a built-in name ("chatml", "llama2", "llama3", ...; see
 * cria_chat_builtin_templates), or the Jinja source of a template. model may be NULL when tmpl is given
 * (bos_token and eos_token are then empty). */
CRIA_API cria_status cria_chat_apply_template(const cria_model* model, const char* tmpl,
                                              const cria_chat_message* messages, size_t n_messages,
                                              bool add_generation_prompt, char* buf, size_t capacity,
                                              size_t* n_out);
/* The built-in template names, comma-separated. */
CRIA_API const char* cria_chat_builtin_templates(void);

/* ---- context: a forward-pass runner and a KV cache shared by sequences 0 .. n_seq_max - 1 ---- */

typedef struct cria_context_params {
  int32_t n_ctx;     /* KV cells for all sequences together; 0: the training context, at most 4096 */
  int32_t n_batch;   /* most tokens in one cria_decode (at most n_ctx); default 512 */
  int32_t n_seq_max; /* sequence ids 0 .. n_seq_max - 1; default 1 */
  int32_t n_threads; /* 0: the physical cores */
  bool flash_attn;   /* online-softmax attention with f32 probabilities (llama.cpp's -fa) */
  /* Batch-invariant decoding: a sequence's logits are bitwise the same whatever else shares its batch
   * and however its prompt is split. Free for models with 4 or more query heads per KV head (invariant
   * anyway); slower prompts for the others. Default false. */
  bool deterministic;
  /* The KV cache's types for keys and values, by llama.cpp's -ctk/-ctv names: "f32", "f16", "bf16",
   * "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"; NULL: "f16". */
  const char* type_k;
  const char* type_v;
} cria_context_params;

CRIA_API cria_context_params cria_context_default_params(void);
CRIA_API cria_status cria_context_create(const cria_model* model, const cria_context_params* params,
                                         cria_context** out);
CRIA_API void cria_context_free(cria_context* ctx);
CRIA_API int32_t cria_n_ctx(const cria_context* ctx);
CRIA_API int32_t cria_n_batch(const cria_context* ctx);
CRIA_API int32_t cria_n_seq_max(const cria_context* ctx);
CRIA_API int32_t cria_n_threads(const cria_context* ctx);

/* ---- batch: the tokens of one forward pass ---- */

CRIA_API cria_status cria_batch_create(cria_batch** out);
CRIA_API void cria_batch_free(cria_batch* batch);
/* Appends a token at position pos of each of the n_seq listed sequences (several for a prompt they
 * share); logits: whether cria_get_logits will return this token's row. */
CRIA_API cria_status cria_batch_add(cria_batch* batch, cria_token token, cria_pos pos, const cria_seq_id* seq_ids,
                                    size_t n_seq, bool logits);
CRIA_API cria_status cria_batch_clear(cria_batch* batch);
CRIA_API int32_t cria_batch_size(const cria_batch* batch);

/* Runs the forward pass: each token takes a KV cell and is appended to its sequences, whose positions
 * must rise. At most n_batch tokens. On failure (CRIA_ERROR_CONTEXT_FULL when cells run out or a
 * sequence would exceed n_ctx) nothing has changed. */
CRIA_API cria_status cria_decode(cria_context* ctx, const cria_batch* batch);
/* The n_vocab logits of token i of the last decoded batch (i < 0 counts from the end: -1 is the last);
 * NULL, with the message set, when that token did not ask for logits or i is out of range. Valid until
 * the next cria_decode or cria_context_free. */
CRIA_API const float* cria_get_logits(cria_context* ctx, int32_t i);

/* ---- KV cache: llama.cpp's sequence operations. p1 < 0 means "to the end". ---- */

/* Forgets positions [p0, p1) of seq; seq < 0: of every sequence. */
CRIA_API cria_status cria_kv_seq_rm(cria_context* ctx, cria_seq_id seq, cria_pos p0, cria_pos p1);
/* dst's positions [p0, p1) become src's cells (shared, not copied). */
CRIA_API cria_status cria_kv_seq_cp(cria_context* ctx, cria_seq_id src, cria_seq_id dst, cria_pos p0, cria_pos p1);
CRIA_API cria_status cria_kv_seq_keep(cria_context* ctx, cria_seq_id seq); /* every other sequence is cleared */
CRIA_API cria_status cria_kv_clear(cria_context* ctx);                      /* all sequences and retained prefixes */
/* Adds delta to positions [p0, p1) of seq (keys are re-rotated at the next decode). */
CRIA_API cria_status cria_kv_seq_add(cria_context* ctx, cria_seq_id seq, cria_pos p0, cria_pos p1, cria_pos delta);
/* The highest position seq holds, -1 when it is empty. */
CRIA_API cria_status cria_kv_seq_pos_max(const cria_context* ctx, cria_seq_id seq, cria_pos* out);
/* Cells free for new tokens (including those only retained prefixes hold). */
CRIA_API int32_t cria_kv_n_available(const cria_context* ctx);
/* Ends seq but keeps its cells from position 0 on as a prefix later sequences may reuse (evicted least
 * recently used first when cells run out). */
CRIA_API cria_status cria_kv_seq_retain(cria_context* ctx, cria_seq_id seq);
/* Gives the empty sequence seq the longest prefix of tokens (at most n_tokens - 1) that a sequence or a
 * retained prefix holds at positions 0, 1, ...; *n_reused tokens need not be decoded again. */
CRIA_API cria_status cria_kv_seq_reuse_prefix(cria_context* ctx, cria_seq_id seq, const cria_token* tokens,
                                              size_t n_tokens, int32_t* n_reused);

/* ---- sampler: penalties, top-k, top-p, min-p, temperature, seeded draw (llama.cpp's chain) ---- */

typedef struct cria_sampler_params {
  float temp;              /* <= 0: greedy */
  int32_t top_k;           /* <= 0: no limit */
  float top_p;             /* 1: off */
  float min_p;             /* 0: off */
  float repeat_penalty;    /* 1: off */
  int32_t repeat_last_n;   /* 0: off, -1: the whole context */
  float presence_penalty;  /* 0: off */
  float frequency_penalty; /* 0: off */
  uint32_t seed;           /* 0xFFFFFFFF: a random seed */
} cria_sampler_params;

CRIA_API cria_sampler_params cria_sampler_default_params(void); /* llama.cpp's defaults: temp 0.8, top-k 40, ... */
/* A sampler for the logits of ctx's model (its vocabulary and context size). */
CRIA_API cria_status cria_sampler_create(const cria_context* ctx, const cria_sampler_params* params,
                                         cria_sampler** out);
CRIA_API void cria_sampler_free(cria_sampler* sampler);
/* Picks a token from cria_get_logits(ctx, i). It does not accept it: call cria_sampler_accept. */
CRIA_API cria_status cria_sampler_sample(cria_sampler* sampler, cria_context* ctx, int32_t i, cria_token* out);
/* Records a token of the sequence (prompt or generated) for the repetition penalties. */
CRIA_API cria_status cria_sampler_accept(cria_sampler* sampler, cria_token token);
CRIA_API cria_status cria_sampler_reset(cria_sampler* sampler); /* forgets accepted tokens */
CRIA_API cria_status cria_sampler_ban(cria_sampler* sampler, cria_token token); /* never picks it */
CRIA_API uint32_t cria_sampler_seed(const cria_sampler* sampler);             /* the seed in use */

#ifdef __cplusplus
}
#endif

#endif /* CRIA_CRIA_H */
