// Internal: reading a checkpoint's tensors under timm's names, whichever key layout the file uses.
#pragma once
#include <map>
#include <string>

#include "distrvit/safetensors.h"
#include "distrvit/tensor.h"

namespace distrvit {

// Returns every tensor as float32 keyed by its timm name ("blocks.3.attn.qkv.weight", ...).
// Hugging Face layouts (vit.* / deit.* prefixes) are renamed and their q/k/v fused.
// Tensors that belong to neither layout are an Error naming the file and the key.
std::map<std::string, Tensor> read_timm_tensors(const SafetensorsFile& file);

}  // namespace distrvit
