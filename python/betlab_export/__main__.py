"""python -m betlab_export model.pt --arch ARCH -o model.npz [--normalize MEAN STD]
[--data CODES.npz] : a saved PyTorch model or state_dict -> betlab's .npz."""
import argparse
import sys


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m betlab_export", description=__doc__)
    p.add_argument("model", help="a torch.save'd model or state_dict (.pt)")
    p.add_argument("--arch", required=True, help="betlab architecture spec (fc, vgg3, ...)")
    p.add_argument("-o", "--out", required=True, help="the .npz to write")
    p.add_argument("--normalize", nargs=2, type=float, metavar=("MEAN", "STD"),
                   help="torchvision Normalize(MEAN, STD) the model was trained with")
    p.add_argument("--bn-before-pool", action="store_true",
                   help="the model applies batch norm and sign before its max-pools")
    p.add_argument("--data", help="a .npz with x (8-bit codes): store the numpy reference's "
                   "predictions as reference.pred")
    a = p.parse_args(argv)
    import torch
    from . import export_torch, load_codes
    obj = torch.load(a.model, map_location="cpu", weights_only=False)
    x = load_codes(a.data)[0] if a.data else None
    arr, names = export_torch(obj, a.out, a.arch, normalize=a.normalize,
                              bn_before_pool=a.bn_before_pool, data=x)
    print("wrote %s: %d arrays; %s" % (a.out, len(arr) + (x is not None),
          ", ".join("%s <- %s" % kv for kv in names.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
