#!/bin/sh
# CLI tests of the fault/campaign/metrics commands: exit codes, JSON keys,
# CSV header, determinism (same seed twice, different thread counts).
#   sh tests/cli/test_faults_cli.sh ./betlab
BL=${1:-./betlab}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() {  # description, expected status, command...
    desc=$1; want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $desc: exit $got, want $want"; sed 's/^/  out: /' "$T/out" | head -5
        sed 's/^/  err: /' "$T/err" | head -5; fails=$((fails + 1))
    else
        echo "ok: $desc"
    fi
}
contains() {  # description, file, pattern
    if grep -q -- "$3" "$2"; then echo "ok: $1"; else
        echo "FAIL: $1: '$3' not in $2:"; head -20 "$2" | sed 's/^/  | /'; fails=$((fails + 1)); fi
}
same() {  # description, file a, file b
    if cmp -s "$2" "$3"; then echo "ok: $1"; else
        echo "FAIL: $1"; diff "$2" "$3" | head -10 | sed 's/^/  | /'; fails=$((fails + 1)); fi
}
# the rows of a sweep --json, without the timings
rows() { grep -v -e '"seconds"' -e '"fault_seconds"' -e '"eval_seconds"' -e '"threads"' \
    -e '"images_per_s"' "$1"; }

# a labelled CSV: 120 samples of 16 features + label (deterministic)
awk 'BEGIN { s = 7; printf "f1";
             for (j = 2; j <= 16; j++) printf ",f%d", j; print ",label";
             for (i = 0; i < 120; i++) { for (j = 0; j < 16; j++) { s = (s * 1103515245 + 12345) % 2147483648;
                 printf "%d,", int(s / 8388608) } print i % 4 } }' >"$T/d.csv"
M=random:16-48-40-4@3
D=$T/d.csv

# --- faults
check "faults lists the kinds" 0 "$BL" faults
for k in bitflip asym stuck; do contains "faults lists $k" "$T/out" "^$k"; done
contains "faults shows parameter ranges" "$T/out" "range"
check "faults --json" 0 "$BL" faults --json
for k in kinds name params default min max help; do contains "faults json has $k" "$T/out" "\"$k\""; done
check "missing plugin is a runtime error" 1 "$BL" faults --plugin "$T/nope.so"
contains "plugin error names the file" "$T/err" "nope.so"
if [ -f plugins/burst.so ]; then
    check "faults with a plugin" 0 "$BL" faults --plugin plugins/burst.so
    contains "plugin kind listed" "$T/out" "^burst"
fi

# --- sweep: usage errors
check "sweep without arguments" 2 "$BL" sweep
contains "sweep usage printed" "$T/err" "usage: betlab sweep"
check "sweep bad BER list" 2 "$BL" sweep --model $M --data "$D" --fault bitflip --ber 0,2
check "sweep --reps with --ci-width" 2 "$BL" sweep --model $M --data "$D" --fault bitflip --ber 0.01 --reps 3 --ci-width 0.01
check "sweep --max-reps without --ci-width" 2 "$BL" sweep --model $M --data "$D" --fault bitflip --ber 0.01 --max-reps 3
check "sweep unknown fault kind" 1 "$BL" sweep --model $M --data "$D" --fault nosuchkind --ber 0.01
contains "unknown kind named" "$T/err" "nosuchkind"
check "sweep unknown layer" 1 "$BL" sweep --model $M --data "$D" --fault "fc9=bitflip" --ber 0.01

# --- sweep: outputs
check "sweep table" 0 "$BL" sweep --model $M --data "$D" --fault bitflip --ber 0,0.01,0.1 --reps 3
contains "table header" "$T/out" "95% CI"
contains "table time split" "$T/out" "fault maps"
check "sweep --json --csv" 0 "$BL" sweep --model $M --data "$D" --fault bitflip --ber 0,0.01,0.05,0.1 --reps 4 --seed 9 --json --csv "$T/s.csv" --threads 1
for k in rows ber accuracy ci_low ci_high reps seconds; do contains "sweep json has $k" "$T/out" "\"$k\""; done
cp "$T/out" "$T/j1"
if head -1 "$T/s.csv" | tr -d '\r' | grep -qx 'ber,accuracy,ci_low,ci_high,reps,accuracies'; then
    echo "ok: CSV header"; else echo "FAIL: CSV header: $(head -1 "$T/s.csv")"; fails=$((fails + 1)); fi
[ "$(wc -l <"$T/s.csv")" = 5 ] && echo "ok: CSV rows" || { echo "FAIL: CSV rows"; fails=$((fails + 1)); }
check "sweep same seed again" 0 "$BL" sweep --model $M --data "$D" --fault bitflip --ber 0,0.01,0.05,0.1 --reps 4 --seed 9 --json --threads 1
cp "$T/out" "$T/j2"
rows "$T/j1" >"$T/r1"; rows "$T/j2" >"$T/r2"; same "same seed: identical rows" "$T/r1" "$T/r2"
check "sweep with 3 threads" 0 "$BL" sweep --model $M --data "$D" --fault bitflip --ber 0,0.01,0.05,0.1 --reps 4 --seed 9 --json --threads 3
rows "$T/out" >"$T/r3"; same "thread count: identical rows" "$T/r1" "$T/r3"
check "sweep other seed" 0 "$BL" sweep --model $M --data "$D" --fault bitflip --ber 0.1 --reps 4 --seed 10 --json
check "sweep with the stopping rule" 0 "$BL" sweep --model $M --data "$D" --fault "asym:ratio=10" --ber 0.01,0.1 --ci-width 0.05 --max-reps 20 --json
contains "stopping rule json" "$T/out" '"reps"'
check "sweep log-spaced BER range" 0 "$BL" sweep --model $M --data "$D" --fault stuck --ber 1e-3:1e-1:3 --reps 2 --csv "$T/r.csv"
[ "$(wc -l <"$T/r.csv")" = 4 ] && echo "ok: range rows" || { echo "FAIL: range rows"; fails=$((fails + 1)); }

