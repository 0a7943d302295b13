#!/usr/bin/env python3
"""read_bfm on a map that `betlab eval --save-map` wrote, and its checks.
    python3 python/tests/test_bfm.py BETLAB WORKDIR"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import betlab_export as bx  # noqa: E402

BL, W = sys.argv[1], sys.argv[2]
os.makedirs(W, exist_ok=True)
m = os.path.join(W, "f.bfm")
subprocess.run([BL, "eval", "-m", "random:fc@3", "-d", "fashion-mnist:test", "-n", "10",
                "--fault", "bitflip:p=0.001", "--save-map", m], check=True,
               capture_output=True)
ent = bx.read_bfm(m)
assert [e["layer"] for e in ent] == ["fc1", "fc2", "fc3"], ent
assert all(e["target"] == "weights" for e in ent)
# fc1: 2048 rows of 13 words (784 bits)
assert ent[0]["nbits"] == 2048 * 13 * 64
masks = bx.flip_masks(ent, "fc")
assert masks["fc1"].shape == (2048, 784) and masks["fc3"].shape == (10, 2048)
assert sum(int(v.sum()) for v in masks.values()) == sum(len(e["positions"]) for e in ent)
# the share of flipped weights is near the BER
frac = sum(int(v.sum()) for v in masks.values()) / (2048 * 784 + 2048 * 2048 + 10 * 2048)
assert 0.0005 < frac < 0.002, frac
w = np.array([[0.5, -0.0, 0.0, -2.0]], np.float32)
f = bx.apply_masks(w, np.array([[True, True, True, False]]))
assert (np.where(f >= 0, 1, -1) == [[-1, -1, -1, -1]]).all(), f
buf = bytearray(open(m, "rb").read())
for what, edit in [("CRC", lambda b: b.__setitem__(100, b[100] ^ 1)),
                   ("magic", lambda b: b.__setitem__(0, 0)),
                   ("version", lambda b: b.__setitem__(8, 2))]:
    b = bytearray(buf)
    edit(b)
    p = os.path.join(W, "bad.bfm")
    open(p, "wb").write(b)
    try:
        bx.read_bfm(p)
        raise SystemExit("a map with a bad %s was accepted" % what)
    except ValueError as e:
        print("ok: bad %s: %s" % (what, e))
print("ok: read_bfm")
