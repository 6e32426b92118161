// One conversation with a model: keeps the messages, renders them through the chat template, and keeps
// the KV cache in step so each turn evaluates only the text the cache does not already hold.
//
// Each turn renders the whole conversation (with the generation prompt) and compares it with the text the
// cache covers (every earlier prompt and reply). When the new rendering extends that text, only the
// extension is tokenized and evaluated, which is how llama.cpp's chat formats a single new message. When
// a template rewrites earlier text, the whole rendering is tokenized and the cache is cut back to the
// longest common token prefix. When the conversation outgrows the context, the oldest turns are dropped
// (the system message stays) and the conversation is evaluated again from the start.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "model/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace cria::chat {

struct ChatOptions {
  std::string template_source;
  std::string system_prompt;  // empty: no system message
  std::string bos_token, eos_token;
  sampling::SamplingParams sampling;
  int n_predict = -1;  // most tokens per reply; -1: until an end-of-generation token or a full context
};

struct TurnStats {
  int n_evaluated = 0;    // prompt tokens evaluated this turn
  int n_reused = 0;       // tokens already in the cache
  int n_generated = 0;    // reply tokens sampled
  int dropped_turns = 0;  // user messages dropped because the context was full
  bool hit_context_limit = false;  // the reply stopped because the context filled
  bool interrupted = false;        // the reply stopped because `stop` was set; what it had is kept
};

class ChatSession {
 public:
  ChatSession(model::Session& session, const tokenizer::Tokenizer& tokenizer, ChatOptions options);

  // Adds the user's message, evaluates what the cache lacks and streams the reply's text to `on_text`.
  // When `stop` becomes true (Ctrl-C) the reply ends there and its text so far stays in the conversation.
  // The reply's sampler (to constrain it by a grammar, which each reply then matches whole).
  sampling::Sampler& sampler() { return sampler_; }
  Result<TurnStats> respond(const std::string& user_text, const std::function<void(std::string_view)>& on_text,
                            const std::atomic<bool>* stop = nullptr);
  // Forgets the conversation (the system message stays) and clears the cache.
  void reset();

  const nlohmann::ordered_json& messages() const { return messages_; }
  // Replaces the conversation with `messages` (an array of {"role", "content"} objects, as messages()
  // gives and /save writes) and evaluates it into the cache once, so the next turn evaluates only its own
  // message; returns the tokens evaluated. An invalid array or one the context cannot hold changes nothing.
  Result<int> load(const nlohmann::ordered_json& messages);

 private:
  Result<std::string> render(bool generation_prompt = true) const;
  std::vector<int32_t> tokenize(const std::string& text, bool at_start) const;
  bool drop_oldest_turn();
  void clear_cache();

  model::Session& session_;
  const tokenizer::Tokenizer& tok_;
  ChatOptions opt_;
  sampling::Sampler sampler_;
  nlohmann::ordered_json messages_ = nlohmann::ordered_json::array();
  std::vector<int32_t> cache_tokens_;  // what the KV cache holds, position by position
  std::string cache_text_;             // the text those tokens stand for
};

}  // namespace cria::chat
