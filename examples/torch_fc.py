"""Train a small fc BNN for one epoch on FashionMNIST with PyTorch, export it
(python/betlab_export), import it into betlab and compare the predictions
image by image.  Run: make interop  (or BETLAB=./betlab python examples/torch_fc.py
with torch and `pip install ./python`)."""
import gzip, os, subprocess, tempfile, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from betlab_export import export_torch

BL, D = os.environ.get("BETLAB", "betlab"), "/usr/share/datasets/fashion-mnist/"
W = tempfile.mkdtemp(prefix="torch_fc.")           # the .npz, .bnn and predictions
def idx(name, off):   # IDX files read with numpy (no torchvision needed)
    return np.frombuffer(gzip.open(D + name).read(), np.uint8, offset=off)
xtr, ytr = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784), idx("train-labels-idx1-ubyte.gz", 8)
xte = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)
MEAN, STD = 0.2860, 0.3530                       # Normalize(0.2860, 0.3530)
norm = lambda q: (torch.tensor(q, dtype=torch.float64) / 255 - MEAN) / STD

class Sign(torch.autograd.Function):             # sign (0 -> +1), straight-through
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x)
    @staticmethod
    def backward(ctx, g): return g * (ctx.saved_tensors[0].abs() <= 1)
class BLinear(nn.Linear):
    def forward(self, x): return F.linear(x, Sign.apply(self.weight), self.bias)
class Act(nn.Module):
    def forward(self, x): return Sign.apply(x)

torch.manual_seed(1)
model = nn.Sequential(BLinear(784, 256), nn.BatchNorm1d(256), Act(), BLinear(256, 10)).double()
opt = torch.optim.Adam(model.parameters(), 1e-3)
for i in torch.randperm(60000).split(100):       # one epoch
    opt.zero_grad()
    F.cross_entropy(model(norm(xtr[i.numpy()])), torch.tensor(ytr[i.numpy()], dtype=torch.long)).backward()
    opt.step()
model.eval()
with torch.no_grad():
    pred = model(norm(xte)).argmax(1).numpy()
export_torch(model, W + "/m.npz", "28x28x1-256-10", normalize=(MEAN, STD), data=xte, reference_pred=pred)
subprocess.run([BL, "import", "--npz", W + "/m.npz", "--arch", "28x28x1-256-10", "--out", W + "/m.bnn",
                "--check", "fashion-mnist:test"], check=True)
subprocess.run([BL, "eval", "-m", W + "/m.bnn", "-d", "fashion-mnist:test", "--predictions", W + "/p.npy"], check=True)
diff = int((np.load(W + "/p.npy") != pred).sum())
print("PyTorch accuracy %.4f; betlab and PyTorch disagree on %d of %d images" % (
    (pred == idx("t10k-labels-idx1-ubyte.gz", 8)).mean(), diff, len(pred)))
raise SystemExit(diff != 0)
