#!/usr/bin/python3
"""Writes the image fixtures of mixq's image tests, and what OpenCV / TPU-MLIR make of them.

Next to this script:
  files/*.{jpg,png,bmp}   small images of every kind the decoders handle: JPEG (4:2:0, 4:2:2, 4:4:4,
                          gray, progressive, restart markers, CMYK, EXIF orientations 1..8, big-endian
                          EXIF, an XMP segment before the EXIF one), PNG (every colour type and bit
                          depth, palettes with and without tRNS, Adam7 interlacing, gAMA, eXIf), BMP
                          (1/4/8-bit colour and gray palettes, 16-bit 5-5-5 and 5-6-5, 24, 32 with and
                          without bit fields, top-down, OS/2 and V4/V5 headers, RLE8/RLE4 with every
                          escape), plus a few real photos copied from ../shared/datasets
  decoded.npz             cv2.imread of every file: key "<file>|color" (H x W x 3), "<file>|gray" (H x W),
                          and "<file>|rgba" = TPU-MLIR's 4-channel read (IMREAD_UNCHANGED and a
                          BGRA->RGBA swap, or PIL's convert('RGBA') for files without alpha)
  rgba_rejected.txt       files mixq refuses in rgba mode (deviations listed in docs), one a line
  preprocess_cases.txt    top.Input attribute sets, one a line: name|shape|pixel_format|channel_format|
                          resize_h,resize_w|keep_aspect_ratio|keep_ratio_mode|pad_value|pad_type|mean|scale
  preprocessed.npz        key "<case>|<file>": the float32 tensor TPU-MLIR's preprocess gives (batch 1)
  resized.npz             cv2.resize (INTER_LINEAR) of random images: "src|<i>" and "dst|<i>|<w>|<h>"
                          over up/down/odd/exact-2x/1x/size-1 cases with 1, 3 and 4 channels
  model_transform_{stretch,letterbox}_in_f32.npz   the blazeface input ("x.1", 1x3x128x128) TPU-MLIR
                          makes from files/photo_ilsvrc.jpg with the flags of tests/integration/image_input.cmake
  shared_checksums.txt    for a sample of ../shared/datasets images: path|mode|h|w|c|crc32 of the
                          decoded pixels, and path|resize224|h|w|c|crc32 of cv2.resize to 224x224

The oracle is cv2 4.6 / numpy / PIL from Debian (/usr/bin/python3), with the preprocessing steps
written here from the TPU-MLIR facts (§10.4), not from mixq. Seeds are fixed and zip timestamps
pinned, so re-running reproduces the same bytes (given the same libjpeg, libpng and zlib).
"""
import io
import os
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
SHARED = HERE.parents[3] / "shared"
rng = np.random.default_rng(20240611)


