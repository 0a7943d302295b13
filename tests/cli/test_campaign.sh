#!/bin/sh
# betlab campaign: a campaign file's results equal betlab sweep's; killed
# with SIGKILL at random points five times and completed it equals the
# uninterrupted run byte for byte; a torn last record is redone; SIGTERM
# finishes the unit and prints the resume line; shards 1, 3, 7 merged equal
# the single run; merging different campaigns fails clearly; status; the
# Slurm script; Lua's bl.campaign.load.
#   sh tests/cli/test_campaign.sh ./betlab
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

cat >"$T/c.lua" <<'EOF'
return {
  models = { "random:784-64-10@1", { model = "random:784-32-10", train_seeds = { 1, 2 } } },
  data = "fashion-mnist:test", limit = 400,
  faults = { "bitflip", { spec = "asym:ratio=10", bers = { 0.01, 0.05 } } },
  bers = "1e-3:1e-1:4",
  reps = 5, reps_per_unit = 2, seed = 7,
  record = { "accuracy", "flips", "margins" },
  threads = 1,
}
EOF
check "campaign run" 0 "$BL" campaign run "$T/c.lua" --out "$T/one" --csv "$T/one.csv"
contains "the table names the models" "$T/out" "random:784-32-10@2 (training seed 2)"
contains "flip fractions in the table" "$T/out" "flip fraction  fc1"
contains "machinery time on stderr" "$T/err" "machinery"
contains "result.json written" "$T/one/result.json" '"flip_fraction"'
contains "record lines carry a CRC" "$T/one/shard-0-of-1.rec" ' \*[0-9a-f]\{8\}$'

# the same rows as betlab sweep (one evaluator): CSV columns after model,seed,fault
check "sweep" 0 "$BL" sweep -m random:784-64-10@1 -d fashion-mnist:test -n 400 -f bitflip \
    -b 1e-3:1e-1:4 -r 5 -s 7 --csv "$T/sweep.csv"
grep '^"random:784-64-10@1",0,"bitflip",' "$T/one.csv" | cut -d, -f4- >"$T/one_rows.csv"
tail -n +2 "$T/sweep.csv" >"$T/sweep_rows.csv"
same "campaign rows equal betlab sweep's" "$T/one_rows.csv" "$T/sweep_rows.csv"

# rerunning a finished campaign runs nothing and gives the same result
cp "$T/one/result.json" "$T/first.json"
check "rerun" 0 "$BL" campaign run "$T/c.lua" --out "$T/one"
contains "rerun resumes every unit" "$T/err" "0 run)"
same "rerun result identical" "$T/one/result.json" "$T/first.json"

# --- resume: a slower campaign killed with SIGKILL at five random points
cat >"$T/k.lua" <<'EOF'
return {
  models = { "random:784-256-256-10@3" },
  data = "fashion-mnist:test", limit = 2000,
  faults = { "bitflip", "asym:ratio=10" },
  bers = { 0.001, 0.01, 0.05 },
  reps = 16, reps_per_unit = 1, seed = 11,
  threads = 1,
}
EOF
check "uninterrupted run" 0 "$BL" campaign run "$T/k.lua" --out "$T/full" --json
cp "$T/out" "$T/full.out"
seed=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
recs() { c=$(grep -c '^R ' "$T/killed/shard-0-of-1.rec" 2>/dev/null); echo "${c:-0}"; }
for i in 1 2 3 4 5; do
    # kill while units are running: after the next record lands, a random
    # 0..0.12 s later (inside a unit or between a write and its fsync)
    d=$(awk -v s="$seed" -v i="$i" 'BEGIN { srand(s + i); printf "%.3f", rand() * 0.12 }')
    before=$(recs)
    "$BL" campaign run "$T/k.lua" --out "$T/killed" >/dev/null 2>&1 &
    pid=$!
    n=0
    while [ "$(recs)" -le "$before" ] && [ $n -lt 300 ]; do sleep 0.01; n=$((n + 1)); done
    sleep "$d"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    echo "   killed ${d}s after a record: $(recs) of 96 records"
