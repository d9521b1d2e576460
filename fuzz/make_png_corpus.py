#!/usr/bin/env python3
"""Writes the seed corpus of the PNG fuzz target (fuzz/fuzz_png.cpp) into fuzz/corpus_png/.

Small PNGs, standard library only, deterministic: every colour type and bit depth the evaluation
decoder handles (8-bit gray, gray+alpha, RGB, RGBA, palette with and without tRNS, 16-bit gray),
each filter type 0-4 on some row, image data split over several IDAT chunks, widths of 1 and
odd widths, plus the variants it hands to stb_image (interlaced, 1-bit, 16-bit RGB).

    python3 fuzz/make_png_corpus.py [OUT_DIR]
"""
import os
import random
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind, body):
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filtered(rows, bpp):
    """Each row with a filter byte, cycling through filter types 0..4 (encoder side)."""
    out = bytearray()
    prior = bytes(len(rows[0]))
    for y, row in enumerate(rows):
        ftype = y % 5
        out.append(ftype)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            pred = (0, a, b, (a + b) // 2, paeth(a, b, c))[ftype]
            out.append((x - pred) & 0xFF)
        prior = row
    return bytes(out)


def png(width, height, depth, color, rng, interlace=0, idat_parts=1, palette=None, trns=None):
    channels = CHANNELS[color]
    row_bytes = (width * channels * depth + 7) // 8
    bpp = max(1, channels * depth // 8)
    rows = [bytes(rng.randrange(256) if color != 3 else rng.randrange(len(palette))
                  for _ in range(row_bytes)) for _ in range(height)]
    if interlace:  # pass structure not modelled: the decoder refuses interlaced files anyway
        data = b"".join(b"\0" + r for r in rows)
    else:
        data = filtered(rows, bpp)
    z = zlib.compress(data, 9)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace))
    if palette is not None:
        out += chunk(b"PLTE", bytes(v for entry in palette for v in entry))
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    out += chunk(b"tEXt", b"Comment\0atrous fuzz seed")
    step = max(1, (len(z) + idat_parts - 1) // idat_parts)
    for i in range(0, len(z), step):
        out += chunk(b"IDAT", z[i:i + step])
    return out + chunk(b"IEND", b"")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out_dir = argv[0] if argv else os.path.join(HERE, "corpus_png")
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(13)
    pal = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(6)]
    seeds = {
        "gray8.png": png(7, 6, 8, 0, rng),
        "gray16.png": png(5, 5, 16, 0, rng),
        "gray_alpha8.png": png(6, 5, 8, 4, rng),
        "rgb8.png": png(9, 7, 8, 2, rng, idat_parts=3),
        "rgba8.png": png(5, 6, 8, 6, rng),
        "palette8.png": png(8, 5, 8, 3, rng, palette=pal),
        "palette8_trns.png": png(3, 5, 8, 3, rng, palette=pal, trns=[0, 128, 255]),
        "rgb8_width1.png": png(1, 6, 8, 2, rng),
        "gray1_stb.png": png(13, 3, 1, 0, rng),
        "rgb16_stb.png": png(3, 3, 16, 2, rng),
        "rgb8_interlaced_stb.png": png(4, 4, 8, 2, rng, interlace=1),
    }
    for name, data in seeds.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {out_dir}")


if __name__ == "__main__":
    main()
