#!/usr/bin/env python3
"""Regenerate the numpy-written fixtures used by tests/unit/test_data_npy.c.
Needs numpy (only for regenerating; the tests use the committed files)."""
import os
import numpy as np

d = os.path.dirname(os.path.abspath(__file__))
p = lambda n: os.path.join(d, n)

np.save(p("np_f32_c.npy"), np.arange(12, dtype="<f4").reshape(3, 4) / 4)
np.save(p("np_f64_fortran.npy"), np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4)))
with open(p("np_i8_v2.npy"), "wb") as f:
    np.lib.format.write_array(f, np.array([5, -7, 1 << 40], dtype="<i8"), version=(2, 0))
np.savez(p("np_savez.npz"), x=np.arange(16, dtype=np.uint8).reshape(4, 2, 2),
         y=np.array([3, 1, 0, 2], dtype=np.int64), flags=np.array([True, False, True]))
np.savez_compressed(p("np_savez_compressed.npz"),
                    x=np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3),
                    y=np.array([0, 1, 2, 1, 0], dtype=np.int32))
