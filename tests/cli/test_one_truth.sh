#!/bin/sh
# One truth: for the same model, data, fault (weight and activation faults),
# seed and repetitions, `betlab eval --json`, Lua m:eval and the workbench
# (betlab.ui.state() once its evaluation has settled) report bit-identical
# accuracy and CI bounds: all three call study/evaluate.h.
#   sh tests/cli/test_one_truth.sh ./betlab
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v tmux >/dev/null 2>&1 || { echo "skip: tmux not installed (make deps)"; exit 77; }
[ -d /usr/share/datasets/fashion-mnist ] || { echo "FAIL: FashionMNIST missing (make deps)"; exit 1; }
T=$(mktemp -d)
S=betlab-truth-$$
trap 'tmux -L $S kill-server 2>/dev/null; sleep 0.2; rm -rf "$T"' EXIT
cd "$T" || exit 1
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" LANG=C.UTF-8 LC_ALL=C.UTF-8
unset TMUX
MODEL=$ROOT/models/fc-p0.05.bnn
[ -f "$MODEL" ] || { echo "FAIL: $MODEL missing"; exit 1; }
DATA=fashion-mnist:test LIMIT=2000 SEED=3 REPS=5
fail() { echo "FAIL: $*"; exit 1; }

# 1. the workbench: activation faults on fc1, weight BER 0.05 on fc2
cat > dump.lua <<'LUA'
function dump()
  local s = betlab.ui.state()
  if not s.settled or s.accuracy == nil then return "not settled" end
  local f = assert(io.open("state.txt", "w"))
  f:write(s.spec, "\n", string.format("%.17g\n%.17g\n%.17g\n%d\n", s.accuracy, s.ci_low,
          s.ci_high, s.reps))
  f:close()
  return "dumped"
end
betlab.ui.set_fault("fc1.activations=bitflip:p=0.02")
betlab.ui.set_ber("fc2", 0.05)
LUA
tmux -L $S -f /dev/null new-session -d -s t -x 120 -y 40 \
    "$BIN tui --no-init --no-mouse --model $MODEL --data $DATA --limit $LIMIT --seed $SEED --session dump.lua; sleep 30" ||
    fail "tmux"
sleep 1
tmux -L $S send-keys -t t ':'
i=0
while [ ! -s state.txt ] && [ $i -lt 60 ]; do
    tmux -L $S send-keys -t t -l 'dump()'
    tmux -L $S send-keys -t t Enter
    sleep 0.5; i=$((i + 1))
done
[ -s state.txt ] || { tmux -L $S capture-pane -p -t t; fail "the workbench never settled"; }
tmux -L $S kill-server 2>/dev/null
SPEC=$(sed -n 1p state.txt)
case "$SPEC" in *activations*) ;; *) fail "workbench spec '$SPEC' lost the activation faults";; esac
sed -n 2,5p state.txt > tui.txt

# 2. the command line
"$BIN" eval --model "$MODEL" --data $DATA --limit $LIMIT --fault "$SPEC" --seed $SEED \
    --reps $REPS --json > eval.json || fail "betlab eval"
python3 - eval.json > cli.txt <<'PY' || fail "reading eval.json"
import json, sys
o = json.load(open(sys.argv[1]))
for k in ("accuracy", "ci_low", "ci_high"):
    print(repr(float(o[k])))
print(o["reps"])
PY

# 3. Lua
cat > eval.lua <<LUA
local bl = require "betlab"
local m = bl.model.load("$MODEL")
local d = bl.data.load("$DATA")
local r = m:eval(d, {fault = [[$SPEC]], seed = $SEED, reps = $REPS, limit = $LIMIT})
print(string.format("%.17g\n%.17g\n%.17g\n%d", r.accuracy, r.ci_low, r.ci_high, r.reps))
LUA
"$BIN" run --no-init eval.lua > lua.txt || fail "betlab run eval.lua"

python3 - tui.txt cli.txt lua.txt <<'PY' || exit 1
import sys
vals = [[float(x) for x in open(p).read().split()] for p in sys.argv[1:]]
names = ["workbench", "betlab eval --json", "Lua m:eval"]
for n, v in zip(names, vals):
    print("%-20s accuracy %r  CI [%r, %r]  reps %d" % (n, v[0], v[1], v[2], v[3]))
if not (vals[0] == vals[1] == vals[2]):
    print("FAIL: the front ends disagree")
    sys.exit(1)
if vals[0][1] == vals[0][2]:
    print("FAIL: a zero-width interval: the setting is not faulty enough to test")
    sys.exit(1)
PY
echo "ok: workbench, CLI and Lua agree bit for bit (spec $SPEC)"
