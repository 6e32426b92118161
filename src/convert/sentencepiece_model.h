// The few fields of a SentencePiece tokenizer.model (a serialized sentencepiece.ModelProto) that a GGUF
// vocabulary needs, read with a bounds-checked protobuf wire reader instead of libprotobuf.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace cria::convert {

// sentencepiece.ModelProto.SentencePiece.Type
enum class SpmPieceType : int { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 };

struct SpmPiece {
  std::string text;
  float score = 0.0f;
  SpmPieceType type = SpmPieceType::NORMAL;
};

struct SpmModel {
  std::vector<SpmPiece> pieces;
  int model_type = 1;  // TrainerSpec.model_type: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
  bool byte_fallback = false;
  bool add_dummy_prefix = true;  // NormalizerSpec.add_dummy_prefix
  int unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;  // TrainerSpec defaults
};

Result<SpmModel> read_sentencepiece_model(const std::string& path);
Result<SpmModel> parse_sentencepiece_model(const std::string& bytes, const std::string& source);

}  // namespace cria::convert