done
# a torn last record (a write cut short) is detected by its checksum
printf 'R 0123456789abcdef 0.1.0 3 E 0 0 0 0 1 2000 1 2 c=' >>"$T/killed/shard-0-of-1.rec"
check "status after kills" 0 "$BL" campaign status "$T/killed"
contains "status shows the torn record" "$T/out" "torn record"
check "resumed run completes" 0 "$BL" campaign run "$T/k.lua" --out "$T/killed" --json
contains "resumed run redid the torn record" "$T/err" "torn record was redone"
same "killed 5x + resumed equals the uninterrupted run (JSON)" "$T/out" "$T/full.out"
same "killed 5x + resumed equals the uninterrupted run (result.json)" "$T/killed/result.json" \
    "$T/full/result.json"

# --- SIGTERM: the unit in flight is finished, the resume line printed.  A
# campaign of many slow units (full test set, one map per unit), signalled
# as soon as its first record is written: it cannot finish first on any
# machine.
sed -e 's/limit = [0-9]*/limit = 10000/' -e 's/reps_per_unit = [0-9]*/reps_per_unit = 1/' \
    "$T/k.lua" >"$T/kslow.lua"
"$BL" campaign run "$T/kslow.lua" --out "$T/term" >/dev/null 2>"$T/term.err" &
pid=$!
n=0
while [ ! -s "$T/term/shard-0-of-1.rec" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n + 1)); done
kill -TERM $pid
wait $pid
rc=$?
if [ $rc = 1 ]; then echo "ok: SIGTERM exits 1"; else echo "FAIL: SIGTERM exit $rc"; fails=$((fails + 1)); fi
contains "SIGTERM prints the resume line" "$T/term.err" "resume with: betlab campaign run $T/kslow.lua --out $T/term"
if tail -c 1 "$T/term/shard-0-of-1.rec" | od -c | grep -q '\\n'; then
    echo "ok: SIGTERM left whole records"; else echo "FAIL: torn record after SIGTERM"; fails=$((fails + 1)); fi
check "run after SIGTERM" 0 "$BL" campaign run "$T/kslow.lua" --out "$T/term"
check "the slow campaign uninterrupted" 0 "$BL" campaign run "$T/kslow.lua" --out "$T/termfull"
same "SIGTERM + resume equals the uninterrupted run" "$T/term/result.json" "$T/termfull/result.json"

# --- shards: 1, 3 and 7 merged equal the single run
for n in 1 3 7; do
    i=0
    while [ $i -lt $n ]; do
        "$BL" campaign run "$T/c.lua" --out "$T/s$n" --shard $i/$n >/dev/null 2>&1 ||
            { echo "FAIL: shard $i/$n"; fails=$((fails + 1)); }
        i=$((i + 1))
    done
    check "merge $n shards" 0 "$BL" campaign merge "$T/s$n" --out "$T/m$n.json"
    same "$n shards merged equal the single run" "$T/m$n.json" "$T/first.json"
done
# shards in separate folders (as on separate machines) merge too
for i in 0 1 2; do "$BL" campaign run "$T/c.lua" --out "$T/p$i" --shard $i/3 >/dev/null 2>&1; done
check "merge folders of separate shards" 0 "$BL" campaign merge "$T/p0" "$T/p1" "$T/p2" --out "$T/p.json"
same "separate shard folders merged equal the single run" "$T/p.json" "$T/first.json"
check "merge CSV" 0 "$BL" campaign merge "$T/s3" --out "$T/m3.csv"
same "merged CSV equals the single run's" "$T/m3.csv" "$T/one.csv"
check "status of 7 shards" 0 "$BL" campaign status "$T/s7"
contains "status done/total per shard" "$T/out" "shard 6/7: [0-9]*/[0-9]* units done (complete)"
# an incomplete set is refused, naming what is missing
check "merge with a shard missing fails" 1 "$BL" campaign merge "$T/p0" "$T/p1"
contains "missing units named" "$T/err" "incomplete: .* units have no record"
"$BL" campaign run "$T/c.lua" --out "$T/half" --shard 0/2 >/dev/null 2>&1
check "status of a half-run campaign" 0 "$BL" campaign status "$T/half"
contains "status names the shard not started" "$T/out" "shard 1/2: not started"

