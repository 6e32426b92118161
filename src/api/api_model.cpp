// The C API's library-wide functions (version, errors) and the model: loading, vocabulary,
// tokenization and chat templates. See include/cria/cria.h for the contract of each function.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_internal.h"
#include "chat/chat_template.h"
#include "gguf/gguf_reader.h"
#include "ops/kernels.h"

namespace cria::api {

namespace {

// errno-like: one message per thread, replaced by the next failure.
thread_local std::string t_message;
thread_local const char* t_fixed_message = nullptr;  // used when t_message could not be stored

}  // namespace

cria_status fail(cria_status code, const std::string& message) noexcept {
  try {
    t_message = message;
    t_fixed_message = nullptr;
  } catch (...) {
    t_fixed_message = "out of memory while recording an error";
  }
  return code;
}

cria_status exception_status(const char* function) noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    t_fixed_message = nullptr;
    try {
      t_message = std::string(function) + ": out of memory";
    } catch (...) {
      t_fixed_message = "out of memory";
    }
    return CRIA_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    try {
      return fail(CRIA_ERROR_INTERNAL, std::string(function) + ": internal error: " + e.what());
    } catch (...) {
      return fail(CRIA_ERROR_INTERNAL, "internal error");
    }
  } catch (...) {
    return fail(CRIA_ERROR_INTERNAL, "internal error: unknown exception");
  }
}

cria_status copy_out(const char* function, const int32_t* data, size_t size, int32_t* buf, size_t capacity,
                     size_t* n_out) noexcept {
  if (n_out == nullptr) return invalid(function, "n_out is NULL");
  *n_out = size;
  if (buf == nullptr && capacity == 0) return CRIA_OK;
  if (buf == nullptr) return invalid(function, "the buffer is NULL but its capacity is not 0");
  if (capacity < size) {
    return fail(CRIA_ERROR_BUFFER_TOO_SMALL, std::string(function) + ": " + std::to_string(size) +
                                                 " items need a larger buffer than " + std::to_string(capacity));
  }
  if (size > 0) std::memcpy(buf, data, size * sizeof(int32_t));
  return CRIA_OK;
}

cria_status copy_text(const char* function, const std::string& text, char* buf, size_t capacity,
                      size_t* n_out) noexcept {
  if (n_out == nullptr) return invalid(function, "n_out is NULL");
  *n_out = text.size();
  if (buf == nullptr && capacity == 0) return CRIA_OK;
  if (buf == nullptr) return invalid(function, "the buffer is NULL but its capacity is not 0");
  if (capacity < text.size()) {
    return fail(CRIA_ERROR_BUFFER_TOO_SMALL, std::string(function) + ": " + std::to_string(text.size()) +
                                                 " bytes need a larger buffer than " + std::to_string(capacity));
  }
  std::memcpy(buf, text.data(), text.size());
  if (capacity > text.size()) buf[text.size()] = '\0';
  return CRIA_OK;
}

cria_status engine_status(const Error& error) noexcept {
  return fail(error.kind == ErrorKind::kFull ? CRIA_ERROR_CONTEXT_FULL : CRIA_ERROR_INVALID_ARGUMENT, error.message);
}

}  // namespace cria::api

using cria::api::fail;
using cria::api::guarded;
using cria::api::guarded_value;
using cria::api::invalid;

namespace {

bool token_in_vocab(const cria_model* m, cria_token token) { return token >= 0 && token < m->tokenizer->n_vocab(); }

std::string out_of_vocab(cria_token token, const cria_model* m) {
  return "token id " + std::to_string(token) + " is outside the vocabulary (0.." +
         std::to_string(m->tokenizer->n_vocab() - 1) + ")";
}

}  // namespace

