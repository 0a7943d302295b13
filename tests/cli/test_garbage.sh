#!/bin/sh
# Garbage in must be an error, not a number (issue 12, 5):
# - labels outside the model's classes (IDX label 200, .npz labels up to
#   29000, CSV labels 42..61 on a 10-class model) are errors naming the
#   file, the row and the value, in eval, sweep, metrics and Lua;
# - NaN features in .npz / .npy / IDX float data are errors naming the file,
#   row and value (they used to become pixel code 0);
# - asym:p=0.5,ratio=0.1 (p10 = 5) is refused by eval, sweep and Lua alike;
# - --seed 2^70 is a usage error in train, eval and sweep;
# - bl.csv.write refuses ragged rows and keys that are not columns.
#   sh tests/cli/test_garbage.sh ./betlab
set -u
BL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config"
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
# expect_err NAME WANT_RC PATTERN... -- COMMAND...: exit status WANT_RC and
# every PATTERN (fixed strings) in stderr
expect_err() {
    name=$1; want=$2; shift 2
    pats=""
    while [ "$1" != "--" ]; do pats="$pats
$1"; shift; done
    shift
    "$@" >out.txt 2>err.txt
    rc=$?
    miss=""
    echo "$pats" | while IFS= read -r p; do
        [ -z "$p" ] && continue
        grep -qF -- "$p" err.txt || echo "$p"
    done >miss.txt
    if [ $rc = "$want" ] && [ ! -s miss.txt ]; then ok "$name (exit $rc)"
    else bad "$name: exit $rc (wanted $want), missing: $(tr '\n' '|' <miss.txt)"; cat err.txt out.txt; fi
}
MODEL=random:6-8-10

# ---- fixtures: CSV, IDX (ubyte and float32), .npy and .npz (no numpy needed)
awk 'BEGIN { srand(3); for (i = 0; i < 20; i++) { l = ""; for (j = 0; j < 6; j++) l = l int(rand()*256) ",";
      print l (42 + i) } }' >bad_labels.csv
awk 'BEGIN { srand(3); for (i = 0; i < 20; i++) { l = ""; for (j = 0; j < 6; j++) l = l int(rand()*256) ",";
      print l (i % 10) } }' >good.csv
python3 - <<'EOF'
import struct, zipfile, io
def idx(path, code, dims, data, fmt):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, code, len(dims)]))
        for d in dims: f.write(struct.pack(">I", d))
        f.write(b"".join(struct.pack(">" + fmt, v) for v in data))
