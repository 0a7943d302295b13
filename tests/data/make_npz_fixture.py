#!/usr/bin/env python3
"""Write tests/data/import_6-4-3.npz and import_6-4-3_compressed.npz: a tiny
6-4-3 float BNN as numpy.savez would save a renamed PyTorch state_dict.
test_import_npz.c knows these formulas; the tests never run Python.
Run from the repository root: python3 tests/data/make_npz_fixture.py"""
import numpy as np

r = np.arange(4)[:, None]
j = np.arange(6)[None, :]
arrays = {
    "fc1.weight": (((r * 7 + j * 3) % 5) - 2).astype(np.float32),          # [out, in]
    "fc1.bias": (0.25 * np.arange(4)).astype(np.float32),
    "bn1.weight": np.array([1, -1, 0.5, 0], dtype=np.float64),             # gamma
    "bn1.bias": np.array([0, 0.5, -0.5, -1], dtype=np.float64),            # beta
    "bn1.running_mean": np.arange(4, dtype=np.float64) - 1.5,
    "bn1.running_var": np.arange(4, dtype=np.float64) + 0.5,
    "bn1.num_batches_tracked": np.array(100, dtype=np.int64),
    "fc2.weight": (((np.arange(3)[:, None] + 2 * np.arange(4)[None, :]) % 3) - 1).astype(np.float32),
    "input.scale": np.array(1 / 64, dtype=np.float32),
    "input.zero": np.array(10, dtype=np.int64),
}
np.savez("tests/data/import_6-4-3.npz", **arrays)
np.savez_compressed("tests/data/import_6-4-3_compressed.npz", **arrays)
