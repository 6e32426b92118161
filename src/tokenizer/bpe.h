// Byte-level BPE (FORMATS.md 6.5): the GPT-2 byte<->unicode map and merges applied by rank with a
// priority queue over a linked list of symbols.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/vocab.h"

namespace cria::tokenizer {

// The GPT-2 byte encoding: byte -> code point, and back (-1 for code points outside the map).
uint32_t byte_to_codepoint(uint8_t b);
int codepoint_to_byte(uint32_t cp);
// Appends the byte-encoded form of raw bytes (each byte becomes one code point, in UTF-8).
void append_byte_encoded(std::string& out, std::string_view raw);

// Scratch space reused across the words of one encode call.
struct BpeScratch {
  struct Symbol {
    int32_t prev, next;
    uint32_t len;   // bytes of the raw word covered; 0 once merged into its left neighbour
    int32_t piece;  // merge-piece id of the symbol's text, -1 when it takes part in no merge
  };
  struct Candidate {
    int32_t rank, left, right;
    uint32_t left_len, right_len;
    int32_t piece;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::string encoded;
};

class BpeMerges {
 public:
  // Reads tokenizer.ggml.merges ("left right" per entry, rank = index).
  static Result<BpeMerges> load(const gguf::File& file, const Vocab& vocab);

  // Appends the ids of one pre-tokenized word (raw bytes, not yet byte-encoded).
  void encode_word(const Vocab& vocab, std::string_view word, BpeScratch& scratch,
                   std::vector<int32_t>& out) const;

  size_t size() const { return merges_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t piece;  // the merged text
  };
  struct Piece {
    std::string text;  // byte-encoded
    int32_t token;     // vocabulary id of the text, or kNoToken
  };
  int32_t intern(const std::string& text, const Vocab& vocab);
  void emit_fallback(const Vocab& vocab, std::string_view encoded, std::vector<int32_t>& out) const;

  std::unordered_map<std::string, int32_t> piece_ids_;
  std::vector<Piece> pieces_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left piece << 32 | right piece) -> merge
  std::array<int32_t, 256> byte_piece_{};       // piece of each single byte, -1 if none
  std::array<int32_t, 256> byte_token_{};       // token of each byte's encoded character
  std::array<int32_t, 256> raw_byte_token_{};   // token whose text is that one raw byte (a fallback)
};

}  // namespace cria::tokenizer
