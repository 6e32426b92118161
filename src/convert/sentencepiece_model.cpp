#include "convert/sentencepiece_model.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cria::convert {

namespace {

// Protobuf wire format: each field is a varint key (number << 3 | wire type) and a value.
class WireReader {
 public:
  WireReader(const char* p, size_t n) : p_(reinterpret_cast<const uint8_t*>(p)), end_(p_ + n) {}
  bool done() const { return p_ == end_; }

  bool varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t b = *p_++;
      out |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool fixed32(uint32_t& out) {
    if (end_ - p_ < 4) return false;
    std::memcpy(&out, p_, 4);
    p_ += 4;
    return true;
  }
  bool bytes(const char*& data, size_t& n) {
    uint64_t len;
    if (!varint(len) || len > static_cast<uint64_t>(end_ - p_)) return false;
    data = reinterpret_cast<const char*>(p_);
    n = static_cast<size_t>(len);
    p_ += len;
    return true;
  }
  // Skips a value of a wire type; groups (3, 4) are obsolete and refused.
  bool skip(int wire_type) {
    uint64_t v = 0;
    uint32_t f32;
    const char* d;
    size_t n;
    switch (wire_type) {
      case 0: return varint(v);
      case 1:
        if (end_ - p_ < 8) return false;
        p_ += 8;
        return true;
      case 2: return bytes(d, n);
      case 5: return fixed32(f32);
      default: return false;
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Walks the fields of one message, handing (field number, wire type, reader) to `on_field`, which
// consumes the value or returns false to have it skipped.
template <class F>
bool for_each_field(const char* data, size_t n, F&& on_field) {
  WireReader r(data, n);
  while (!r.done()) {
    uint64_t key;
    if (!r.varint(key)) return false;
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 0) return false;
    bool ok = true;
    if (!on_field(field, wire, r, ok)) ok = r.skip(wire);
    if (!ok) return false;
  }
  return true;
}

bool read_piece(const char* data, size_t n, SpmPiece& piece) {
  return for_each_field(data, n, [&piece](int field, int wire, WireReader& r, bool& ok) {
    uint64_t v = 0;
    uint32_t f = 0;
    const char* s;
    size_t len;
    if (field == 1 && wire == 2) {
      ok = r.bytes(s, len);
      if (ok) piece.text.assign(s, len);
    } else if (field == 2 && wire == 5) {
      ok = r.fixed32(f);
      std::memcpy(&piece.score, &f, 4);
    } else if (field == 3 && wire == 0) {
      ok = r.varint(v) && v >= 1 && v <= 6;
      piece.type = static_cast<SpmPieceType>(v);
    } else {
      return false;
    }
    return true;
  });
}

bool read_trainer_spec(const char* data, size_t n, SpmModel& model) {
  return for_each_field(data, n, [&model](int field, int wire, WireReader& r, bool& ok) {
    uint64_t v = 0;
    if (wire != 0) return false;
    int* target = nullptr;
    switch (field) {
      case 3: target = &model.model_type; break;
      case 40: target = &model.unk_id; break;
      case 41: target = &model.bos_id; break;
      case 42: target = &model.eos_id; break;
      case 43: target = &model.pad_id; break;
      case 35:
        ok = r.varint(v);
        model.byte_fallback = v != 0;
        return true;
      default: return false;
    }
    ok = r.varint(v);
    *target = static_cast<int32_t>(static_cast<uint32_t>(v));  // int32 fields: negatives are 10-byte varints
    return true;
  });
}

bool read_normalizer_spec(const char* data, size_t n, SpmModel& model) {
  return for_each_field(data, n, [&model](int field, int wire, WireReader& r, bool& ok) {
    uint64_t v = 0;
    if (field != 3 || wire != 0) return false;
    ok = r.varint(v);
    model.add_dummy_prefix = v != 0;
    return true;
  });
}

}  // namespace

Result<SpmModel> parse_sentencepiece_model(const std::string& bytes, const std::string& source) {
  SpmModel model;
  std::string bad_part;
  const bool ok = for_each_field(bytes.data(), bytes.size(), [&](int field, int wire, WireReader& r, bool& ok) {
    if (wire != 2 || field < 1 || field > 3) return false;
    const char* s;
    size_t n;
    ok = r.bytes(s, n);
    if (!ok) return true;
    if (field == 1) {
      model.pieces.emplace_back();
      ok = read_piece(s, n, model.pieces.back());
      if (!ok) bad_part = "piece " + std::to_string(model.pieces.size() - 1);
    } else if (field == 2) {
      ok = read_trainer_spec(s, n, model);
      if (!ok) bad_part = "trainer_spec";
    } else {
      ok = read_normalizer_spec(s, n, model);
      if (!ok) bad_part = "normalizer_spec";
    }
    return true;
  });
  if (!ok) {
    return make_error(source + ": not a valid SentencePiece model (malformed protobuf" +
                      (bad_part.empty() ? std::string() : " in " + bad_part) + ")");
  }
  if (model.pieces.empty()) return make_error(source + ": SentencePiece model has no pieces");
  return model;
}

Result<SpmModel> read_sentencepiece_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return parse_sentencepiece_model(bytes.str(), path);
}

}  // namespace cria::convert
