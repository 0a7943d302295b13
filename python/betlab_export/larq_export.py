"""Larq / Keras: a Sequential-style model -> betlab .npz.  TensorFlow and
Larq are imported by the caller's model only; nothing here imports them."""
import numpy as np

from .core import module_arrays, save_npz

__all__ = ["export_larq"]


def _bn(layer):
    cfg = layer.get_config()
    w = list(layer.get_weights())
    d = {"eps": float(cfg.get("epsilon", 1e-3))}
    d["weight"] = w.pop(0) if cfg.get("scale", True) else None
    d["bias"] = w.pop(0) if cfg.get("center", True) else None
    d["running_mean"], d["running_var"] = w[0], w[1]
    return d


def export_larq(keras_model, path, arch, normalize=None, input_scale=None, input_zero=None,
                data=None, reference_pred=None):
    """Write betlab's .npz for a Larq/Keras BNN: (Quant)Conv2D kernels
    [3, 3, in, out] -> [out, in, 3, 3], (Quant)Dense kernels [in, out] ->
    [out, in], BatchNormalization (eps saved; Keras' default is 1e-3), a
    batch norm after the last layer as the output affine.  Keras flattens
    H,W,C like betlab."""
    weights, bns, order = [], [], []
    bn_before_pool = None
    for layer in keras_model.layers:
        cls = type(layer).__name__
        if cls.endswith("Conv2D"):
            w = layer.get_weights()
            weights.append((np.transpose(w[0], (3, 2, 0, 1)), w[1] if len(w) > 1 else None))
            order.append("w")
        elif cls.endswith("Dense"):
            w = layer.get_weights()
            weights.append((np.transpose(w[0]), w[1] if len(w) > 1 else None))
            order.append("w")
        elif cls == "BatchNormalization":
            bns.append(_bn(layer))
            if order and order[-1] == "w" and bn_before_pool is None:
                bn_before_pool = True
            order.append("bn")
        elif cls.startswith("MaxPool"):
            if order and order[-1] == "w":
                bn_before_pool = False
            order.append("p")
    out_bn = bns.pop() if len(bns) == len(weights) else None
    a = module_arrays(arch, weights, bns, out_bn=out_bn, flatten="hwc",
                      bn_before_pool=bool(bn_before_pool), normalize=normalize,
                      input_scale=input_scale, input_zero=input_zero)
    save_npz(path, a, arch, data, reference_pred)
    return a
