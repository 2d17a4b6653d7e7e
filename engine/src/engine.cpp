// Backend selection: device strings, precisions, and the factory over CPU and CUDA engines.
#include "distrvit/engine.h"

#include "distrvit/error.h"
#include "distrvit/preprocess.h"
#include "engine_cpu.h"
#ifdef DISTRVIT_WITH_CUDA
#include "cuda_engine.h"
#endif

namespace distrvit {

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::F32: return "fp32";
    case Precision::F16: return "fp16";
    case Precision::BF16: return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32" || name == "f32" || name == "float32") return Precision::F32;
  if (name == "fp16" || name == "f16" || name == "half" || name == "float16") return Precision::F16;
  if (name == "bf16" || name == "bfloat16") return Precision::BF16;
  throw Error("--precision " + name + ": unknown precision (fp32, fp16, bf16)");
}

bool cuda_available() {
#ifdef DISTRVIT_WITH_CUDA
  return cuda_device_present();
#else
  return false;
#endif
}

EngineOptions parse_device(const std::string& device) {
  EngineOptions options;
  if (device == "auto") {
    options.device = cuda_available() ? DeviceKind::Cuda : DeviceKind::Cpu;
  } else if (device == "cpu") {
    options.device = DeviceKind::Cpu;
  } else if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
    options.device = DeviceKind::Cuda;
    if (device.size() > 5) {
      const std::string index = device.substr(5);
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) {
        throw Error("--device " + device + ": expected cuda:N with N a device index");
      }
      options.cuda_index = std::stoi(index);
    }
  } else {
    throw Error("--device " + device + ": unknown device (cpu, cuda, cuda:N, auto)");
  }
  options.precision = options.device == DeviceKind::Cuda ? Precision::F16 : Precision::F32;
  return options;
}

Tensor Engine::forward_images(const std::vector<const ImageU8*>& images) {
  if (images.empty()) throw Error("forward_images: no images");
  return forward(preprocess_batch(images, model().config.preprocess, 0));
}

void Engine::set_attention_observer(AttentionObserver) {
  throw Error(device_name() + ": attention observers are supported on the CPU backend only");
}

std::unique_ptr<Engine> create_engine(std::shared_ptr<const VitModel> model, const EngineOptions& options) {
  if (options.device == DeviceKind::Cpu) return create_cpu_engine(std::move(model), options);
#ifdef DISTRVIT_WITH_CUDA
  if (!cuda_device_present()) throw Error(fmt::format("cuda:{}: no CUDA device found", options.cuda_index));
  return create_cuda_engine(std::move(model), options);
#else
  throw Error(fmt::format("cuda:{}: this build has no CUDA backend (nvcc was not found at configure time)",
                          options.cuda_index));
#endif
}

}  // namespace distrvit
