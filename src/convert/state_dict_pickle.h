// A deliberately tiny unpickler for PyTorch state dicts (the data.pkl inside a torch.save zip archive).
// It understands the opcodes torch.save emits for a flat dict of tensors and builds plain data from
// them; it never calls anything. A pickle that names any global outside a short whitelist
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.{Float,Half,BFloat16}Storage) is
// refused with the global's name.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "convert/tensor_file.h"
#include "core/result.h"

namespace cria::convert {

struct PickledTensor {
  std::string name;
  DType dtype;
  std::string storage_key;  // the file data/<key> in the archive
  int64_t storage_numel = 0;
  int64_t storage_offset = 0;  // in elements
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
};

// `source` names the pickle in error messages.
Result<std::vector<PickledTensor>> parse_state_dict_pickle(std::span<const uint8_t> bytes, const std::string& source);

}  // namespace cria::convert
