#!/usr/bin/python3
"""Makes the .npy/.npz fixtures of tests/unit/npz with numpy (run: /usr/bin/python3 make_fixtures.py).

Every array is deterministic. values.txt repeats the arrays of all_dtypes.npz in plain text, one
line per array in file order:  <key> <dtype.name> <shape as d0xd1 or "scalar"> <C-order values...>
(floats as repr of the Python float, float16 as its uint16 bits, bools as 0/1).
"""
import io
import os
import shutil
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def all_dtype_arrays():
    arrays = {}
    arrays["f32"] = np.array([[0.0, -1.5, 3.25], [1e-30, np.float32(3.4e38), -0.0]], dtype=np.float32)
    arrays["f64"] = np.array([np.pi, -np.e, 1e300, 5e-324], dtype=np.float64)
    arrays["f16"] = np.array([1.0, -2.5, 65504.0, 6e-8, 0.0], dtype=np.float16)
    arrays["i8"] = np.array([-128, -1, 0, 1, 127], dtype=np.int8)
    arrays["u8"] = np.arange(0, 256, 51, dtype=np.uint8).reshape(2, 3)
    arrays["i16"] = np.array([-32768, 12345, 32767], dtype=np.int16)
    arrays["u16"] = np.array([0, 1, 65535, 40000], dtype=np.uint16)
    arrays["i32"] = np.array([[-2147483648, 2147483647], [7, -7]], dtype=np.int32)
    arrays["u32"] = np.array([0, 4294967295, 123456789], dtype=np.uint32)
    arrays["i64"] = np.array([-9223372036854775808, 9223372036854775807, 42], dtype=np.int64)
    arrays["u64"] = np.array([0, 18446744073709551615, 10000000000000000000], dtype=np.uint64)
    arrays["bool"] = np.array([[True, False, True], [False, False, True]], dtype=np.bool_)
    arrays["scalar"] = np.array(2.5, dtype=np.float32)  # shape ()
    arrays["empty"] = np.zeros((0, 3), dtype=np.float32)
    arrays["fortran"] = np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4))
    arrays["big_endian"] = np.array([1.5, -2.0, 1e10], dtype=">f4")
    arrays["big_endian_i64"] = np.array([[1, -2], [3, 1 << 40]], dtype=">i8")
    arrays["group/sub.layer/weight"] = np.linspace(-1, 1, 7, dtype=np.float32)
    return arrays


def plain_values(a):
    flat = np.ascontiguousarray(a).reshape(-1)
    if a.dtype == np.float16:
        return [str(int(v)) for v in flat.view(np.uint16)]
    if a.dtype.kind == "f":
        return [repr(float(v)) for v in flat]
    if a.dtype.kind == "b":
        return [str(int(v)) for v in flat]
    return [str(int(v)) for v in flat]


def write_values(arrays, name):
    with open(path(name), "w") as f:
        for k, a in arrays.items():
            shape = "x".join(str(d) for d in a.shape) if a.ndim else "scalar"
            f.write(" ".join([k, a.dtype.newbyteorder("=").name if a.dtype.byteorder == ">" else a.dtype.name, shape]
                             + plain_values(a)) + "\n")


class NonSeekable(io.RawIOBase):
    """A write-only stream without tell/seek: zipfile then writes data descriptors (flag bit 3)."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += bytes(b)
        return len(b)

    def seekable(self):
        return False


def main():
    arrays = all_dtype_arrays()
    assert arrays["fortran"].flags.f_contiguous and not arrays["fortran"].flags.c_contiguous
    np.savez(path("all_dtypes.npz"), **arrays)
    np.savez_compressed(path("all_dtypes_compressed.npz"), **arrays)
    write_values(arrays, "values.txt")

    small = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([7, 8, 9], dtype=np.int64)}
    np.savez(path("small.npz"), **small)
    np.savez_compressed(path("small_compressed.npz"), **small)

    # Single .npy files: the three header versions, Fortran order and big-endian data.
    v = np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5
    for major in (1, 2, 3):
        with open(path("v%d.npy" % major), "wb") as f:
            np.lib.format.write_array(f, v, version=(major, 0))
    np.save(path("fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)))
    np.save(path("big_endian.npy"), np.array([1, 256, -3], dtype=">i2"))
    np.save(path("scalar.npy"), np.array(7, dtype=np.int64))
    np.save(path("unicode.npy"), np.array(["ab", "c"]))

    # Data descriptors: zipfile writing to a non-seekable stream.
    stream = NonSeekable()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, a in small.items():
            with z.open(k + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, a)
    with open(path("data_descriptor.npz"), "wb") as f:
        f.write(stream.buf)

    # Full ZIP64: with the limit lowered, zipfile also writes ZIP64 central extras and the
    # ZIP64 end-of-central-directory record and locator.
    saved_limit = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 16
    try:
        np.savez(path("zip64_full.npz"), **small)
    finally:
        zipfile.ZIP64_LIMIT = saved_limit

    # An archive comment after the end-of-central-directory record.
    with zipfile.ZipFile(path("comment.npz"), "w") as z:
        for k, a in small.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a)
            z.writestr(k + ".npy", buf.getvalue())
        z.comment = b"written by make_fixtures.py; PK\x05\x06 inside the comment must not confuse readers"

    # Arrays mixq cannot hold.
    np.savez(path("unsupported.npz"), good=np.ones(2, dtype=np.float32),
             obj=np.array([{"a": 1}, None], dtype=object))
    np.savez(path("structured.npz"), rec=np.zeros(2, dtype=[("x", "<i4"), ("y", "<f8")]))

    # A small real file (BERT inputs, int32), when the shared data is there.
    real = "/work/shared/datasets/BertBase/bert-base_0.npz"
    if os.path.exists(real):
        shutil.copyfile(real, path("bert_base_0.npz"))
        with np.load(real) as z:
            write_values({k: z[k] for k in z.files}, "bert_base_0_values.txt")


if __name__ == "__main__":
    main()