n = 8
pix = [(7 * i) % 256 for i in range(n * 6)]
idx("lab200-images-idx3-ubyte", 0x08, [n, 1, 6], pix, "B")
idx("lab200-labels-idx1-ubyte", 0x08, [n], [1, 2, 3, 200, 4, 5, 6, 7], "B")
fl = [float(v) for v in pix]; fl[2 * 6 + 4] = float("nan")
idx("nan-images-idx3-ubyte", 0x0D, [n, 1, 6], fl, "f")
idx("nan-labels-idx1-ubyte", 0x08, [n], [i % 10 for i in range(n)], "B")
def npy(shape, descr, data):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d," % s for s in shape))
    hdr += " " * (63 - (len(hdr) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + data
def npz(path, arrays):
    with zipfile.ZipFile(path, "w") as z:
        for k, v in arrays.items(): z.writestr(k + ".npy", v)
x = b"".join(struct.pack("<f", float(v)) for v in pix)
npz("biglab.npz", {"x": npy((n, 6), "<f4", x),
                   "y": npy((n,), "<i8", b"".join(struct.pack("<q", v) for v in [0, 1, 2, 29000, 3, 4, 5, 6]))})
xn = bytearray(x); struct.pack_into("<f", xn, 4 * (3 * 6 + 1), float("nan"))
npz("nan.npz", {"x": npy((n, 6), "<f4", bytes(xn)),
                "y": npy((n,), "<i8", b"".join(struct.pack("<q", i % 10) for i in range(n)))})
open("nan.npy", "wb").write(npy((n, 6), "<f4", bytes(xn)))
EOF

# ---- labels outside the model's classes
expect_err "eval: CSV labels 42..61 on a 10-class model" 1 bad_labels.csv "row 1" "label 42" \
    "10 classes" -- "$BL" eval --model $MODEL --data bad_labels.csv
expect_err "eval: IDX label 200" 1 lab200-images-idx3-ubyte "row 4" "label 200" -- \
    "$BL" eval --model $MODEL --data lab200-images-idx3-ubyte
expect_err "eval: .npz label 29000" 1 biglab.npz "row 4" "label 29000" -- \
    "$BL" eval --model $MODEL --data biglab.npz
expect_err "sweep: CSV labels out of range" 1 bad_labels.csv "label 42" -- \
    "$BL" sweep --model $MODEL --data bad_labels.csv --fault bitflip --ber 0,0.1
expect_err "metrics: CSV labels out of range" 1 bad_labels.csv "label 42" -- \
    "$BL" metrics --model $MODEL --data bad_labels.csv
cat >lab.lua <<'EOF'
local m = bl.model.random("6-8-10", 1)
local ds = bl.data.load("bad_labels.csv")
local ok, e = pcall(function() return m:eval(ds) end)
assert(not ok, "m:eval accepted labels 42..61")
io.stderr:write(tostring(e), "\n")
EOF
expect_err "Lua m:eval: CSV labels out of range" 0 bad_labels.csv "label 42" -- \
    "$BL" run --no-init lab.lua
"$BL" eval --model $MODEL --data good.csv >/dev/null 2>err.txt && ok "labels 0..9: eval still runs" \
    || { bad "eval of good labels failed"; cat err.txt; }

# ---- NaN features
expect_err "IDX float32 NaN" 1 nan-images-idx3-ubyte "row 3" "NaN" -- \
    "$BL" eval --model $MODEL --data nan-images-idx3-ubyte
expect_err ".npz NaN" 1 nan.npz "row 4" "NaN" -- "$BL" eval --model $MODEL --data nan.npz
expect_err ".npy NaN (cluster)" 1 nan.npy "row 4" "NaN" -- "$BL" cluster --data nan.npy --k 2

# ---- asym derived p10 = p / ratio > 1: one check in the core
expect_err "eval --fault asym:p=0.5,ratio=0.1" 1 "p10 = p/ratio = 0.5/0.1 = 5 exceeds 1" -- \
    "$BL" eval --model $MODEL --data good.csv --fault asym:p=0.5,ratio=0.1
rc_sw=0
"$BL" sweep --model $MODEL --data good.csv --fault asym:p=0.5,ratio=0.1 --ber 0,0.1 \
    >/dev/null 2>err.txt || rc_sw=$?
[ $rc_sw != 0 ] && grep -q "p10\|exceeds 1" err.txt && ok "sweep refuses asym p/ratio > 1 (exit $rc_sw)" \
    || { bad "sweep accepted asym:p=0.5,ratio=0.1"; cat err.txt; }
cat >asym.lua <<'EOF'
local ok, e = pcall(bl.fault.new, "asym:p=0.5,ratio=0.1")
assert(not ok, "bl.fault.new accepted p10 = 5")
io.stderr:write(tostring(e), "\n")
EOF
expect_err "Lua bl.fault.new asym p10 = 5" 0 "p10" -- "$BL" run --no-init asym.lua
"$BL" eval --model $MODEL --data good.csv --fault asym:p=0.05,ratio=0.1 >/dev/null 2>err.txt \
    && ok "asym:p=0.05,ratio=0.1 (p10 = 0.5) still runs" || { bad "valid asym refused"; cat err.txt; }

# ---- --seed 2^70: one range (0..BL_SEED_MAX) in every command
for cmd in "train --arch 6-8-10 --data good.csv --epochs 1 --out s.bnn" \
           "eval --model $MODEL --data good.csv" \
           "sweep --model $MODEL --data good.csv --fault bitflip --ber 0.1"; do
    c=${cmd%% *}
    # shellcheck disable=SC2086
    expect_err "$c --seed 2^70" 2 "--seed" "1180591620717411303424" "too large" -- \
        "$BL" $cmd --seed 1180591620717411303424
done
[ ! -e s.bnn ] && ok "train --seed 2^70 wrote nothing" || bad "train --seed 2^70 wrote s.bnn"

# ---- bl.csv.write: ragged rows and unknown keys are errors, nothing written
cat >csvw.lua <<'EOF'
local function fails(rows, pat)
  local ok, e = pcall(bl.csv.write, "out.csv", { "a" }, rows)
  assert(not ok, "accepted: " .. pat)
  assert(tostring(e):find(pat, 1, true), tostring(e))
  print(e)
end
fails({ { 1, 2, 3 } }, "row 1 has 3 values for 1 columns")
fails({ { 1 }, { 1, 2 } }, "row 2 has 2 values for 1 columns")
fails({ { a = 1, b = 2 } }, 'row 1: key "b" is not a column')
assert(io.open("out.csv") == nil, "a failed write left out.csv")
bl.csv.write("out.csv", { "a", "b" }, { { 1, 2 }, { a = 3, b = 4 }, { a = 5 } })
local s = io.open("out.csv"):read("a")
assert(s == "a,b\r\n1,2\r\n3,4\r\n5,\r\n", s)
EOF
"$BL" run --no-init csvw.lua >out.txt 2>err.txt && ok "bl.csv.write refuses ragged rows and unknown keys" \
    || { bad "bl.csv.write"; cat out.txt err.txt; }

[ $fails = 0 ] || { echo "$fails failures"; exit 1; }
echo "all passed"
