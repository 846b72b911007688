#!/usr/bin/python3
"""Writes the ops.txt that calibration_oracle.py reads, from a TOP-dialect .mlir file, with the
rules TPU-MLIR's Python MlirParser and get_no_fused_tensors apply:

  - the op list is every op of the function body except top.None, top.Weight and the return
    (top.Input included); its length is `@ops`, a row's op index is its op's position in it;
  - an op's outputs are the names in its loc, aliases resolved (`loc(fused[#a, #b])` gives one name
    per result); a multi-result op is named `fused[...]` by TPU-MLIR, hence the `multi` mark;
  - producers: operands made by an op of the list (not top.Weight / top.None, not a function
    argument);
  - rows: one per op, named by its first output; for a multi-result op one per output, but when
    some output has a consumer the outputs without one are left out (a consumer that is itself a
    multi-result op does not count: TPU-MLIR looks consumers up by op name).

    make_ops.py model.mlir [-o ops.txt]

Only the one-op-per-line text that model_transform / mixq's writer prints is understood (no ops
with regions)."""

import argparse
import re
import sys

LOC_ALIAS = re.compile(r'^(#loc\d*)\s*=\s*loc\((.*)\)\s*$')
OP_LINE = re.compile(r'^\s*(%[\w.$-]+)(?::(\d+))?\s*=\s*"([\w.]+)"\((.*?)\)')
LOC_AT_END = re.compile(r'loc\((.*)\)\s*$')
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(#loc\d*)')


def resolve(text, aliases, depth=0):
    if depth > 50:
        raise ValueError('loc aliases nest too deep')
    names = []
    for quoted, ref in TOKEN.findall(text):
        if ref:
            names += resolve(aliases.get(ref, 'unknown'), aliases, depth + 1)
        else:
            names.append(quoted)
    return names


def rows_of(path):
    with open(path) as f:
        lines = f.read().splitlines()
    aliases = {}
    for line in lines:
        m = LOC_ALIAS.match(line.strip())
        if m:
            aliases[m.group(1)] = m.group(2)
    ops = []  # (type, result count, operand values, outputs)
    producer = {}  # SSA value -> index into ops (only ops of the list)
    for line in lines:
        m = OP_LINE.match(line)
        if not m:
            if re.match(r'^\s*%[\w.$-]+(:\d+)?\s*=\s*"', line):
                raise ValueError('cannot read the op on this line: ' + line.strip())
            continue
        result, count, op_type, operands = m.group(1), int(m.group(2) or 1), m.group(3), m.group(4)
        if op_type in ('top.None', 'top.Weight'):
            continue
        loc = LOC_AT_END.search(line)
        outputs = resolve(loc.group(1), aliases) if loc else []
        if not outputs:
            raise ValueError('op without a name (loc): ' + line.strip())
        index = len(ops)
        values = [result] if count == 1 else ['%s#%d' % (result, i) for i in range(count)]
        for v in values:
            producer[v] = index
        ops.append((op_type, count, re.findall(r'%[\w.$-]+(?:#\d+)?', operands), outputs))

    def op_name(op):
        return 'fused' if op[1] > 1 else op[3][0]

    # A consumer of output o of op j: an op of the list (not multi-result) reading value j#o.
    consumed = set()
    for op in ops:
        if op_name(op) == 'fused':
            continue
        for v in op[2]:
            if v in producer:
                j = producer[v]
                k = int(v.split('#')[1]) if '#' in v else 0
                consumed.add((j, k))
    rows = []
    for index, op in enumerate(ops):
        op_type, count, operands, outputs = op
        producers = sum(1 for v in operands if v in producer)
        if count > 1:
            outs = list(enumerate(outputs[:count]))
            if any((index, k) in consumed for k, _ in outs):
                outs = [(k, n) for k, n in outs if (index, k) in consumed]
            rows += ['%s %s %d %d multi' % (n, op_type, producers, index) for _, n in outs]
        else:
            rows.append('%s %s %d %d' % (outputs[0], op_type, producers, index))
    return rows, len(ops)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('mlir')
    ap.add_argument('-o', '--output')
    args = ap.parse_args(argv)
    try:
        rows, n_ops = rows_of(args.mlir)
    except (OSError, ValueError) as e:
        print('make_ops.py: error: %s: %s' % (args.mlir, e), file=sys.stderr)
        return 1
    text = '# rows of %s, by TPU-MLIR\'s rules (make_ops.py)\n@ops %d\n%s\n' % (args.mlir, n_ops, '\n'.join(rows))
    if args.output:
        with open(args.output, 'w') as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
