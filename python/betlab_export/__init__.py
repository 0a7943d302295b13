"""betlab_export: bring PyTorch and Larq BNNs into betlab (`betlab import`)
and take betlab's fault maps back out.  numpy only at the core; torch is
imported only by the torch functions, TensorFlow/Larq never directly."""
from .core import parse_arch, module_arrays, reference_predict, save_npz, input_encoding
from .bfm import read_bfm, flip_masks, apply_masks
from .torch_export import export_torch, apply_bfm_torch, state_dict_modules
from .larq_export import export_larq

__all__ = ["parse_arch", "module_arrays", "reference_predict", "save_npz", "input_encoding",
           "read_bfm", "flip_masks", "apply_masks", "export_torch", "apply_bfm_torch",
           "state_dict_modules", "export_larq", "load_codes"]


def load_codes(path):
    """8-bit codes [n, h, w, c] and labels from an IDX(.gz) pair or a .npz
    with x/y (the data files betlab reads), for data= and comparisons."""
    import gzip
    import numpy as np
    if path.endswith(".npz"):
        z = np.load(path)
        return z["x"], z["y"] if "y" in z else None
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        buf = f.read()
    dims = buf[3]
    shape = [int.from_bytes(buf[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    x = np.frombuffer(buf, np.uint8, offset=4 + 4 * dims).reshape(shape)
    return x, None
