#!/usr/bin/python3
"""Exports the torch test models of mixq to ONNX, with a fixed input and torch's own outputs.

  /usr/bin/python3 scripts/export_models.py OUT_DIR [--models a,b,...] [--batch N] [--opset N]
                                            [--force] [--list]

  OUT_DIR    where the files go (created if missing); never the source tree, the models are large
  --models   comma-separated subset of: mobilenet_v2 resnet18 vit swin_t yolov5s yolov8n (default: all)
  --batch    batch size of the exported graph and of the fixed input (default 1)
  --opset    ONNX opset for every model (default: each model's own, see MODELS; torch 1.13 goes to 17)
  --force    export again even when the cache says the files are current
  --list     print the model names and their default opsets, then exit

For model M at batch B it writes, each file atomically:
  M_bB.onnx                 the model (inputs/outputs named as below)
  M_bB_in_f32.npz           the fixed input, keys = ONNX input names
  M_bB_torch_outputs.npz    torch's forward pass on that input in float64 (stored as float32),
                            keys = ONNX output names
  M_bB.json                 what was exported (script version, torch version, opset, seed, names and
                            shapes); written last, it is the cache key: a model whose .json matches
                            is skipped
and prints one line per model: `M_bB: exported in 3.1 s` or `M_bB: up to date`.

Weights are random (seed fixed per model) and the same at every batch size; sample 0 of the
batch-B input is the batch-1 input, so batch-8 outputs start with the batch-1 ones. BatchNorm
layers run in eval mode with running statistics gathered on random batches and then perturbed,
and BN/LayerNorm affine parameters are randomised, so BN folding and LayerNorm fusion see
non-trivial values while activations stay of ordinary size. The YOLO models are written here after ultralytics' modules (yolov5 v7.0 and
ultralytics 8.0: Conv-BN-SiLU, C3 / C2f, SPPF, nearest upsample + concat neck, Detect with the box
decode in the graph, as `export` produces), with the same module names so ONNX names match theirs.

Exit status: 0 on success, 77 when torch/torchvision cannot be imported (CTest treats it as a
skip), 1 on any other error. Needs Debian's python3-torch and python3-torchvision.
"""
import argparse
import copy
import json
import math
import os
import sys
import tempfile
import time

SCRIPT_VERSION = 3
SKIP_EXIT = 77

# name -> (default opset, input name, input shape without batch, output names)
MODELS = {
    "mobilenet_v2": (13, "input", (3, 224, 224), ("output",)),
    "resnet18": (15, "input", (3, 224, 224), ("output",)),
    "vit": (17, "input", (3, 224, 224), ("output",)),  # opset 17: LayerNormalization as one node
    "swin_t": (14, "input", (3, 224, 224), ("output",)),  # opset 14: LayerNorm decomposed
    "yolov5s": (13, "images", (3, 640, 640), ("output0",)),
    "yolov8n": (16, "images", (3, 640, 640), ("output0",)),
}


def import_torch():
    try:
        import numpy  # noqa: F401
        import torch
        import torchvision  # noqa: F401
    except ImportError as e:
        print(f"export_models.py: {e}; install python3-torch and python3-torchvision "
              f"(run with /usr/bin/python3)", file=sys.stderr)
        sys.exit(SKIP_EXIT)
    return torch


# --------------------------------------------------------------------------------------------
# YOLO building blocks, after ultralytics (names matter: they become the ONNX node names)

