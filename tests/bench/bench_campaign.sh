#!/bin/sh
# The issue-17 target: a campaign of 2 models x 3 fault kinds x 10 BERs x 20
# reps of fc on the 10,000 FashionMNIST test images, timed on one machine
# (2 threads) and as a 4-task job array on a single-node Slurm (started and
# stopped by tests/cli/test_slurm.sh; needs root), and the same evaluations
# as bare `betlab sweep` runs for the machinery's overhead.
#   sh tests/bench/bench_campaign.sh ./betlab  [REPS]
BL=${1:-./betlab}
REPS=${2:-20}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat >"$T/c.lua" <<EOF2
return {
  models = { "fc-p0", "fc-p0.1" },
  data = "fashion-mnist:test",
  faults = { "bitflip", "asym:ratio=10", "stuck" },
  bers = "1e-4:0.2:10",
  reps = $REPS, reps_per_unit = 5, seed = 1,
  threads = 2,
}
EOF2
echo "== bare evaluations: 6 x betlab sweep"
t0=$(date +%s.%N)
for m in fc-p0 fc-p0.1; do for f in bitflip asym:ratio=10 stuck; do
    "$BL" sweep -m $m -d fashion-mnist:test -f "$f" -b 1e-4:0.2:10 -r $REPS -s 1 -t 2 >/dev/null || exit 1
done; done
t1=$(date +%s.%N)
echo "bare sweeps: $(awk "BEGIN { print $t1 - $t0 }") s"
echo "== campaign: one machine, then a 4-task Slurm array"
BETLAB_SLURM_CAMPAIGN="$T/c.lua" BETLAB_SLURM_TASKS=4 sh "$(dirname "$0")/../cli/test_slurm.sh" "$BL" |
    grep -e '^time' -e 'machinery' -e 'FAIL' -e 'ok: the Slurm'
