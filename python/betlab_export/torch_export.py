"""PyTorch: state_dict -> betlab .npz, and a fault map applied to a model.
torch is imported only inside these functions."""
from collections import OrderedDict

import numpy as np

from .core import module_arrays, save_npz, weight_layers
from .bfm import read_bfm, flip_masks

__all__ = ["state_dict_modules", "export_torch", "apply_bfm_torch"]


def _numpy_state(model_or_state_dict):
    sd = model_or_state_dict
    if hasattr(sd, "state_dict"):
        sd = sd.state_dict()
    out = OrderedDict()
    for k, v in sd.items():
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        out[k] = np.asarray(v)
    return out


def state_dict_modules(sd):
    """Modules of a state_dict in order: (prefix, kind, {field: array}),
    kind 'weight' (a 2-D or 4-D .weight), 'bn' (.running_mean) or 'other'
    (the same order rule as `betlab import --names torch`)."""
    groups = OrderedDict()
    for k, v in sd.items():
        pre, _, field = k.rpartition(".")
        groups.setdefault(pre, {})[field] = v
    mods = []
    for pre, f in groups.items():
        if "running_mean" in f:
            kind = "bn"
        elif "weight" in f and np.ndim(f["weight"]) in (2, 4):
            kind = "weight"
        else:
            kind = "other"
        mods.append((pre, kind, f))
    return mods


def export_torch(model_or_state_dict, path, arch, normalize=None, input_scale=None,
                 input_zero=None, bn_before_pool=False, flatten="chw", data=None,
                 reference_pred=None, out_scale=None):
    """Write betlab's .npz for a PyTorch BNN (a module or its state_dict):
    weight modules in order become conv1.., fc1..; batch norms bn1..; a
    batch norm after the last weight layer becomes the output affine.
    normalize=(mean, std) as in torchvision's Normalize.  With data (8-bit
    codes [n, h, w, c]) the predictions (reference_pred, else the numpy
    reference's) are stored as reference.pred.  Returns the arrays and the
    torch module name of every betlab layer."""
    sd = _numpy_state(model_or_state_dict)
    mods = state_dict_modules(sd)
    ws = [(p, f) for p, k, f in mods if k == "weight"]
    bns = [(p, f) for p, k, f in mods if k == "bn"]
    nw = len(weight_layers(arch))
    if len(ws) != nw:
        raise ValueError("architecture %r has %d weight layers; the state_dict has %d modules "
                         "with a 2-D or 4-D weight: %s" % (arch, nw, len(ws), [p for p, _ in ws]))
    out_bn = None
    if len(bns) == nw:
        out_bn = dict(bns[-1][1], eps=1e-5)
        bns = bns[:-1]
    a = module_arrays(arch, [(f["weight"], f.get("bias")) for _, f in ws],
                      [dict(f, eps=1e-5) for _, f in bns], out_bn=out_bn, flatten=flatten,
                      bn_before_pool=bn_before_pool, normalize=normalize,
                      input_scale=input_scale, input_zero=input_zero, out_scale=out_scale)
    save_npz(path, a, arch, data, reference_pred)
    names = {l["name"]: p for l, (p, _) in zip(weight_layers(arch), ws)}
    return a, names


def apply_bfm_torch(model, bfm, arch, flatten="chw"):
    """Flip, in place, the signs of the model's weights that a betlab fault
    map (path or read_bfm entries) flips, so the model predicts like
    `betlab eval --map`.  Returns the number of flipped weights."""
    import torch

    entries = read_bfm(bfm) if isinstance(bfm, str) else bfm
    masks = flip_masks(entries, arch, flatten)
    params = dict(model.named_parameters())
    ws = [p for p, k, _ in state_dict_modules(_numpy_state(model)) if k == "weight"]
    flipped = 0
    with torch.no_grad():
        for l, pre in zip(weight_layers(arch), ws):
            m = masks.get(l["name"])
            if m is None:
                continue
            w = params[pre + ".weight"]
            mt = torch.as_tensor(m, device=w.device)
            tiny = torch.finfo(w.dtype).tiny
            w[mt] = torch.where(w[mt] == 0, torch.full_like(w[mt], -tiny), -w[mt])
            flipped += int(m.sum())
    return flipped
