#!/usr/bin/env python3
"""The exporter's numpy core round-trips through `betlab import`: synthetic
float BNNs (dense and conv, integer and non-integer normalisation, torch
and larq names, a scalar output scale, a stray array) are exported, imported
with --check and compared image by image; `betlab eval --predictions` and
the .bfm reader are checked against betlab's own numbers.
    python3 python/tests/test_roundtrip.py BETLAB WORKDIR"""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import betlab_export as bx  # noqa: E402

BL, W = sys.argv[1], sys.argv[2]
fails = 0


def ok(cond, what):
    global fails
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        fails += 1


def run(*args):
    p = subprocess.run([BL] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def rand_model(rng, arch, gamma_neg=True):
    wl = bx.core.weight_layers(arch)
    ws, bns = [], []
    for k, l in enumerate(wl):
        shape = (l["rows"], l["cols"]) if l["kind"] == "dense" else (l["cout"], l["cin"], 3, 3)
        ws.append((rng.standard_normal(shape).astype(np.float32),
                   rng.standard_normal(shape[0]).astype(np.float32)))
        if k < len(wl) - 1:
            c = shape[0]
            g = rng.uniform(0.5, 2, c) * (np.where(rng.random(c) < 0.3, -1, 1) if gamma_neg else 1)
            bns.append({"weight": g, "bias": rng.standard_normal(c),
                        "running_mean": rng.standard_normal(c) * 3,
                        "running_var": rng.uniform(0.5, 4, c), "eps": 1e-5})
    return ws, bns


def data(rng, shape, n=300):
    x = rng.integers(0, 256, size=(n,) + shape, dtype=np.uint8)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    return x, y


def mismatches(out):
    for line in out.splitlines():
        if line.startswith("reference "):
            return int(line.split()[1])
    return None


rng = np.random.default_rng(7)
os.makedirs(W, exist_ok=True)
P = lambda f: os.path.join(W, f)  # noqa: E731

# 1. dense, Normalize(0.2860, 0.3530): folded exactly -> zero mismatches
arch = "8x8x1-48-32-10"
x, y = data(rng, (8, 8, 1))
np.savez(P("d8.npz"), x=x, y=y)
ws, bns = rand_model(rng, arch)
a = bx.module_arrays(arch, ws, bns, normalize=(0.2860, 0.3530))
ref = bx.save_npz(P("fc.npz"), a, arch, data=x)["reference.pred"]
rc, out = run("import", "--npz", P("fc.npz"), "--arch", arch, "--out", P("fc.bnn"),
              "--check", P("d8.npz"))
ok(rc == 0 and mismatches(out) == 0, "dense, Normalize(0.2860, 0.3530): 0 mismatches (%s)"
   % out.strip().splitlines()[-1])
ok("folded into the first layer, exact" in out, "the fold is reported as exact")
rc, out = run("eval", "-m", P("fc.bnn"), "-d", P("d8.npz"), "--predictions", P("p.npy"))
p = np.load(P("p.npy"))
ok(rc == 0 and p.dtype == np.int64 and p.shape == (300,) and (p == ref).all(),
   "eval --predictions: int64 [images], equal to the float reference")

# 2. --predictions under --fault: [maps, images], rows give eval's accuracies
rc, out = run("eval", "-m", P("fc.bnn"), "-d", P("d8.npz"), "--fault", "bitflip:p=0.1",
              "--reps", "3", "--json", "--predictions", P("pf.npy"))
j = json.loads(out[out.index("{"):])
pf = np.load(P("pf.npy"))
ok(pf.shape == (3, 300) and np.allclose((pf == y).mean(axis=1), j["accuracies"]),
   "eval --fault --reps 3 --predictions: shape %s, per-map accuracies %s" % (pf.shape,
                                                                           j["accuracies"]))

# 3. conv (PyTorch CHW flatten, pool before BN, gamma < 0), integer codes
arch_c = "8x8x2-c8-p-c8-p-16-10"
xc, yc = data(rng, (8, 8, 2))
np.savez(P("d882.npz"), x=xc, y=yc)
wc, bc = rand_model(rng, arch_c)
ac = bx.module_arrays(arch_c, wc, bc, flatten="chw", bn_before_pool=False)
refc = bx.save_npz(P("conv.npz"), ac, arch_c, data=xc)["reference.pred"]
rc, out = run("import", "--npz", P("conv.npz"), "--arch", arch_c, "--out", P("conv.bnn"),
              "--check", P("d882.npz"))
ok(rc == 0 and mismatches(out) == 0, "conv model: 0 mismatches")

# 4. conv with a non-integer normalisation: not exact at the border, counted
acn = bx.module_arrays(arch_c, wc, bc, flatten="chw", bn_before_pool=False,
                       normalize=(0.2860, 0.3530))
bx.save_npz(P("convn.npz"), acn, arch_c, data=xc)
rc, out = run("import", "--npz", P("convn.npz"), "--arch", arch_c, "--out", P("convn.bnn"),
              "--check", P("d882.npz"))
norm = [l for l in out.splitlines() if l.startswith("normalise ")]
ok(norm and "of 300 inputs change a first-layer output" in norm[0] and
   mismatches(out) is not None, "conv + Normalize: inexact fold reported (%s)"
   % (norm[0] if norm else out))
ok("exact away from the image border" in out, "conv + Normalize: the report says why")

# 5. .bfm reader: betlab's map applied to the float weights predicts like --map
rc, out = run("eval", "-m", P("conv.bnn"), "-d", P("d882.npz"), "--fault", "bitflip:p=0.05",
              "--save-map", P("f.bfm"))
ent = bx.read_bfm(P("f.bfm"))
masks = bx.flip_masks(ent, arch_c, flatten="chw")
nbits = sum(len(e["positions"]) for e in ent)
ok(rc == 0 and ent and sum(int(m.sum()) for m in masks.values()) == nbits,
   "read_bfm: %d entries, %d flipped bits" % (len(ent), nbits))
names = [l["name"] for l in bx.core.weight_layers(arch_c)]
wf = [(bx.apply_masks(w, masks[n]) if n in masks else w, b) for n, (w, b) in zip(names, wc)]
af = bx.module_arrays(arch_c, wf, bc, flatten="chw", bn_before_pool=False)
reff = bx.reference_predict(af, arch_c, xc)
rc, out = run("eval", "-m", P("conv.bnn"), "-d", P("d882.npz"), "--map", P("f.bfm"),
              "--predictions", P("pm.npy"))
pm = np.load(P("pm.npy"))
ok(rc == 0 and pm.shape == (1, 300) and (pm[0] == reff).all() and (reff != refc).any(),
   "flip_masks + apply_masks: the float model with the map's flips predicts like "
   "eval --map (%d of 300 predictions changed by the map)" % int((reff != refc).sum()))

# 6. a state_dict saved as is: the missing-array message, --names torch, --map
sd = {}
mods = ["features.0", "features.2", "features.4", "features.6", "classifier.0",
        "classifier.1", "classifier.3"]
wi, bi = iter(wc), iter(bc)
for m in mods:
    if m in ("features.0", "features.4", "classifier.0", "classifier.3"):
        w, b = next(wi)
        sd[m + ".weight"], sd[m + ".bias"] = w, b
    else:
        bn = next(bi)
        for k in ("weight", "bias", "running_mean", "running_var"):
            sd["%s.%s" % (m, k)] = bn[k]
        sd[m + ".num_batches_tracked"] = np.array(10)
sd["flatten_chw"] = np.int64(1)
sd["bn_before_pool"] = np.int64(0)
sd["reference.pred"] = refc
np.savez(P("sd.npz"), **sd)
rc, out = run("import", "--npz", P("sd.npz"), "--arch", arch_c, "--out", P("sd.bnn"))
ok(rc != 0 and "required array 'conv1.weight' is missing" in out and "features.0.weight" in out
   and "expects conv1.weight" in out and "--names torch" in out,
   "missing array: lists the arrays found and the names expected")
rc, out = run("import", "--npz", P("sd.npz"), "--arch", arch_c, "--out", P("sd.bnn"),
              "--names", "torch", "--check", P("d882.npz"))
ok(rc == 0 and mismatches(out) == 0, "--names torch: 0 mismatches")
rules = []
for m, n in zip(mods, ["conv1", "bn1", "conv2", "bn2", "fc1", "bn3", "fc2"]):
    rules += ["--map", "%s=%s" % (m, n)]
rc, out = run("import", "--npz", P("sd.npz"), "--arch", arch_c, "--out", P("sdm.bnn"),
              "--check", P("d882.npz"), *rules)
ok(rc == 0 and mismatches(out) == 0 and "renamed   23 arrays" in out,
   "--map OLD=NEW (7 rules): 0 mismatches")
rc, out = run("import", "--npz", P("sd.npz"), "--arch", arch_c, "--out", P("x.bnn"),
              "--map", "nonsense")
ok(rc == 2 and "OLD=NEW" in out, "--map without '=' is a usage error")

# 7. Keras names (--names larq): [in, out] kernels, eps default 1e-3
kz, an = {}, []
ws2, bns2 = rand_model(rng, arch)
for k, (w, b) in enumerate(ws2):
    n = "quant_dense" + ("_%d" % k if k else "")
    kz[n + "/kernel:0"], kz[n + "/bias:0"] = w.T.copy(), b
    if k < len(bns2):
        bn = bns2[k]
        m = "batch_normalization" + ("_%d" % k if k else "")
        kz[m + "/gamma:0"], kz[m + "/beta:0"] = bn["weight"], bn["bias"]
        kz[m + "/moving_mean:0"], kz[m + "/moving_variance:0"] = bn["running_mean"], bn["running_var"]
        bn["eps"] = 1e-3
ak = bx.module_arrays(arch, ws2, bns2)
kz["reference.pred"] = bx.reference_predict(ak, arch, x)
np.savez(P("larq.npz"), **kz)
rc, out = run("import", "--npz", P("larq.npz"), "--arch", arch, "--out", P("larq.bnn"),
              "--names", "larq", "--check", P("d8.npz"))
ok(rc == 0 and mismatches(out) == 0, "--names larq: 0 mismatches")

# 8. a scalar output scale (shape []) and a stray array
a8 = dict(a)
a8["out.weight"] = np.float64(0.37)
a8["alpha"] = np.float32(1.5)
a8["reference.pred"] = ref
np.savez(P("xnor.npz"), **a8)
rc, out = run("import", "--npz", P("xnor.npz"), "--arch", arch, "--out", P("xnor.bnn"))
ok(rc != 0 and "'alpha'" in out and "--ignore" in out and "out.weight" not in out,
   "stray array: named, with --ignore suggested; the scalar out.weight is accepted")
rc, out = run("import", "--npz", P("xnor.npz"), "--arch", arch, "--out", P("xnor.bnn"),
              "--ignore", "alpha", "--check", P("d8.npz"))
ok(rc == 0 and mismatches(out) == 0 and "ignored   1 array" in out,
   "--ignore alpha + scalar out.weight: 0 mismatches")

# 9. a disagreeing reference is reported image by image, exit status 1
bad = dict(a)
bad["reference.pred"] = ref.copy()
bad["reference.pred"][[3, 5]] = (ref[[3, 5]] + 1) % 10
np.savez(P("bad.npz"), **bad)
rc, out = run("import", "--npz", P("bad.npz"), "--arch", arch, "--out", P("bad.bnn"),
              "--check", P("d8.npz"))
ok(rc == 1 and "mismatch  image 3:" in out and "mismatch  image 5:" in out and
   mismatches(out) == 2, "mismatches listed image by image, exit 1")

print("%d failure(s)" % fails)
sys.exit(1 if fails else 0)
