/* simple: load a model, evaluate a prompt, and generate greedily through cria's C API.
 * Usage: simple MODEL.gguf [PROMPT] [N_TOKENS]   (prints only the generated text on stdout) */
#include <cria/cria.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(cria_status status, const char* what) {
  if (status == CRIA_OK) return 0;
  fprintf(stderr, "simple: %s: %s: %s\n", what, cria_status_name(status), cria_last_error());
  exit(1);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.gguf [PROMPT] [N_TOKENS]\n", argv[0]);
    return 2;
  }
  const char* prompt = argc > 2 ? argv[2] : "In the beginning";
  const int n_predict = argc > 3 ? atoi(argv[3]) : 32;

  cria_model* model = NULL;
  check(cria_model_load(argv[1], NULL, &model), "loading the model");
  cria_context_params cparams = cria_context_default_params();
  cparams.n_ctx = 512;
  cria_context* ctx = NULL;
  check(cria_context_create(model, &cparams, &ctx), "creating a context");

  /* Ask for the size, then tokenize into a buffer of that size. */
  size_t n_prompt = 0;
  check(cria_tokenize(model, prompt, strlen(prompt), true, true, NULL, 0, &n_prompt), "tokenizing");
  cria_token* tokens = malloc((n_prompt + 1) * sizeof *tokens); /* + 1: never malloc(0) */
  if (tokens == NULL) return 1;
  check(cria_tokenize(model, prompt, strlen(prompt), true, true, tokens, n_prompt, &n_prompt), "tokenizing");

  cria_batch* batch = NULL;
  check(cria_batch_create(&batch), "creating a batch");
  const cria_seq_id seq = 0;
  for (size_t i = 0; i < n_prompt; ++i) {
    check(cria_batch_add(batch, tokens[i], (cria_pos)i, &seq, 1, i + 1 == n_prompt), "adding a token");
  }
  cria_sampler_params sparams = cria_sampler_default_params();
  sparams.temp = 0; /* greedy */
  cria_sampler* sampler = NULL;
  check(cria_sampler_create(ctx, &sparams, &sampler), "creating a sampler");

  cria_pos pos = (cria_pos)n_prompt;
  char piece[256];
  for (int n = 0; n < n_predict; ++n) {
    check(cria_decode(ctx, batch), "decoding");
    cria_token next;
    check(cria_sampler_sample(sampler, ctx, -1, &next), "sampling");
    if (cria_token_is_eog(model, next)) break;
    size_t len = 0;
    check(cria_token_to_piece(model, next, false, piece, sizeof piece, &len), "detokenizing");
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    check(cria_batch_clear(batch), "clearing the batch");
    check(cria_batch_add(batch, next, pos++, &seq, 1, true), "adding a token");
  }
  printf("\n");

  cria_sampler_free(sampler);
  cria_batch_free(batch);
  free(tokens);
  cria_context_free(ctx);
  cria_model_free(model);
  return 0;
}
