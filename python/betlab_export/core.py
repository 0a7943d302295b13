"""The numpy core: betlab architecture specs, the .npz that `betlab import`
reads (betlab-format(5), IMPORT), and a numpy forward pass of the exported
binarized model (the float reference whose predictions become
`reference.pred`).

Conventions of what this module writes (so the importer has nothing to
guess): layout 0 (dense [out, in], conv [out, in, 3, 3] = PyTorch OIHW),
flatten_chw 0 (the exporter has already permuted the columns of a dense
layer that follows a multi-channel feature map from the float model's
flatten order to betlab's H,W,C), and an explicit bn_before_pool."""
import re

import numpy as np

__all__ = ["parse_arch", "module_arrays", "reference_predict", "save_npz", "input_encoding"]

_ALIASES = {"fc": "28x28x1-2048-2048-10", "vgg3": "28x28x1-c64-p-c64-p-2048-10"}


def parse_arch(spec):
    """betlab's one-line spec -> (input (h, w, c), layers).  Layers in
    betlab's order: dicts with kind 'conv' (name, cin, cout, shape_in),
    'pool' (shape_in), 'bn' (name, c), 'dense' (name, cols, rows, flat_in:
    the (h, w, c) map it flattens)."""
    spec = _ALIASES.get(spec, spec)
    toks = spec.split("-")
    m = re.fullmatch(r"(\d+)x(\d+)x(\d+)", toks[0])
    if m:
        shape = tuple(int(v) for v in m.groups())
        toks = toks[1:]
    else:
        shape = (1, 1, int(toks[0]))
        toks = toks[1:]
    layers, cur, nconv, nfc, nbn = [], shape, 0, 0, 0
    weight_idx = [i for i, t in enumerate(toks) if t != "p"]
    for i, t in enumerate(toks):
        last = i == weight_idx[-1]
        if t == "p":
            layers.append({"kind": "pool", "shape_in": cur})
            cur = (cur[0] // 2, cur[1] // 2, cur[2])
        elif t.startswith("c"):
            nconv += 1
            cout = int(t[1:])
            layers.append({"kind": "conv", "name": "conv%d" % nconv, "cin": cur[2], "cout": cout,
                           "shape_in": cur})
            cur = (cur[0], cur[1], cout)
        else:
            nfc += 1
            rows = int(t)
            layers.append({"kind": "dense", "name": "fc%d" % nfc, "cols": cur[0] * cur[1] * cur[2],
                           "rows": rows, "flat_in": cur})
            cur = (1, 1, rows)
        if t != "p" and not last:
            pool_next = i + 1 < len(toks) and toks[i + 1] == "p"
            bn = {"kind": "bn", "c": cur[2]}
            if pool_next:
                layers.append(None)  # placeholder: after the pool
            else:
                nbn += 1
                bn["name"] = "bn%d" % nbn
                layers.append(bn)
        if t == "p" and None in layers:
            k = layers.index(None)
            layers.pop(k)
            nbn += 1
            layers.append({"kind": "bn", "name": "bn%d" % nbn, "c": cur[2]})
    return shape, layers


def weight_layers(spec):
    return [l for l in parse_arch(spec)[1] if l["kind"] in ("conv", "dense")]


def _chw_to_hwc_cols(w, flat_in):
    """Dense weight [out, h*w*c] in C,H,W column order -> H,W,C order."""
    h, wd, c = flat_in
    if h * wd <= 1 or c <= 1:
        return w
    return w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def hwc_to_chw_cols(w, flat_in):
    h, wd, c = flat_in
    if h * wd <= 1 or c <= 1:
        return w
    return w.reshape(w.shape[0], h, wd, c).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)


def module_arrays(arch, weights, bns, out_bn=None, flatten="chw", bn_before_pool=False,
                  normalize=None, input_scale=None, input_zero=None, out_scale=None,
                  out_bias=None):
    """The arrays of betlab's .npz from a float BNN's parameters.

    weights: [(W, b or None)] per weight layer, in order, PyTorch layout
        (dense [out, in], conv [out, in, 3, 3]);
    bns: [dict(weight=, bias=, running_mean=, running_var=, eps=)] per
        hidden weight layer (gamma/beta may be None);
    out_bn: optional batch norm after the last layer;
    flatten: how the float model flattened a feature map ('chw' PyTorch,
        'hwc' Keras); the columns are permuted here to betlab's HWC;
    normalize: (mean, std) of torchvision's Normalize after ToTensor, or
        input_scale / input_zero (q - zero) * scale; may be non-integer
        (betlab folds it into the first layer);
    out_scale, out_bias: a plain output affine (scalar or per class)."""
    wl = weight_layers(arch)
    if len(weights) != len(wl):
        raise ValueError("architecture %r has %d weight layers, the model %d"
                         % (arch, len(wl), len(weights)))
    if len(bns) != len(wl) - 1:
        raise ValueError("architecture %r needs %d batch norms (one per hidden layer), the "
                         "model has %d" % (arch, len(wl) - 1, len(bns)))
    a = {"layout": np.int64(0), "flatten_chw": np.int64(0),
         "bn_before_pool": np.int64(1 if bn_before_pool else 0)}
    for l, (w, b) in zip(wl, weights):
        w = np.asarray(w, dtype=np.float32)
        if l["kind"] == "dense":
            if w.shape != (l["rows"], l["cols"]):
                raise ValueError("%s: weight shape %s, expected [%d, %d] ([out, in])"
                                 % (l["name"], w.shape, l["rows"], l["cols"]))
            if flatten == "chw":
                w = _chw_to_hwc_cols(w, l["flat_in"])
        elif w.shape != (l["cout"], l["cin"], 3, 3):
            raise ValueError("%s: weight shape %s, expected [%d, %d, 3, 3] (OIHW)"
                             % (l["name"], w.shape, l["cout"], l["cin"]))
        a[l["name"] + ".weight"] = w
        if b is not None:
            a[l["name"] + ".bias"] = np.asarray(b, dtype=np.float32)
    bn_names = [l["name"] for l in parse_arch(arch)[1] if l["kind"] == "bn"]
    for name, bn in list(zip(bn_names, bns)) + ([("out", out_bn)] if out_bn is not None else []):
        for k in ("weight", "bias", "running_mean", "running_var"):
            if bn.get(k) is not None:
                a["%s.%s" % (name, k)] = np.asarray(bn[k], dtype=np.float64)
        a[name + ".eps"] = np.float64(bn.get("eps", 1e-5))
    if normalize is not None:
        a["input.mean"] = np.float64(normalize[0])
        a["input.std"] = np.float64(normalize[1])
    if input_scale is not None:
        a["input.scale"] = np.float64(input_scale)
    if input_zero is not None:
        a["input.zero"] = np.float64(input_zero)
    if out_scale is not None:
        a["out.weight"] = np.asarray(out_scale, dtype=np.float64)
    if out_bias is not None:
        a["out.bias"] = np.asarray(out_bias, dtype=np.float64)
    return a


