// Writes small PyTorch zip checkpoints the way torch.save lays them out (<prefix>/data.pkl, protocol 2;
// <prefix>/data/<key> stored uncompressed), so tests can build sharded Meta checkpoints and
// pytorch_model.bin files from the KJV weights.
#pragma once

#include <zip.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace cria::test {

struct TensorToSave {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order
  std::vector<float> values;   // saved as a FloatStorage
};

namespace torch_pickle {

inline void int32(std::string& p, int64_t v) {
  const int32_t x = static_cast<int32_t>(v);
  p += 'J';
  p.append(reinterpret_cast<const char*>(&x), 4);
}
inline void text(std::string& p, const std::string& s) {
  const uint32_t n = static_cast<uint32_t>(s.size());
  p += 'X';
  p.append(reinterpret_cast<const char*>(&n), 4);
  p += s;
}
inline void int_tuple(std::string& p, const std::vector<int64_t>& values) {
  p += '(';
  for (int64_t v : values) int32(p, v);
  p += 't';
}

}  // namespace torch_pickle

// An OrderedDict of _rebuild_tensor_v2(storage, 0, shape, contiguous strides, False, OrderedDict()).
inline std::string state_dict_pickle(const std::vector<TensorToSave>& tensors) {
  using namespace torch_pickle;
  std::string p = "\x80\x02" "ccollections\nOrderedDict\n)R(";
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    std::vector<int64_t> stride(t.shape.size());
    int64_t s = 1;
    for (size_t d = t.shape.size(); d-- > 0;) stride[d] = s, s *= t.shape[d];
    text(p, t.name);
    p += "ctorch._utils\n_rebuild_tensor_v2\n((";
    text(p, "storage");
    p += "ctorch\nFloatStorage\n";
    text(p, std::to_string(i));
    text(p, "cpu");
    int32(p, static_cast<int64_t>(t.values.size()));
    p += "tQ";
    int32(p, 0);
    int_tuple(p, t.shape);
    int_tuple(p, stride);
    p += "\x89" "ccollections\nOrderedDict\n)RtR";
  }
  p += "u.";
  return p;
}

// Returns false if libzip fails.
inline bool write_torch_zip(const std::filesystem::path& path, const std::string& prefix,
                            const std::vector<TensorToSave>& tensors) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (archive == nullptr) return false;
  const std::string pickle = state_dict_pickle(tensors);
  bool ok = true;
  auto add = [&](const std::string& name, const void* data, size_t n) {
    zip_source_t* source = zip_source_buffer(archive, data, n, 0);
    const zip_int64_t index = zip_file_add(archive, (prefix + "/" + name).c_str(), source, ZIP_FL_OVERWRITE);
    ok = ok && index >= 0 && zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0) == 0;
  };
  add("data.pkl", pickle.data(), pickle.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    add("data/" + std::to_string(i), tensors[i].values.data(), tensors[i].values.size() * sizeof(float));
  }
  add("version", "3\n", 2);
  return zip_close(archive) == 0 && ok;
}

}  // namespace cria::test