def save_npz(path, arrays):
    """np.savez_compressed with a fixed timestamp, so the bytes do not change between runs."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buf.getvalue())


def smooth_image(h, w, c):
    """A picture with gradients, edges and noise, so that resizing and JPEG have something to do."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for k in range(c):
        v = 127 + 90 * np.sin(x / (3.0 + k) + y / 5.0) + 30 * np.cos(y / (2.0 + k))
        v += rng.normal(0, 12, (h, w))
        v[(x // 7 + y // 5 + k) % 4 == 0] = 255 - 40 * k
        chans.append(np.clip(v, 0, 255))
    return np.stack(chans, -1).round().astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# PNG writer (any colour type, bit depth, palette, tRNS, interlace, extra chunks)
# ----------------------------------------------------------------------------------------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_row(samples, depth):
    if depth == 16:
        return b"".join(struct.pack(">H", int(s)) for s in samples)
    if depth == 8:
        return bytes(int(s) for s in samples)
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(samples), per):
        b = 0
        for j in range(per):
            v = int(samples[i + j]) if i + j < len(samples) else 0
            b |= v << (8 - depth * (j + 1))
        out.append(b)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, pixels, color_type, depth, palette=None, trns=None, interlace=False, before_idat=(), after_idat=()):
    """pixels: H x W x samples-per-pixel integers (palette indices for colour type 3)."""
    h, w = pixels.shape[:2]
    px = pixels.reshape(h, w, -1)
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = px[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for r in range(sub.shape[0]):
            raw += b"\x00" + pack_row(sub[r].reshape(-1), depth)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    for kind, data in before_idat:
        out += png_chunk(kind, data)
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    out += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    for kind, data in after_idat:
        out += png_chunk(kind, data)
    out += png_chunk(b"IEND", b"")
    path.write_bytes(out)


def exif_tiff(orientation, big_endian=False, extra_first=()):
    """A TIFF header with IFD0 = [extra entries..., Orientation]."""
    e = ">" if big_endian else "<"
    entries = list(extra_first) + [(0x0112, 3, 1, struct.pack(e + "HH", orientation, 0))]
    body = (b"MM\x00\x2a" if big_endian else b"II\x2a\x00") + struct.pack(e + "I", 8) + struct.pack(e + "H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack(e + "HHI", tag, typ, count) + value
    return body + struct.pack(e + "I", 0)


def png_files():
    out = []
    base = smooth_image(11, 13, 4)
    gray8 = base[:, :, 0]
    for depth in (1, 2, 4, 8, 16):
        v = (gray8.astype(np.uint32) * ((1 << depth) - 1) // 255) if depth < 16 else gray8.astype(np.uint32) * 256 + 3
        name = f"png_gray{depth}.png"
        write_png(FILES / name, v, 0, depth)
        out.append(name)
    write_png(FILES / "png_gray8_trns.png", gray8, 0, 8, trns=struct.pack(">H", int(gray8[2, 3])))
    write_png(FILES / "png_gray_alpha8.png", base[:, :, [0, 3]], 4, 8)
    write_png(FILES / "png_gray_alpha16.png", base[:, :, [0, 3]].astype(np.uint32) * 257, 4, 16)
    write_png(FILES / "png_rgb8.png", base[:, :, :3], 2, 8)
    write_png(FILES / "png_rgb16.png", base[:, :, :3].astype(np.uint32) * 256 + base[:, :, [2, 1, 0]], 2, 16)
    write_png(FILES / "png_rgb8_trns.png", base[:, :, :3], 2, 8, trns=struct.pack(">HHH", *(int(v) for v in base[1, 1, :3])))
    write_png(FILES / "png_rgba8.png", base, 6, 8)
    write_png(FILES / "png_rgba16.png", base.astype(np.uint32) * 257, 6, 16)
    out += ["png_gray8_trns.png", "png_gray_alpha8.png", "png_gray_alpha16.png", "png_rgb8.png", "png_rgb16.png",
            "png_rgb8_trns.png", "png_rgba8.png", "png_rgba16.png"]
    for depth in (1, 2, 4, 8):
        n = 1 << depth
        pal = rng.integers(0, 256, (n, 3))
        idx = gray8.astype(np.uint32) * (n - 1) // 255
        write_png(FILES / f"png_palette{depth}.png", idx, 3, depth, palette=pal)
        write_png(FILES / f"png_palette{depth}_trns.png", idx, 3, depth, palette=pal,
                  trns=bytes(rng.integers(0, 256, max(1, n // 2)).astype(np.uint8)))
        out += [f"png_palette{depth}.png", f"png_palette{depth}_trns.png"]
    big = smooth_image(19, 23, 4)
    write_png(FILES / "png_rgb8_interlaced.png", big[:, :, :3], 2, 8, interlace=True)
    write_png(FILES / "png_gray4_interlaced.png", big[:, :, 0] // 17, 0, 4, interlace=True)
    write_png(FILES / "png_rgba16_interlaced.png", big.astype(np.uint32) * 257, 6, 16, interlace=True)
    write_png(FILES / "png_rgb8_gamma.png", big[:, :, :3], 2, 8, before_idat=[(b"gAMA", struct.pack(">I", 45455))])
    write_png(FILES / "png_exif6.png", big[:, :, :3], 2, 8, before_idat=[(b"eXIf", exif_tiff(6))])
    write_png(FILES / "png_gray_exif8.png", big[:, :, 0], 0, 8, before_idat=[(b"eXIf", exif_tiff(8, big_endian=True))])
    out += ["png_rgb8_interlaced.png", "png_gray4_interlaced.png", "png_rgba16_interlaced.png", "png_rgb8_gamma.png",
            "png_exif6.png", "png_gray_exif8.png"]
    return out


# ----------------------------------------------------------------------------------------------
# BMP writer
# ----------------------------------------------------------------------------------------------

def bmp_bytes(width, height, bpp, pixel_rows, palette=None, compression=0, header_size=40, top_down=False,
              masks=None, colors_used=None):
    """pixel_rows: the stored rows (already padded), in file order."""
    data = b"".join(pixel_rows)
    pal = b""
    if palette is not None:
        if header_size == 12:
            pal = b"".join(bytes([b, g, r]) for (b, g, r) in palette)
        else:
            pal = b"".join(bytes([b, g, r, 0]) for (b, g, r) in palette)
    mask_bytes = b"" if masks is None else struct.pack("<III", *masks[:3])
    if header_size == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bpp)
    else:
        info = struct.pack("<IiiHHIIiiII", header_size, width, -height if top_down else height, 1, bpp, compression,
                           len(data), 2835, 2835, len(palette) if colors_used is None and palette is not None else (colors_used or 0), 0)
        if header_size > 40:
            info += (masks_in_header(masks) + b"\x00" * header_size)[: header_size - 40]
    extra = mask_bytes if header_size == 40 else b""
    offset = 14 + len(info) + len(extra) + len(pal)
    head = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
    return head + info + extra + pal + data


def masks_in_header(masks):
    return struct.pack("<IIII", *(tuple(masks) + (0, 0, 0, 0))[:4]) if masks else b""


def pad4(b):
    return b + b"\x00" * ((-len(b)) % 4)


def bmp_palette_rows(idx, bpp):
    rows = []
    for r in idx:
        if bpp == 8:
            b = bytes(int(v) for v in r)
        elif bpp == 4:
            b = bytes((int(r[i]) << 4) | (int(r[i + 1]) if i + 1 < len(r) else 0) for i in range(0, len(r), 2))
        else:
            b = bytes(sum(int(r[i + j]) << (7 - j) for j in range(8) if i + j < len(r)) for i in range(0, len(r), 8))
        rows.append(pad4(b))
    return rows


def rle8_stream(idx):
    """Encodes rows (file order) with runs, literals, a delta and EOL/EOF, the escapes OpenCV handles."""
    out = bytearray()
    h, w = idx.shape
    for y in range(h):
        row = [int(v) for v in idx[y]]
        if y == 1:  # a delta: skip 2 pixels right and 1 row down, landing mid-row y + 1
            out += bytes([0, 2, 2, 1])
            continue
        x = 2 if y == 2 else 0  # row 2 starts where the delta landed
        while x < w:
            run = 1
            while x + run < w and row[x + run] == row[x] and run < 255:
                run += 1
            if run >= 3 or w - x < 3:
                out += bytes([run, row[x]])
                x += run
            else:
                n = min(w - x, 5)
                out += bytes([0, n]) + bytes(row[x:x + n]) + (b"\x00" if n % 2 else b"")
                x += n
        if y == h - 2:
            out += bytes([0, 1])  # end of bitmap before the last row: the rest is palette entry 0
            return bytes(out)
        out += bytes([0, 0])
    out += bytes([0, 1])
    return bytes(out)


def rle4_stream(idx):
    out = bytearray()
    h, w = idx.shape
    for y in range(h):
        row = [int(v) for v in idx[y]]
        x = 0
        if y == 1:
            out += bytes([0, 2, 3, 0])  # delta right by 3 (OpenCV ignores a delta's row count in RLE4)
            x = 3
        while x < w:
            if w - x >= 4 and row[x] == row[x + 2] and row[x + 1] == row[x + 3]:
                run = 4
                while x + run < w and row[x + run] == row[x + (run % 2)] and run < 255:
                    run += 1
                out += bytes([run, (row[x] << 4) | row[x + 1]])
                x += run
            else:
                n = min(w - x, 7)
                if n < 3:
                    out += bytes([n, (row[x] << 4) | (row[x + 1] if n > 1 else 0)])
                    x += n
                    continue
                packed = bytes((row[x + i] << 4) | (row[x + i + 1] if i + 1 < n else 0) for i in range(0, n, 2))
                packed += b"\x00" * ((-len(packed)) % 2)
                out += bytes([0, n]) + packed
                x += n
        out += bytes([0, 0])
    out += bytes([0, 1])
    return bytes(out)


def bmp_files():
    out = []
    h, w = 9, 13
    img = smooth_image(h, w, 4)
    for bpp in (1, 4, 8):
        n = 1 << bpp
        color_pal = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(n)]
        gray_pal = [(v, v, v) for v in np.linspace(0, 255, n).round().astype(int)]
        idx = img[:, :, 0].astype(np.uint32) * (n - 1) // 255
        rows = bmp_palette_rows(idx[::-1], bpp)
        (FILES / f"bmp{bpp}_color.bmp").write_bytes(bmp_bytes(w, h, bpp, rows, palette=color_pal))
        (FILES / f"bmp{bpp}_gray.bmp").write_bytes(bmp_bytes(w, h, bpp, rows, palette=gray_pal))
        (FILES / f"bmp{bpp}_os2.bmp").write_bytes(bmp_bytes(w, h, bpp, rows, palette=color_pal, header_size=12))
        out += [f"bmp{bpp}_color.bmp", f"bmp{bpp}_gray.bmp", f"bmp{bpp}_os2.bmp"]
    # A short palette (colors_used < 2^bpp): the other entries are black.
    idx = img[:, :, 1].astype(np.uint32) * 255 // 255
    short_pal = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(100)]
    (FILES / "bmp8_short_palette.bmp").write_bytes(bmp_bytes(w, h, 8, bmp_palette_rows(idx[::-1], 8), palette=short_pal))
    out.append("bmp8_short_palette.bmp")
    bgr = img[:, :, :3]
    rows24 = [pad4(bytes(r.reshape(-1))) for r in bgr[::-1]]
    (FILES / "bmp24.bmp").write_bytes(bmp_bytes(w, h, 24, rows24))
    (FILES / "bmp24_topdown.bmp").write_bytes(bmp_bytes(w, h, 24, [pad4(bytes(r.reshape(-1))) for r in bgr], top_down=True))
    (FILES / "bmp24_os2.bmp").write_bytes(bmp_bytes(w, h, 24, rows24, header_size=12))
    (FILES / "bmp24_v5.bmp").write_bytes(bmp_bytes(w, h, 24, rows24, header_size=124))
    rows32 = [bytes(r.reshape(-1)) for r in img[::-1]]
    (FILES / "bmp32.bmp").write_bytes(bmp_bytes(w, h, 32, rows32))
    (FILES / "bmp32_bitfields_v4.bmp").write_bytes(
        bmp_bytes(w, h, 32, rows32, compression=3, header_size=108, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)))
    (FILES / "bmp32_bitfields.bmp").write_bytes(bmp_bytes(w, h, 32, rows32, compression=3, masks=(0xFF0000, 0xFF00, 0xFF)))
    out += ["bmp24.bmp", "bmp24_topdown.bmp", "bmp24_os2.bmp", "bmp24_v5.bmp", "bmp32.bmp", "bmp32_bitfields_v4.bmp",
            "bmp32_bitfields.bmp"]
    b5, g5, r5 = (bgr[:, :, 0] >> 3).astype(np.uint32), (bgr[:, :, 1] >> 3).astype(np.uint32), (bgr[:, :, 2] >> 3).astype(np.uint32)
    v555 = b5 | g5 << 5 | r5 << 10
    v565 = b5 | (bgr[:, :, 1].astype(np.uint32) >> 2) << 5 | r5 << 11
    rows555 = [pad4(b"".join(struct.pack("<H", int(v)) for v in r)) for r in v555[::-1]]
    rows565 = [pad4(b"".join(struct.pack("<H", int(v)) for v in r)) for r in v565[::-1]]
    (FILES / "bmp16_555.bmp").write_bytes(bmp_bytes(w, h, 16, rows555))
    (FILES / "bmp16_565.bmp").write_bytes(bmp_bytes(w, h, 16, rows565, compression=3, masks=(0xF800, 0x7E0, 0x1F)))
    out += ["bmp16_555.bmp", "bmp16_565.bmp"]
    # RLE: rows in file order (bottom-up).
    idx8 = (img[:, :, 2].astype(np.uint32) // 32) * 2
    idx8[:, 4:9] = idx8[:, 4:5]  # a run
    pal8 = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(256)]
    (FILES / "bmp8_rle.bmp").write_bytes(bmp_bytes(w, h, 8, [rle8_stream(idx8)], palette=pal8, compression=1))
    idx4 = img[:, :, 2].astype(np.uint32) // 16
    idx4[:, 2:8] = np.where(np.arange(6) % 2 == 0, 3, 9)
    pal4 = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(16)]
    (FILES / "bmp4_rle.bmp").write_bytes(bmp_bytes(w, h, 4, [rle4_stream(idx4)], palette=pal4, compression=2))
    out += ["bmp8_rle.bmp", "bmp4_rle.bmp"]
    return out


# ----------------------------------------------------------------------------------------------
# JPEG
# ----------------------------------------------------------------------------------------------

def with_app1(jpeg, payloads):
    """Inserts APP1 segments right after SOI."""
    segs = b"".join(b"\xff\xe1" + struct.pack(">H", len(p) + 2) + p for p in payloads)
    return jpeg[:2] + segs + jpeg[2:]


def jpeg_files():
    out = []
    img = smooth_image(23, 37, 3)
    rgb = Image.fromarray(img[:, :, ::-1].copy())
    def pil_jpeg(im, **kw):
        buf = io.BytesIO()
        im.save(buf, "JPEG", **kw)
        return buf.getvalue()
    (FILES / "jpeg_420.jpg").write_bytes(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    (FILES / "jpeg_422.jpg").write_bytes(pil_jpeg(rgb, quality=85, subsampling=1))
    (FILES / "jpeg_444.jpg").write_bytes(pil_jpeg(rgb, quality=95, subsampling=0))
    (FILES / "jpeg_gray.jpg").write_bytes(pil_jpeg(rgb.convert("L"), quality=90))
    (FILES / "jpeg_progressive.jpg").write_bytes(pil_jpeg(rgb, quality=80, progressive=True))
    (FILES / "jpeg_restart.jpg").write_bytes(
        cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 75, cv2.IMWRITE_JPEG_RST_INTERVAL, 2])[1].tobytes())
    (FILES / "jpeg_cmyk.jpg").write_bytes(pil_jpeg(rgb.convert("CMYK"), quality=90))
    out += ["jpeg_420.jpg", "jpeg_422.jpg", "jpeg_444.jpg", "jpeg_gray.jpg", "jpeg_progressive.jpg", "jpeg_restart.jpg",
            "jpeg_cmyk.jpg"]
    plain = pil_jpeg(rgb, quality=90)
    for o in range(1, 9):
        (FILES / f"jpeg_exif{o}.jpg").write_bytes(with_app1(plain, [b"Exif\x00\x00" + exif_tiff(o)]))
        out.append(f"jpeg_exif{o}.jpg")
    gray_plain = pil_jpeg(rgb.convert("L"), quality=90)
    (FILES / "jpeg_gray_exif6_be.jpg").write_bytes(with_app1(gray_plain, [b"Exif\x00\x00" + exif_tiff(6, big_endian=True)]))
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    (FILES / "jpeg_xmp_then_exif6.jpg").write_bytes(with_app1(plain, [xmp, b"Exif\x00\x00" + exif_tiff(6)]))
    # A Make string pointing outside the data: OpenCV gives up on the directory before Orientation.
    bad_make = [(0x010F, 2, 64, struct.pack("<I", 5000))]
    (FILES / "jpeg_exif6_bad_make.jpg").write_bytes(with_app1(plain, [b"Exif\x00\x00" + exif_tiff(6, extra_first=bad_make)]))
    # A valid Make string before the Orientation.
    good_make = [(0x010F, 2, 4, b"abc\x00")]
    (FILES / "jpeg_exif3_make.jpg").write_bytes(with_app1(plain, [b"Exif\x00\x00" + exif_tiff(3, extra_first=good_make)]))
    out += ["jpeg_gray_exif6_be.jpg", "jpeg_xmp_then_exif6.jpg", "jpeg_exif6_bad_make.jpg", "jpeg_exif3_make.jpg"]
    return out


REAL = {
    "photo_ilsvrc.jpg": "datasets/ILSVRC2012/n03843555_315.JPEG",
    "photo_ilsvrc_gray.jpg": "datasets/ILSVRC2012/n02692877_16107.JPEG",
    "photo_wider.jpg": "datasets/WIDER/13_Interview_Interview_Sequences_13_248.jpg",
    "photo_ocr_word.jpg": "datasets/PPOCRCH/words/img_0383656.jpg",
}


def real_files():
    for name, rel in REAL.items():
        src = SHARED / rel
        if not (FILES / name).exists():
            if not src.exists():
                raise SystemExit(f"{src} is missing: the real photos come from ../shared (see shared/README.md)")
            shutil.copyfile(src, FILES / name)
    # A real RGBA picture for the rgba preprocessing: the ILSVRC photo with a gradient alpha.
    bgr = cv2.imread(str(FILES / "photo_ilsvrc.jpg"))
    alpha = np.linspace(0, 255, bgr.shape[1]).astype(np.uint8)[None, :].repeat(bgr.shape[0], 0)
    cv2.imwrite(str(FILES / "photo_rgba.png"), np.dstack([bgr, alpha]))
    return list(REAL) + ["photo_rgba.png"]


# ----------------------------------------------------------------------------------------------
# Oracles
# ----------------------------------------------------------------------------------------------

def tpu_mlir_read(path, pixel_format):
    """Step 1 of TPU-MLIR's preprocess: how it reads the file for a pixel format."""
    if pixel_format == "gray":
        return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if pixel_format == "rgba":
        im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if im is None or im.ndim < 3 or im.shape[-1] != 4:
            return np.array(Image.open(path).convert("RGBA"))
        return im[:, :, [2, 1, 0, 3]]
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def rgba_rejected(name):
    """Files mixq refuses with pixel_format rgba (deviations, see the compat notes)."""
    path = FILES / name
    if name.endswith(".png"):
        with open(path, "rb") as f:
            head = f.read(33)
        return head[24] == 16  # 16-bit: TPU-MLIR would feed 0..65535, or PIL's clipped gray
    if name.endswith(".bmp"):
        return name.startswith("bmp16") or "_rle" in name  # PIL: other 5-bit expansion, other RLE escapes
    return name == "jpeg_cmyk.jpg"


def resize_step(im, c):
    """Step 2: stretch, letterbox or short-side scale to resize_dims."""
    h, w = c["resize"]
    if not c["keep"]:
        return cv2.resize(im, (w, h))
    ih, iw = im.shape[:2]
    if c["mode"] == "letterbox":
        s = min(w / iw, h / ih)
        rw, rh = int(iw * s), int(ih * s)
        small = cv2.resize(im, (rw, rh))
        canvas = np.full((h, w) + im.shape[2:], c["pad_value"], np.uint8)
        x0, y0 = ((w - rw) // 2, (h - rh) // 2) if c["pad_type"] == "center" else (0, 0)
        canvas[y0:y0 + rh, x0:x0 + rw] = small
        return canvas
    s = max(w / iw, h / ih)
    rw = int(iw * s) if iw * s >= w else w
    rh = int(ih * s) if ih * s >= h else h
    big = cv2.resize(im, (rw, rh))
    y0 = (rh - h) // 2 if rh > h else 0
    x0 = (rw - w) // 2 if rw > w else 0
    return big[y0:y0 + h, x0:x0 + w]


def preprocess(path, c):
    """TPU-MLIR's preprocess.run for one image (batch 1)."""
    im = resize_step(tpu_mlir_read(path, c["pixel_format"]), c)
    x = im[None, :, :] if im.ndim == 2 else im.transpose(2, 0, 1)  # C,H,W
    x = x[None]
    nchw = c["channel_format"] == "nchw"
    shape = c["shape"]
    nh, nw = (shape[2], shape[3]) if nchw and len(shape) == 4 else ((shape[1], shape[2]) if len(shape) == 4 else (shape[1], shape[2]))
    rh, rw = x.shape[2:]
    if (rh, rw) != (nh, nw):
        y0, x0 = rh // 2 - nh // 2, rw // 2 - nw // 2
        x = x[:, :, y0:y0 + nh, x0:x0 + nw]
    x = x.astype(np.float32)
    cn = x.shape[1]
    mean = np.array(c["mean"], np.float64).astype(np.float32)
    scale = np.array(c["scale"], np.float64).astype(np.float32)
    if c["pixel_format"] == "gray":
        mean, scale = mean[:1], scale[:1]
    elif c["pixel_format"] == "rgb":
        x = x[:, [2, 1, 0]]
    mean = np.broadcast_to(mean, (cn,))[None, :, None, None]
    scale = np.broadcast_to(scale, (cn,))[None, :, None, None]
    x = (x - mean) * scale
    if not nchw:
        x = x.transpose(0, 2, 3, 1)
    if len(shape) == 3:
        x = x.reshape(1, nh, nw)
    return np.ascontiguousarray(x, np.float32)


def case(name, shape, pixel_format="bgr", channel_format="nchw", resize=None, keep=False, mode="letterbox", pad_value=0,
         pad_type="center", mean=(0, 0, 0), scale=(1, 1, 1), images=()):
    if resize is None:
        resize = (shape[1], shape[2]) if channel_format == "nhwc" else (shape[-2], shape[-1])
    return dict(name=name, shape=list(shape), pixel_format=pixel_format, channel_format=channel_format, resize=list(resize),
                keep=keep, mode=mode, pad_value=pad_value, pad_type=pad_type, mean=list(mean), scale=list(scale),
                images=list(images))


IMAGENET = dict(mean=(123.675, 116.28, 103.53), scale=(0.0171, 0.0175, 0.0174))
CASES = [
    case("stretch_down", (1, 3, 40, 56), images=["photo_wider.jpg", "photo_ilsvrc.jpg", "jpeg_exif6.jpg"]),
    case("stretch_up_odd", (1, 3, 157, 203), images=["photo_ilsvrc.jpg", "png_palette4.png", "bmp8_rle.bmp"]),
    case("half_exact", (1, 1, 288, 512), pixel_format="gray", images=["photo_wider.jpg"]),
    case("letterbox_center", (1, 3, 64, 64), keep=True, pad_value=114, pixel_format="rgb", mean=(0, 0, 0),
         scale=(1 / 255.0, 1 / 255.0, 1 / 255.0), images=["photo_wider.jpg", "photo_ocr_word.jpg", "photo_ilsvrc.jpg"]),
    case("letterbox_normal", (1, 3, 48, 80), keep=True, pad_type="normal", images=["photo_ilsvrc.jpg", "photo_ocr_word.jpg"]),
    case("short_side", (1, 3, 50, 50), keep=True, mode="short_side_scale", **IMAGENET,
         images=["photo_wider.jpg", "photo_ocr_word.jpg", "photo_ilsvrc.jpg"]),
    case("resize_crop", (1, 3, 48, 40), pixel_format="rgb", resize=(60, 52), **IMAGENET,
         images=["photo_ilsvrc.jpg", "photo_wider.jpg"]),
    case("letterbox_crop", (1, 3, 30, 30), keep=True, pad_value=7, resize=(36, 40), images=["photo_ocr_word.jpg"]),
    case("gray", (1, 1, 48, 96), pixel_format="gray", mean=(127.5, 0, 0), scale=(1 / 127.5, 1, 1),
         images=["photo_ocr_word.jpg", "photo_ilsvrc_gray.jpg", "photo_wider.jpg", "png_rgb8_gamma.png"]),
    case("gray_letterbox", (1, 1, 32, 32), pixel_format="gray", keep=True, pad_value=255, images=["photo_ocr_word.jpg"]),
    case("gray_3d", (2, 24, 20), pixel_format="gray", mean=(10,), scale=(0.5,), images=["photo_ilsvrc.jpg"]),
    case("rgba", (1, 4, 33, 31), pixel_format="rgba", mean=(1, 2, 3, 4), scale=(0.5, 0.25, 2, 1),
         images=["photo_rgba.png", "photo_ilsvrc.jpg", "png_palette8_trns.png", "png_gray_alpha8.png", "bmp32.bmp"]),
    case("rgba_short_side", (1, 4, 20, 20), pixel_format="rgba", keep=True, mode="short_side_scale", mean=(0,), scale=(1,),
         images=["photo_rgba.png"]),
    case("nhwc", (1, 36, 44, 3), pixel_format="rgb", channel_format="nhwc", **IMAGENET, images=["photo_ilsvrc.jpg", "photo_wider.jpg"]),
    case("nhwc_letterbox", (1, 30, 50, 3), channel_format="nhwc", keep=True, pad_value=128, images=["photo_ocr_word.jpg"]),
    case("mean_broadcast", (1, 3, 17, 19), mean=(100,), scale=(0.01,), images=["photo_ilsvrc.jpg"]),
]


def main():
    if FILES.exists():
        for f in FILES.iterdir():
            if f.name not in REAL:
                f.unlink()
    FILES.mkdir(exist_ok=True)
    names = real_files() + jpeg_files() + png_files() + bmp_files()
    decoded, rejected = {}, []
    for name in names:
        path = FILES / name
        decoded[f"{name}|color"] = cv2.imread(str(path), cv2.IMREAD_COLOR)
        decoded[f"{name}|gray"] = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if rgba_rejected(name):
            rejected.append(name)
        else:
            decoded[f"{name}|rgba"] = tpu_mlir_read(path, "rgba")
        for k in (f"{name}|color", f"{name}|gray", f"{name}|rgba"):
            if k in decoded and (decoded[k] is None or decoded[k].dtype != np.uint8):
                raise SystemExit(f"cv2/PIL could not read {k}")
    # Keep the big photo's pixels out of the npz (it stays under 2 MB): the checksum file covers it.
    for k in [k for k in decoded if k.startswith("photo_wider.jpg|")]:
        del decoded[k]
    save_npz(HERE / "decoded.npz", decoded)
    (HERE / "rgba_rejected.txt").write_text("".join(n + "\n" for n in rejected))

    resized = {}
    sizes = [(1, 1), (1, 7), (5, 1), (2, 2), (13, 9), (26, 18), (40, 31), (17, 33)]
    for i, (sw, sh) in enumerate(sizes):
        for cn in (1, 3, 4):
            key = f"{i}_{cn}"
            src = rng.integers(0, 256, (sh, sw, cn), dtype=np.uint8)
            resized[f"src|{key}"] = src
            for dw, dh in {(1, 1), (3, 2), (sw * 2, sh * 2), (max(1, sw // 2), max(1, sh // 2)), (sw, max(1, sh - 1)),
                           (sw + 5, sh + 3), (37, 23), (8, 40), (sw * 3, max(1, sh // 3))}:
                out = cv2.resize(src if cn > 1 else src[:, :, 0], (dw, dh))
                resized[f"dst|{key}|{dw}|{dh}"] = out.reshape(dh, dw, cn)
    save_npz(HERE / "resized.npz", resized)

    pre, lines = {}, []
    for c in CASES:
        fmt = lambda v: ",".join(repr(float(x)) for x in v)
        lines.append("|".join([c["name"], ",".join(map(str, c["shape"])), c["pixel_format"], c["channel_format"],
                               ",".join(map(str, c["resize"])), str(int(c["keep"])), c["mode"], str(c["pad_value"]),
                               c["pad_type"], fmt(c["mean"]), fmt(c["scale"])]))
        for img in c["images"]:
            pre[f"{c['name']}|{img}"] = preprocess(FILES / img, c)
    (HERE / "preprocess_cases.txt").write_text("\n".join(lines) + "\n")
    save_npz(HERE / "preprocessed.npz", pre)

    # tests/integration/image_input.cmake passes these as model_transform flags.
    for label, c in (("stretch", case("mt", (1, 3, 128, 128), pixel_format="rgb", mean=(1, 1, 1), scale=(0.0078, 0.0078, 0.0078))),
                     ("letterbox", case("mt", (1, 3, 128, 128), resize=(160, 144), keep=True, pad_value=114, pad_type="center",
                                        mean=(104, 117, 123), scale=(0.5, 0.5, 0.5)))):
        save_npz(HERE / f"model_transform_{label}_in_f32.npz", {"x.1": preprocess(FILES / "photo_ilsvrc.jpg", c)})

    sample = []
    for sub, count in (("ILSVRC2012", 8), ("WIDER", 6), ("PPOCRCH/raw", 3), ("PPOCRCH/words", 3), ("COCO2017", 2)):
        files = sorted(p for p in (SHARED / "datasets" / sub).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        sample += files[:: max(1, len(files) // count)][:count]
    out = []
    for p in sample:
        rel = p.relative_to(SHARED).as_posix()
        color = cv2.imread(str(p), cv2.IMREAD_COLOR)
        gray = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        for mode, im in (("color", color), ("gray", gray), ("resize224", cv2.resize(color, (224, 224)))):
            h, w = im.shape[:2]
            ch = 1 if im.ndim == 2 else im.shape[2]
            out.append(f"{rel}|{mode}|{h}|{w}|{ch}|{zlib.crc32(np.ascontiguousarray(im).tobytes()) & 0xFFFFFFFF}")
    (HERE / "shared_checksums.txt").write_text("\n".join(out) + "\n")
    total = sum(f.stat().st_size for f in HERE.rglob("*") if f.is_file())
    print(f"wrote {len(names)} images, {len(decoded)} decoded arrays, {len(pre)} preprocessed tensors, "
          f"{len(out)} shared checksums; tests/data/image is {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
