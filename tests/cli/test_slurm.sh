#!/bin/sh
# A real Slurm: a single-node cluster in a temporary folder (munged,
# slurmctld and slurmd started here, stopped by pid on exit), a campaign
# submitted as a job array with its dependent merge job (betlab campaign
# slurm --submit --wait: sbatch --wait on the merge), and the merged result
# compared byte for byte with the single-process run.
#   sh tests/cli/test_slurm.sh ./betlab       (as root; make deps installs
#   slurm-wlm and munge)
# tests/bench/bench_campaign.sh reuses it for timings: BETLAB_SLURM_CAMPAIGN
# names another campaign file, BETLAB_SLURM_TASKS the array size (3).
BL=${1:-./betlab}
case $BL in /*) ;; *) BL=$(pwd)/$BL ;; esac
skip_or_fail() {
    echo "test_slurm: $1"
    if [ "${BETLAB_ALLOW_SKIP:-0}" = 1 ]; then exit 77; fi
    exit 1
}
[ "$(id -u)" = 0 ] || skip_or_fail "needs root to start munged, slurmctld and slurmd (run make test as root, or BETLAB_ALLOW_SKIP=1 to skip)"
for t in munged slurmctld slurmd sbatch python3; do
    command -v $t >/dev/null 2>&1 || [ -x /usr/sbin/$t ] ||
        skip_or_fail "$t not found: make deps installs slurm-wlm and munge"
done
PATH=$PATH:/usr/sbin
T=$(mktemp -d /tmp/betlab-slurm.XXXXXX)
chmod 755 "$T"
stop() {
    for p in slurmd slurmctld munged; do
        [ -s "$T/$p.pid" ] && kill "$(cat "$T/$p.pid")" 2>/dev/null
    done
    sleep 0.3
    for p in slurmd slurmctld munged; do
        [ -s "$T/$p.pid" ] && kill -9 "$(cat "$T/$p.pid")" 2>/dev/null
    done
    rm -rf "$T"
}
trap stop EXIT
trap 'exit 1' INT TERM HUP
fail() { echo "FAIL: $1"; for f in "$T"/*.log "$T"/out/slurm-*.out; do [ -f "$f" ] &&
    { echo "--- $f"; tail -15 "$f"; }; done; exit 1; }

HOST=$(hostname -s)
set -- $(python3 -c 'import socket
ps = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ps.append(s)
print(*[s.getsockname()[1] for s in ps])')
CPORT=$1 DPORT=$2
mkdir -p "$T/state" "$T/spool"

# munge: own key, socket and files in the temp folder
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$T/munge.key"
munged --force --key-file="$T/munge.key" --socket="$T/munge.sock" --pid-file="$T/munged.pid" \
    --log-file="$T/munged.log" --seed-file="$T/munge.seed" || fail "munged did not start"

cat >"$T/slurm.conf" <<EOF
ClusterName=betlabtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CPORT
SlurmdPort=$DPORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge.sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=betlab Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$T/slurm.conf"
slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
i=0
until sinfo -h -o %t 2>/dev/null | grep -q idle; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "the node did not become idle: $(sinfo 2>&1)"
    sleep 0.2
done
echo "ok: single-node Slurm up ($HOST, ports $CPORT/$DPORT)"

# a tiny campaign: a random model, 300 CSV-free FashionMNIST images
cat >"$T/c.lua" <<'EOF'
return {
  models = { { model = "random:784-48-10", train_seeds = { 1, 2 } } },
  data = "fashion-mnist:test", limit = 300,
  faults = { "bitflip", { spec = "asym:ratio=10", bers = { 0.02, 0.1 } } },
  bers = "1e-3:1e-1:3",
  reps = 6, reps_per_unit = 2, seed = 5,
  record = { "accuracy", "flips" },
  threads = 1,
}
EOF
[ -n "${BETLAB_SLURM_CAMPAIGN:-}" ] && cp "$BETLAB_SLURM_CAMPAIGN" "$T/c.lua"
N=${BETLAB_SLURM_TASKS:-3}
t0=$(date +%s.%N)
"$BL" campaign run "$T/c.lua" --out "$T/single" --json >"$T/single.json" 2>"$T/single.err" ||
    fail "single run: $(cat "$T/single.err")"
t1=$(date +%s.%N)
mkdir "$T/out"
"$BL" campaign slurm "$T/c.lua" --tasks $N --out "$T/out" --time 60 >"$T/array.sh" || fail "slurm script"
grep -q "^#SBATCH --array=0-$((N - 1))\$" "$T/array.sh" || fail "no --array=0-$((N - 1)) in the script"
grep -q "SLURM_ARRAY_TASK_ID/$N" "$T/array.sh" || fail "no shard line in the script"
echo "ok: the job-array script"
"$BL" campaign slurm "$T/c.lua" --tasks $N --out "$T/out" --time 60 --submit --wait \
    >"$T/submit.out" 2>"$T/submit.err" || fail "submit: $(cat "$T/submit.out" "$T/submit.err")"
t2=$(date +%s.%N)
cat "$T/submit.out"
grep -q '^array job [0-9]' "$T/submit.out" && grep -q '^merge job [0-9]' "$T/submit.out" ||
    fail "no job ids printed"
i=0
while [ $i -lt $N ]; do [ -s "$T/out/shard-$i-of-$N.rec" ] || fail "shard $i did not run"; i=$((i + 1)); done
echo "time: single process $(awk "BEGIN { print $t1 - $t0 }") s, $N-task array + merge" \
    "$(awk "BEGIN { print $t2 - $t1 }") s"
tail -1 "$T/single.err"
cmp "$T/out/result.json" "$T/single/result.json" || fail "merged Slurm result differs from the single run"
echo "ok: the Slurm array merged equals the single run"
"$BL" campaign status "$T/out" | grep -q 'done: .* of' || fail "status"
echo "ok: status"
exit 0
