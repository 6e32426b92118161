// The generating endpoints: /v1/chat/completions and /v1/completions, streamed (server-sent events) or
// whole, on the scheduler. A client that goes away cancels its job; a full queue is a 503 with
// Retry-After; a prompt longer than a sequence's context is a 400 that names both lengths.
#include <chrono>
#include <mutex>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

#include "chat/chat_template.h"
#include "grammar/gbnf.h"
#include "serve/api_server.h"
#include "serve/openai_request.h"
#include "serve/openai_response.h"

namespace cria::serve {

namespace {

using json = nlohmann::ordered_json;

std::string random_id(const char* prefix) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return id;
}


sampling::SamplingParams sampling_params(const GenerationFields& g) {
  sampling::SamplingParams p = g.llama_sampling;
  p.temp = g.temperature;
  p.top_p = g.top_p;
  p.top_k = g.top_k;
  p.min_p = g.min_p;
  p.repeat_penalty = g.repeat_penalty;
  p.presence_penalty = g.presence_penalty;
  p.frequency_penalty = g.frequency_penalty;
  p.seed = g.seed.value_or(0xFFFFFFFFu);
  return p;
}

// One request's answer as the scheduler produces it. Lives until on_done; touched only on the
// scheduler's thread.
struct Answer {
  std::shared_ptr<http::Exchange> ex;
  std::shared_ptr<const tokenizer::Tokenizer> tok;
  bool chat = true, stream = false, include_usage = false, want_logprobs = false;
  ResponseHeader header;
  std::string echo;  // text completions with echo: the prompt's text, sent first
  std::vector<Choice> choices;
  std::vector<bool> started;
  std::vector<size_t> sent;  // bytes of each choice's text streamed so far (logprobs' text_offset)
  std::vector<ReplyParser> replies;  // chat: each choice's reasoning, content and tool calls
  bool began = false;

  // A stream's status line and headers go out with its first event, from the scheduler's thread, so
  // that a request the scheduler refuses still gets a plain error response.
  void begin() {
    if (!began) ex->begin_stream(200, "text/event-stream");
    began = true;
  }

  std::vector<TokenLogprob> logprobs_of(const std::vector<TokenInfo>& tokens) const {
    std::vector<TokenLogprob> out;
    for (const TokenInfo& t : tokens) {
      TokenLogprob lp{t.piece, t.logprob, {}};
      for (const auto& [id, l] : t.top) lp.top.push_back({tok->token_to_piece(id, false), l});
      out.push_back(std::move(lp));
    }
    return out;
  }

  void send(const json& chunk) {
    begin();
    ex->send(sse_event(chunk));
  }

  void start_choice(int i) {
    if (started[static_cast<size_t>(i)]) return;
    started[static_cast<size_t>(i)] = true;
    if (chat) {
      send(chat_chunk(header, i, true, "", std::nullopt, std::nullopt, include_usage));
    } else if (!echo.empty()) {
      send(text_chunk(header, i, echo, std::nullopt, std::nullopt, include_usage));
    }
  }

