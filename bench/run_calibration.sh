#!/usr/bin/env bash
# run_calibration speed: total wall time of default KL + auto-tune against the time of
# (input_num + 22 * tune_num) FP32 inferences of the same model (the bar is 1.3x), image decoding
# included, with onnxruntime-node's time for input_num inferences beside it. One run measures
# mobilenet_v2 on 100 ILSVRC2012 images and PP-OCRv4 det at 640x640 on 50 PPOCRCH/raw images.
#
#   bash bench/run_calibration.sh [--build DIR] [--work DIR] [--threads N] [--tune_num N] [--models "a b"] [--repeat R]
#
# Each model is calibrated R times (default 3), each run right after an FP32 inference timing;
# the table gives medians, and the range of the per-run ratios.
# --build (default build/bench-cal): CMake folder (Release, MIXQ_BUILD_BENCH=ON).
# --work (default <build>/cal-models): models, inputs, tables. --threads (default 2).
# Needs node/npm (scripts/setup --bench) and /usr/bin/python3 with numpy, onnx, torch, torchvision.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build/bench-cal
work=
threads=2
tune_num=5
models="mobilenet_v2 ppocr_det"
repeat=3
while (($#)); do
  case $1 in --build|--work|--threads|--tune_num|--models|--repeat)
    (($# >= 2)) || { echo "run_calibration.sh: $1 needs a value" >&2; exit 2; } ;;
  esac
  case $1 in
    --build) build=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --tune_num) tune_num=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "run_calibration.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "run_calibration.sh: --repeat must be a positive integer, got '$repeat'" >&2; exit 2; }
work=${work:-$build/cal-models}
shared=${MIXQ_SHARED_DIR:-$root/../shared}
py=/usr/bin/python3
mkdir -p "$work"
[[ -d $shared/datasets ]] || { echo "run_calibration.sh: $shared/datasets not found (set MIXQ_SHARED_DIR)" >&2; exit 1; }
if [[ ! -d $root/bench/node_modules/onnxruntime-node ]]; then
  (cd "$root/bench" && npm ci --ignore-scripts --no-audit --no-fund)
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMIXQ_BUILD_BENCH=ON > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" --target model_transform run_calibration mixq_bench_inference -j"${MIXQ_JOBS:-2}" > "$build.build.log" 2>&1 ||
  { tail -40 "$build.build.log" >&2; exit 1; }
bin=$build/examples

# name | onnx | input shape | preprocessing flags | dataset | input_num
spec() {
  case $1 in
    mobilenet_v2)
      "$py" "$root/scripts/export_models.py" "$work/torch" --models mobilenet_v2 > /dev/null
      echo "$work/torch/mobilenet_v2_b1.onnx|[[1,3,224,224]]|--resize_dims 256,256 --mean 123.675,116.28,103.53 --scale 0.0171,0.0175,0.0174 --pixel_format rgb|$shared/datasets/ILSVRC2012|100" ;;
    ppocr_det)
      echo "$shared/models/ch_PP-OCRv4_det_infer.onnx|[[1,3,640,640]]|--mean 123.675,116.28,103.53 --scale 0.017,0.0175,0.0174 --pixel_format bgr|$shared/datasets/PPOCRCH/raw|50" ;;
    *) echo "run_calibration.sh: unknown model $1" >&2; exit 2 ;;
  esac
}

results=$work/results.jsonl
: > "$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for model in $models; do
  IFS='|' read -r onnx shape pre dataset input_num <<< "$(spec "$model")"
  first_image=$(find "$dataset" -type f \( -iname "*.jpg" -o -iname "*.jpeg" -o -iname "*.png" \) | sort | awk "NR == 1")
  # shellcheck disable=SC2086
  "$bin/model_transform" --model_name "$model" --model_def "$onnx" --input_shapes "$shape" $pre \
    --test_input "$first_image" --test_result "$work/${model}_top_outputs.npz" --mlir "$work/$model.mlir" > "$work/$model.transform.log" 2>&1
  "$py" -c "import numpy as np, sys; d = np.load(sys.argv[1]); np.save(sys.argv[2], d[d.files[0]])" \
    "$work/${model}_in_f32.npz" "$work/${model}_in.npy"
  ort=$(node "$root/bench/ort_bench.js" --model "$onnx" --input "$work/${model}_in.npy" --threads "$threads" --warmup 3 --runs 10 --min_time 2)
  # Calibration runs alternate with FP32 inference timings, so that a change in the machine's
  # speed (a shared VM's neighbours) reaches both sides of the ratio.
  for ((rep = 1; rep <= repeat; ++rep)); do
    mixq=$(MIXQ_NUM_THREADS=$threads "$build/bench/mixq_bench_inference" --model "$work/$model.mlir" --input "$work/${model}_in.npy" \
      --warmup 3 --runs 10 --min_time 2)
    # The calibration run itself, timed whole (process start to exit).
    t0=$(date +%s.%N)
    MIXQ_NUM_THREADS=$threads "$bin/run_calibration" "$work/$model.mlir" --dataset "$dataset" --input_num "$input_num" \
      --tune_num "$tune_num" -o "$work/${model}_cali_table" 2> "$work/$model.calibration.log"
    t1=$(date +%s.%N)
    stats=$(grep -o 'statistics [0-9.]* s' "$work/$model.calibration.log" | grep -o '[0-9.]*' | head -1)
    tune=$(grep -o 'auto-tune [0-9.]* s' "$work/$model.calibration.log" | grep -o '[0-9.]*' | head -1)
    echo "{\"model\": \"$model\", \"rep\": $rep, \"images\": $input_num, \"tune_num\": $tune_num, \"threads\": $threads, \"total_s\": $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'), \"stats_s\": ${stats:-0}, \"tune_s\": ${tune:-0}, \"mixq\": $mixq, \"ort\": $ort}" >> "$results"
    tail -1 "$results" >&2
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$results" "$started" "$load_before" "$load_after" > "$work/calibration.md" <<'PY'
import json, platform, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"Machine: {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; {sys.argv[2]}; "
      f"load average (1/5/15 min) {sys.argv[3]} before, {sys.argv[4]} after; {rows[0]['threads'] if rows else '?'} threads. "
      "Medians over the runs; the ratio column is the median of the per-run ratios (each run against the "
      "inference timed just before it), their range in brackets.\n")
print("| model | images | runs | run_calibration s (statistics + tune) | FP32 inference ms | (N + 22·tune) inferences s | ratio (bar 1.3) | onnxruntime N inferences s |")
print("|---|---|---|---|---|---|---|---|")
med = lambda v: sorted(v)[len(v) // 2]
for model in dict.fromkeys(r["model"] for r in rows):
    rs = [r for r in rows if r["model"] == model]
    r0 = rs[0]
    n = r0["images"] + 22 * r0["tune_num"]
    t = med([r["mixq"]["median_ms"] for r in rs]) / 1000
    total, stats, tune = med([r["total_s"] for r in rs]), med([r["stats_s"] for r in rs]), med([r["tune_s"] for r in rs])
    ratios = sorted(r["total_s"] / (n * r["mixq"]["median_ms"] / 1000) for r in rs)
    spread = f" ({ratios[0]:.2f}-{ratios[-1]:.2f})" if len(rs) > 1 else ""
    print(f"| {model} | {r0['images']} | {len(rs)} | {total:.2f} ({stats:.2f} + {tune:.2f}) | {t * 1000:.2f} | "
          f"{n * t:.2f} | {med(ratios):.2f}{spread} | {r0['images'] * r0['ort']['median_ms'] / 1000:.2f} |")
PY
cat "$work/calibration.md"
