"""betlab's fault maps (.bfm, betlab-format(5) FAULT MAPS) in numpy: read a
map, turn its weight entries into sign-flip masks in the float model's
weight layout, and flip those weights (numpy arrays or a PyTorch model)."""
import struct
import zlib

import numpy as np

from .core import weight_layers, hwc_to_chw_cols

__all__ = ["read_bfm", "flip_masks", "apply_masks", "TARGETS"]

TARGETS = {0: "weights", 1: "thresholds"}
_MAGIC = b"BLFMAP\0\1"


def read_bfm(path):
    """[{'layer', 'target' ('weights'|'thresholds'), 'nbits', 'positions'
    (uint64 array)}], with the checks betlab makes (magic, major version 1,
    size, CRC-32, bounds, order)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 28 or buf[:8] != _MAGIC:
        raise ValueError("%s: not a betlab fault map (bad magic)" % path)
    major, minor, n, size = struct.unpack_from("<HHIQ", buf, 8)
    if major != 1:
        raise ValueError("%s: fault map version %d.%d is not supported (reads 1.x)"
                         % (path, major, minor))
    if size != len(buf):
        raise ValueError("%s: size field %d, file has %d bytes" % (path, size, len(buf)))
    crc, = struct.unpack_from("<I", buf, len(buf) - 4)
    if zlib.crc32(buf[:-4]) & 0xffffffff != crc:
        raise ValueError("%s: CRC mismatch" % path)
    off, out = 24, []
    for _ in range(n):
        if off + 64 > len(buf) - 4:
            raise ValueError("%s: entry at byte %d is truncated" % (path, off))
        name = buf[off:off + 32].split(b"\0", 1)[0].decode()
        target, _r, nbits, count, _r2 = struct.unpack_from("<IIQQQ", buf, off + 32)
        off += 64
        if off + 8 * count > len(buf) - 4:
            raise ValueError("%s: positions of '%s' run past the end" % (path, name))
        pos = np.frombuffer(buf, dtype="<u8", count=count, offset=off).astype(np.uint64)
        off += 8 * count
        if count and (np.any(np.diff(pos.astype(np.int64)) <= 0) or pos[-1] >= nbits):
            raise ValueError("%s: positions of '%s' are out of order or beyond %d bits"
                             % (path, name, nbits))
        out.append({"layer": name, "target": TARGETS.get(target, str(target)),
                    "nbits": int(nbits), "positions": pos})
    if off != len(buf) - 4:
        raise ValueError("%s: %d bytes after the last entry" % (path, len(buf) - 4 - off))
    return out


def flip_masks(entries, arch, flatten="chw"):
    """{betlab layer name: bool mask} of the weights a map flips, shaped like
    the float model's weights (PyTorch layout: dense [out, in] with columns
    in the model's flatten order `flatten`, conv [out, in, 3, 3]).
    Threshold entries are skipped (a float model has no such bits)."""
    geo = {l["name"]: l for l in weight_layers(arch)}
    masks = {}
    for e in entries:
        if e["target"] != "weights":
            continue
        l = geo.get(e["layer"])
        if l is None:
            raise ValueError("fault map layer '%s' is not a weight layer of %r"
                             % (e["layer"], arch))
        p = e["positions"].astype(np.int64)
        if l["kind"] == "dense":
            wpr = (l["cols"] + 63) // 64
            if e["nbits"] != l["rows"] * wpr * 64:
                raise ValueError("%s: map has %d bits, the architecture %d"
                                 % (l["name"], e["nbits"], l["rows"] * wpr * 64))
            row, col = p // (wpr * 64), p % (wpr * 64)
            m = np.zeros((l["rows"], l["cols"]), bool)
            m[row, col] = True
            if flatten == "chw":
                m = hwc_to_chw_cols(m, l["flat_in"])
        else:
            wpt = (l["cin"] + 63) // 64
            wpr = 9 * wpt
            if e["nbits"] != l["cout"] * wpr * 64:
                raise ValueError("%s: map has %d bits, the architecture %d"
                                 % (l["name"], e["nbits"], l["cout"] * wpr * 64))
            row, rb = p // (wpr * 64), p % (wpr * 64)
            tap, ch = rb // (wpt * 64), rb % (wpt * 64)
            m = np.zeros((l["cout"], l["cin"], 3, 3), bool)
            m[row, ch, tap // 3, tap % 3] = True
        masks[l["name"]] = m
    return masks


def apply_masks(w, mask):
    """Weights with the masked signs flipped: binarization is w >= 0 -> +1,
    so a zero becomes a small negative number."""
    w = np.array(w, copy=True)
    f = w[mask]
    w[mask] = np.where(f == 0, -np.finfo(w.dtype).tiny, -f)
    return w
