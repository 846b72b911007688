// onnxruntime-node side of the FP32 inference benchmark: times InferenceSession.run on one input.
// node ort_bench.js --model m.onnx --input x.npy --threads T [--warmup W] [--runs N] [--min_time S] [--output out.npy]
// Times at least N runs and keeps going until S seconds of runs (at most 1000 runs). Prints one JSON line: {"median_ms":..., "min_ms":..., "runs":N, ...}.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const args = { warmup: 5, runs: 20, min_time: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (i + 1 >= argv.length) throw new Error(`flag --${key} needs a value`);
    args[key] = argv[i + 1];
  }
  for (const required of ['model', 'input', 'threads'])
    if (!(required in args)) throw new Error(`missing --${required}`);
  return args;
}

// Only little-endian float32 C-order arrays: what bench/prepare_models.py writes.
function readNpyF32(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not an .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, dataStart);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: expected float32 (<f4), header ${header}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  const dims = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = buf.readFloatLE(dataStart + 4 * i);
  return { dims, data };
}

function writeNpyF32(file, dims, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
  fs.renameSync(tmp, file);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const threads = Number(args.threads);
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  if (session.inputNames.length !== 1) throw new Error(`${args.model}: expected one input, found ${session.inputNames.join(', ')}`);
  const x = readNpyF32(args.input);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims) };
  for (let i = 0; i < Number(args.warmup); ++i) await session.run(feeds);
  const times = [];
  let result;
  const minMs = 1000 * Number(args.min_time);
  let spent = 0;
  while (times.length < 1000 && (times.length < Number(args.runs) || spent < minMs)) {
    const t0 = process.hrtime.bigint();
    result = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    spent += times[times.length - 1];
  }
  if (args.output) {
    const out = result[session.outputNames[0]];
    writeNpyF32(args.output, out.dims, out.data);
  }
  console.log(JSON.stringify({
    model: path.basename(args.model), threads, median_ms: median(times), min_ms: Math.min(...times), runs: times.length,
    ort: ort.env.versions.common,
  }));
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message}`);
  process.exit(1);
});
