#!/usr/bin/env bash
# INT8 evaluation time vs FP32 evaluation time of the same model, in one run on one machine:
# mobilenet_v2 (torchvision, random weights, fixed seed) transformed to TOP, calibrated on ILSVRC2012
# images, deployed INT8 for --processor; then the TOP .mlir (float interpreter) and the lowered
# .mlir (integer kernels: int8 x int8 -> int32, requant, saturation) are each timed on the same
# input at every thread count. Prints a markdown table (also <work>/int8_eval.md); bar: INT8 <= 1.3 x FP32.
#
#   bash bench/run_int8_eval.sh [--build DIR] [--work DIR] [--threads "1 2"] [--processor bm1684x]
#                               [--input_num N] [--min_time S] [--asymmetric]
#
# --build (default build/bench): CMake folder, configured here Release with MIXQ_BUILD_BENCH=ON.
# --work (default <build>/int8-models). Needs /usr/bin/python3 with numpy, onnx, torch, torchvision.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build/bench
work=
threads_list="1 2"
processor=bm1684x
input_num=20
min_time=2
asym=()
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --processor) processor=$2; shift 2 ;;
    --input_num) input_num=$2; shift 2 ;;
    --min_time) min_time=$2; shift 2 ;;
    --asymmetric) asym=(--asymmetric); shift ;;
    *) echo "run_int8_eval.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=${work:-$build/int8-models}
shared=${MIXQ_SHARED_DIR:-$root/../shared}
py=/usr/bin/python3
mkdir -p "$work"
[[ -d $shared/datasets/ILSVRC2012 ]] || { echo "run_int8_eval.sh: $shared/datasets/ILSVRC2012 not found (set MIXQ_SHARED_DIR)" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMIXQ_BUILD_BENCH=ON > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" --target model_transform run_calibration model_deploy mixq_bench_inference -j"${MIXQ_JOBS:-2}" \
  > "$build.build.log" 2>&1 || { tail -40 "$build.build.log" >&2; exit 1; }
bin=$build/examples

model=mobilenet_v2
dataset=$shared/datasets/ILSVRC2012
"$py" "$root/scripts/export_models.py" "$work/torch" --models $model > /dev/null
first_image=$(find "$dataset" -type f \( -iname "*.jpg" -o -iname "*.jpeg" -o -iname "*.png" \) | sort | awk "NR == 1")
"$bin/model_transform" --model_name $model --model_def "$work/torch/${model}_b1.onnx" --input_shapes "[[1,3,224,224]]" \
  --resize_dims 256,256 --mean 123.675,116.28,103.53 --scale 0.0171,0.0175,0.0174 --pixel_format rgb \
  --test_input "$first_image" --test_result "$work/${model}_top_outputs.npz" --mlir "$work/$model.mlir" > "$work/transform.log" 2>&1
"$py" -c "import numpy as np, sys; d = np.load(sys.argv[1]); np.save(sys.argv[2], d[d.files[0]])" \
  "$work/${model}_in_f32.npz" "$work/${model}_in.npy"
"$bin/run_calibration" "$work/$model.mlir" --dataset "$dataset" --input_num "$input_num" -o "$work/${model}_cali_table" \
  2> "$work/calibration.log"
mode=$([[ ${#asym[@]} -gt 0 ]] && echo asym || echo sym)
lowered=$work/${model}_${processor}_int8_${mode}_tpu.mlir
"$bin/model_deploy" --mlir "$work/$model.mlir" --quantize INT8 --processor "$processor" "${asym[@]}" \
  --calibration_table "$work/${model}_cali_table" --model "$lowered" > "$work/deploy.log" 2>&1 ||
  { tail -20 "$work/deploy.log" >&2; exit 1; }

results=$work/int8_eval.jsonl
: > "$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for threads in $threads_list; do
  # FP32 and INT8 alternate within each thread count so that a change in machine load hits both.
  fp32=$(MIXQ_NUM_THREADS=$threads "$build/bench/mixq_bench_inference" --model "$work/$model.mlir" --input "$work/${model}_in.npy" \
    --warmup 3 --runs 10 --min_time "$min_time")
  int8=$(MIXQ_NUM_THREADS=$threads "$build/bench/mixq_bench_inference" --model "$lowered" --input "$work/${model}_in.npy" \
    --warmup 3 --runs 10 --min_time "$min_time" --output "$work/${model}_int8_out_t$threads.npy")
  echo "{\"threads\": $threads, \"fp32\": $fp32, \"int8\": $int8}" >> "$results"
  tail -1 "$results" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$results" "$started" "$load_before" "$load_after" "$processor" "$mode" "$work/${model}_top_outputs.npz" \
  "$work/${model}_int8_out_t${threads_list##* }.npy" > "$work/int8_eval.md" <<'PY'
import json, platform, subprocess, sys
import numpy as np
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
top = np.load(sys.argv[7]); ref = top[top.files[-1]].ravel().astype(np.float64)
q = np.load(sys.argv[8]).ravel().astype(np.float64)
cos = float(ref @ q / np.sqrt((ref @ ref) * (q @ q))) if ref.size == q.size else float("nan")
print(f"Machine: {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; {sys.argv[2]}; "
      f"load average (1/5/15 min) {sys.argv[3]} before, {sys.argv[4]} after. mobilenet_v2 1x3x224x224, "
      f"INT8 {sys.argv[6]} for {sys.argv[5]}; cosine of the INT8 logits to FP32: {cos:.5f}.\n")
print("| threads | FP32 median ms | INT8 median ms | INT8 / FP32 (bar 1.3) |")
print("|---|---|---|---|")
for r in rows:
    f, i = r["fp32"]["median_ms"], r["int8"]["median_ms"]
    print(f"| {r['threads']} | {f:.2f} | {i:.2f} | {i / f:.2f} |")
PY
cat "$work/int8_eval.md"