  JobCallbacks callbacks(const std::shared_ptr<Answer>& self) {
    JobCallbacks cb;
    cb.on_text = [self](int i, const std::string& text, const std::vector<TokenInfo>& tokens) {
      Answer& a = *self;
      Choice& c = a.choices[static_cast<size_t>(i)];
      std::optional<std::vector<TokenLogprob>> lp;
      if (a.want_logprobs && !tokens.empty()) lp = a.logprobs_of(tokens);
      if (a.chat) {
        // Reasoning and content as they become final; tool calls when the reply ends.
        const ReplyParser::Delta d = a.replies[static_cast<size_t>(i)].push(text);
        if (!a.stream) {
          if (lp) c.logprobs->insert(c.logprobs->end(), lp->begin(), lp->end());
          return;
        }
        a.start_choice(i);
        if (d.content.empty() && d.reasoning.empty() && !lp) return;
        a.send(chat_chunk(a.header, i, d.content, d.reasoning, {}, lp, a.include_usage));
        return;
      }
      if (!a.stream) {
        c.text += text;
        if (lp) c.logprobs->insert(c.logprobs->end(), lp->begin(), lp->end());
        return;
      }
      a.start_choice(i);
      if (text.empty() && !lp) return;
      const size_t offset = a.sent[static_cast<size_t>(i)];
      a.sent[static_cast<size_t>(i)] += text.size();
      a.send(a.chat ? chat_chunk(a.header, i, false, text, std::nullopt, lp, a.include_usage)
                    : text_chunk(a.header, i, text, std::nullopt, lp, a.include_usage, offset));
    };
    cb.on_finish = [self](int i, FinishReason reason) {
      Answer& a = *self;
      if (reason != FinishReason::kStop && reason != FinishReason::kLength) return;
      Choice& c = a.choices[static_cast<size_t>(i)];
      c.finish_reason = finish_reason_name(reason);
      if (a.chat) {
        ReplyParser& parser = a.replies[static_cast<size_t>(i)];
        AssistantReply reply = parser.finish();
        if (!reply.tool_calls.empty()) c.finish_reason = "tool_calls";
        if (a.stream) {
          a.start_choice(i);
          const ReplyParser::Delta rest = parser.unsent(reply);
          if (!rest.content.empty() || !rest.reasoning.empty() || !reply.tool_calls.empty()) {
            a.send(chat_chunk(a.header, i, rest.content, rest.reasoning, reply.tool_calls, std::nullopt, a.include_usage));
          }
        }
        c.text = std::move(reply.content);
        c.reasoning = std::move(reply.reasoning);
        c.tool_calls = std::move(reply.tool_calls);
      }
      if (!a.stream) return;
      a.start_choice(i);
      a.send(a.chat ? chat_chunk(a.header, i, false, "", c.finish_reason, std::nullopt, a.include_usage)
                    : text_chunk(a.header, i, "", c.finish_reason, std::nullopt, a.include_usage));
    };
    cb.on_done = [self](const JobUsage& u, const std::optional<std::string>& error) {
      Answer& a = *self;
      Usage usage{u.prompt_tokens, u.completion_tokens, u.cached_tokens};
      if (a.stream) {
        a.begin();
        if (error) {
          ApiError e{500, *error, "server_error", "", ""};
          a.ex->send("data: " + error_json(e) + "\n\n");
        } else if (a.include_usage) {
          a.send(usage_chunk(a.header, a.chat ? "chat.completion.chunk" : "text_completion", usage));
        }
        a.ex->send(sse_done());
        a.ex->end_stream();
        return;
      }
      if (error) {
        a.ex->respond(error_response({500, *error, "server_error", "", ""}));
        return;
      }
      if (a.ex->cancelled()) return;
      for (Choice& c : a.choices) c.text = a.echo + c.text;
      const json body = a.chat ? chat_completion(a.header, a.choices, usage) : text_completion(a.header, a.choices, usage);
      http::Response r;
      r.body = response_body(body);
      a.ex->respond(std::move(r));
    };
    return cb;
  }
};

// Generic tool format: the tools are described in the system message, and earlier calls are shown as the
// JSON the model is asked to write (the template knows no tool_calls).
void describe_tools_in_messages(const std::string& description, std::vector<ChatMessage>& messages) {
  for (ChatMessage& m : messages) {
    if (m.role != "assistant" || !m.raw.is_object() || !m.raw.contains("tool_calls")) continue;
    json calls = json::array();
    for (const json& call : m.raw["tool_calls"]) {
      const json f = call.value("function", json::object());
      json args = json::parse(f.value("arguments", std::string("{}")), nullptr, false);
      if (args.is_discarded()) args = f.value("arguments", std::string("{}"));
      calls.push_back({{"name", f.value("name", std::string())}, {"arguments", args}, {"id", call.value("id", std::string())}});
    }
    m.content = json{{"tool_calls", calls}}.dump();
    m.raw = nullptr;
  }
  if (!messages.empty() && messages[0].role == "system") {
    messages[0].content += "\n\n" + description;
    messages[0].raw = nullptr;
  } else {
    messages.insert(messages.begin(), ChatMessage{"system", description, nullptr});
  }
}

// Control tokens that mark reasoning or tool calls, whose text the reply parser must see.
std::vector<int32_t> marker_tokens(const tokenizer::Tokenizer& tok) {
  std::vector<int32_t> out;
  for (const char* m : {"<think>", "</think>", "<tool_call>", "</tool_call>", "[TOOL_CALLS]", "<|python_tag|>"}) {
    const std::vector<int32_t> ids = tok.encode(m, false, true);
    if (ids.size() == 1) out.push_back(ids[0]);
  }
  return out;
}

}  // namespace

