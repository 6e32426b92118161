// A thin C++17 layer over cria.h: handles that free themselves, failures as cria::cxx::Error exceptions
// (thrown on the caller's side of the C boundary), and std::string / std::vector in place of caller buffers.
// Everything here is inline over the C functions; libcria.so exports nothing else.
#ifndef CRIA_CRIA_HPP
#define CRIA_CRIA_HPP

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cria/cria.h"

// A namespace of its own: cria:: is the engine's, and a program may build against both.
namespace cria::cxx {

class Error : public std::runtime_error {
 public:
  Error(cria_status status, const char* message) : std::runtime_error(message), status_(status) {}
  cria_status status() const { return status_; }

 private:
  cria_status status_;
};

inline void check(cria_status status) {
  if (status != CRIA_OK) throw Error(status, cria_last_error());
}

namespace detail {
template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
}  // namespace detail

using ModelPtr = std::unique_ptr<cria_model, detail::Deleter<cria_model, cria_model_free>>;
using ContextPtr = std::unique_ptr<cria_context, detail::Deleter<cria_context, cria_context_free>>;
using BatchPtr = std::unique_ptr<cria_batch, detail::Deleter<cria_batch, cria_batch_free>>;
using SamplerPtr = std::unique_ptr<cria_sampler, detail::Deleter<cria_sampler, cria_sampler_free>>;

inline ModelPtr load_model(const std::string& path, const cria_model_params* params = nullptr) {
  cria_model* m = nullptr;
  check(cria_model_load(path.c_str(), params, &m));
  return ModelPtr(m);
}

inline ContextPtr make_context(const cria_model* model, const cria_context_params& params = cria_context_default_params()) {
  cria_context* c = nullptr;
  check(cria_context_create(model, &params, &c));
  return ContextPtr(c);
}

inline BatchPtr make_batch() {
  cria_batch* b = nullptr;
  check(cria_batch_create(&b));
  return BatchPtr(b);
}

inline SamplerPtr make_sampler(const cria_context* ctx, const cria_sampler_params& params = cria_sampler_default_params()) {
  cria_sampler* s = nullptr;
  check(cria_sampler_create(ctx, &params, &s));
  return SamplerPtr(s);
}

inline std::vector<cria_token> tokenize(const cria_model* model, std::string_view text, bool add_special = true,
                                        bool parse_special = false) {
  size_t n = 0;
  check(cria_tokenize(model, text.data(), text.size(), add_special, parse_special, nullptr, 0, &n));
  std::vector<cria_token> tokens(n);
  check(cria_tokenize(model, text.data(), text.size(), add_special, parse_special, tokens.data(), n, &n));
  return tokens;
}

inline std::string token_to_piece(const cria_model* model, cria_token token, bool special = false) {
  size_t n = 0;
  check(cria_token_to_piece(model, token, special, nullptr, 0, &n));
  std::string piece(n, '\0');
  check(cria_token_to_piece(model, token, special, piece.data(), n, &n));
  return piece;
}

inline std::string detokenize(const cria_model* model, const std::vector<cria_token>& tokens,
                              bool remove_special = false, bool unparse_special = false) {
  size_t n = 0;
  check(cria_detokenize(model, tokens.data(), tokens.size(), remove_special, unparse_special, nullptr, 0, &n));
  std::string text(n, '\0');
  check(cria_detokenize(model, tokens.data(), tokens.size(), remove_special, unparse_special, text.data(), n, &n));
  return text;
}

// tmpl: nullptr for the model's template, a built-in name, or Jinja source (see cria_chat_apply_template).
inline std::string apply_chat_template(const cria_model* model, const char* tmpl,
                                       const std::vector<cria_chat_message>& messages, bool add_generation_prompt) {
  size_t n = 0;
  check(cria_chat_apply_template(model, tmpl, messages.data(), messages.size(), add_generation_prompt, nullptr, 0, &n));
  std::string text(n, '\0');
  check(cria_chat_apply_template(model, tmpl, messages.data(), messages.size(), add_generation_prompt, text.data(), n,
                                 &n));
  return text;
}

}  // namespace cria::cxx

#endif  // CRIA_CRIA_HPP