# --- mismatched campaigns
sed 's/seed = 7/seed = 8/' "$T/c.lua" >"$T/c2.lua"
"$BL" campaign run "$T/c2.lua" --out "$T/other" --shard 1/3 >/dev/null 2>&1
check "merging different campaigns fails" 1 "$BL" campaign merge "$T/p0" "$T/other"
contains "clear message for different campaigns" "$T/err" "cannot merge outputs of different campaigns"
cp -r "$T/p1" "$T/oldver"
sed -i 's/"version": "[^"]*"/"version": "0.0.1-old"/' "$T/oldver/campaign.json"
check "merging different versions fails" 1 "$BL" campaign merge "$T/p0" "$T/oldver"
contains "clear message for different versions" "$T/err" "different betlab versions"
check "another campaign into the same folder fails" 1 "$BL" campaign run "$T/c2.lua" --out "$T/one"
contains "it names both campaigns" "$T/err" "not this one"

# --- options and file errors
check "bad shard" 2 "$BL" campaign run "$T/c.lua" --shard 3/3
check "unknown subcommand" 2 "$BL" campaign rnu "$T/c.lua"
contains "did you mean" "$T/err" "did you mean run"
printf 'return { models = { "random:784-10" }, faults = { "bitflip" }, bers = "0.1", repz = 3 }\n' >"$T/bad.lua"
check "unknown field in the file" 1 "$BL" campaign run "$T/bad.lua" --out "$T/bad"
contains "the unknown field is named" "$T/err" "unknown field 'repz' (did you mean reps?)"
printf 'return { models = { "random:784-10" }, faults = { "nosuchkind" }, bers = "0.1" }\n' >"$T/bad2.lua"
check "unknown fault kind" 1 "$BL" campaign run "$T/bad2.lua" --out "$T/bad2"

# --- the Slurm script (the real Slurm run is tests/cli/test_slurm.sh)
check "slurm script" 0 "$BL" campaign slurm "$T/c.lua" --tasks 4 --time 1:00:00 --mem 2G \
    --cpus 2 --partition short --out "$T/sl"
contains "array line" "$T/out" "^#SBATCH --array=0-3$"
contains "time" "$T/out" "^#SBATCH --time=1:00:00$"
contains "partition" "$T/out" "^#SBATCH --partition=short$"
contains "each task runs its shard" "$T/out" "campaign run '.*c.lua' --out '.*sl' --shard \"\$SLURM_ARRAY_TASK_ID/4\" --threads 2"
contains "the merge job's dependency" "$T/out" "dependency=afterok"
check "slurm needs --tasks" 2 "$BL" campaign slurm "$T/c.lua"

# --- Lua reads the merged result
cat >"$T/l.lua" <<EOF
local bl = require "betlab"
local rows, info = bl.campaign.load("$T/s3")
assert(#rows == 3 * 4 + 3 * 2, #rows)
local r = rows[1]
assert(r.model == "random:784-64-10@1" and r.fault == "bitflip" and r.reps == 5)
assert(#r.accuracies == 5 and r.accuracy > 0 and r.ci_low <= r.accuracy)
assert(r.flip_fraction.fc1 > 0)
assert(info.campaign and #info.margins == 3)
local rows2 = bl.campaign.load({ "$T/p0", "$T/p1", "$T/p2" })
for i, x in ipairs(rows) do assert(x.accuracy == rows2[i].accuracy) end
local ok, e = pcall(bl.campaign.load, { "$T/p0", "$T/other" })
assert(not ok and e:find("different campaigns"), e)
print("lua ok", #rows)
EOF
check "bl.campaign.load" 0 "$BL" run "$T/l.lua"
contains "Lua read the rows" "$T/out" "lua ok.18"

if [ $fails -gt 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all campaign CLI tests passed"
