#!/usr/bin/env bash
# FP32 inference time, mixq vs onnxruntime-node 1.30, on the same machine and the same input files:
# every model at batch 1 and 8, 1 and 2 threads, in one run. Prints a markdown table (also written
# to <work>/inference.md) with the machine, the date and the load average before and after.
#
#   bash bench/run_inference.sh [--build DIR] [--work DIR] [--torch_models DIR] [--models "a b"]
#                               [--threads "1 2"] [--batches "1 8"] [--min_time S] [--profile]
#
# --build (default build/bench): CMake folder, configured Release with MIXQ_BUILD_BENCH=ON.
# --work (default <build>/bench-models): static-shape ONNX copies, .mlir files, inputs, outputs.
# --torch_models (default <build>/torch-models): where scripts/export_models.py writes mobilenet_v2,
#   resnet18 and the small ViT (`vit`), at each batch size. --min_time (default 2): seconds of timed runs per cell,
#   after 3 warm-up runs, at least 10 runs; the median is reported. --profile: per-op breakdown of
#   mixq at 1 thread, batch 1, into <work>/<model>_profile.txt.
# Needs node/npm (scripts/setup --bench) and /usr/bin/python3 with numpy, onnx, torch, torchvision.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build/bench
work=
torch_models=
models="ppocr_cls ppocr_rec ppocr_det blazeface mobilenet_v2 resnet18 vit"
threads_list="1 2"
batches="1 8"
min_time=2
profile=0
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --torch_models) torch_models=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --min_time) min_time=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    *) echo "run_inference.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=${work:-$build/bench-models}
torch_models=${torch_models:-$build/torch-models}
shared=${MIXQ_SHARED_DIR:-$root/../shared}
py=/usr/bin/python3

for tool in node npm cmake "$py"; do
  command -v "$tool" > /dev/null || { echo "run_inference.sh: $tool not found (bash scripts/setup --bench)" >&2; exit 1; }
done
[[ -d $shared/models ]] || { echo "run_inference.sh: $shared/models not found (set MIXQ_SHARED_DIR)" >&2; exit 1; }

# onnxruntime-node's install script downloads extra binaries from a host we cannot reach; the npm
# package itself carries the linux x64 CPU build, which is all the benchmark uses.
if [[ ! -d $root/bench/node_modules/onnxruntime-node ]]; then
  (cd "$root/bench" && npm ci --ignore-scripts --no-audit --no-fund)
fi
node -e "require('$root/bench/node_modules/onnxruntime-node')" ||
  { echo "run_inference.sh: onnxruntime-node does not load (bench/node_modules)" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMIXQ_BUILD_BENCH=ON > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" --target model_transform mixq_bench_inference -j"${MIXQ_JOBS:-2}" > "$build.build.log" 2>&1 ||
  { tail -40 "$build.build.log" >&2; exit 1; }

torch_wanted=
for model in $models; do
  case $model in mobilenet_v2 | resnet18 | vit) torch_wanted+=${torch_wanted:+,}$model ;; esac
done
if [[ -n $torch_wanted ]]; then
  for batch in $batches; do
    "$py" "$root/scripts/export_models.py" "$torch_models" --models "$torch_wanted" --batch "$batch" > /dev/null
  done
fi
"$py" "$root/bench/prepare_models.py" --shared "$shared" --torch_models "$torch_models" --out "$work" --models "${models// /,}" \
  --batches "${batches// /,}" > /dev/null

mixq_bench=$build/bench/mixq_bench_inference
results=$work/results.jsonl
: > "$results"
failed=
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for model in $models; do
  for batch in $batches; do
    name=${model}_b$batch
    input=$work/${name}_in.npy
    if [[ ! -s $work/$name.mlir || $work/$name.mlir -ot $work/$name.onnx ]]; then
      shape=$("$py" -c "import numpy as np; print(list(np.load('$input', mmap_mode='r').shape))" | tr -d ' ')
      if ! "$build/examples/model_transform" --model_name "$name" --model_def "$work/$name.onnx" --input_shapes "[$shape]" \
        --mlir "$work/$name.mlir" > "$work/$name.transform.log" 2>&1; then
        echo "run_inference.sh: model_transform failed on $name (row left out):" >&2
        tail -5 "$work/$name.transform.log" >&2
        failed+=" $name"
        rm -f "$work/$name.mlir"
        continue
      fi
    fi
    for threads in $threads_list; do
      # Back to back, so both see the same machine load; ORT's output is mixq's reference.
      ort=$(node "$root/bench/ort_bench.js" --model "$work/$name.onnx" --input "$input" --threads "$threads" \
        --warmup 3 --runs 10 --min_time "$min_time" --output "$work/${name}_ort_out.npy")
      mixq=$(MIXQ_NUM_THREADS=$threads "$mixq_bench" --model "$work/$name.mlir" --input "$input" --warmup 3 --runs 10 \
        --min_time "$min_time" --reference "$work/${name}_ort_out.npy")
      load=$(cut -d' ' -f1 /proc/loadavg)
      echo "{\"model\": \"$model\", \"batch\": $batch, \"threads\": $threads, \"load\": $load, \"ort\": $ort, \"mixq\": $mixq}" >> "$results"
      echo "$model batch $batch threads $threads: $("$py" -c "import json,sys; r=json.loads(sys.argv[1]); print(f\"mixq {r['mixq']['median_ms']:.2f} ms, ort {r['ort']['median_ms']:.2f} ms\")" "$(tail -1 "$results")")" >&2
    done
  done
  if ((profile)) && [[ " $batches " == *" 1 "* ]]; then
    MIXQ_NUM_THREADS=1 "$mixq_bench" --model "$work/${model}_b1.mlir" --input "$work/${model}_b1_in.npy" --warmup 3 \
      --runs 10 --profile > /dev/null 2> "$work/${model}_profile.txt"
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$results" "$started" "$load_before" "$load_after" > "$work/inference.md" <<'PY'
import json, platform, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
ort_version = rows[0]["ort"]["ort"] if rows else "?"
print(f"Machine: {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; "
      f"{sys.argv[2]}; load average (1/5/15 min) {sys.argv[3]} before, {sys.argv[4]} after; "
      f"onnxruntime-node {ort_version}. Median ms per inference (whole batch).\n")
print("| model | batch | threads | mixq ms | onnxruntime ms | mixq/ort | cosine | load (1 min) |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    m, o = r["mixq"], r["ort"]
    print(f"| {r['model']} | {r['batch']} | {r['threads']} | {m['median_ms']:.2f} | {o['median_ms']:.2f} | "
          f"{m['median_ms'] / o['median_ms']:.2f} | {m.get('cosine', float('nan')):.6f} | {r['load']:.1f} |")
PY
cat "$work/inference.md"
if [[ -n $failed ]]; then
  echo "run_inference.sh: not measured (model_transform failed):$failed" >&2
  exit 1
fi
