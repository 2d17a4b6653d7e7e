#!/usr/bin/env python3
"""export_onnx.py MODEL_DIR OUT.onnx: exports the timm ViT in MODEL_DIR (model.safetensors + config.json)
to ONNX (opset 17, dynamic batch) for the CPU comparison with ONNX Runtime. Runs where torch and timm are."""
import json
import sys

import timm
import torch
from safetensors.torch import load_file


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    config = json.load(open(f"{model_dir}/config.json"))
    model = timm.create_model(config["architecture"], pretrained=False, num_classes=config["num_classes"])
    model.load_state_dict(load_file(f"{model_dir}/model.safetensors"))
    model.eval()
    example = torch.randn(1, 3, 224, 224)
    torch.onnx.export(model, example, out, opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    print("exported", out)


if __name__ == "__main__":
    main()