// Both generating endpoints end here with the prompt's tokens and the request's fields. A refusal (full
// queue, prompt too long for a sequence) is answered here; everything else comes from the callbacks.
static void run_generation(Scheduler& scheduler, const std::shared_ptr<Answer>& answer, std::vector<int32_t> prompt,
                           const GenerationFields& gen, int top_logprobs, std::vector<int32_t> render_special = {}) {
  Job job;
  job.render_special = std::move(render_special);
  job.prompt = std::move(prompt);
  job.sampling = sampling_params(gen);
  job.max_tokens = gen.max_tokens.value_or(-1);
  job.n = gen.n;
  job.stop = gen.stop;
  job.ignore_eos = gen.ignore_eos;
  job.grammar = gen.grammar;
  job.top_logprobs = top_logprobs;
  answer->stream = gen.stream;
  answer->include_usage = gen.include_usage;
  answer->want_logprobs = top_logprobs >= 0;
  answer->choices.resize(static_cast<size_t>(gen.n));
  answer->started.assign(static_cast<size_t>(gen.n), false);
  answer->sent.assign(static_cast<size_t>(gen.n), answer->echo.size());
  for (int i = 0; i < gen.n; ++i) {
    answer->choices[static_cast<size_t>(i)].index = i;
    if (answer->want_logprobs) answer->choices[static_cast<size_t>(i)].logprobs.emplace();
  }
  job.callbacks = answer->callbacks(answer);
  auto handle = scheduler.submit(std::move(job));
  if (!handle) {
    ApiError e = handle.error().kind == ErrorKind::kFull
                     ? ApiError{503, handle.error().message, "unavailable_error", "", ""}
                     : bad_request(handle.error().message, "");
    if (handle.error().kind == ErrorKind::kTooLong) e.code = "context_length_exceeded";
    answer->ex->respond(error_response(e));  // nothing was streamed yet: a plain error
    return;
  }
  std::shared_ptr<JobHandle> h = *handle;
  answer->ex->on_cancel([h] { h->cancel(); });
}

