// distrvit infer --input FILE.safetensors:TENSOR --output OUT.safetensors: logits of a preprocessed tensor.
#include "commands.h"
#include "common.h"
#include "distrvit/calibrate.h"
#include "distrvit/error.h"
#include "distrvit/safetensors.h"

namespace distrvit::cli {
namespace {

struct InferOptions {
  ModelOptions model;
  std::string input;
  std::string output;
  std::string attention = "exact";
};

// "file.safetensors:tensor" -> the F32 [B, 3, H, W] tensor.
Tensor read_input_tensor(const std::string& spec, const VitConfig& config) {
  const size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) {
    throw Error("--input " + spec + ": expected FILE.safetensors:TENSOR");
  }
  const std::string path = spec.substr(0, colon), name = spec.substr(colon + 1);
  const SafetensorsFile file(path);
  const TensorInfo& info = file.info(name);
  if (info.dtype != DType::F32) fail(path, "tensor '{}' is {}, expected F32", name, dtype_name(info.dtype));
  const std::vector<int64_t> expected_tail = {config.in_chans, config.image_height, config.image_width};
  if (info.shape.size() != 4 || info.shape[0] < 1 || std::vector<int64_t>(info.shape.begin() + 1, info.shape.end()) != expected_tail) {
    fail(path, "tensor '{}' has shape {}, expected [B, {}, {}, {}]", name, shape_string(info.shape), config.in_chans,
         config.image_height, config.image_width);
  }
  return file.to_float(name);
}

void run_infer(const InferOptions& o) {
  const auto model = o.model.load();
  const Tensor input = read_input_tensor(o.input, model->config);
  auto engine = create_engine(model, o.model.engine_options());
  engine->set_attention(resolve_attention(o.attention, *model));
  const Tensor logits = engine->forward(input);
  write_safetensors(o.output, {f32_tensor("logits", logits)},
                    {{"model", model->source}, {"device", engine->device_name()}, {"attention", o.attention}});
}

}  // namespace

void add_infer_command(CLI::App& app) {
  auto options = std::make_shared<InferOptions>();
  CLI::App* command = app.add_subcommand("infer", "run a preprocessed F32 [B,3,H,W] tensor, write F32 logits [B,C]");
  options->model.add_to(*command);
  command->add_option("--input,-i", options->input, "FILE.safetensors:TENSOR")->required();
  command->add_option("--output,-o", options->output, "output .safetensors (tensor 'logits')")->required();
  command->add_option("--attention", options->attention, "attention configuration")->capture_default_str();
  command->callback([options] { run_infer(*options); });
}

}  // namespace distrvit::cli
