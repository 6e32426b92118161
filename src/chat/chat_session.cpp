#include "chat/chat_session.h"

#include "chat/chat_template.h"

namespace cria::chat {

ChatSession::ChatSession(model::Session& session, const tokenizer::Tokenizer& tokenizer, ChatOptions options)
    : session_(session), tok_(tokenizer), opt_(std::move(options)), sampler_(opt_.sampling, tok_.n_vocab(), session.n_ctx(),
               [this](int32_t id) { return tok_.token_to_piece(id, /*special=*/true); }) {
  reset();
}

void ChatSession::reset() {
  messages_ = nlohmann::ordered_json::array();
  if (!opt_.system_prompt.empty()) messages_.push_back({{"role", "system"}, {"content", opt_.system_prompt}});
  clear_cache();
}

void ChatSession::clear_cache() {
  cache_tokens_.clear();
  cache_text_.clear();
  session_.truncate(0);
  sampler_.reset();
}

Result<std::string> ChatSession::render(bool generation_prompt) const {
  ChatTemplateInputs in;
  in.messages = messages_;
  in.add_generation_prompt = generation_prompt;
  in.bos_token = opt_.bos_token;
  in.eos_token = opt_.eos_token;
  return apply_chat_template(opt_.template_source, in);
}

std::vector<int32_t> ChatSession::tokenize(const std::string& text, bool at_start) const {
  // The template writes special tokens as text (<s>, <|im_start|>), so they are parsed as specials.
  std::vector<int32_t> ids = tok_.encode(text, /*add_special=*/false, /*parse_special=*/true);
  if (at_start && tok_.add_bos() && tok_.bos() >= 0 && (ids.empty() || ids[0] != tok_.bos())) {
    ids.insert(ids.begin(), tok_.bos());
  }
  return ids;
}

// Removes the oldest user message and the replies after it, unless it is the message being answered.
bool ChatSession::drop_oldest_turn() {
  size_t first = 0;
  while (first < messages_.size() && messages_[first]["role"] == "system") ++first;
  size_t next = first + 1;
  while (next < messages_.size() && messages_[next]["role"] != "user") ++next;
  if (next >= messages_.size()) return false;
  messages_.erase(messages_.begin() + static_cast<std::ptrdiff_t>(first), messages_.begin() + static_cast<std::ptrdiff_t>(next));
  return true;
}

Result<int> ChatSession::load(const nlohmann::ordered_json& messages) {
  if (!messages.is_array()) return make_error("a conversation is a JSON array of messages");
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    const bool ok = m.is_object() && m.contains("role") && m["role"].is_string() && m.contains("content") &&
                    m["content"].is_string();
    if (!ok) return make_error("message " + std::to_string(i) + " is not an object with string \"role\" and \"content\"");
  }
  auto previous = std::move(messages_);
  messages_ = messages;
  auto rendered = render(false);
  const std::vector<int32_t> ids = rendered ? tokenize(*rendered, true) : std::vector<int32_t>{};
  if (!rendered || static_cast<int>(ids.size()) >= session_.n_ctx()) {
    messages_ = std::move(previous);
    if (!rendered) return rendered.error();
    return make_error("the conversation needs " + std::to_string(ids.size()) + " tokens, more than the context of " +
                      std::to_string(session_.n_ctx()) + " tokens holds (-c)");
  }
  clear_cache();
  if (ids.empty()) return 0;
  if (auto s = session_.decode(ids); !s) {
    clear_cache();
    messages_ = std::move(previous);
    return s.error();
  }
  for (int32_t id : ids) sampler_.accept(id);
  cache_tokens_ = ids;
  cache_text_ = std::move(*rendered);
  return static_cast<int>(ids.size());
}

Result<TurnStats> ChatSession::respond(const std::string& user_text, const std::function<void(std::string_view)>& on_text,
                                       const std::atomic<bool>* stop) {
  messages_.push_back({{"role", "user"}, {"content", user_text}});
  auto abandon = [&](Error e) -> Result<TurnStats> {
    messages_.erase(messages_.end() - 1);
    return e;
  };
  TurnStats stats;
  std::string text;
  std::vector<int32_t> fresh;
  const int n_ctx = session_.n_ctx();
  while (true) {
    auto rendered = render();
    if (!rendered) return abandon(rendered.error());
    text = std::move(*rendered);
    if (!cache_text_.empty() && text.compare(0, cache_text_.size(), cache_text_) == 0) {
      fresh = tokenize(text.substr(cache_text_.size()), false);
    } else {
      const std::vector<int32_t> all = tokenize(text, true);
      size_t common = 0;
      while (common < all.size() && common < cache_tokens_.size() && all[common] == cache_tokens_[common]) ++common;
      cache_tokens_.resize(common);
      session_.truncate(static_cast<int>(common));
      fresh.assign(all.begin() + static_cast<std::ptrdiff_t>(common), all.end());
    }
    if (fresh.empty() && !cache_tokens_.empty()) {
      // Nothing new to evaluate, but sampling needs the logits after the last cached token.
      fresh.push_back(cache_tokens_.back());
      cache_tokens_.pop_back();
      session_.truncate(static_cast<int>(cache_tokens_.size()));
    }
    if (session_.n_past() + static_cast<int>(fresh.size()) < n_ctx) break;
    if (!drop_oldest_turn()) {
      clear_cache();
      return abandon(make_error("the message needs " + std::to_string(fresh.size()) +
                                " tokens with the template, more than the context of " + std::to_string(n_ctx) +
                                " tokens holds (-c)"));
    }
    ++stats.dropped_turns;
    clear_cache();
  }
  if (fresh.empty()) return abandon(make_error("the chat template rendered nothing to evaluate"));

  stats.n_reused = session_.n_past();
  if (auto s = session_.decode(fresh); !s) {
    clear_cache();
    return abandon(s.error());
  }
  for (int32_t id : fresh) sampler_.accept(id);
  cache_tokens_.insert(cache_tokens_.end(), fresh.begin(), fresh.end());
  cache_text_ = std::move(text);
  stats.n_evaluated = static_cast<int>(fresh.size());

  std::string reply;
  sampler_.restart_grammar();
  while (opt_.n_predict < 0 || stats.n_generated < opt_.n_predict) {
    if (stop != nullptr && stop->load()) {
      stats.interrupted = true;
      break;
    }
    const int32_t id = sampler_.sample(session_.logits());
    sampler_.accept(id);
    ++stats.n_generated;
    if (tok_.is_eog(id)) break;
    const std::string piece = tok_.token_to_piece(id, false);
    reply += piece;
    on_text(piece);
    if (opt_.n_predict >= 0 && stats.n_generated >= opt_.n_predict) break;
    if (session_.n_past() >= n_ctx) {
      stats.hit_context_limit = true;
      break;
    }
    if (auto s = session_.decode(std::span<const int32_t>(&id, 1)); !s) {
      clear_cache();
      return abandon(s.error());
    }
    cache_tokens_.push_back(id);
    cache_text_ += piece;
  }
  messages_.push_back({{"role", "assistant"}, {"content", reply}});
  return stats;
}

}  // namespace cria::chat