extern "C" {

const char* cria_version(void) { return CRIA_VERSION_STRING; }

const char* cria_last_error(void) {
  return cria::api::t_fixed_message != nullptr ? cria::api::t_fixed_message : cria::api::t_message.c_str();
}

const char* cria_status_name(cria_status status) {
  switch (status) {
    case CRIA_OK: return "CRIA_OK";
    case CRIA_ERROR_INVALID_ARGUMENT: return "CRIA_ERROR_INVALID_ARGUMENT";
    case CRIA_ERROR_IO: return "CRIA_ERROR_IO";
    case CRIA_ERROR_INVALID_MODEL: return "CRIA_ERROR_INVALID_MODEL";
    case CRIA_ERROR_CONTEXT_FULL: return "CRIA_ERROR_CONTEXT_FULL";
    case CRIA_ERROR_BUFFER_TOO_SMALL: return "CRIA_ERROR_BUFFER_TOO_SMALL";
    case CRIA_ERROR_TEMPLATE: return "CRIA_ERROR_TEMPLATE";
    case CRIA_ERROR_OUT_OF_MEMORY: return "CRIA_ERROR_OUT_OF_MEMORY";
    case CRIA_ERROR_INTERNAL: return "CRIA_ERROR_INTERNAL";
  }
  return "CRIA_ERROR_UNKNOWN";
}

cria_model_params cria_model_default_params(void) {
  cria_model_params p;
  p.isa = nullptr;
  return p;
}

cria_status cria_model_load(const char* path, const cria_model_params* params, cria_model** out) {
  constexpr const char* fn = "cria_model_load";
  return guarded(fn, [&]() -> cria_status {
    if (out == nullptr) return invalid(fn, "out is NULL");
    *out = nullptr;
    if (path == nullptr) return invalid(fn, "path is NULL");
    cria::ops::Isa isa = cria::ops::selected_isa();
    if (params != nullptr && params->isa != nullptr) {
      bool found = false;
      for (int i = 0; i < cria::ops::kIsaCount && !found; ++i) {
        const auto candidate = static_cast<cria::ops::Isa>(i);
        if (cria::ops::isa_name(candidate) == params->isa) isa = candidate, found = true;
      }
      if (!found) return invalid(fn, std::string("unknown instruction set '") + params->isa + "'");
      if (!cria::ops::isa_available(isa)) {
        return invalid(fn, std::string("this CPU cannot run the instruction set '") + params->isa + "'");
      }
    }
    // A file that cannot be read at all is an I/O error; anything the reader rejects after that is
    // the file's content.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return fail(CRIA_ERROR_IO, std::string(path) + ": is a directory");
    if (std::FILE* f = std::fopen(path, "rb")) {
      std::fclose(f);
    } else {
      return fail(CRIA_ERROR_IO, std::string(path) + ": cannot open: " + std::strerror(errno));
    }
    auto file = cria::gguf::File::open(path);
    if (!file) return fail(CRIA_ERROR_INVALID_MODEL, file.error().message);
    auto tok = cria::tokenizer::Tokenizer::load(*file);
    if (!tok) return fail(CRIA_ERROR_INVALID_MODEL, tok.error().message);
    auto model = cria::model::Model::from_file(std::move(*file), isa);
    if (!model) return fail(CRIA_ERROR_INVALID_MODEL, model.error().message);
    *out = new cria_model{*model, std::make_shared<const cria::tokenizer::Tokenizer>(std::move(*tok))};
    return CRIA_OK;
  });
}

void cria_model_free(cria_model* model) { delete model; }

int32_t cria_model_n_vocab(const cria_model* model) {
  if (model == nullptr) return invalid("cria_model_n_vocab", "model is NULL"), -1;
  return static_cast<int32_t>(model->model->n_vocab());
}

int32_t cria_model_n_ctx_train(const cria_model* model) {
  if (model == nullptr) return invalid("cria_model_n_ctx_train", "model is NULL"), -1;
  return static_cast<int32_t>(model->model->hparams().n_ctx_train);
}

int32_t cria_model_n_embd(const cria_model* model) {
  if (model == nullptr) return invalid("cria_model_n_embd", "model is NULL"), -1;
  return static_cast<int32_t>(model->model->hparams().n_embd);
}

int32_t cria_model_n_layer(const cria_model* model) {
  if (model == nullptr) return invalid("cria_model_n_layer", "model is NULL"), -1;
  return static_cast<int32_t>(model->model->hparams().n_layer);
}

cria_token cria_token_bos(const cria_model* model) {
  if (model == nullptr) return invalid("cria_token_bos", "model is NULL"), -1;
  return model->tokenizer->bos();
}

cria_token cria_token_eos(const cria_model* model) {
  if (model == nullptr) return invalid("cria_token_eos", "model is NULL"), -1;
  return model->tokenizer->eos();
}

bool cria_token_is_eog(const cria_model* model, cria_token token) {
  if (model == nullptr) return invalid("cria_token_is_eog", "model is NULL"), false;
  return token_in_vocab(model, token) && model->tokenizer->is_eog(token);
}

cria_status cria_tokenize(const cria_model* model, const char* text, size_t text_len, bool add_special,
                          bool parse_special, cria_token* tokens, size_t capacity, size_t* n_out) {
  constexpr const char* fn = "cria_tokenize";
  return guarded(fn, [&]() -> cria_status {
    if (model == nullptr) return invalid(fn, "model is NULL");
    if (text == nullptr && text_len > 0) return invalid(fn, "text is NULL");
    const auto ids = model->tokenizer->encode(std::string_view(text == nullptr ? "" : text, text_len), add_special,
                                              parse_special);
    return cria::api::copy_out(fn, ids.data(), ids.size(), tokens, capacity, n_out);
  });
}

cria_status cria_token_to_piece(const cria_model* model, cria_token token, bool special, char* buf, size_t capacity,
                                size_t* n_out) {
  constexpr const char* fn = "cria_token_to_piece";
  return guarded(fn, [&]() -> cria_status {
    if (model == nullptr) return invalid(fn, "model is NULL");
    if (!token_in_vocab(model, token)) return invalid(fn, out_of_vocab(token, model));
    return cria::api::copy_text(fn, model->tokenizer->token_to_piece(token, special), buf, capacity, n_out);
  });
}

cria_status cria_detokenize(const cria_model* model, const cria_token* tokens, size_t n_tokens, bool remove_special,
                            bool unparse_special, char* buf, size_t capacity, size_t* n_out) {
  constexpr const char* fn = "cria_detokenize";
  return guarded(fn, [&]() -> cria_status {
    if (model == nullptr) return invalid(fn, "model is NULL");
    if (tokens == nullptr && n_tokens > 0) return invalid(fn, "tokens is NULL");
    std::vector<int32_t> ids(tokens, tokens + n_tokens);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!token_in_vocab(model, ids[i])) return invalid(fn, "tokens[" + std::to_string(i) + "]: " + out_of_vocab(ids[i], model));
    }
    return cria::api::copy_text(fn, model->tokenizer->decode(ids, remove_special, unparse_special), buf, capacity,
                                n_out);
  });
}

