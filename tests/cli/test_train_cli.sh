#!/bin/sh
# `betlab train` on a tiny synthetic CSV: training, export, metadata, JSON
# history, usage errors, and Ctrl-C -> checkpoint -> --resume.
BL=${1:-./betlab}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

# 400 points, 6 features (integers 0..255), label = which of 3 features is largest
awk 'BEGIN { srand(7); for (i = 0; i < 400; i++) { a = int(rand()*256); b = int(rand()*256);
      c = int(rand()*256); l = (a >= b && a >= c) ? 0 : (b >= c ? 1 : 2);
      printf "%d,%d,%d,%d,%d,%d,%d\n", a, b, c, int(rand()*256), int(rand()*256), int(rand()*256), l } }' >"$T/d.csv"

if "$BL" train --arch 6-32-3 --data "$T/d.csv" --test-data "$T/d.csv" --epochs 3 --batch 20 \
        --lr 0.01 --seed 3 --threads 1 --out "$T/m.bnn" --json >"$T/out" 2>"$T/err"; then
    ok "train runs"
else
    bad "train failed"; cat "$T/err"
fi
grep -q '"epoch"' "$T/out" && ok "json history has epochs" || { bad "no epoch in json"; cat "$T/out"; }
"$BL" info "$T/m.bnn" >"$T/info" 2>&1 && ok "trained model loads" || bad "info on trained model"
grep -qi "seed" "$T/info" && ok "metadata records the seed" || { bad "no seed in metadata"; cat "$T/info"; }
"$BL" eval --model "$T/m.bnn" --data "$T/d.csv" --json >"$T/ev" 2>&1 && ok "eval of trained model" || bad "eval"
# real-valued CSV features get an input encoding from the data's range, so
# the model learns (chance is 1/3)
"$BL" train --arch 6-64-3 --data "$T/d.csv" --test-data "$T/d.csv" --epochs 20 --batch 20 \
    --lr 0.01 --seed 3 --threads 1 --out "$T/learn.bnn" >/dev/null 2>&1
acc=$("$BL" eval --model "$T/learn.bnn" --data "$T/d.csv" --json | sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p')
awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }' && ok "trained on CSV: accuracy $acc > 0.6" || bad "CSV training did not learn (accuracy $acc)"

# same seed, same model: training is deterministic
"$BL" train --arch 6-32-3 --data "$T/d.csv" --test-data "$T/d.csv" --epochs 3 --batch 20 \
    --lr 0.01 --seed 3 --threads 2 --out "$T/m2.bnn" >/dev/null 2>&1
a=$("$BL" info --json "$T/m.bnn" | grep checksum); b=$("$BL" info --json "$T/m2.bnn" | grep checksum)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "same seed, 1 vs 2 threads: same model" || bad "models differ: $a / $b"

"$BL" train --arch 6-32-3 --data "$T/d.csv" --epochs 0 --out "$T/x.bnn" >/dev/null 2>&1
[ $? = 2 ] && ok "--epochs 0 is a usage error" || bad "--epochs 0 not a usage error"
"$BL" train --arch 6-32-3 --data "$T/d.csv" --epochs 1 --flip-mode sideways --out "$T/x.bnn" >/dev/null 2>&1
[ $? = 2 ] && ok "bad --flip-mode is a usage error" || bad "bad --flip-mode accepted"
"$BL" train --arch 5-3 --data "$T/d.csv" --epochs 1 --out "$T/x.bnn" >/dev/null 2>&1
[ $? = 1 ] && ok "architecture/data mismatch is a runtime error" || bad "mismatch not a runtime error"

# Ctrl-C: the run is interrupted after k >= 2 finished epochs, exits 1 and
# leaves a checkpoint; --resume says it resumes at epoch k+1, trains epochs
# k+1..E (and no other), exits 0, reports the whole history 1..E in its JSON
# and removes the checkpoint.
E=150
"$BL" train --arch 6-256-256-3 --data "$T/d.csv" --test-data "$T/d.csv" --epochs $E --batch 10 \
    --seed 5 --threads 1 --out "$T/long.bnn" >/dev/null 2>"$T/long.err" &
pid=$!
i=0  # wait for the second epoch line (at most 60 s)
while [ $i -lt 1200 ] && ! grep -q "^epoch 2/$E " "$T/long.err"; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid
wait $pid
st=$?
k=$(sed -n "s|^epoch \([0-9]*\)/$E .*|\1|p" "$T/long.err" | tail -1)
ckpt="$T/long.bnn.ckpt"
[ $st = 1 ] && ok "SIGINT: exit 1" || bad "SIGINT: exit $st, wanted 1"
if [ -f "$ckpt" ] && [ -n "$k" ] && [ "$k" -ge 2 ] && [ "$k" -lt $E ]; then
    ok "SIGINT after epoch $k saved a checkpoint"
    "$BL" train --resume "$ckpt" --out "$T/long.bnn" --json >"$T/resume.json" 2>"$T/resume.err"
    st=$?
    [ $st = 0 ] && ok "--resume finishes: exit 0" || { bad "--resume: exit $st"; tail -5 "$T/resume.err"; }
    grep -q "^resuming $ckpt at epoch $((k + 1)), " "$T/resume.err" \
        && ok "--resume continues at epoch $((k + 1))" \
        || { bad "--resume does not say it resumes at epoch $((k + 1))"; head -3 "$T/resume.err"; }
    # the epochs the resumed run trained: exactly k+1, k+2, ..., E
    sed -n "s|^epoch \([0-9]*\)/$E .*|\1|p" "$T/resume.err" >"$T/trained"
    seq $((k + 1)) $E >"$T/want"
    cmp -s "$T/trained" "$T/want" && ok "--resume trained epochs $((k + 1))..$E" \
        || bad "--resume trained epochs $(head -1 "$T/trained")..$(tail -1 "$T/trained") ($(wc -l <"$T/trained") lines), wanted $((k + 1))..$E"
    # the JSON history is the whole run, 1..E
    sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' "$T/resume.json" >"$T/hist"
    seq 1 $E >"$T/want"
    cmp -s "$T/hist" "$T/want" && ok "--resume JSON history: epochs 1..$E" \
        || bad "--resume JSON history: $(head -1 "$T/hist")..$(tail -1 "$T/hist") ($(wc -l <"$T/hist") entries)"
    [ ! -e "$ckpt" ] && ok "finished --resume removes the checkpoint" || bad "checkpoint left after --resume"
    "$BL" info "$T/long.bnn" >/dev/null 2>&1 && ok "resumed model loads" || bad "resumed model does not load"
else
    bad "no checkpoint after SIGINT at epoch '$k' (of $E)"; cat "$T/long.err"
fi
echo "$fails failed"
[ "$fails" = 0 ]