def input_encoding(a):
    """(scale, zero) of the real inputs: x = (q - zero) * scale."""
    if "input.mean" in a:
        return 1.0 / (255.0 * float(a["input.std"])), 255.0 * float(a["input.mean"])
    return float(a.get("input.scale", 1.0 / 255.0)), float(a.get("input.zero", 0.0))


def _sign(v):
    return np.where(v >= 0, 1.0, -1.0)


def _bn(a, name, v):
    g = a.get(name + ".weight", 1.0)
    b = a.get(name + ".bias", 0.0)
    eps = float(a.get(name + ".eps", 1e-5))
    return np.asarray(g, np.float64) * (v - a[name + ".running_mean"]) / np.sqrt(
        np.asarray(a[name + ".running_var"], np.float64) + eps) + np.asarray(b, np.float64)


def _conv3(x, w):
    n, h, wd, c = x.shape
    p = np.zeros((n, h + 2, wd + 2, c))
    p[:, 1:-1, 1:-1] = x
    cols = np.stack([p[:, ky:ky + h, kx:kx + wd] for ky in range(3) for kx in range(3)], axis=3)
    wm = _sign(np.asarray(w, np.float64)).transpose(2, 3, 1, 0).reshape(9 * c, -1)
    return (cols.reshape(n * h * wd, 9 * c) @ wm).reshape(n, h, wd, -1)


def _pool(x):
    n, h, w, c = x.shape
    return x[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def reference_predict(a, arch, x, batch=1000):
    """Class per input of the binarized float model that the arrays `a`
    describe (as written by module_arrays): x are 8-bit codes [n, h, w, c]
    or [n, h*w*c]."""
    shape, layers = parse_arch(arch)
    x = np.asarray(x)
    out = []
    for s in range(0, x.shape[0], batch):
        out.append(_forward(a, layers, shape, x[s:s + batch]))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _forward(a, layers, shape, q):
    scale, zero = input_encoding(a)
    v = (q.reshape((q.shape[0],) + tuple(shape)).astype(np.float64) - zero) * scale
    before = bool(int(a.get("bn_before_pool", 1)))
    i = 0
    while i < len(layers):
        l = layers[i]
        if l["kind"] == "conv":
            v = _conv3(v, a[l["name"] + ".weight"]) + a.get(l["name"] + ".bias", 0.0)
            if before and i + 2 < len(layers) and layers[i + 1]["kind"] == "pool":
                v = _pool(_sign(_bn(a, layers[i + 2]["name"], v)))
                i += 3
                continue
        elif l["kind"] == "pool":
            v = _pool(v)
        elif l["kind"] == "bn":
            v = _sign(_bn(a, l["name"], v))
        else:
            v = v.reshape(v.shape[0], -1) @ _sign(np.asarray(a[l["name"] + ".weight"],
                                                              np.float64)).T
            v = v + a.get(l["name"] + ".bias", 0.0)
            v = v.reshape(v.shape[0], 1, 1, -1)
        i += 1
    s = v.reshape(v.shape[0], -1)
    if "out.running_mean" in a:
        s = _bn(a, "out", s)
    else:
        s = s * np.asarray(a.get("out.weight", 1.0), np.float64) + np.asarray(
            a.get("out.bias", 0.0), np.float64)
    return np.argmax(s, axis=1).astype(np.int64)


def save_npz(path, a, arch=None, data=None, reference_pred=None):
    """Write the arrays (numpy.savez).  With data (8-bit codes) and no
    reference_pred, the numpy reference's predictions are stored as
    reference.pred; `betlab import --check DATA` compares them."""
    a = dict(a)
    if reference_pred is None and data is not None:
        reference_pred = reference_predict(a, arch, data)
    if reference_pred is not None:
        a["reference.pred"] = np.asarray(reference_pred, dtype=np.int64)
    np.savez(path, **a)
    return a
