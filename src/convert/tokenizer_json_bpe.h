// Byte-level BPE vocabularies from a Hugging Face tokenizer.json (tokenizer.ggml.model = "gpt2").
#pragma once

#include <cstdint>
#include <string>

#include "convert/json_file.h"
#include "convert/tokenizer_metadata.h"

namespace cria::convert {

// Tokens, types and merges. llama.cpp names the pre-tokenizer by hashing what the Python tokenizer
// makes of a test text; without Python, cria recognizes the pre-tokenizer by its regex instead
// (GPT-2, Llama 3, Qwen 2) and refuses others by name.
Result<TokenizerMetadata> bpe_vocabulary(const Json& tokenizer_json, const std::string& source, uint32_t vocab_size);

// "added" tokens that act as control tokens although they are not marked special (llama.cpp's list).
bool looks_like_control_token(const std::string& text);

}  // namespace cria::convert