# --- eval --fault
check "eval --fault --json" 0 "$BL" eval --model $M --data "$D" --fault bitflip:p=0.05 --seed 3 --reps 4 --json
for k in accuracy ci_low ci_high reps accuracies; do contains "eval fault json has $k" "$T/out" "\"$k\""; done
contains "eval reps" "$T/out" '"reps": 4'
check "eval clean --json has a CI" 0 "$BL" eval --model $M --data "$D" --json
contains "clean eval ci_low" "$T/out" '"ci_low"'
check "eval --reps without --fault" 2 "$BL" eval --model $M --data "$D" --reps 3
check "eval bad fault spec" 1 "$BL" eval --model $M --data "$D" --fault "bitflip:p=2"

# --- metrics
check "metrics table" 0 "$BL" metrics --model $M --data "$D" --ber 0.02 --reps 4
contains "metrics names fc1" "$T/out" "fc1"
contains "metrics analytic n/a on the real-input layer" "$T/out" "n/a"
check "metrics --json" 0 "$BL" metrics --model $M --data "$D" --ber 0.02 --reps 4 --json
for k in layers name margin mean quantiles hist flip_fraction analytic measured importance max variance; do
    contains "metrics json has $k" "$T/out" "\"$k\""; done
check "metrics one layer" 0 "$BL" metrics --model $M --data "$D" --layer fc2 --json
contains "only fc2" "$T/out" '"name": "fc2"'
if grep -q '"name": "fc1"' "$T/out"; then echo "FAIL: --layer fc2 printed fc1"; fails=$((fails + 1)); fi
check "metrics unknown layer" 1 "$BL" metrics --model $M --data "$D" --layer fc9
check "metrics bad --ber" 2 "$BL" metrics --model $M --data "$D" --ber 1.5

# fault maps as files: the map of seed S reproduces the accuracy of that map
check "eval --fault --save-map" 0 "$BL" eval --model $M --data "$D" --fault bitflip:p=0.05 --seed 4 --save-map "$T/f.bfm" --json
grep '"accuracy"' "$T/out" >"$T/acc1"
check "eval --map" 0 "$BL" eval --model $M --data "$D" --map "$T/f.bfm" --json
grep '"accuracy"' "$T/out" >"$T/acc2"
same "saved map reproduces the accuracy of its seed" "$T/acc1" "$T/acc2"
check "--map with --fault is a usage error" 2 "$BL" eval --model $M --data "$D" --map "$T/f.bfm" --fault bitflip:p=0.1
check "--save-map without --fault is a usage error" 2 "$BL" eval --model $M --data "$D" --save-map "$T/g.bfm"
head -c 100 "$T/f.bfm" >"$T/trunc.bfm"
check "truncated map is a runtime error" 1 "$BL" eval --model $M --data "$D" --map "$T/trunc.bfm"
check "map of another architecture is a runtime error" 1 "$BL" eval --model random:16-40-4 --data "$D" --map "$T/f.bfm"
contains "map error names the file" "$T/err" "f.bfm"

if [ -d /usr/share/datasets/fashion-mnist ]; then
    check "sweep on FashionMNIST" 0 "$BL" sweep --model random:fc --data fashion-mnist:test --limit 300 --fault bitflip --ber 0,1e-3,1e-2 --reps 2 --json --threads 2
    rows "$T/out" >"$T/f2"
    check "same with 1 thread" 0 "$BL" sweep --model random:fc --data fashion-mnist:test --limit 300 --fault bitflip --ber 0,1e-3,1e-2 --reps 2 --json --threads 1
    rows "$T/out" >"$T/f1"; same "fc: thread count does not change rows" "$T/f1" "$T/f2"
    # activation faults: applied inside the engine, same determinism
    check "activation-fault sweep" 0 "$BL" sweep --model random:fc --data fashion-mnist:test --limit 300 --fault '*.activations=bitflip' --ber 0,0.05,0.2 --reps 2 --json --threads 2
    rows "$T/out" >"$T/a2"
    check "activation-fault sweep, 1 thread" 0 "$BL" sweep --model random:fc --data fashion-mnist:test --limit 300 --fault '*.activations=bitflip' --ber 0,0.05,0.2 --reps 2 --json --threads 1
    rows "$T/out" >"$T/a1"; same "activations: thread count does not change rows" "$T/a1" "$T/a2"
    if cmp -s "$T/a1" "$T/f1"; then echo "FAIL: activation faults changed nothing"; fails=$((fails + 1)); fi
fi
echo "$fails failed"
[ "$fails" = 0 ]