def yolo_modules(torch):
    nn = torch.nn

    def autopad(k, p=None):
        return k // 2 if p is None else p

    class Conv(nn.Module):
        def __init__(self, c1, c2, k=1, s=1, p=None, g=1):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), groups=g, bias=False)
            self.bn = nn.BatchNorm2d(c2)
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    class Bottleneck(nn.Module):  # yolov5: 1x1 then 3x3; ultralytics 8: 3x3 then 3x3
        def __init__(self, c1, c2, shortcut=True, k=(1, 3), e=0.5):
            super().__init__()
            c_ = int(c2 * e)
            self.cv1 = Conv(c1, c_, k[0], 1)
            self.cv2 = Conv(c_, c2, k[1], 1)
            self.add = shortcut and c1 == c2

        def forward(self, x):
            return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))

    class C3(nn.Module):
        def __init__(self, c1, c2, n=1, shortcut=True, e=0.5):
            super().__init__()
            c_ = int(c2 * e)
            self.cv1 = Conv(c1, c_, 1, 1)
            self.cv2 = Conv(c1, c_, 1, 1)
            self.cv3 = Conv(2 * c_, c2, 1)
            self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, e=1.0) for _ in range(n)))

        def forward(self, x):
            return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))

    class C2f(nn.Module):
        def __init__(self, c1, c2, n=1, shortcut=False, e=0.5):
            super().__init__()
            self.c = int(c2 * e)
            self.cv1 = Conv(c1, 2 * self.c, 1, 1)
            self.cv2 = Conv((2 + n) * self.c, c2, 1)
            self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut, k=(3, 3), e=1.0) for _ in range(n))

        def forward(self, x):
            y = list(self.cv1(x).split((self.c, self.c), 1))  # one Split node, as in TPU-MLIR's yolov8n table
            y.extend(m(y[-1]) for m in self.m)
            return self.cv2(torch.cat(y, 1))

    class SPPF(nn.Module):
        def __init__(self, c1, c2, k=5):
            super().__init__()
            c_ = c1 // 2
            self.cv1 = Conv(c1, c_, 1, 1)
            self.cv2 = Conv(c_ * 4, c2, 1, 1)
            self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

        def forward(self, x):
            x = self.cv1(x)
            y1 = self.m(x)
            y2 = self.m(y1)
            return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))

    class Concat(nn.Module):
        def __init__(self, dimension=1):
            super().__init__()
            self.d = dimension

        def forward(self, x):
            return torch.cat(x, self.d)

    class DetectV5(nn.Module):
        """yolov5 v7.0 Detect with export=True: sigmoid, grid/anchor decode, one (b, n, 85) tensor."""

        def __init__(self, nc, anchors, ch, strides, image_hw):
            super().__init__()
            self.nc, self.no = nc, nc + 5
            self.nl, self.na = len(anchors), len(anchors[0]) // 2
            self.stride = strides
            self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
            with torch.no_grad():  # yolov5's _initialize_biases: rare objects, 80 balanced classes
                for mi, s in zip(self.m, strides):
                    b = mi.bias.view(self.na, -1)
                    b[:, 4] += math.log(8 / (640 / s) ** 2)
                    b[:, 5:] += math.log(0.6 / (nc - 0.99))
            # grids for the fixed input size, as the export bakes them in
            self.grid, self.anchor_grid = [], []
            for i, s in enumerate(strides):
                ny, nx = image_hw[0] // s, image_hw[1] // s
                shape = 1, self.na, ny, nx, 2
                yv, xv = torch.meshgrid(torch.arange(ny, dtype=torch.float32),
                                        torch.arange(nx, dtype=torch.float32), indexing="ij")
                self.grid.append(torch.stack((xv, yv), 2).expand(shape) - 0.5)
                a = torch.tensor(anchors[i], dtype=torch.float32).view(1, self.na, 1, 1, 2)
                self.anchor_grid.append(a.expand(shape).contiguous())

        def forward(self, x):
            if self.training:  # raw maps, as ultralytics trains (the BN statistics pass runs this)
                return [m(xi) for m, xi in zip(self.m, x)]
            z = []
            for i in range(self.nl):
                x[i] = self.m[i](x[i])
                bs, _, ny, nx = x[i].shape
                x[i] = x[i].view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
                xy, wh, conf = x[i].sigmoid().split((2, 2, self.nc + 1), 4)
                xy = (xy * 2 + self.grid[i]) * self.stride[i]
                wh = (wh * 2) ** 2 * self.anchor_grid[i]
                y = torch.cat((xy, wh, conf), 4)
                z.append(y.view(bs, self.na * nx * ny, self.no))
            return torch.cat(z, 1)

    class DFL(nn.Module):
        def __init__(self, c1=16):
            super().__init__()
            self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
            self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float32).view(1, c1, 1, 1)
            self.c1 = c1

        def forward(self, x):
            b, _, a = x.shape
            return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)

    class DetectV8(nn.Module):
        """ultralytics 8.0 Detect in export mode: DFL box regression, dist2bbox, (b, 4 + nc, anchors)."""

        def __init__(self, nc, ch, strides, image_hw):
            super().__init__()
            self.nc, self.nl, self.reg_max = nc, len(ch), 16
            self.no = nc + self.reg_max * 4
            self.stride = strides
            c2, c3 = max(16, ch[0] // 4, self.reg_max * 4), max(ch[0], min(nc, 100))
            self.cv2 = nn.ModuleList(
                nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1)) for x in ch)
            self.cv3 = nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
            self.dfl = DFL(self.reg_max)
            with torch.no_grad():  # ultralytics' bias_init
                for a, b, s in zip(self.cv2, self.cv3, strides):
                    a[-1].bias[:] = 1.0
                    b[-1].bias[:nc] = math.log(5 / nc / (640 / s) ** 2)
            points, stride_col = [], []
            for s in strides:  # make_anchors with offset 0.5
                h, w = image_hw[0] // s, image_hw[1] // s
                sy, sx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5,
                                        torch.arange(w, dtype=torch.float32) + 0.5, indexing="ij")
                points.append(torch.stack((sx, sy), -1).view(-1, 2))
                stride_col.append(torch.full((h * w, 1), float(s)))
            self.anchors = torch.cat(points).transpose(0, 1)
            self.strides = torch.cat(stride_col).transpose(0, 1)

        def forward(self, x):
            shape = x[0].shape
            for i in range(self.nl):
                x[i] = torch.cat((self.cv2[i](x[i]), self.cv3[i](x[i])), 1)
            if self.training:
                return x
            x_cat = torch.cat([xi.view(shape[0], self.no, -1) for xi in x], 2)
            box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
            lt, rb = self.dfl(box).chunk(2, 1)  # dist2bbox(xywh=True, dim=1)
            anchor_points = self.anchors.unsqueeze(0)
            x1y1 = anchor_points - lt
            x2y2 = anchor_points + rb
            dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * self.strides
            return torch.cat((dbox, cls.sigmoid()), 1)

    class YoloModel(nn.Module):
        """ultralytics' DetectionModel: `model` is a Sequential whose layers read `f` (from) outputs."""

        def __init__(self, layers):
            super().__init__()
            for i, (f, m) in enumerate(layers):
                m.f, m.i = f, i
            self.model = nn.Sequential(*(m for _, m in layers))
            self.save = sorted({j for f, _ in layers for j in ([f] if isinstance(f, int) else f) if j != -1})

        def forward(self, x):
            y = []
            for m in self.model:
                if m.f != -1:
                    x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
                x = m(x)
                y.append(x if m.i in self.save else None)
            return x

    def yolov5s(image_hw):
        up = lambda: nn.Upsample(None, 2, "nearest")  # noqa: E731
        anchors = ([10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326])
        return YoloModel([
            (-1, Conv(3, 32, 6, 2, 2)), (-1, Conv(32, 64, 3, 2)), (-1, C3(64, 64, 1)),
            (-1, Conv(64, 128, 3, 2)), (-1, C3(128, 128, 2)), (-1, Conv(128, 256, 3, 2)),
            (-1, C3(256, 256, 3)), (-1, Conv(256, 512, 3, 2)), (-1, C3(512, 512, 1)),
            (-1, SPPF(512, 512, 5)),
            (-1, Conv(512, 256, 1, 1)), (-1, up()), ([-1, 6], Concat(1)), (-1, C3(512, 256, 1, False)),
            (-1, Conv(256, 128, 1, 1)), (-1, up()), ([-1, 4], Concat(1)), (-1, C3(256, 128, 1, False)),
            (-1, Conv(128, 128, 3, 2)), ([-1, 14], Concat(1)), (-1, C3(256, 256, 1, False)),
            (-1, Conv(256, 256, 3, 2)), ([-1, 10], Concat(1)), (-1, C3(512, 512, 1, False)),
            ([17, 20, 23], DetectV5(80, anchors, (128, 256, 512), (8, 16, 32), image_hw)),
        ])

    def yolov8n(image_hw):
        up = lambda: nn.Upsample(None, 2, "nearest")  # noqa: E731
        return YoloModel([
            (-1, Conv(3, 16, 3, 2)), (-1, Conv(16, 32, 3, 2)), (-1, C2f(32, 32, 1, True)),
            (-1, Conv(32, 64, 3, 2)), (-1, C2f(64, 64, 2, True)), (-1, Conv(64, 128, 3, 2)),
            (-1, C2f(128, 128, 2, True)), (-1, Conv(128, 256, 3, 2)), (-1, C2f(256, 256, 1, True)),
            (-1, SPPF(256, 256, 5)),
            (-1, up()), ([-1, 6], Concat(1)), (-1, C2f(384, 128, 1)),
            (-1, up()), ([-1, 4], Concat(1)), (-1, C2f(192, 64, 1)),
            (-1, Conv(64, 64, 3, 2)), ([-1, 12], Concat(1)), (-1, C2f(192, 128, 1)),
            (-1, Conv(128, 128, 3, 2)), ([-1, 9], Concat(1)), (-1, C2f(384, 256, 1)),
            ([15, 18, 21], DetectV8(80, (64, 128, 256), (8, 16, 32), image_hw)),
        ])

    return {"yolov5s": yolov5s, "yolov8n": yolov8n}


