// Internal: the fp32 CPU backend.
#pragma once
#include <memory>

#include "distrvit/engine.h"

namespace distrvit {

std::unique_ptr<Engine> create_cpu_engine(std::shared_ptr<const VitModel> model, const EngineOptions& options);

// One layer's attention on the CPU, honouring the plan per head.
// qkv [B, N, 3, H, D] -> out [B, N, H, D]; cls_probs [B, H, N] or null.
void run_attention_cpu(const AttentionPlan& plan, int layer, const AttentionParams& params, float* cls_probs);

}  // namespace distrvit
