// What the C API's translation units share: the structs behind the opaque handles, the thread's last
// error, and `guarded`, the one place where C++ exceptions stop before they reach a C caller.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "cria/cria.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/runner.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

// The handles hold shared pointers so that a context or sampler keeps its model alive: a C caller may
// free the model first without leaving them dangling.
struct cria_model {
  std::shared_ptr<const cria::model::Model> model;
  std::shared_ptr<const cria::tokenizer::Tokenizer> tokenizer;
};

struct cria_context {
  std::unique_ptr<cria::model::Runner> runner;
  cria::model::KvCache cache;
  int last_batch_size = 0;  // tokens of the last successful decode: the range of cria_get_logits
};

struct cria_batch {
  cria::model::Batch batch;
};

struct cria_sampler {
  cria::sampling::Sampler sampler;
  int64_t n_vocab;
};

namespace cria::api {

// Records the message for cria_last_error() and returns the code. Never throws: if the message cannot
// be stored (no memory), a fixed one stands in.
cria_status fail(cria_status code, const std::string& message) noexcept;
// The same for a bad argument of `function`: "cria_tokenize: text is NULL".
inline cria_status invalid(const char* function, const std::string& what) noexcept {
  try {
    return fail(CRIA_ERROR_INVALID_ARGUMENT, std::string(function) + ": " + what);
  } catch (...) {
    return fail(CRIA_ERROR_INVALID_ARGUMENT, "invalid argument");
  }
}
cria_status exception_status(const char* function) noexcept;  // call inside a catch block

// Runs f (returning cria_status) with every exception turned into a status: std::bad_alloc is
// CRIA_ERROR_OUT_OF_MEMORY, anything else CRIA_ERROR_INTERNAL (the engine reports bad input as values,
// so an exception is a bug or an allocation failure).
template <class F>
cria_status guarded(const char* function, F&& f) noexcept {
  try {
    return std::forward<F>(f)();
  } catch (...) {
    return exception_status(function);
  }
}

// For getters that return a value: `fallback` when f throws.
template <class T, class F>
T guarded_value(const char* function, T fallback, F&& f) noexcept {
  try {
    return std::forward<F>(f)();
  } catch (...) {
    (void)exception_status(function);
    return fallback;
  }
}

// Stores `size` items of `data` into the caller's buffer by the API's rule: *n_out is always the size
// needed; (NULL, 0) asks for it; a short buffer is CRIA_ERROR_BUFFER_TOO_SMALL with nothing written.
// Text gets a terminating NUL when there is room for it.
cria_status copy_out(const char* function, const int32_t* data, size_t size, int32_t* buf, size_t capacity,
                     size_t* n_out) noexcept;
cria_status copy_text(const char* function, const std::string& text, char* buf, size_t capacity,
                      size_t* n_out) noexcept;

// The status a Status from the engine maps to: running out of KV cells or context (ErrorKind::kFull)
// is CRIA_ERROR_CONTEXT_FULL; every other refusal is about the caller's arguments.
cria_status engine_status(const Error& error) noexcept;

}  // namespace cria::api