# --------------------------------------------------------------------------------------------

def build(torch, name, input_chw):
    import torchvision
    if name == "mobilenet_v2":
        return torchvision.models.mobilenet_v2()
    if name == "resnet18":
        return torchvision.models.resnet18()
    if name == "vit":
        # ViT-Tiny's width (192, 3 heads) with 4 layers: small, but every block kind is there
        return torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=4, num_heads=3,
                                                    hidden_dim=192, mlp_dim=768)
    if name == "swin_t":
        return torchvision.models.swin_t()
    return yolo_modules(torch)[name](input_chw[1:])


def randomise_zero_inits(torch, model, generator):
    """torchvision zero-initialises some layers (ViT's head, biases); a zero layer would test nothing."""
    nn = torch.nn
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                for p in (m.weight, m.bias):
                    if p is not None and p.requires_grad and not p.any():
                        p.copy_(0.02 * torch.randn(p.shape, generator=generator))


def randomise_norms(torch, model, input_shape, generator):
    """Affine parameters of BN/LN at random; BN running stats from random batches, then perturbed."""
    nn = torch.nn
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm))]
    with torch.no_grad():
        for m in norms:
            if m.weight is not None:
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=generator))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=generator))
    bns = [m for m in norms if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    c, h, w = input_shape[1:]
    if h >= 320 and w >= 320:  # the statistics barely depend on the size; torch's CPU time does
        h, w = h // 2, w // 2
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn((2, c, h, w), generator=generator))
        for m in bns:
            std = m.running_var.sqrt()
            m.running_mean.add_(0.2 * std * torch.randn(m.running_mean.shape, generator=generator))
            m.running_var.mul_(0.7 + 0.6 * torch.rand(m.running_var.shape, generator=generator))
    model.eval()