void ApiServer::chat_completions(const std::shared_ptr<http::Exchange>& ex) {
  auto parsed = parse_chat_request(ex->request().body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return ex->respond(error_response(*e));
  auto& req = std::get<ChatRequest>(parsed);
  auto plan = plan_tools(tool_format_, req.tools, req.tool_choice);
  if (!plan) {
    const std::string& m = plan.error().message;
    return ex->respond(error_response(bad_request(m, m.starts_with("tool_choice") ? "tool_choice" : "tools")));
  }
  std::vector<ChatMessage> messages = req.messages;
  chat::ChatTemplateInputs in;
  if (plan->offered && plan->format == ToolFormat::kGeneric) {
    describe_tools_in_messages(plan->system_prompt, messages);
  } else if (plan->offered) {
    in.tools = req.tools;
  }
  in.messages = template_messages(messages);
  in.add_generation_prompt = true;
  chat::set_special_token_texts(*tok_, in);
  auto text = chat::apply_chat_template(chat_template_, in);
  if (!text) {
    return ex->respond(error_response(bad_request("the chat template failed: " + text.error().message, "messages")));
  }
  GenerationFields gen = req.gen;
  if (!plan->grammar.empty()) {
    if (gen.grammar) {
      return ex->respond(error_response(bad_request(
          "tools under a grammar (tool_choice \"required\" or a named function, or a model whose template has no "
          "tool format of its own) cannot be combined with response_format or grammar", "tool_choice")));
    }
    auto g = grammar::parse_gbnf(plan->grammar);
    if (!g) return ex->respond(error_response({500, "the tools' grammar: " + g.error().message, "server_error", "", ""}));
    gen.grammar = std::make_shared<grammar::Grammar>(std::move(*g));
  }
  // As `cria chat`: special tokens written by the template are parsed, BOS added once if the vocabulary wants it.
  std::vector<int32_t> prompt = tok_->encode(*text, false, true);
  if (tok_->add_bos() && tok_->bos() >= 0 && (prompt.empty() || prompt[0] != tok_->bos())) {
    prompt.insert(prompt.begin(), tok_->bos());
  }
  auto answer = std::make_shared<Answer>();
  answer->ex = ex;
  answer->tok = tok_;
  answer->chat = true;
  answer->header = {random_id("chatcmpl-"), static_cast<int64_t>(std::time(nullptr)), options_.model_id, "cria"};
  answer->replies.assign(static_cast<size_t>(gen.n),
                         ReplyParser(*plan, options_.split_reasoning, prompt_opens_thinking(*text)));
  run_generation(*scheduler_.load(), answer, std::move(prompt), gen, req.logprobs ? req.top_logprobs : -1,
                 marker_tokens(*tok_));
}

void ApiServer::completions(const std::shared_ptr<http::Exchange>& ex) {
  auto parsed = parse_completion_request(ex->request().body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return ex->respond(error_response(*e));
  auto& req = std::get<CompletionRequest>(parsed);
  std::vector<int32_t> prompt;
  std::string prompt_text;
  if (const auto* s = std::get_if<std::string>(&req.prompt)) {
    prompt = tok_->encode(*s, true, true);
    prompt_text = *s;
  } else {
    prompt = std::get<std::vector<int32_t>>(req.prompt);
    if (auto e = out_of_vocabulary(prompt, tok_->n_vocab(), "prompt")) return ex->respond(error_response(*e));
    if (req.echo) prompt_text = tok_->decode(prompt);
  }
  if (prompt.empty()) return ex->respond(error_response(bad_request("the prompt is empty", "prompt")));
  auto answer = std::make_shared<Answer>();
  answer->ex = ex;
  answer->tok = tok_;
  answer->chat = false;
  answer->header = {random_id("cmpl-"), static_cast<int64_t>(std::time(nullptr)), options_.model_id, "cria"};
  if (req.echo) answer->echo = prompt_text;
  run_generation(*scheduler_.load(), answer, std::move(prompt), req.gen, req.logprobs.value_or(-1));
}

void ApiServer::embeddings(const std::shared_ptr<http::Exchange>& ex) {
  if (scheduler_.load()->runner().model().pipeline() != nullptr) {
    // The final hidden states are on the pipeline's last rank, which sends rank 0 logits only.
    return ex->respond(error_response({501, "embeddings are not available while the model is split over processes "
                                             "(mpirun); serve them from one process",
                                       "not_supported_error", "", ""}));
  }
  auto parsed = parse_embedding_request(ex->request().body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return ex->respond(error_response(*e));
  const auto& req = std::get<EmbeddingRequest>(parsed);
  // One job per input; the answer goes out when the last one is done.
  struct Pending {
    std::mutex mu;
    std::vector<std::vector<float>> vectors;
    int remaining = 0, prompt_tokens = 0;
    std::optional<std::string> error;
    std::vector<std::shared_ptr<JobHandle>> handles;
  };
  auto pending = std::make_shared<Pending>();
  std::vector<std::vector<int32_t>> prompts;
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    std::vector<int32_t> ids;
    if (const auto* text = std::get_if<std::string>(&req.inputs[i])) {
      ids = tok_->encode(*text, true, true);
    } else {
      ids = std::get<std::vector<int32_t>>(req.inputs[i]);
    }
    if (ids.empty()) return ex->respond(error_response(bad_request("input[" + std::to_string(i) + "] is empty", "input")));
    pending->prompt_tokens += static_cast<int>(ids.size());
    prompts.push_back(std::move(ids));
  }
  pending->vectors.resize(prompts.size());
  pending->remaining = static_cast<int>(prompts.size());
  const bool base64 = req.encoding_format == "base64";
  const std::string model_id = options_.model_id;
  Scheduler& scheduler = *scheduler_.load();
  for (size_t i = 0; i < prompts.size(); ++i) {
    Job job;
    job.prompt = std::move(prompts[i]);
    job.embed = true;
    job.callbacks.on_embedding = [pending, i](std::vector<float> v) {
      std::lock_guard lock(pending->mu);
      pending->vectors[i] = std::move(v);
    };
    job.callbacks.on_done = [pending, ex, base64, model_id](const JobUsage&, const std::optional<std::string>& error) {
      std::lock_guard lock(pending->mu);
      if (error && !pending->error) pending->error = error;
      if (--pending->remaining > 0) return;
      if (pending->error) return ex->respond(error_response({500, *pending->error, "server_error", "", ""}));
      for (const auto& v : pending->vectors) {
        if (v.empty()) return;  // cancelled: the client has gone
      }
      http::Response r;
      r.body = response_body(embeddings_response(model_id, pending->vectors, base64, pending->prompt_tokens));
      ex->respond(std::move(r));
    };
    auto handle = scheduler.submit(std::move(job));
    if (!handle) {
      // Those already queued are cancelled; their on_done calls see the error first.
      std::lock_guard lock(pending->mu);
      for (auto& h : pending->handles) h->cancel();
      pending->remaining -= static_cast<int>(prompts.size() - i);
      ApiError e = handle.error().kind == ErrorKind::kFull
                       ? ApiError{503, handle.error().message, "unavailable_error", "", ""}
                       : bad_request("input[" + std::to_string(i) + "]: " + handle.error().message, "input");
      pending->error = e.message;
      ex->respond(error_response(e));
      return;
    }
    std::lock_guard lock(pending->mu);
    pending->handles.push_back(*handle);
  }
  ex->on_cancel([pending] {
    std::lock_guard lock(pending->mu);
    for (auto& h : pending->handles) h->cancel();
  });
}

}  // namespace cria::serve
