#!/bin/sh
# PyTorch/Larq interop (issue 15): the exporter's numpy core round-trips
# through `betlab import --check` (python/tests/test_roundtrip.py: dense and
# conv, Normalize(0.2860, 0.3530), --names torch|larq, --map, --ignore, a
# scalar output scale, the missing-array message, eval --predictions, the
# .bfm reader), the .bfm reader's checks, and Lua m:predict against
# `betlab eval --predictions`.  Needs python3 with numpy (python3-numpy).
BL=${1:-./betlab}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

# the first python3 that has numpy (a pyenv shim may come before Debian's)
PY=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if "$p" -c 'import numpy' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    bad "no python3 with numpy (make deps installs python3-numpy)"
    exit 1
fi

if "$PY" python/tests/test_roundtrip.py "$BL" "$T/rt" >"$T/rt.log" 2>&1; then
    ok "exporter round trip ($(grep -c '^ok:' "$T/rt.log") checks)"
else
    bad "exporter round trip"; cat "$T/rt.log"
fi
"$PY" python/tests/test_bfm.py "$BL" "$T/bfm" >"$T/bfm.log" 2>&1 && ok "bfm reader checks" \
    || { bad "bfm reader checks"; cat "$T/bfm.log"; }

# Lua m:predict: the evaluator's predictions, same as eval --predictions
"$BL" eval -m random:fc@5 -d fashion-mnist:test -n 300 --predictions "$T/c.npy" >/dev/null 2>&1 \
    || bad "eval --predictions (clean)"
"$BL" eval -m random:fc@5 -d fashion-mnist:test -n 300 --fault bitflip:p=0.02 --reps 2 \
    --predictions "$T/f.npy" >/dev/null 2>&1 || bad "eval --predictions (fault)"
cat >"$T/p.lua" <<LUA
local bl = require "betlab"
local m = bl.model.random("fc", 5)
local ds = bl.data.load("fashion-mnist:test")
local p = m:predict(ds, { limit = 300 })
local q = m:predict(ds, { limit = 300, fault = "bitflip:p=0.02", reps = 2 })
local r = m:eval(ds, { limit = 300, fault = "bitflip:p=0.02", reps = 2 })
local f = io.open("$T/lua.txt", "w")
f:write(#p, " ", #q, " ", #q[1], "\n")
for i = 1, #p do f:write(p[i], " ") end
f:write("\n")
for k = 1, #q do
  for i = 1, #q[k] do f:write(q[k][i], " ") end
  f:write("\n")
end
f:write(string.format("%.17g %.17g\n", r.accuracies[1], r.accuracies[2]))
f:close()
local ok, err = pcall(m.predict, m, ds, { bogus = 1 })
print(ok, err)
LUA
if "$BL" run "$T/p.lua" >"$T/lua.out" 2>&1; then
    ok "m:predict runs"
else
    bad "m:predict"; cat "$T/lua.out"
fi
grep -q "^false.*bogus" "$T/lua.out" && ok "m:predict rejects unknown options" \
    || { bad "m:predict unknown option"; cat "$T/lua.out"; }
"$PY" - "$T" <<'PYEOF' && ok "m:predict == eval --predictions (clean and per map)" || bad "m:predict differs"
import sys, numpy as np
t = sys.argv[1]
lines = open(t + "/lua.txt").read().split("\n")
c, f = np.load(t + "/c.npy"), np.load(t + "/f.npy")
assert lines[0].split() == ["300", "2", "300"], lines[0]
assert (np.array(lines[1].split(), np.int64) == c).all()
for k in range(2):
    assert (np.array(lines[2 + k].split(), np.int64) == f[k]).all()
assert f.shape == (2, 300) and c.shape == (300,)
PYEOF

[ "$fails" = 0 ] && echo "all interop checks passed" || echo "$fails interop check(s) failed"
[ "$fails" = 0 ]
