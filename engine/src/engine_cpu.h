// Internal: the fp32 CPU backend.
#pragma once
#include <memory>

#include "distrvit/engine.h"

namespace distrvit {

std::unique_ptr<Engine> create_cpu_engine(std::shared_ptr<const VitModel> model, const EngineOptions& options);

}  // namespace distrvit