cria_status cria_chat_apply_template(const cria_model* model, const char* tmpl, const cria_chat_message* messages,
                                     size_t n_messages, bool add_generation_prompt, char* buf, size_t capacity,
                                     size_t* n_out) {
  constexpr const char* fn = "cria_chat_apply_template";
  return guarded(fn, [&]() -> cria_status {
    if (model == nullptr && tmpl == nullptr) return invalid(fn, "both model and tmpl are NULL");
    if (messages == nullptr && n_messages > 0) return invalid(fn, "messages is NULL");
    cria::chat::ChatTemplateInputs in;
    for (size_t i = 0; i < n_messages; ++i) {
      if (messages[i].role == nullptr || messages[i].content == nullptr) {
        return invalid(fn, "messages[" + std::to_string(i) + "] has a NULL role or content");
      }
      in.messages.push_back({{"role", messages[i].role}, {"content", messages[i].content}});
    }
    in.add_generation_prompt = add_generation_prompt;
    if (model != nullptr) cria::chat::set_special_token_texts(*model->tokenizer, in);
    // Never a file name: a library should not read paths hidden in a string that may come from users.
    std::string source;
    if (tmpl == nullptr) {
      auto s = cria::chat::select_template(&model->model->file(), "");
      if (!s) return fail(CRIA_ERROR_TEMPLATE, s.error().message);
      source = std::move(*s);
    } else if (const char* builtin = cria::chat::builtin_template(tmpl)) {
      source = builtin;
    } else {
      source = tmpl;
    }
    auto text = cria::chat::apply_chat_template(source, in);
    if (!text) return fail(CRIA_ERROR_TEMPLATE, "chat template: " + text.error().message);
    return cria::api::copy_text(fn, *text, buf, capacity, n_out);
  });
}

const char* cria_chat_builtin_templates(void) {
  static const std::string names = guarded_value("cria_chat_builtin_templates", std::string(), [] {
    std::string joined;
    for (const auto& n : cria::chat::builtin_template_names()) joined += (joined.empty() ? "" : ",") + n;
    return joined;
  });
  return names.c_str();
}

}  // extern "C"
