#!/usr/bin/python3
"""Models and inputs of the FP32 inference benchmark (bench/run_inference.sh).

usage: /usr/bin/python3 bench/prepare_models.py --shared ../shared --torch_models DIR --out DIR
                                               [--models a,b,...] [--batches 1,8]

For each benchmark model and batch size writes OUT/<model>_b<batch>.onnx with a static input
shape (onnxruntime then folds the shape computations that model_transform folds with --input_shapes)
and OUT/<model>_b<batch>_in.npy, one float32 input both runtimes read. DIR of --torch_models holds
mobilenet_v2, resnet18 and vit as <name>_b<batch>.onnx (scripts/export_models.py --batch <batch>).
Prints one line per model: name, batch, input shape. Existing outputs are kept (delete OUT to redo).
"""
import argparse
import os
import sys
import zlib

import numpy as np
import onnx

SHARED = [  # name, file in shared/models, input shape at batch 1
    ("ppocr_cls", "ch_ppocr_mobile_v2.0_cls_infer.onnx", [1, 3, 48, 192]),
    ("ppocr_rec", "ch_PP-OCRv4_rec_infer.onnx", [1, 3, 48, 320]),
    ("ppocr_det", "ch_PP-OCRv4_det_infer.onnx", [1, 3, 640, 640]),
    ("blazeface", "blazeface.onnx", [1, 3, 128, 128]),
]
TORCH = [("mobilenet_v2", [1, 3, 224, 224]), ("resnet18", [1, 3, 224, 224]), ("vit", [1, 3, 224, 224])]


def graph_input(model, path):
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        sys.exit(f"{path}: expected one graph input, found {[i.name for i in inputs]}")
    return inputs[0]


def with_static_input(src, shape):
    """The model with its input fixed to `shape`; a fixed batch in the outputs becomes symbolic."""
    model = onnx.load(src)
    x = graph_input(model, src)
    dims = x.type.tensor_type.shape.dim
    if len(dims) != len(shape):
        sys.exit(f"{src}: input {x.name} has rank {len(dims)}, expected {len(shape)}")
    for d, n in zip(dims, shape):
        if d.HasField("dim_value") and d.dim_value != n and d is not dims[0]:
            sys.exit(f"{src}: input {x.name} dimension {d.dim_value} cannot become {n}")
        d.Clear()
        d.dim_value = n
    for out in model.graph.output:
        odims = out.type.tensor_type.shape.dim
        if odims and odims[0].HasField("dim_value") and odims[0].dim_value != shape[0]:
            odims[0].Clear()
            odims[0].dim_param = "batch"
    del model.graph.value_info[:]  # stale intermediate shapes at another batch size
    return model


def save_atomically(write, path):
    tmp = f"{path}.tmp{os.getpid()}"
    write(tmp)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shared", required=True, help="the shared/ folder (models/ inside)")
    p.add_argument("--torch_models", required=True, help="folder with <name>_b<batch>.onnx of the torch models")
    p.add_argument("--out", required=True)
    p.add_argument("--models", default=",".join([m[0] for m in SHARED] + [m[0] for m in TORCH]))
    p.add_argument("--batches", default="1,8")
    args = p.parse_args()
    wanted = args.models.split(",")
    known = [m[0] for m in SHARED] + [m[0] for m in TORCH]
    for name in wanted:
        if name not in known:
            sys.exit(f"unknown model {name} (known: {', '.join(known)})")
    batches = [int(b) for b in args.batches.split(",")]
    os.makedirs(args.out, exist_ok=True)
    jobs = [(name, os.path.join(args.shared, "models", f), shape, False) for name, f, shape in SHARED]
    jobs += [(name, None, shape, True) for name, shape in TORCH]
    for name, src, shape1, per_batch_file in jobs:
        if name not in wanted:
            continue
        for batch in batches:
            shape = [batch] + shape1[1:]
            onnx_path = os.path.join(args.out, f"{name}_b{batch}.onnx")
            npy_path = os.path.join(args.out, f"{name}_b{batch}_in.npy")
            if not os.path.exists(onnx_path):
                source = os.path.join(args.torch_models, f"{name}_b{batch}.onnx") if per_batch_file else src
                if not os.path.exists(source):
                    sys.exit(f"{source}: missing (scripts/export_models.py DIR --batch {batch} writes it)")
                model = with_static_input(source, shape)
                save_atomically(lambda t: onnx.save(model, t), onnx_path)
            if not os.path.exists(npy_path):
                rng = np.random.default_rng(zlib.crc32(f"{name}_b{batch}".encode()))  # same input whatever the subset
                x = rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
                save_atomically(lambda t: np.save(open(t, "wb"), x), npy_path)
            print(name, batch, "x".join(map(str, shape)))


if __name__ == "__main__":
    main()
