"""A small fc BNN built and trained with Larq (Keras), exported with
python/betlab_export.export_larq, imported into betlab, and its predictions
compared image by image with Keras' own (FashionMNIST test images).
Run: make interop  (or BETLAB=./betlab python examples/larq_fc.py with
larq, TensorFlow < 2.16 and `pip install ./python`)."""
import gzip, os, subprocess, sys, tempfile
import numpy as np, tensorflow as tf, larq as lq
from betlab_export import export_larq

BL, D = os.environ.get("BETLAB", "betlab"), "/usr/share/datasets/fashion-mnist/"
W = tempfile.mkdtemp(prefix="larq_fc.")
def idx(name, off):
    return np.frombuffer(gzip.open(D + name).read(), np.uint8, offset=off)
xtr, ytr = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1), idx("train-labels-idx1-ubyte.gz", 8)
xte, yte = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1), idx("t10k-labels-idx1-ubyte.gz", 8)
kw = dict(kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False)
model = tf.keras.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28, 1)),
    lq.layers.QuantDense(256, **kw),                                  # real-valued pixels in
    tf.keras.layers.BatchNormalization(),
    lq.layers.QuantDense(10, input_quantizer="ste_sign", **kw),       # sign(.) in, scores out
])
model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(xtr / 255.0, ytr, epochs=1, batch_size=100, verbose=0)
ref = np.argmax(model.predict(xte / 255.0, verbose=0), axis=1)
print("larq: test accuracy %.4f" % np.mean(ref == yte))
export_larq(model, W + "/m.npz", "28x28x1-256-10", input_scale=1 / 255.0, input_zero=0,
            reference_pred=ref)
p = subprocess.run([BL, "import", "--npz", W + "/m.npz", "--arch", "28x28x1-256-10",
                    "--out", W + "/m.bnn", "--check", "fashion-mnist:test"])
sys.exit(p.returncode)   # 1 when any prediction differs
