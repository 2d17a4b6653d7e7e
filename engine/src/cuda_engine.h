// Internal: the CUDA backend (engine/src/cuda_engine.cpp), compiled only when CUDA is enabled.
#pragma once
#include <memory>

#include "distrvit/engine.h"

namespace distrvit {

// True when the CUDA runtime sees at least one device (never throws).
bool cuda_device_present();

// Uploads the model to device options.cuda_index in options.precision. Throws Error when the device is
// missing or the model cannot run there.
std::unique_ptr<Engine> create_cuda_engine(std::shared_ptr<const VitModel> model, const EngineOptions& options);

}  // namespace distrvit