def atomic_write(path, write):
    """Calls write(tmp_path) and renames the result over `path`, so no partial file is left."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-" + os.path.basename(path) + "-")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the result is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_npz(path, arrays):
    import numpy as np

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    atomic_write(path, write)


def export(torch, name, batch, opset, out_dir, force):
    import numpy as np
    _, input_name, chw, output_names = MODELS[name]
    stem = f"{name}_b{batch}"
    paths = {k: os.path.join(out_dir, stem + suffix) for k, suffix in
             (("onnx", ".onnx"), ("input", "_in_f32.npz"), ("output", "_torch_outputs.npz"), ("stamp", ".json"))}
    seed = 1000 + sorted(MODELS).index(name)
    stamp = {"script_version": SCRIPT_VERSION, "model": name, "batch": batch, "opset": opset, "seed": seed,
             "torch": torch.__version__, "input": {input_name: [batch, *chw]}}
    if not force and all(os.path.exists(p) for p in paths.values()):
        try:
            with open(paths["stamp"]) as f:
                old = json.load(f)
            if {k: old.get(k) for k in stamp} == stamp:
                print(f"{stem}: up to date")
                return
        except (OSError, ValueError):
            pass
    t0 = time.time()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    input_shape = (batch, *chw)
    model = build(torch, name, chw)
    randomise_zero_inits(torch, model, generator)
    randomise_norms(torch, model, input_shape, generator)
    model.eval()
    if name.startswith("yolo"):
        x = torch.rand(input_shape, generator=generator)  # images scaled to [0, 1]
    else:
        x = torch.randn(input_shape, generator=generator)  # normalised images
    # The reference runs in float64, so a comparison measures the converted model's float32 error
    # alone, not that plus torch's own.
    with torch.no_grad():
        y = copy.deepcopy(model).double()(x.double())
    ys = tuple(t.float() for t in (y if isinstance(y, (tuple, list)) else (y,)))
    if len(ys) != len(output_names):
        raise RuntimeError(f"{name}: {len(ys)} outputs, expected {len(output_names)}")

    def write_onnx(tmp):
        with torch.no_grad():
            # PRESERVE keeps the model's eval mode but skips the exporter's own Conv+BN fusion, so
            # the BatchNormalization nodes reach the importer.
            torch.onnx.export(model, x, tmp, opset_version=opset, input_names=[input_name],
                              output_names=list(output_names), do_constant_folding=True,
                              training=torch.onnx.TrainingMode.PRESERVE)
        import onnx
        onnx.checker.check_model(tmp)
    atomic_write(paths["onnx"], write_onnx)
    save_npz(paths["input"], {input_name: x.numpy().astype(np.float32)})
    save_npz(paths["output"], {n: t.numpy().astype(np.float32) for n, t in zip(output_names, ys)})
    stamp["outputs"] = {n: list(t.shape) for n, t in zip(output_names, ys)}
    stamp["export_seconds"] = round(time.time() - t0, 2)

    def write_stamp(tmp):
        with open(tmp, "w") as f:
            json.dump(stamp, f, indent=1)
            f.write("\n")
    atomic_write(paths["stamp"], write_stamp)
    print(f"{stem}: exported in {time.time() - t0:.1f} s (opset {opset})")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out_dir", nargs="?")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--opset", type=int, default=None)
    p.add_argument("--force", action="store_true")
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    if a.list:
        for n, (opset, input_name, chw, outs) in MODELS.items():
            print(f"{n} opset {opset} {input_name} {list(chw)} -> {','.join(outs)}")
        return 0
    if not a.out_dir:
        p.error("OUT_DIR is required")
    names = [n for n in a.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    if a.batch < 1:
        p.error("--batch must be at least 1")
    if a.opset is not None and not 7 <= a.opset <= 17:
        p.error("--opset must be within 7..17 (what torch 1.13 exports)")
    torch = import_torch()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(a.out_dir, exist_ok=True)
    import warnings
    warnings.filterwarnings("ignore")  # torch's exporter warns about every traced shape computation
    for n in names:
        export(torch, n, a.batch, a.opset if a.opset is not None else MODELS[n][0], a.out_dir, a.force)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # a clear one-line message, not a traceback, for the test logs
        print(f"export_models.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
