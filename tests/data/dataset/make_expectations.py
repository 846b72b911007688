#!/usr/bin/python3
"""Writes python_random.txt: what CPython's random module gives for a few seeds, so the dataset
tests can check mixq::python_random without Python. Run with /usr/bin/python3 (any CPython >= 3.2
gives the same numbers)."""
import random
import sys

FNV_OFFSET, FNV_PRIME = 0xcbf29ce484222325, 0x100000001b3


def fnv1a64(values):
    h = FNV_OFFSET
    for v in values:
        for b in v.to_bytes(8, 'little'):
            h = ((h ^ b) * FNV_PRIME) & 0xffffffffffffffff
    return h


def main(out):
    seeds = [0, 1, 1684, 2**32 + 5, -7, 123456789012345]
    lengths = [0, 1, 2, 100, 1000, 100000]
    lines = ['# shuffle <seed> <length> <fnv1a64 of the permutation, 8-byte LE elements> <first elements>',
             '# bits <seed> <getrandbits(32) x3> <getrandbits(64)> <getrandbits(17)> <random().hex()>']
    for seed in seeds:
        for n in lengths:
            v = list(range(n))
            random.seed(seed)
            random.shuffle(v)
            lines.append('shuffle %d %d %d %s' % (seed, n, fnv1a64(v), ' '.join(map(str, v[:8]))))
    for seed in seeds:
        r = random.Random(seed)
        vals = [r.getrandbits(32) for _ in range(3)] + [r.getrandbits(64), r.getrandbits(17)]
        lines.append('bits %d %s %s' % (seed, ' '.join(map(str, vals)), r.random().hex()))
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'python_random.txt')
