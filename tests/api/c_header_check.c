/* Compiled as C (C11, -Wpedantic -Werror): the public header must stay valid C and callable from C. */
#include <cria/cria.h>
#include <stddef.h>
#include <string.h>

int cria_c_header_check(const char* model_path);

/* 0 when loading, tokenizing and detokenizing through the C API work from C; a step number otherwise. */
int cria_c_header_check(const char* model_path) {
  cria_model* model = NULL;
  if (cria_model_load(model_path, NULL, &model) != CRIA_OK) return 1;
  const char* text = "In the beginning";
  cria_token tokens[32];
  size_t n = 0;
  int result = 0;
  if (cria_tokenize(model, text, strlen(text), false, false, tokens, 32, &n) != CRIA_OK || n == 0) {
    result = 2;
  } else {
    char buf[128];
    size_t len = 0;
    if (cria_detokenize(model, tokens, n, false, false, buf, sizeof buf, &len) != CRIA_OK) {
      result = 3;
    } else if (len != strlen(text) || memcmp(buf, text, len) != 0) {
      result = 4;
    }
  }
  if (cria_model_n_vocab(NULL) != -1 || cria_last_error()[0] == '\0') result = 5;
  cria_model_free(model);
  return result;
}
