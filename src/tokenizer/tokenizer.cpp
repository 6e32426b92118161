#include "tokenizer/tokenizer.h"

#include <optional>
#include <unordered_map>

#include "tokenizer/bpe.h"
#include "tokenizer/bpe_pretokenize.h"
#include "tokenizer/detokenize.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"
#include "tokenizer/wpm.h"

namespace cria::tokenizer {

struct Tokenizer::Impl {
  std::unique_ptr<Vocab> vocab;
  std::optional<SpecialSplitter> specials;
  std::optional<SpmTokenizer> spm;
  std::optional<BpeMerges> bpe;
  std::optional<PreTokenizer> pre;

  void encode_spm(std::string_view text, const std::vector<Fragment>& frags, std::vector<int32_t>& out) const;
  void encode_bpe(std::string_view text, const std::vector<Fragment>& frags, std::vector<int32_t>& out) const;
};

Result<Tokenizer> Tokenizer::load(const gguf::File& file) {
  auto vocab = load_vocab(file);
  if (!vocab) return vocab.error();
  auto impl = std::make_shared<Impl>();
  impl->vocab = std::move(*vocab);
  const Vocab& v = *impl->vocab;
  impl->specials.emplace(v);
  switch (v.type) {
    case VocabType::Spm:
      impl->spm.emplace(v);
      break;
    case VocabType::Bpe: {
      auto merges = BpeMerges::load(file, v);
      if (!merges) return merges.error();
      impl->bpe.emplace(std::move(*merges));
      auto pre = PreTokenizer::create(v.pre);
      if (!pre) return make_error(file.path() + ": " + pre.error().message);
      impl->pre.emplace(std::move(*pre));
      break;
    }
    case VocabType::Wpm:
      break;
  }
  Tokenizer t;
  t.impl_ = std::move(impl);
  return t;
}

void Tokenizer::Impl::encode_spm(std::string_view text, const std::vector<Fragment>& frags,
                                 std::vector<int32_t>& out) const {
  bool prev_special = true;  // the dummy-prefix space goes before the first text and after each special
  std::string buf;
  for (const Fragment& f : frags) {
    if (!f.is_text()) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    buf.clear();
    if (vocab->add_space_prefix && prev_special) buf += "\xe2\x96\x81";
    for (char c : text.substr(f.begin, f.end - f.begin)) {
      if (c == ' ') {
        buf += "\xe2\x96\x81";
      } else {
        buf.push_back(c);
      }
    }
    spm->encode(*vocab, buf, out);
    prev_special = false;
  }
}

void Tokenizer::Impl::encode_bpe(std::string_view text, const std::vector<Fragment>& frags,
                                 std::vector<int32_t>& out) const {
  PreTokenized words;
  BpeScratch scratch;
  // Words repeat: short ones are merged once per fragment and then copied (keys view words.text).
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;
  std::vector<int32_t> store;
  for (const Fragment& f : frags) {
    if (!f.is_text()) {
      out.push_back(f.token);
      continue;
    }
    pre->split(text.substr(f.begin, f.end - f.begin), words);
    cache.clear();
    store.clear();
    for (size_t i = 0; i < words.words.size(); ++i) {
      const std::string_view word = words.word(i);
      if (word.size() > 64) {
        bpe->encode_word(*vocab, word, scratch, out);
        continue;
      }
      auto [it, fresh] = cache.try_emplace(word, uint32_t(store.size()), 0u);
      if (fresh) {
        bpe->encode_word(*vocab, word, scratch, store);
        it->second.second = uint32_t(store.size()) - it->second.first;
      }
      out.insert(out.end(), store.begin() + it->second.first,
                 store.begin() + it->second.first + it->second.second);
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Vocab& v = *impl_->vocab;
  const std::vector<Fragment> frags = impl_->specials->split(v, text, parse_special);
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  switch (v.type) {
    case VocabType::Spm:
    case VocabType::Bpe:
      if (add_special && v.add_bos) out.push_back(v.special.bos);
      if (v.type == VocabType::Spm) {
        impl_->encode_spm(text, frags, out);
      } else {
        impl_->encode_bpe(text, frags, out);
      }
      if (add_special && v.add_eos) out.push_back(v.special.eos);
      break;
    case VocabType::Wpm:
      if (add_special && v.special.bos != kNoToken) out.push_back(v.special.bos);
      for (const Fragment& f : frags) {
        if (f.is_text()) {
          wpm_encode(v, text.substr(f.begin, f.end - f.begin), out);
        } else {
          out.push_back(f.token);
        }
      }
      if (add_special) out.push_back(v.special.sep);
      break;
  }
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  std::string out;
  append_piece(*impl_->vocab, id, special, 0, out);
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool remove_special,
                              bool unparse_special) const {
  return detokenize(*impl_->vocab, ids, remove_special, unparse_special);
}

int32_t Tokenizer::n_vocab() const { return impl_->vocab->n_vocab(); }
int32_t Tokenizer::bos() const { return impl_->vocab->special.bos; }
int32_t Tokenizer::eos() const { return impl_->vocab->special.eos; }
bool Tokenizer::add_bos() const { return impl_->vocab->add_bos; }
bool Tokenizer::add_eos() const { return impl_->vocab->add_eos; }
bool Tokenizer::is_eog(int32_t id) const { return impl_->vocab->is_eog(id); }
const Vocab& Tokenizer::vocab() const { return *impl_->vocab; }

}  // namespace cria::tokenizer
